"""The public directory « Où se faire accompagner »: no account, places of every territory."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import StringConstraints

from app.api.deps import SessionDep, SettingsDep
from app.authz import PUBLIC, authorize
from app.core.validation import MAX_ID, NoNul
from app.directory import service
from app.directory.schemas import DirectoryPage, PlaceDetail

router = APIRouter(prefix="/directory", tags=["directory"])

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
