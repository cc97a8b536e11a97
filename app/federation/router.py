"""Trust routes: the verifier's bundle."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.api.deps import SessionDep, SettingsDep
from app.authz import PUBLIC, authorize
from app.credentials import service as credentials
from app.credentials.verifier import Verifier
from app.federation import service

router = APIRouter(prefix="/trust", tags=["federation"])


@router.get("/bundle", dependencies=[authorize(PUBLIC)])
def trust_bundle(request: Request, session: SessionDep, settings: SettingsDep) -> JSONResponse:
    """The issuers this instance trusts, their keys and signed status lists: all an offline
    verifier needs (docs/credential-format.md says how to use them)."""
    verifier: Verifier = request.app.state.verifier
    snapshot = verifier.trusted.current(session.connection())
    return JSONResponse(
        service.bundle(session, settings, snapshot),
        headers={
            "Cache-Control": f"public, max-age={credentials.STATUS_TTL_SECONDS}",
            "Access-Control-Allow-Origin": "*",
        },
    )
