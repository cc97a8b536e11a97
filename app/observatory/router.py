"""A territory's figures as open data: JSON, or CSV (one file per table, or all in a zip)."""

from __future__ import annotations

import io
import zipfile
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from sqlmodel import Session

from app.accounts.authn import resolve
from app.accounts.principal import Principal
from app.api.deps import SessionDep, SettingsDep, WriteSessionDep
from app.authz import PUBLIC, TERRITORY_ADMIN, authorize
from app.core.db import pk
from app.core.errors import InvalidInput, NotFound
from app.core.settings import Settings
from app.core.time import utcnow
from app.core.validation import NoNul, PeriodDate, TerritoryCode
from app.credentials import keys
from app.federation import stats as federation_stats
from app.observatory import release, service
from app.observatory.models import StatsPublication
from app.observatory.schemas import PeriodsView, PeriodView, PublicationUpdate, PublicationView
from app.territory import service as territories

router = APIRouter(prefix="/territories/{code}/stats", tags=["observatory"])

PeriodId = Annotated[
    str | None,
    NoNul,
    Query(
        max_length=20,
        description="A public period: a calendar month (2026-11), a quarter (2026-Q3) or a year "
        "(2026), once over (default: the last month over). Coordinators may use start and end.",
    ),
]
Start = Annotated[
    PeriodDate | None,
    Query(description="First day counted (coordinators; default: 24 months ago)."),
]
End = Annotated[
    PeriodDate | None, Query(description="Last day counted (coordinators; default: today).")
]
Format = Annotated[
    str, NoNul, Query(max_length=10, description="json (the default) or csv (a zip)")
]
FORMATS = ("json", "csv")
Table = Annotated[str, NoNul, Path(max_length=60)]
# What the figures' routes answer: every table (JSON, or CSV files in a zip), or one CSV table.
ALL_TABLES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {}, "application/zip": {}}}
}
ONE_TABLE: dict[int | str, dict[str, Any]] = {200: {"content": {"text/csv": {}}}}
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
CACHE = service.PublishedCache()


def _ensure_format(format: str) -> None:
    if format not in FORMATS:
        raise InvalidInput("The format is json or csv.", code="unknown_format", allowed=FORMATS)


def _published(
    request: Request,
    session: Session,
    settings: Settings,
    code: str,
    period_id: str | None,
    start: date | None,
    end: date | None,
) -> service.Published | release.Released:
    territory = territories.get_by_code(session, code)
    now = utcnow()
    days = settings.stats_release_days
    if period_id is not None and (start is not None or end is not None):
        raise InvalidInput("Give a period, or start and end, not both.", code="invalid_period")
    p: service.Period | None = None
    if period_id is not None:
        p = service.fixed(period_id)
        if p is None:
            raise service.not_public(now, days, release.released_ids(session, pk(territory)))
    elif start is not None or end is not None:
        p = service.period(start, end)
    public = service.is_public(session, pk(territory))
    if p is None:  # the default: the last month released
        latest = release.latest_month(release.released_ids(session, pk(territory)))
        p = service.fixed(latest) if latest else None
    if p is not None and p.id is not None:
        stored = release.released(session, territory, p)
        if stored is not None:
            if not public:
                # The route is public; the caller is looked up only when the territory has not
                # opted in.
                service.ensure_readable(
                    session, resolve(request, request.app.state.engine, settings), territory
                )
            return stored
    # Not released (yet), or any other period: the coordinators' own, computed live. Two such
    # documents subtracted would give a day's counts (docs/open-data.md, "Periods"), and two
    # versions of one period the records made between them ("Releases").
    principal = resolve(request, request.app.state.engine, settings)
    if not public or service.is_coordinator(principal, pk(territory)):
        service.ensure_coordinator(principal, pk(territory))
        p = p or service.latest_public_period(now, days)
        threshold = settings.stats_threshold
        return CACHE.get(
            (settings.public_url, service.cache_key(territory, p, threshold)),
            lambda: service.published(session, territory, p, threshold, settings.public_url),
        )
    released = release.released_ids(session, pk(territory))
    if p is None or (p.id is not None and p.start.year > now.year - service.PUBLIC_YEARS):
        raise service.not_released(p, released, days)
    raise service.not_public(now, days, released)


def _headers(
    published: service.Published | release.Released, session: Session, filename: str
) -> dict[str, str]:
    # Only a released document is for a shared cache: a coordinator's figures computed live are
    # not, even when the territory publishes.
    public = isinstance(published, release.Released) and service.is_public(
        session, pk(published.territory)
    )
    return {
        "Cache-Control": f"public, max-age={service.PUBLIC_MAX_AGE}"
        if public
        else "private, no-store",
        "Content-Disposition": f'inline; filename="{filename}"',
    }


@router.get("", dependencies=[authorize(PUBLIC)], responses=ALL_TABLES)
def territory_stats(
    code: TerritoryCode,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    period: PeriodId = None,
    start: Start = None,
    end: End = None,
    format: Format = "json",
) -> Response:
    """The territory's figures under statistical secrecy: public once the territory opts in,
    otherwise for its coordinators and platform admins (schema: docs/open-data.md)."""
    _ensure_format(format)
    published = _published(request, session, settings, code, period, start, end)
    p = published.period
    stem = f"stats-{code}-{p.id}" if p.id else f"stats-{code}-{p.start}-{p.end}"
    if format == "csv":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name in published.table_names():
                # A fixed date, not the time of the request: a released document's zip is the
                # same bytes at every download.
                entry = zipfile.ZipInfo(f"{name}.csv", date_time=ZIP_DATE)
                archive.writestr(entry, published.csv(name), zipfile.ZIP_DEFLATED)
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


