"""A territory's figures as open data: JSON, or CSV (one file per table, or all in a zip)."""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from sqlmodel import Session

from app.accounts.authn import resolve
from app.accounts.principal import Principal
from app.api.deps import SessionDep, SettingsDep, WriteSessionDep
from app.authz import PUBLIC, TERRITORY_ADMIN, authorize
from app.core.db import transaction
from app.core.errors import InvalidInput, NotFound
from app.core.settings import Settings
from app.core.time import utcnow
from app.core.validation import NoNul, PeriodDate
from app.credentials import keys
from app.federation import stats as federation_stats
from app.observatory import service
from app.observatory.models import StatsPublication
from app.observatory.schemas import PeriodsView, PeriodView, PublicationUpdate, PublicationView
from app.territory import service as territories
from app.territory.models import Territory

router = APIRouter(prefix="/territories/{code}/stats", tags=["observatory"])

TerritoryCode = Annotated[str, NoNul, Path(min_length=1, max_length=40)]
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
FORMATS = ("json", "csv")
CACHE = service.PublishedCache()
# The public documents of a year: periods that are over, so the figures hardly change, and a year
# costs seconds to compute on a large territory (docs/performance.md); kept as long as the public
# responses may be cached downstream.
FAMILIES = service.PublishedCache(seconds=service.FAMILY_CACHE_SECONDS, size=32)


def _published(
    request: Request,
    session: Session,
    settings: Settings,
    code: str,
    period_id: str | None,
    start: date | None,
    end: date | None,
) -> service.Published:
    territory = territories.get_by_code(session, code)
    assert territory.id is not None
    now = utcnow()
    if period_id is not None and (start is not None or end is not None):
        raise InvalidInput("Give a period, or start and end, not both.", code="invalid_period")
    if start is None and end is None:
        p = service.fixed(period_id) if period_id is not None else None
        p = p or (service.latest_public_period(now) if period_id is None else None)
        if p is None:
            raise service.not_public(now)
    else:
        p = service.period(start, end)
    public = service.is_public(session, territory.id)
    if service.is_public_period(p, now):
        if not public:
            # The route is public; the caller is looked up only when the territory has not
            # opted in.
            service.ensure_readable(
                session, resolve(request, request.app.state.engine, settings), territory
            )
        return _family(request, session, settings, territory, p, now)[str(p.id)]
    # Any other period is the coordinators': two such documents subtracted would give a day's
    # counts (docs/open-data.md, "Periods").
    principal = resolve(request, request.app.state.engine, settings)
    if public and not service.is_coordinator(principal, territory.id):
        raise service.not_public(now)
    service.ensure_coordinator(principal, territory.id)
    threshold = settings.stats_threshold
    return CACHE.get(
        (settings.public_url, service.cache_key(territory, p, threshold)),
        lambda: service.published(session, territory, p, threshold, settings.public_url),
    )


def _family(
    request: Request,
    session: Session,
    settings: Settings,
    territory: Territory,
    p: service.Period,
    now: datetime,
) -> dict[str, service.Published]:
    """The public documents of ``p``'s year, computed together (and kept like one document)."""
    threshold = settings.stats_threshold
    stages = service.family_stages(p, now)
    year = service.year_period(p.start.year)
    key = (settings.public_url, service.cache_key(territory, year, threshold), len(stages))

    def compute() -> dict[str, service.Published]:
        # One snapshot for every document of the year: a write landing between two of their
        # queries would make a quarter differ from the sum of its months.
        engine = request.app.state.engine
        if engine.dialect.name == "postgresql":
            engine = engine.execution_options(isolation_level="REPEATABLE READ")
        with transaction(engine, write=False) as snapshot:
            return service.published_family(
                snapshot, territory, p, threshold, settings.public_url, now
            )

    return FAMILIES.get(key, compute)


