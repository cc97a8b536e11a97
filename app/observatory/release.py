"""Releases: each fixed period's public figures, computed once after the period ends, then stored.

A public document computed at each request changes when past data does (a validation recorded
late with a date in a past month, a passport erased, two passports merged): a reader who kept the
document from before subtracts and reads the late record's counts. So a fixed period's document is
*released* once, ``PASSEPORT_STATS_RELEASE_DAYS`` after the period ends (late records of the
period land first), by the server's background task or ``passeport stats release``, and served
as stored ever after, never recomputed (docs/open-data.md, "Releases").

A later release of the same year keeps to the earlier ones:

- a quarter's and a year's counts are the sums of their months' counts *as released* (kept here,
  never served), so a quarter less its three released months is zero, whatever was recorded
  late; only progress, a count of people that does not add up, is counted again for the quarter;
- the year's documents are suppressed together (``secrecy.family``) with the cells of the
  documents already released fixed as they were published.

What a late record changes reaches the public only in the periods released after it, in counts
that do not add up to anything released before, so no difference gives it back.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.core.db import pk, transaction
from app.core.errors import NotFound
from app.core.settings import Settings
from app.core.time import utcnow
from app.observatory import secrecy, service
from app.observatory.models import StatsRelease
from app.observatory.service import Figures, Period, Published, Reference
from app.territory.models import Territory

logger = logging.getLogger(__name__)


# --- the counts kept with a release --------------------------------------------------------------


def _tuples(value: Any) -> Any:
    """JSON gives lists back where the keys had tuples."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def _pairs(counts: dict[Any, int]) -> list[list[Any]]:
    return [[*(k if isinstance(k, tuple) else (k,)), v] for k, v in counts.items()]


def _unpairs(rows: list[list[Any]], width: int) -> dict[Any, int]:
    return {(tuple(r[:-1]) if width > 1 else r[0]): int(r[-1]) for r in rows}


_WIDTHS = {
    "passports": 1,
    "competence_level": 2,
    "methods": 1,
    "structures": 1,
    "validation_months": 1,
    "first_steps": 1,
    "progress": 1,
    "credentials": 1,
    "verifications": 3,
}


def figures_json(f: Figures, ref: Reference, hidden: set[secrecy.Key]) -> dict[str, Any]:
    """What a release keeps besides its document: the counts before secrecy, the structures
    named in it, and its suppressed cells, for the later releases of its year."""
    out: dict[str, Any] = {name: _pairs(getattr(f, name)) for name in _WIDTHS}
    out["progressed"] = f.progressed
    out["structures_named"] = [[k, v] for k, v in ref.structures.items()]
    out["hidden"] = sorted((list(k) if isinstance(k, tuple) else k for k in hidden), key=repr)
    return out


def figures_of(kept: dict[str, Any]) -> Figures:
    return Figures(
        **{name: _unpairs(kept[name], width) for name, width in _WIDTHS.items()},
        progressed=int(kept["progressed"]),
    )


def combined(months: list[Figures], progress: dict[str, int], progressed: int) -> Figures:
    """A quarter's or a year's figures: its months' added up, its own progress."""

    def add(name: str) -> dict[Any, int]:
        out: dict[Any, int] = {}
        for f in months:
            for key, value in getattr(f, name).items():
                out[key] = out.get(key, 0) + value
        return out

    return Figures(
        **{name: add(name) for name in _WIDTHS if name != "progress"},
        progress=progress,
        progressed=progressed,
    )


# --- releasing -----------------------------------------------------------------------------------