@router.get("/{table}.csv", dependencies=[authorize(PUBLIC)], responses=ONE_TABLE)
def territory_stats_table(
    code: TerritoryCode,
    table: Table,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    period: PeriodId = None,
    start: Start = None,
    end: End = None,
) -> Response:
    """One table of the figures as CSV (UTF-8, fixed header, suppressed counts empty)."""
    published = _published(request, session, settings, code, period, start, end)
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


@router.get("/periods", response_model=PeriodsView, dependencies=[authorize(PUBLIC)])
def stats_periods(code: TerritoryCode, session: SessionDep, settings: SettingsDep) -> PeriodsView:
    """The fixed periods due for release, newest first, each saying whether its figures are
    released (anyone may read those, once the territory publishes), and the default one;
    coordinators may also ask for any start and end, and for a period not released yet."""
    territory = territories.get_by_code(session, code)
    now = utcnow()
    days = settings.stats_release_days
    released = set(release.released_ids(session, pk(territory)))
    due = service.public_periods(now, days)
    months = [p for p in due if p.kind == "month"]
    default = next((p for p in months if p.id in released), months[0] if months else None)
    return PeriodsView(
        default=str(default.id) if default else None,
        periods=[PeriodView(**p.view(), released=p.id in released) for p in due],
        threshold=settings.stats_threshold,
        release_days=days,
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


# --- Federation: a territory's signed figures, and the hub's national view ---------------------
# The signed document hangs under the issuer URL, beside the key set that verifies it, so this
# router is mounted at the root.

issuer_router = APIRouter(tags=["observatory"])
national_router = APIRouter(prefix="/federation/stats", tags=["observatory"])
JOSE = "application/jose"


@issuer_router.get(
    "/t/{code}/stats.jws",
    dependencies=[authorize(PUBLIC)],
    responses={
        200: {"content": {JOSE: {}}},
        404: {"description": "No such territory, or it does not publish (problem+json)."},
    },
)
def signed_stats(
    code: TerritoryCode,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    period: PeriodId = None,
) -> Response:
    """The territory's released figures for a fixed period (default: the last month released),
    signed with its key for the federation hub (docs/federation.md); only once the territory
    opts in. The same stored document as the public route's, so a hub's sums reveal nothing
    more."""
    territory = territories.get_by_code(session, code)
    if not service.is_public(session, pk(territory)):
        raise NotFound("This territory does not publish its figures.", code="stats_not_published")
    signer = keys.existing_signing_key(session, territory, settings)
    if signer is None:
        raise NotFound("This territory has no signing key yet.", code="no_signing_key")
    now = utcnow()
    days = settings.stats_release_days
    released = release.released_ids(session, pk(territory))
    if period is None:
        period = release.latest_month(released)
    p = service.fixed(period) if period is not None else None
    if period is not None and p is None:
        raise service.not_public(now, days, released)
    published = release.released(session, territory, p) if p is not None else None
    if published is None:
        raise service.not_released(p, released, days)
    kid, key = signer
    token = federation_stats.sign_stats(
        published.document(), iss=territory.issuer_url, kid=kid, key=key, now=now
    )
    return Response(
        token,
        media_type=JOSE,
        headers={"Cache-Control": f"public, max-age={int(service.CACHE_SECONDS)}"},
    )


# The national figures are the same for everyone: a shared cache may keep them a while.
NATIONAL_HEADERS = {"Cache-Control": "public, max-age=300"}


def _national(session: Session, settings: Settings, period: str | None) -> dict[str, Any]:
    # The members release a period PASSEPORT_STATS_RELEASE_DAYS after it ends, as the hub does.
    p = service.public_period(period, utcnow(), settings.stats_release_days)
    return federation_stats.national(session, settings.public_url, p)


@national_router.get("", dependencies=[authorize(PUBLIC)], responses=ALL_TABLES)
def national_stats(
    session: SessionDep,
    settings: SettingsDep,
    period: PeriodId = None,
    format: Format = "json",
) -> Response:
    """The hub's national figures for a fixed period: cell by cell sums of its members' signed
    figures of that period, with each member's provenance; a cell suppressed at any member is
    incomplete (docs/open-data.md)."""
    _ensure_format(format)
    view = _national(session, settings, period)
    if format == "csv":
        name = f"stats-national-{view['period']['id']}.zip"
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for table in federation_stats.table_names():
                archive.writestr(f"{table}.csv", federation_stats.national_csv(view, table))
        return Response(
            buffer.getvalue(),
            media_type="application/zip",
            headers={**NATIONAL_HEADERS, "Content-Disposition": f'inline; filename="{name}"'},
        )
    return Response(service.to_json(view), media_type="application/json", headers=NATIONAL_HEADERS)


@national_router.get("/{table}.csv", dependencies=[authorize(PUBLIC)], responses=ONE_TABLE)
def national_stats_table(
    table: Table,
    session: SessionDep,
    settings: SettingsDep,
    period: PeriodId = None,
) -> Response:
    """One table of the national figures as CSV (an incomplete cell's count is empty)."""
    body = federation_stats.national_csv(_national(session, settings, period), table)
    return Response(body, media_type="text/csv; charset=utf-8", headers=NATIONAL_HEADERS)
