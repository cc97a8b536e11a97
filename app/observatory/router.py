"""A territory's figures as open data: JSON, or CSV (one file per table, or all in a zip)."""

from __future__ import annotations

import io
import zipfile
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from sqlmodel import Session

from app.accounts.authn import resolve
from app.accounts.principal import Principal
from app.api.deps import SessionDep, SettingsDep, WriteSessionDep
from app.authz import PUBLIC, TERRITORY_ADMIN, authorize
from app.core.errors import InvalidInput
from app.core.settings import Settings
from app.observatory import service
from app.observatory.models import StatsPublication
from app.observatory.schemas import PublicationUpdate, PublicationView
from app.territory import service as territories

router = APIRouter(prefix="/territories/{code}/stats", tags=["observatory"])

TerritoryCode = Annotated[str, Path(min_length=1, max_length=40)]
Start = Annotated[date | None, Query(description="First day counted (default: 24 months ago).")]
End = Annotated[date | None, Query(description="Last day counted (default: today).")]
FORMATS = ("json", "csv")
CACHE = service.PublishedCache()


def _published(
    request: Request,
    session: Session,
    settings: Settings,
    code: str,
    start: date | None,
    end: date | None,
) -> service.Published:
    territory = territories.get_by_code(session, code)
    assert territory.id is not None
    if not service.is_public(session, territory.id):
        # The route is public; the caller is looked up only when the territory has not opted in.
        service.ensure_readable(
            session, resolve(request, request.app.state.engine, settings), territory
        )
    p = service.period(start, end)
    threshold = settings.stats_threshold
    return CACHE.get(
        (settings.public_url, service.cache_key(territory, p, threshold)),
        lambda: service.published(session, territory, p, threshold, settings.public_url),
    )


def _headers(published: service.Published, session: Session, filename: str) -> dict[str, str]:
    assert published.territory.id is not None
    public = service.is_public(session, published.territory.id)
    return {
        "Cache-Control": "public, max-age=3600" if public else "private, no-store",
        "Content-Disposition": f'inline; filename="{filename}"',
    }


@router.get(
    "",
    dependencies=[authorize(PUBLIC)],
    responses={200: {"content": {"application/json": {}, "application/zip": {}}}},
)
def territory_stats(
    code: TerritoryCode,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    start: Start = None,
    end: End = None,
    format: Annotated[str, Query(description="json (the default) or csv (a zip)")] = "json",
) -> Response:
    """The territory's figures under statistical secrecy: public once the territory opts in,
    otherwise for its coordinators and platform admins (schema: docs/open-data.md)."""
    if format not in FORMATS:
        raise InvalidInput("The format is json or csv.", code="unknown_format", allowed=FORMATS)
    published = _published(request, session, settings, code, start, end)
    stem = f"stats-{code}-{published.period.start}-{published.period.end}"
    if format == "csv":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name in published.table_names():
                archive.writestr(f"{name}.csv", published.csv(name))
        return Response(
            buffer.getvalue(),
            media_type="application/zip",
            headers=_headers(published, session, f"{stem}.zip"),
        )
    return Response(
        service.to_json(published.document()),
        media_type="application/json",
        headers=_headers(published, session, f"{stem}.json"),
    )


@router.get(
    "/{table}.csv",
    dependencies=[authorize(PUBLIC)],
    responses={200: {"content": {"text/csv": {}}}},
)
def territory_stats_table(
    code: TerritoryCode,
    table: Annotated[str, Path(max_length=60)],
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    start: Start = None,
    end: End = None,
) -> Response:
    """One table of the figures as CSV (UTF-8, fixed header, suppressed counts empty)."""
    published = _published(request, session, settings, code, start, end)
    body = published.csv(table)
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers=_headers(published, session, f"{table}.csv"),
    )


def _view(code: str, row: StatsPublication | None) -> PublicationView:
    return PublicationView(
        territory_code=code,
        public=bool(row and row.public),
        changed_at=row.changed_at if row else None,
    )


@router.get("/publication", response_model=PublicationView, dependencies=[authorize(PUBLIC)])
def get_publication(code: TerritoryCode, session: SessionDep) -> PublicationView:
    """Whether the territory publishes its figures."""
    territory = territories.get_by_code(session, code)
    return _view(code, session.get(StatsPublication, territory.id))


@router.put("/publication", response_model=PublicationView)
def set_publication(
    code: TerritoryCode,
    data: PublicationUpdate,
    principal: Annotated[Principal, authorize(TERRITORY_ADMIN)],
    session: WriteSessionDep,
) -> PublicationView:
    """Open the territory's figures to the public, or close them again (journaled)."""
    territory = territories.get_by_code(session, code)
    return _view(code, service.set_public(session, principal, territory, data.public))
