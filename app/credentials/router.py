"""Credentials: issuance and revocation (mediators, the citizen), status lists and verification."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response, status
from fastapi.concurrency import run_in_threadpool
from sqlmodel import Session

from app.api.deps import EngineDep, SessionDep, SettingsDep, VerifierDep, WriteSessionDep
from app.authz import PUBLIC, authorize
from app.core.db import transaction
from app.core.errors import NotFound
from app.core.pdf import attachment_headers
from app.core.responses import FastJSONResponse
from app.core.settings import Settings
from app.core.validation import Id, NoNul
from app.credentials import format as fmt
from app.credentials import service
from app.credentials.models import Credential
from app.credentials.schemas import (
    CredentialIssued,
    CredentialPublic,
    CredentialRequest,
    Revocation,
    Verdict,
    VerifyRequest,
)
from app.credentials.verifier import NeedsIO, Verifier, describe
from app.observatory.tally import record_verification
from app.passports import numbers
from app.passports.deps import (
    CitizenPassport,
    HeldPassport,
    HeldReadPassport,
    PassportAccess,
)
from app.territory import service as territories
from app.wallet import verify as wallet_verify

router = APIRouter(tags=["credentials"])
public_router = APIRouter(tags=["credentials"])


def _issue(
    session: Session, settings: Settings, access: PassportAccess, data: CredentialRequest
) -> CredentialIssued:
    issued = service.issue(
        session,
        settings,
        access.principal,
        access.passport,
        skill_codes=data.skills,
        validity_days=data.validity_days,
        with_name=data.include_name,
    )
    dense = issued.qr_version > fmt.TARGET_QR_VERSION
    return CredentialIssued(
        **service.public(issued.credential).model_dump(),
        qr_version=issued.qr_version,
        warnings=["qr_dense"] if dense else [],
    )


def _revoke(
    session: Session, access: PassportAccess, credential_id: int, data: Revocation
) -> CredentialPublic:
    revoked = service.revoke(session, access.principal, access.passport, credential_id, data.reason)
    return service.public(revoked)


def _attestation(
    session: Session, settings: Settings, access: PassportAccess, credential_id: int
) -> Response:
    credential = service.get_for(session, access.passport, credential_id)
    return Response(
        service.attestation_pdf(session, settings, credential),
        media_type="application/pdf",
        headers=attachment_headers(f"attestation-{credential.code}.pdf"),
    )


@router.post(
    "/passports/{passport_id}/credentials",
    response_model=CredentialIssued,
    status_code=status.HTTP_201_CREATED,
)
def issue_for_citizen(
    data: CredentialRequest, access: HeldPassport, session: SessionDep, settings: SettingsDep
) -> CredentialIssued:
    """Sign chosen skills of the passport into a QR credential (the holding territory signs)."""
    return _issue(session, settings, access, data)


@router.get("/passports/{passport_id}/credentials", response_model=list[CredentialPublic])
def list_credentials(access: HeldReadPassport, session: SessionDep) -> list[CredentialPublic]:
    """The passport's credentials, newest first."""
    return [service.public(c) for c in service.list_for(session, access.passport)]


@router.post(
    "/passports/{passport_id}/credentials/{credential_id}/revoke",
    response_model=CredentialPublic,
)
def revoke_credential(
    access: HeldPassport, credential_id: Id, data: Revocation, session: SessionDep
) -> CredentialPublic:
    """Revoke a credential: its bit flips in the published status list at once."""
    return _revoke(session, access, credential_id, data)


@router.post(
    "/citizen/credentials", response_model=CredentialIssued, status_code=status.HTTP_201_CREATED
)
def citizen_issue(
    data: CredentialRequest, access: CitizenPassport, session: SessionDep, settings: SettingsDep
) -> CredentialIssued:
    """Make a credential of my own, with the skills I choose."""
    return _issue(session, settings, access, data)


@router.get("/citizen/credentials", response_model=list[CredentialPublic])
def citizen_credentials(access: CitizenPassport, session: SessionDep) -> list[CredentialPublic]:
    """My credentials."""
    return [service.public(c) for c in service.list_for(session, access.passport)]


@router.post("/citizen/credentials/{credential_id}/revoke", response_model=CredentialPublic)
def citizen_revoke(
    credential_id: Id, data: Revocation, access: CitizenPassport, session: SessionDep
) -> CredentialPublic:
    """Revoke one of my credentials."""
    return _revoke(session, access, credential_id, data)


QrFormat = Annotated[str, NoNul, Path(max_length=3, pattern="^(svg|png)$")]


def _qr_image(credential: Credential, image: str) -> Response:
    if credential.qr_text is None:
        raise NotFound("This credential's QR was erased.", code="unknown_credential")
    if image == "svg":
        body: bytes = fmt.qr_svg(credential.qr_text).encode()
        media = "image/svg+xml"
    else:
        body = fmt.qr_png(credential.qr_text, box_size=8)
        media = "image/png"
    # The QR may carry the holder's name: never kept by shared caches.
    return Response(body, media_type=media, headers={"Cache-Control": "private, no-store"})


