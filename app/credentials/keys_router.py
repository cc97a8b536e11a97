"""``{iss}/.well-known/jwks.json``: a territory's public signing keys, for any verifier.

Mounted at the root, not under /api/v1: a territory hosted here has the issuer URL
``{PUBLIC_URL}/t/{code}``, and the format fixes the key set at ``{iss}/.well-known/jwks.json``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse

from app.api.deps import SessionDep
from app.authz import PUBLIC, authorize
from app.core.errors import NotFound
from app.core.time import utcnow
from app.credentials import keys
from app.territory import service as territories

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
def jwks(
    code: Annotated[str, Path(min_length=1, max_length=40)], session: SessionDep
) -> JSONResponse:
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
