"""Trust routes: the verifier's bundle, the trust store, and the hub's trust list."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response, status
from fastapi.responses import JSONResponse

from app.accounts.principal import Principal
from app.api.deps import EngineDep, SessionDep, SettingsDep, WriteSessionDep
from app.audit import service as audit
from app.audit.schemas import AuditEventPublic
from app.authz import PUBLIC, TRUST_ADMIN, authorize
from app.core.errors import NotFound
from app.core.validation import MAX_ID
from app.credentials.verifier import Verifier
from app.federation import hub, service, store
from app.federation.models import TrustedIssuer
from app.federation.schemas import (
    AddRequest,
    IssuerPublic,
    PreviewPublic,
    PreviewRequest,
    TrustListState,
    TrustStore,
)

router = APIRouter(prefix="/trust", tags=["federation"])
hub_router = APIRouter(prefix="/federation", tags=["federation"])


@router.get("/bundle", dependencies=[authorize(PUBLIC)])
def trust_bundle(request: Request, session: SessionDep, settings: SettingsDep) -> JSONResponse:
    """The issuers this instance trusts, their keys and signed status lists: all an offline
    verifier needs (docs/credential-format.md says how to use them)."""
    verifier: Verifier = request.app.state.verifier
    snapshot = verifier.trusted.current(session.connection())
    return JSONResponse(
        service.bundle(session, settings, snapshot),
        headers={
            "Cache-Control": f"public, max-age={settings.status_ttl_seconds}",
            "Access-Control-Allow-Origin": "*",
        },
    )


def _issuer(row: TrustedIssuer) -> IssuerPublic:
    return IssuerPublic.model_validate(row, from_attributes=True)


@router.get("/issuers", response_model=TrustStore)
def list_trusted(
    _principal: Annotated[Principal, authorize(TRUST_ADMIN)], session: SessionDep
) -> TrustStore:
    """The trust store: other instances' issuers verified here, and the trust list held."""
    return TrustStore(
        issuers=[_issuer(row) for row in store.list_issuers(session)],
        trust_list=store.held_state(session),
    )


@router.post("/issuers/preview", response_model=PreviewPublic)
def preview_issuer(
    data: PreviewRequest,
    _principal: Annotated[Principal, authorize(TRUST_ADMIN)],
    settings: SettingsDep,
) -> PreviewPublic:
    """Step 1 of adding an issuer: fetch its key set and show the fingerprints to confirm with
    the issuer (by phone, on its site). Nothing is stored."""
    seen = store.preview(settings, data.iss)
    return PreviewPublic(
        iss=seen.iss,
        jwks_uri=seen.jwks_uri,
        fingerprints=list(seen.fingerprints),
        status_uris=list(seen.status_uris),
    )


@router.post("/issuers", response_model=IssuerPublic, status_code=status.HTTP_201_CREATED)
def add_issuer(
    data: AddRequest,
    principal: Annotated[Principal, authorize(TRUST_ADMIN)],
    session: WriteSessionDep,
    engine: EngineDep,
    settings: SettingsDep,
) -> IssuerPublic:
    """Step 2: pin the issuer's keys, only if its key set still has the fingerprints confirmed.
    Adding an issuer pinned before pins its current keys again."""
    row = store.add(session, engine, settings, principal, data.iss, data.fingerprints, data.name)
    return _issuer(row)


@router.delete("/issuers/{issuer_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_issuer(
    issuer_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    principal: Annotated[Principal, authorize(TRUST_ADMIN)],
    session: WriteSessionDep,
) -> Response:
    """Stop trusting an issuer: its credentials are `untrusted_issuer` at the next request."""
    store.remove(session, principal, issuer_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/list", response_model=TrustListState | None)
def trust_list_state(
    _principal: Annotated[Principal, authorize(TRUST_ADMIN)], session: SessionDep
) -> TrustListState | None:
    """The federation trust list held here (null when none was imported)."""
    return store.held_state(session)


@router.get("/journal", response_model=list[AuditEventPublic])
def trust_journal(
    _principal: Annotated[Principal, authorize(TRUST_ADMIN)],
    session: SessionDep,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[AuditEventPublic]:
    """Every change of the trust store, refusals included, newest first: the store is shared by
    the instance's territories, so each of their coordinators sees all of it."""
    events = audit.list_events(
        session, territory_id=None, action_prefix="trust.", before_id=before_id, limit=limit
    )
    return [AuditEventPublic.model_validate(e, from_attributes=True) for e in events]


@hub_router.get(
    "/trust-list",
    dependencies=[authorize(PUBLIC)],
    responses={200: {"content": {"application/jose": {}}}, 404: {"description": "Not a hub."}},
)
def published_trust_list(session: SessionDep) -> Response:
    """The latest trust list this hub signed: a compact JWS (docs/federation.md)."""
    latest = hub.latest(session)
    if latest is None:
        raise NotFound("This instance publishes no trust list.", code="no_trust_list")
    headers: dict[str, Any] = {"Cache-Control": "public, max-age=60"}
    return Response(latest.document, media_type="application/jose", headers=headers)