def release_year(
    session: Session,
    territory: Territory,
    year: int,
    threshold: int,
    instance: str,
    now: datetime,
    days: int,
) -> list[StatsRelease]:
    """The releases of the periods of ``year`` that are due and not released yet, computed
    (the caller stores them)."""
    stages = service.family_stages(service.year_period(year), now, days)
    periods = [q for stage in stages for q in stage]
    if not periods:
        return []
    rows = {
        r.period: r
        for r in session.exec(
            select(StatsRelease).where(
                StatsRelease.territory_id == pk(territory),
                col(StatsRelease.period).in_([str(q.id) for q in periods]),
            )
        )
    }
    if all(str(q.id) in rows for q in periods):
        return []
    if rows:
        # One threshold for the documents of a year, solved together.
        threshold = next(iter(rows.values())).threshold
    live = service.family_figures(session, pk(territory), periods)
    labels = service.reference(session, pk(territory), ())
    counted: dict[str, Figures] = {}
    refs: dict[str, Reference] = {}
    given: dict[Hashable, set[secrecy.Key]] = {}
    for q in periods:  # months before the quarter and the year they close
        name = str(q.id)
        if name in rows:
            kept = rows[name].figures
            counted[name] = figures_of(kept)
            refs[name] = Reference(
                labels.competences,
                labels.domains,
                labels.first_steps,
                {int(k): v for k, v in kept["structures_named"]},
            )
            given[name] = {_tuples(k) for k in kept["hidden"]}
            continue
        if q.kind == "month":
            counted[name] = live[name]
        else:
            mine = live[name]
            counted[name] = combined(
                [counted[m] for m in q.months()], mine.progress, mine.progressed
            )
        refs[name] = service.reference(session, pk(territory), counted[name].structures)
    books = {str(q.id): service.book(counted[str(q.id)], refs[str(q.id)], q) for q in periods}
    documents = [
        [secrecy.Document(q.id, books[str(q.id)].values, books[str(q.id)].lines) for q in s]
        for s in stages
    ]
    hidden = secrecy.family(documents, service.calendar_relations(periods), threshold, given)
    moved = [str(name) for name, cells in given.items() if hidden[name] != cells]
    if moved:  # pragma: no cover - frozen cells are never suppressed (secrecy.family)
        logger.error("released documents' suppression would change", extra={"periods": moved})
        return []
    out = []
    for q in periods:
        name = str(q.id)
        if name in rows:
            continue
        published = Published(
            territory,
            q,
            threshold,
            now,
            service.publish(books[name], threshold, hidden[name]),
            instance.rstrip("/"),
        )
        out.append(
            StatsRelease(
                territory_id=pk(territory),
                period=name,
                period_start=q.start,
                period_end=q.end,
                threshold=threshold,
                released_at=now,
                document=published.document(),
                figures=figures_json(counted[name], refs[name], hidden[name]),
            )
        )
    return out


def release(
    engine: sa.Engine,
    settings: Settings,
    territory_code: str | None = None,
    now: datetime | None = None,
) -> dict[str, list[str]]:
    """Release every period due, for every territory (or the one named), whether it publishes
    or not (opting in then publishes what was released): territory code → the period ids
    released now. Idempotent: a period released is never released again. Each year is computed
    in a read-only snapshot (a quarter's months and the quarter counted from the same data; on
    SQLite, no write lock held meanwhile), then stored in a short write, unless another process
    released the same periods meanwhile."""
    now = now or utcnow()
    with transaction(engine, write=False) as session:
        query = select(Territory).order_by(col(Territory.code))
        if territory_code is not None:
            query = query.where(Territory.code == territory_code)
        territories = list(session.exec(query))
        if territory_code is not None and not territories:
            raise NotFound(f"No territory is called {territory_code!r}.", code="unknown_territory")
        session.expunge_all()
    snapshot = engine
    if engine.dialect.name == "postgresql":
        snapshot = engine.execution_options(isolation_level="REPEATABLE READ")
    out: dict[str, list[str]] = {}
    for territory in territories:
        done: list[str] = []
        for year in range(now.year - service.PUBLIC_YEARS + 1, now.year + 1):
            with transaction(snapshot, write=False) as session:
                rows = release_year(
                    session,
                    territory,
                    year,
                    settings.stats_threshold,
                    settings.public_url,
                    now,
                    settings.stats_release_days,
                )
            if rows and store(engine, rows):
                done += [r.period for r in rows]
        out[territory.code] = done
    return out


def store(engine: sa.Engine, rows: list[StatsRelease]) -> bool:
    """Keep releases computed together, in one short write; False, and nothing kept, when
    another process released any of their periods meanwhile: theirs stand."""
    try:
        with transaction(engine) as session:
            if any(session.get(StatsRelease, (r.territory_id, r.period)) for r in rows):
                return False
            session.add_all(rows)
    except IntegrityError:  # the same, caught by the database between the check and the write
        return False
    return True


# --- serving -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Released:
    """A released document, as stored: what the public routes serve."""

    territory: Territory
    period: Period
    row: StatsRelease

    def document(self) -> dict[str, Any]:
        return self.row.document

    def table_names(self) -> list[str]:
        return list(self.row.document["tables"])

    def csv(self, name: str) -> str:
        table = self.row.document["tables"].get(name)
        if table is None:
            raise NotFound(f"No table is called {name!r}.", code="unknown_table")
        return service.csv_of(table["columns"], table["rows"])


def released(session: Session, territory: Territory, p: Period) -> Released | None:
    row = session.get(StatsRelease, (territory.id, p.id))
    return None if row is None else Released(territory, p, row)


def released_ids(session: Session, territory_id: int) -> list[str]:
    """The periods released for a territory, years then quarters then months, newest first."""
    rows = [
        (r.period, r.period_start)
        for r in session.exec(select(StatsRelease).where(StatsRelease.territory_id == territory_id))
    ]
    rank = {"year": 0, "quarter": 1, "month": 2}

    def order(item: tuple[str, date]) -> tuple[int, int]:
        period = service.fixed(item[0])
        assert period is not None
        return (rank[period.kind], -item[1].toordinal())

    return [name for name, _ in sorted(rows, key=order)]


def latest_month(ids: Sequence[str]) -> str | None:
    """The newest month of ``released_ids``."""
    return next((i for i in ids if len(i) == 7 and "Q" not in i), None)
