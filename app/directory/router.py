"""The public directory « Où se faire accompagner »: no account, places of every territory."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from pydantic import StringConstraints

from app.api.deps import SessionDep, SettingsDep
from app.authz import PUBLIC, authorize
from app.core.errors import NotFound
from app.core.time import utcnow
from app.core.validation import MAX_ID, NoNul
from app.credentials import keys
from app.directory import service
from app.directory.schemas import DirectoryPage, PlaceDetail
from app.federation import places as federated
from app.territory import service as territories

router = APIRouter(prefix="/directory", tags=["directory"])
# The member's signed places, under its issuer URL, and the hub's collection of them.
issuer_router = APIRouter(tags=["directory"])
national_router = APIRouter(prefix="/federation/places", tags=["directory"])
JOSE = "application/jose"
TerritoryCode = Annotated[str, NoNul, Path(min_length=1, max_length=40)]

Flag = Annotated[bool, Query()]


@router.get("/places", response_model=DirectoryPage, dependencies=[authorize(PUBLIC)])
def list_places(
    session: SessionDep,
    settings: SettingsDep,
    q: Annotated[
        str | None,
        NoNul,
        Query(max_length=100, description="a name, a town, a postcode or a department code"),
    ] = None,
    department: Annotated[str | None, NoNul, Query(max_length=3)] = None,
    territory: Annotated[str | None, NoNul, Query(max_length=40)] = None,
    service_: Annotated[
        list[Annotated[str, NoNul, StringConstraints(max_length=200)]] | None,
        Query(alias="service", max_length=20, description="a service offered (all must be)"),
    ] = None,
    free: Flag = False,
    accessible: Flag = False,
    open_now: Flag = False,
    validates: Flag = False,
    neighbours: Annotated[
        bool, Query(description="include the federation's other territories' places")
    ] = True,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> DirectoryPage:
    """Places by name; filters combine (all must hold)."""
    filters = service.Filters(
        q=q,
        department=department,
        territory=territory,
        services=tuple(service_ or ()),
        free=free,
        accessible=accessible,
        open_now=open_now,
        validates=validates,
        neighbours=neighbours,
    )
    return service.search(
        session, filters, threshold=settings.stats_threshold, limit=limit, offset=offset
    )


@router.get("/places/{place_id}", response_model=PlaceDetail, dependencies=[authorize(PUBLIC)])
def get_place(
    place_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    session: SessionDep,
    settings: SettingsDep,
) -> PlaceDetail:
    """One place: address, hours in its own time zone, contact, services, mediators."""
    return service.place(session, place_id, threshold=settings.stats_threshold)


@issuer_router.get(
    "/t/{code}/places.jws",
    dependencies=[authorize(PUBLIC)],
    responses={200: {"content": {JOSE: {}}}, 404: {"description": "No such territory, or no key."}},
)
def signed_places(code: TerritoryCode, session: SessionDep, settings: SettingsDep) -> Response:
    """The territory's public places, signed with its key for the federation hub."""
    territory = territories.get_by_code(session, code)
    signer = keys.existing_signing_key(session, territory, settings)
    if signer is None:
        raise NotFound("This territory has no signing key yet.", code="no_signing_key")
    kid, key = signer
    body = {
        "territory": {"code": territory.code, "name": territory.name},
        "places": service.federation_places(session, territory),
    }
    token = federated.sign_places(body, iss=territory.issuer_url, kid=kid, key=key, now=utcnow())
    return Response(token, media_type=JOSE, headers={"Cache-Control": "no-cache"})


@national_router.get("", dependencies=[authorize(PUBLIC)])
def national_places(session: SessionDep) -> dict[str, Any]:
    """The hub's collection: each member's signed places, as received, for members to check."""
    return federated.national(session)
