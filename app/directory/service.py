"""The public directory: places of every territory of the instance, searched and filtered.

The rows needed for a list are read as plain tuples (not ORM objects), then matched and filtered
in Python: the list fields (services, fees, care) are JSON arrays that neither SQLite nor
PostgreSQL index the same way, and text is matched without accents (« Noumea » finds
« Nouméa ») the same on both databases. A 10,000-place instance reads in a few tens of
milliseconds (bench/, docs/directory.md).
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func
from sqlmodel import Session, col, select

from app.accounts.models import Account, StructureMembership
from app.core import zones
from app.core.errors import NotFound
from app.core.schemas import from_entity
from app.core.time import utcnow
from app.directory import hours
from app.directory.schemas import (
    DayHours,
    DirectoryPage,
    PlaceDetail,
    PlaceSummary,
    TerritoryRef,
)
from app.federation import places as federated
from app.observatory import secrecy
from app.passports.models import Validation
from app.structures.models import Structure
from app.territory.models import Territory

# The clock of the directory; tests set it to a fixed instant (what "open now" and "today" mean).
clock: Callable[[], datetime] = utcnow

# « Gratuit » in frais_a_charge (the national schema's vocabulary) makes a place free of charge.
FREE = "gratuit"
# The disabilities of prise_en_charge_specifique in the national schema's vocabulary; a place
# naming one of them is "accessible" for the filter.
DISABILITIES = ("handicap", "surdité", "surdite", "déficience visuelle", "deficience visuelle")


def fold(text: str | None) -> str:
    """Lower case, without accents: how names and towns are compared."""
    decomposed = unicodedata.normalize("NFD", text or "")
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def window(today: date) -> tuple[date, date]:
    """The twelve whole calendar months before today's month: what « valide le passeport »
    counts. It moves once a month, not daily, so that two days' pages do not give one day's
    validations by difference."""
    first = today.replace(day=1)
    return first.replace(year=first.year - 1), first - timedelta(days=1)


def validation_counts(session: Session, start: date, end: date) -> dict[int, int]:
    rows = session.exec(
        select(Validation.structure_id, func.count())
        .where(
            col(Validation.structure_id).is_not(None),
            col(Validation.withdrawn_at).is_(None),
            col(Validation.observed_on) >= start,
            col(Validation.observed_on) <= end,
        )
        .group_by(col(Validation.structure_id))
    ).all()
    return {int(sid): int(n) for sid, n in rows if sid is not None}


def shown_count(count: int, threshold: int) -> int | None:
    """The count as the public may read it: the observatory's primary rule (one rule, one place)."""
    return None if secrecy.primary({"n": count}, threshold) else count


def _free(fees: Sequence[str]) -> bool:
    return any(fold(f) == FREE for f in fees)


def _accessible(care: Sequence[str]) -> bool:
    return any(any(word in fold(c) for word in DISABILITIES) for c in care)


@dataclass(frozen=True)
class Filters:
    q: str | None = None
    department: str | None = None
    territory: str | None = None
    services: tuple[str, ...] = ()
    free: bool = False
    accessible: bool = False
    open_now: bool = False
    validates: bool = False
    # Places of the other territories of the federation, collected by the hub.
    neighbours: bool = True


_COLUMNS = (
    col(Structure.id),
    col(Structure.nom),
    col(Structure.adresse),
    col(Structure.commune),
    col(Structure.code_postal),
    col(Structure.code_insee),
    col(Structure.latitude),
    col(Structure.longitude),
    col(Structure.services),
    col(Structure.frais_a_charge),
    col(Structure.prise_en_charge_specifique),
    col(Structure.horaires),
    col(Territory.code),
)


def _summary(
    row: Any, counts: dict[int, int], threshold: int, now: datetime
) -> tuple[PlaceSummary, str]:
    entry = _local_entry(row)
    return entry.summary(counts, threshold, now), entry.folded