def _headers(published: service.Published, session: Session, filename: str) -> dict[str, str]:
    assert published.territory.id is not None
    # A coordinator's period is never for a shared cache, even when the territory publishes.
    public = service.is_public(session, published.territory.id) and service.is_public_period(
        published.period
    )
    return {
        "Cache-Control": f"public, max-age={int(service.FAMILY_CACHE_SECONDS)}"
        if public
        else "private, no-store",
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
    period: PeriodId = None,
    start: Start = None,
    end: End = None,
    format: Annotated[
        str, NoNul, Query(max_length=10, description="json (the default) or csv (a zip)")
    ] = "json",
) -> Response:
    """The territory's figures under statistical secrecy: public once the territory opts in,
    otherwise for its coordinators and platform admins (schema: docs/open-data.md)."""
    if format not in FORMATS:
        raise InvalidInput("The format is json or csv.", code="unknown_format", allowed=FORMATS)
    published = _published(request, session, settings, code, period, start, end)
    p = published.period
    stem = f"stats-{code}-{p.id}" if p.id else f"stats-{code}-{p.start}-{p.end}"
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
    table: Annotated[str, NoNul, Path(max_length=60)],
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
    """The fixed periods anyone may read (once the territory publishes), newest first, and the
    default one; coordinators may also ask for any start and end."""
    territories.get_by_code(session, code)
    now = utcnow()
    return PeriodsView(
        default=str(service.latest_public_period(now).id),
        periods=[PeriodView(**p.view()) for p in service.public_periods(now)],
        threshold=settings.stats_threshold,
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
    """The territory's public figures for a fixed period (default: the last month over), signed
    with its key for the federation hub (docs/federation.md); only once the territory opts in.
    The same document as the public route's, so a hub's sums reveal nothing more."""
    territory = territories.get_by_code(session, code)
    assert territory.id is not None
    if not service.is_public(session, territory.id):
        raise NotFound("This territory does not publish its figures.", code="stats_not_published")
    signer = keys.existing_signing_key(session, territory, settings)
    if signer is None:
        raise NotFound("This territory has no signing key yet.", code="no_signing_key")
    now = utcnow()
    p = service.public_period(period, now)
    published = _family(request, session, settings, territory, p, now)[str(p.id)]
    kid, key = signer
    token = federation_stats.sign_stats(
        published.document(), iss=territory.issuer_url, kid=kid, key=key, now=now
    )
    return Response(
        token,
        media_type=JOSE,
        headers={"Cache-Control": f"public, max-age={int(service.CACHE_SECONDS)}"},
    )


@national_router.get(
    "",
    dependencies=[authorize(PUBLIC)],
    responses={200: {"content": {"application/json": {}, "application/zip": {}}}},
)
def national_stats(
    session: SessionDep,
    settings: SettingsDep,
    period: PeriodId = None,
    format: Annotated[
        str, NoNul, Query(max_length=10, description="json (the default) or csv (a zip)")
    ] = "json",
) -> Response:
    """The hub's national figures for a fixed period: cell by cell sums of its members' signed
    figures of that period, with each member's provenance; a cell suppressed at any member is
    incomplete (docs/open-data.md)."""
    if format not in FORMATS:
        raise InvalidInput("The format is json or csv.", code="unknown_format", allowed=FORMATS)
    view = federation_stats.national(session, settings.public_url, service.public_period(period))
    headers = {"Cache-Control": "public, max-age=300"}
    if format == "csv":
        name = f"stats-national-{view['period']['id']}.zip"
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name in federation_stats.table_names():
                archive.writestr(f"{name}.csv", federation_stats.national_csv(view, name))
        return Response(
            buffer.getvalue(),
            media_type="application/zip",
            headers={**headers, "Content-Disposition": f'inline; filename="{name}"'},
        )
    return Response(service.to_json(view), media_type="application/json", headers=headers)


@national_router.get(
    "/{table}.csv",
    dependencies=[authorize(PUBLIC)],
    responses={200: {"content": {"text/csv": {}}}},
)
def national_stats_table(
    table: Annotated[str, NoNul, Path(max_length=60)],
    session: SessionDep,
    settings: SettingsDep,
    period: PeriodId = None,
) -> Response:
    """One table of the national figures as CSV (an incomplete cell's count is empty)."""
    body = federation_stats.national_csv(
        federation_stats.national(session, settings.public_url, service.public_period(period)),
        table,
    )
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Cache-Control": "public, max-age=300"},
    )
