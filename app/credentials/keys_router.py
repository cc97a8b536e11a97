"""``{iss}/.well-known/jwks.json``: a territory's public signing keys, for any verifier.

Mounted at the root, not under /api/v1: a territory hosted here has the issuer URL
``{PUBLIC_URL}/t/{code}``, and the format fixes the key set at ``{iss}/.well-known/jwks.json``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse

from app import authz
from app.accounts.principal import Principal
from app.api.deps import SessionDep, SettingsDep
from app.authz import PUBLIC, TERRITORY_ADMIN, authorize
from app.core.db import pk
from app.core.errors import NotFound
from app.core.time import utcnow
from app.core.validation import TerritoryCode
from app.credentials import keys
from app.credentials.schemas import KeyPublic
from app.territory import service as territories
from app.territory.models import Territory

router = APIRouter(tags=["credentials"])

# Browser verifiers on other origins read the key set (and its 404); nothing here is private.
CORS_HEADERS = {"Access-Control-Allow-Origin": "*"}
# Short enough that a retired key leaves caches within minutes, long enough to spare the server.
CACHE_SECONDS = 300


@router.get(
    "/t/{code}/.well-known/jwks.json",
    dependencies=[authorize(PUBLIC)],
    responses={404: {"description": "No territory has this code (problem+json)."}},
)
def jwks(code: TerritoryCode, session: SessionDep) -> JSONResponse:
    """The territory's JWK Set: its active key and rotated keys still published; never a
    retired one. Read-only: the set is empty until the territory first signs something."""
    try:
        territory = territories.get_by_code(session, code)
    except NotFound as exc:
        raise NotFound(exc.detail, code=exc.code, headers=CORS_HEADERS) from None
    return JSONResponse(
        {"keys": keys.published_keys(session, territory, utcnow())},
        media_type="application/json",
        headers={**CORS_HEADERS, "Cache-Control": f"public, max-age={CACHE_SECONDS}"},
    )


# --- Coordinators: the territory's keys, and their rotation ------------------------------------
# Declared here with their full /api/v1 path, beside the key set they change, rather than in a
# second router: this module's router is mounted at the root.


def _admin_territory(session: SessionDep, principal: Principal, code: str) -> Territory:
    territory = territories.get_by_code(session, code)
    authz.ensure_territory_admin(principal, pk(territory))
    return territory


def _key_list(session: SessionDep, territory: Territory, now: datetime) -> list[KeyPublic]:
    return [
        KeyPublic.model_validate(info, from_attributes=True)
        for info in keys.list_keys(session, territory, now)
    ]


@router.get("/api/v1/territories/{code}/keys", response_model=list[KeyPublic])
def list_territory_keys(
    code: TerritoryCode,
    principal: Annotated[Principal, authorize(TERRITORY_ADMIN)],
    session: SessionDep,
) -> list[KeyPublic]:
    """The territory's signing keys, newest first: active, rotated (still published), expired
    or retired. Never any private material."""
    return _key_list(session, _admin_territory(session, principal, code), utcnow())


@router.post(
    "/api/v1/territories/{code}/keys/rotate",
    response_model=list[KeyPublic],
    status_code=status.HTTP_201_CREATED,
)
def rotate_territory_key(
    code: TerritoryCode,
    principal: Annotated[Principal, authorize(TERRITORY_ADMIN)],
    session: SessionDep,
    settings: SettingsDep,
) -> list[KeyPublic]:
    """Sign from now on with a new key; the previous one stays published until what it signed
    has expired (PASSEPORT_CREDENTIAL_MAX_DAYS). Answers the keys, the new one first."""
    territory = _admin_territory(session, principal, code)
    keys.rotate(session, territory, settings, actor_account_id=principal.account_id)
    return _key_list(session, territory, utcnow())