def federation_places(session: Session, territory: Territory) -> list[dict[str, Any]]:
    """The territory's places as it signs them for the national directory (app/federation)."""
    rows = session.execute(
        sa.select(*_COLUMNS)
        .join(Territory, col(Territory.id) == col(Structure.territory_id))
        .where(col(Structure.territory_id) == territory.id)
        .order_by(col(Structure.id))
    ).all()
    now = clock()
    out = []
    for row in rows:
        summary, _ = _summary(row, {}, 1, now)
        out.append(
            {
                "id": summary.id,
                "nom": summary.nom,
                "adresse": summary.adresse,
                "commune": summary.commune,
                "code_postal": summary.code_postal,
                "department": summary.department,
                "latitude": summary.latitude,
                "longitude": summary.longitude,
                "services": summary.services,
                "free": summary.free,
                "accessible": summary.accessible,
                "horaires": row[11],
            }
        )
    return out


@dataclass(frozen=True)
class _Entry:
    """A place as the search needs it, computed once per change of the places (see _index)."""

    id: int
    nom: str
    adresse: str
    commune: str
    code_postal: str
    department: str | None
    territory_code: str
    url: str | None
    latitude: float | None
    longitude: float | None
    services: tuple[str, ...]
    services_folded: frozenset[str]
    free: bool
    accessible: bool
    week: hours.Week | None
    folded: str
    remote: bool

    def open_at(self, now: datetime) -> bool | None:
        return (
            None
            if self.week is None
            else hours.is_open(self.week, zones.local(now, self.department))
        )

    def summary(self, counts: dict[int, int], threshold: int, now: datetime) -> PlaceSummary:
        count = 0 if self.remote else counts.get(self.id, 0)
        return from_entity(
            PlaceSummary,
            self,
            open_now=self.open_at(now),
            validates=count > 0,
            validations_count=shown_count(count, threshold) if count else None,
        )


def _entry(
    *,
    sid: int,
    nom: str,
    adresse: str,
    commune: str,
    cp: str,
    dept: str | None,
    tcode: str,
    url: str | None,
    lat: float | None,
    lon: float | None,
    services: Sequence[str],
    free: bool,
    accessible: bool,
    horaires: str | None,
) -> _Entry:
    return _Entry(
        id=sid,
        nom=nom,
        adresse=adresse,
        commune=commune,
        code_postal=cp,
        department=dept,
        territory_code=tcode,
        url=url,
        latitude=lat,
        longitude=lon,
        services=tuple(services),
        services_folded=frozenset(fold(x) for x in services),
        free=free,
        accessible=accessible,
        week=hours.parse(horaires),
        folded=fold(f"{nom}\n{commune}"),
        remote=url is not None,
    )


def _local_entry(row: Any) -> _Entry:
    """A place of this instance, from a row of ``_COLUMNS``."""
    (sid, nom, adresse, commune, cp, insee, lat, lon, services, fees, care, horaires, tcode) = row
    return _entry(
        sid=sid,
        nom=nom,
        adresse=adresse,
        commune=commune,
        cp=cp,
        dept=zones.department(insee, cp),
        tcode=tcode,
        url=None,
        lat=lat,
        lon=lon,
        services=services or [],
        free=_free(fees or []),
        accessible=_accessible(care or []),
        horaires=horaires,
    )


def _build(session: Session) -> list[_Entry]:
    rows = session.execute(
        sa.select(*_COLUMNS).join(Territory, col(Territory.id) == col(Structure.territory_id))
    ).all()
    entries = [_local_entry(row) for row in rows]
    local = set(session.exec(select(Territory.issuer_url)).all())
    for held in federated.held(session):
        if held.iss in local:
            continue
        base = held.iss.split("/t/")[0]
        for place in held.places:
            entries.append(
                _entry(
                    sid=place["id"],
                    nom=place["nom"],
                    adresse=place["adresse"],
                    commune=place["commune"],
                    cp=place["code_postal"],
                    dept=place["department"],
                    tcode=held.territory_code,
                    url=f"{base}/lieu?id={place['id']}",
                    lat=place["latitude"],
                    lon=place["longitude"],
                    services=place["services"],
                    free=place["free"],
                    accessible=place["accessible"],
                    horaires=place["horaires"],
                )
            )
    entries.sort(key=lambda e: (fold(e.nom), e.url or "", e.id))
    return entries


# Per process and database: the version the index was built at, and the index. The version is
# one cheap query (counts and latest changes of places, territories and federated documents):
# every write of a place sets its updated_at (service and importer), and places are never
# deleted, so any change moves it.
_INDEX: dict[str, tuple[tuple[Any, ...], list[_Entry]]] = {}