@router.get(
    "/passports/{passport_id}/credentials/{credential_id}/qr.{image}",
    responses={200: {"content": {"image/svg+xml": {}, "image/png": {}}}},
    response_class=Response,
)
def credential_qr(
    access: HeldReadPassport, credential_id: Id, image: QrFormat, session: SessionDep
) -> Response:
    """The credential's QR code as SVG or PNG, to print or to show."""
    return _qr_image(service.get_for(session, access.passport, credential_id), image)


@router.get(
    "/citizen/credentials/{credential_id}/qr.{image}",
    responses={200: {"content": {"image/svg+xml": {}, "image/png": {}}}},
    response_class=Response,
)
def citizen_credential_qr(
    credential_id: Id, image: QrFormat, access: CitizenPassport, session: SessionDep
) -> Response:
    """My credential's QR code, to show full screen."""
    return _qr_image(service.get_for(session, access.passport, credential_id), image)


PDF_RESPONSE: dict[int | str, dict[str, Any]] = {200: {"content": {"application/pdf": {}}}}


@router.get(
    "/passports/{passport_id}/credentials/{credential_id}/attestation.pdf",
    response_class=Response,
    responses=PDF_RESPONSE,
)
def credential_attestation(
    access: HeldReadPassport, credential_id: Id, session: SessionDep, settings: SettingsDep
) -> Response:
    """The printable attestation: the QR, the skills in plain words, the dates and the code."""
    return _attestation(session, settings, access, credential_id)


@router.get(
    "/citizen/credentials/{credential_id}/attestation.pdf",
    response_class=Response,
    responses=PDF_RESPONSE,
)
def citizen_attestation(
    credential_id: Id, access: CitizenPassport, session: SessionDep, settings: SettingsDep
) -> Response:
    """My printable attestation."""
    return _attestation(session, settings, access, credential_id)


def verdict_from_memory(verifier: Verifier, data: VerifyRequest) -> dict[str, Any] | None:
    """The verdict when memory is enough (no SQL, no network, no thread), counted; else None.

    Shared by the route below and its plain ASGI front (app/credentials/fast_verify.py), which
    answers the same requests without the framework in steady state.
    """
    code = numbers.normalise_number(data.code or "", service.CODE_PREFIX)
    known = data.qr_text or (verifier.typed_codes.get(code) if code else None)
    if known is None:
        return None
    try:
        described = describe(*verifier.verify(known, allow_io=False))
    except NeedsIO:
        return None
    record_verification(described["result"], "qr" if data.qr_text is not None else "code")
    return described


@router.post("/verify", dependencies=[authorize(PUBLIC)], responses={200: {"model": Verdict}})
async def verify(
    data: VerifyRequest, engine: EngineDep, verifier: VerifierDep, settings: SettingsDep
) -> Response:
    """Check a credential's QR text, typed code or wallet presentation: a verdict, and the
    (disclosed) skills when it is signed.

    In steady state a QR text or typed code is answered from memory before the framework's
    routing (app/credentials/fast_verify.py), with the same body model and the same verdict."""
    if data.presentation is not None:
        presented = await run_in_threadpool(
            wallet_verify.verify, engine, settings, verifier, data.presentation
        )
        record_verification(presented["result"], "wallet")
        return FastJSONResponse(presented)

    channel = "qr" if data.qr_text is not None else "code"
    code = numbers.normalise_number(data.code or "", service.CODE_PREFIX)
    described = verdict_from_memory(verifier, data)
    if described is not None:
        return FastJSONResponse(described)

    def run() -> dict[str, Any]:
        qr_text = data.qr_text
        if qr_text is None:
            revision = verifier.typed_codes.revision()
            with transaction(engine, write=False) as session:
                found = service.qr_text_for_code(session, data.code or "")
            if isinstance(found, fmt.Outcome):
                record_verification(found.result.value, "code")
                return describe(found, None)
            qr_text = found
            if code is not None:
                verifier.typed_codes.put(code, qr_text, revision)
        described = describe(*verifier.verify(qr_text))
        # Counted in memory, flushed now and then: the figures need no write per request.
        record_verification(described["result"], channel)
        return described

    # Built from our own plain values: returned as is, without a second serialisation pass,
    # since this is the route anyone may call as often as they like.
    return FastJSONResponse(await run_in_threadpool(run))


@public_router.get(
    "/t/{code}/status/{list_id}",
    dependencies=[authorize(PUBLIC)],
    responses={200: {"content": {"application/statuslist+jwt": {}}}},
)
def status_list(
    code: Annotated[str, NoNul, Path(max_length=40)],
    list_id: Annotated[int, Path(ge=1, le=1)],
    session: WriteSessionDep,
    settings: SettingsDep,
) -> Response:
    """The territory's revocation status list, as a signed statuslist+jwt (IETF draft)."""
    # A write session: the first use of a territory's signing key creates it.
    territory = territories.get_by_code(session, code)
    token = service.status_list_token(session, settings, territory)
    return Response(
        token,
        media_type="application/statuslist+jwt",
        headers={
            # As long as the token's own ttl says (PASSEPORT_STATUS_TTL_SECONDS), no longer.
            "Cache-Control": f"public, max-age={settings.status_ttl_seconds}",
            "Access-Control-Allow-Origin": "*",
        },
    )