def _version(session: Session) -> tuple[Any, ...]:
    places = session.execute(
        sa.select(func.count(col(Structure.id)), func.max(col(Structure.updated_at)))
    ).one()
    others = session.execute(
        sa.select(func.count(), func.max(col(federated.FederatedPlaces.fetched_at))).select_from(
            federated.FederatedPlaces
        )
    ).one()
    territories = session.execute(sa.select(func.count()).select_from(Territory)).scalar_one()
    return (*places, *others, territories)


def _index(session: Session) -> list[_Entry]:
    bind = session.get_bind()
    key = str(getattr(bind, "url", id(bind)))
    version = _version(session)
    held = _INDEX.get(key)
    if held is not None and held[0] == version:
        return held[1]
    entries = _build(session)
    _INDEX[key] = (version, entries)
    return entries


def search(
    session: Session, filters: Filters, *, threshold: int, limit: int, offset: int
) -> DirectoryPage:
    """One page of the places matching, by name, with the services offered among all matches."""
    now = clock()
    start, end = window(now.date())
    counts = validation_counts(session, start, end)
    q = (filters.q or "").strip()
    words = fold(q).split()
    wanted = frozenset(fold(s) for s in filters.services)
    department = filters.department.upper() if filters.department else None
    matched: list[_Entry] = []
    offered: set[str] = set()
    by_department: Counter[str] = Counter()
    for entry in _index(session):
        if entry.remote and (not filters.neighbours or filters.territory):
            continue
        if filters.territory and entry.territory_code != filters.territory:
            continue
        if q:
            if q.isdigit():
                if not (entry.code_postal.startswith(q) or entry.department == q):
                    continue
            elif not all(word in entry.folded for word in words):
                continue
        offered.update(entry.services)
        if wanted and not wanted <= entry.services_folded:
            continue
        if filters.free and not entry.free:
            continue
        if filters.accessible and not entry.accessible:
            continue
        if filters.validates and (entry.remote or not counts.get(entry.id)):
            continue
        if filters.open_now and not entry.open_at(now):
            continue
        # The map's counts: every department of the matches, before the department is chosen.
        by_department[entry.department or ""] += 1
        if department and entry.department != department:
            continue
        matched.append(entry)
    return DirectoryPage(
        total=len(matched),
        limit=limit,
        offset=offset,
        items=[e.summary(counts, threshold, now) for e in matched[offset : offset + limit]],
        services=sorted(offered, key=fold),
        departments={k: v for k, v in sorted(by_department.items()) if k},
        window_start=start,
        window_end=end,
        threshold=threshold,
    )


def mediators(session: Session, structure_id: int) -> list[str]:
    """The names of the place's current mediators: members with an active account."""
    names = session.exec(
        select(Account.display_name)
        .join(StructureMembership, col(StructureMembership.account_id) == col(Account.id))
        .where(
            col(StructureMembership.structure_id) == structure_id,
            col(Account.is_active).is_(True),
        )
        .order_by(col(Account.display_name))
    ).all()
    return list(names)


def place(session: Session, structure_id: int, *, threshold: int) -> PlaceDetail:
    """One place as its public page shows it, in its own time zone."""
    row = session.execute(
        sa.select(*_COLUMNS)
        .join(Territory, col(Territory.id) == col(Structure.territory_id))
        .where(col(Structure.id) == structure_id)
    ).first()
    if row is None:
        raise NotFound(f"No structure has the id {structure_id}.", code="unknown_structure")
    structure = session.get(Structure, structure_id)
    assert structure is not None
    territory = session.get(Territory, structure.territory_id)
    assert territory is not None
    now = clock()
    start, end = window(now.date())
    counts = validation_counts(session, start, end)
    summary, _ = _summary(row, {structure_id: counts.get(structure_id, 0)}, threshold, now)
    dept = summary.department
    local_now = zones.local(now, dept)
    week = hours.parse(structure.horaires)
    return from_entity(
        PlaceDetail,
        structure,
        **summary.model_dump(),
        week=None
        if week is None
        else [
            DayHours(day=i, ranges=[hours.format_range(r) for r in day])
            for i, day in enumerate(week)
        ],
        time_zone=zones.zone_name(dept),
        local_date=local_now.date(),
        local_time=local_now.strftime("%H:%M"),
        mediators=mediators(session, structure_id),
        territory=TerritoryRef(code=territory.code, name=territory.name),
    )
