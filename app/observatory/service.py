"""A territory's figures: counted in the database, then published under statistical secrecy.

What counts (docs/open-data.md says it for readers):

- a *validation* is a mediator's, still standing: not withdrawn, not a self-assessment (the
  citizen's own view), not an imported credential (it was counted where it was first observed,
  and a national sum would count it twice). Validations count for the territory holding the
  passport, by the date the skill was observed; those of erased passports still count, since
  what erasure leaves is anonymous;
- a *passport opened* is one created in the period, erased since or not; a duplicate merged into
  another one does not count (its validations moved to the one kept);
- *Premiers pas acquired*: people whose first standing validation of the skill is in the period;
- *progress*: people whose best level in a competence is higher at the end of the period than
  before it started (a first level counts as a gain from none). A Premiers pas skill counts for
  its CRCN competence, at its own level, as in the passport view;
- *credentials issued* by the territory in the period, revoked since or not;
- *verifications* answered by this instance (any territory's credential), from the tally.

Every figure comes from a GROUP BY in the database; no row about a person reaches Python.
"""

from __future__ import annotations

import csv
import io
import json
import threading
import time as time_module
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar, cast

import sqlalchemy as sa
from sqlmodel import Session, col, select

from app import authz
from app.accounts.principal import Principal
from app.audit import service as audit
from app.core.db import pk
from app.core.errors import AppError, InvalidInput, NotFound
from app.core.time import utcnow
from app.core.validation import EARLIEST_DAY
from app.credentials.models import Credential
from app.framework.models import FrameworkArea, Skill
from app.observatory import secrecy
from app.observatory.models import StatsPublication, VerificationTally
from app.passports.models import Method, Passport, Validation
from app.structures.models import Structure
from app.territory.models import Territory

SCHEMA = "passeport-numerique/stats/1"
LICENCE = "Licence Ouverte 2.0 (Etalab)"
LICENCE_URL = "https://www.etalab.gouv.fr/licence-ouverte-open-licence/"
TOTAL = "total"
NO_STRUCTURE = "none"
# Methods that are not a mediator's own observation: the citizen's view, and imports of what
# another territory already counted.
NOT_COUNTED = (Method.SELF_ASSESSMENT.value, Method.CREDENTIAL.value)
COUNTED_METHODS = tuple(m.value for m in Method if m.value not in NOT_COUNTED)
DEFAULT_MONTHS = 24
MAX_MONTHS = 120
# How long a computed publication is served again. A coordinator's figures for a period still
# running lag by this much, plus up to the tally's flush interval for verifications (30 s, they
# are counted in memory first: tally.FLUSH_SECONDS): minutes are fine for monthly figures. A
# public document is released once, days after its period ends and past the last flush, and
# stored (app.observatory.release): it never changes, so it is not cached here.
CACHE_SECONDS = 300.0
# How long a downstream cache may keep a released document (Cache-Control): it never changes,
# but a territory may stop publishing.
PUBLIC_MAX_AGE = 3600

_V = Validation.__table__.c  # type: ignore[attr-defined]
_P = Passport.__table__.c  # type: ignore[attr-defined]
_S = Skill.__table__.c  # type: ignore[attr-defined]
_C = Credential.__table__.c  # type: ignore[attr-defined]
_T = VerificationTally.__table__.c  # type: ignore[attr-defined]


# --- the period ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """From ``start`` to ``end``, both days included; ``id`` names a fixed public period."""

    start: date
    end: date
    # "2026-11" (a calendar month), "2026-Q3" (a quarter) or "2026" (a year); None: any days.
    id: str | None = None

    @property
    def kind(self) -> str:
        if self.id is None:
            return "custom"
        return "year" if len(self.id) == 4 else "quarter" if "Q" in self.id else "month"

    def months(self) -> list[str]:
        out = []
        year, month = self.start.year, self.start.month
        while (year, month) <= (self.end.year, self.end.month):
            out.append(f"{year:04d}-{month:02d}")
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return out

    def bounds(self) -> tuple[datetime, datetime]:
        """The period as UTC instants, end excluded, for timestamp columns."""
        start = datetime.combine(self.start, time(), tzinfo=UTC)
        end = datetime.combine(self.end + timedelta(days=1), time(), tzinfo=UTC)
        return start, end

    def contains(self, other: Period) -> bool:
        return self.start <= other.start and other.end <= self.end

    def view(self) -> dict[str, str | None]:
        return {
            "id": self.id,
            "kind": self.kind,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
        }


def period(start: date | None, end: date | None, today: date | None = None) -> Period:
    """Any period (coordinators, the operator); by default the 24 calendar months up to today."""
    end = end or today or utcnow().date()
    if start is None:
        month_index = end.year * 12 + end.month - 1 - (DEFAULT_MONTHS - 1)
        start = date(month_index // 12, month_index % 12 + 1, 1)
    if start > end:
        raise InvalidInput("The period starts after it ends.", code="invalid_period")
    if (end.year - start.year) * 12 + end.month - start.month >= MAX_MONTHS:
        raise InvalidInput(f"A period is at most {MAX_MONTHS} months long.", code="invalid_period")
    return fixed_for(start, end) or Period(start, end)


# --- the fixed public periods --------------------------------------------------------------------
# Anyone may read a territory's figures for a calendar month, quarter or year that is over: such
# periods nest (a month in one quarter, a quarter in one year) and never overlap otherwise, so the
# only differences a reader can take are between a period and one containing it, and the secrecy
# of the whole year's documents is solved at once (secrecy.family). A period still running is not
# public: its figures would grow from one day to the next, and two days' documents subtracted give
# one day's counts. Coordinators choose any days.

#: Years of fixed periods offered, the current one included.
PUBLIC_YEARS = 10
#: A period is public this long after it ends: every process's verification tally (flushed every
#: tally.FLUSH_SECONDS) has written the last day's counts by then, so the document of a period,
#: once public, does not change when a late flush lands.
SETTLE = timedelta(minutes=5)


def month_period(year: int, month: int) -> Period:
    nxt = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return Period(date(year, month, 1), nxt - timedelta(days=1), f"{year:04d}-{month:02d}")


def quarter_period(year: int, quarter: int) -> Period:
    first, last = month_period(year, 3 * quarter - 2), month_period(year, 3 * quarter)
    return Period(first.start, last.end, f"{year:04d}-Q{quarter}")


def year_period(year: int) -> Period:
    return Period(date(year, 1, 1), date(year, 12, 31), f"{year:04d}")


def _fixed_year(text: str) -> bool:
    """A year a fixed period can be of: from the earliest day the service records
    (app.core.validation.EARLIEST_DAY) to next year; "9999" names no period (its end would
    overflow the calendar), it is not one."""
    return text.isdigit() and EARLIEST_DAY.year <= int(text) <= utcnow().year + 1


def fixed(text: str) -> Period | None:
    """The fixed period an id names ("2026-11", "2026-Q3", "2026"), or None."""
    if len(text) == 4 and _fixed_year(text):
        return year_period(int(text))
    if len(text) == 7 and _fixed_year(text[:4]) and text[4] == "-":
        if text[5] == "Q" and text[6] in "1234":
            return quarter_period(int(text[:4]), int(text[6]))
        if text[5:].isdigit() and 1 <= int(text[5:]) <= 12:
            return month_period(int(text[:4]), int(text[5:]))
    return None


def fixed_for(start: date, end: date) -> Period | None:
    """The fixed period that runs exactly from ``start`` to ``end``, if one does."""
    if start.day != 1:
        return None
    candidates = [month_period(start.year, start.month)]
    if start.month % 3 == 1:
        candidates.append(quarter_period(start.year, start.month // 3 + 1))
    if start.month == 1:
        candidates.append(year_period(start.year))
    return next((p for p in candidates if p.end == end), None)


def release_due(p: Period, days: int = 0) -> datetime:
    """When a fixed period's public figures are released: ``days`` (the instance's
    PASSEPORT_STATS_RELEASE_DAYS) after it ends, and SETTLE more."""
    return p.bounds()[1] + timedelta(days=days) + SETTLE


def is_public_period(p: Period, now: datetime | None = None, days: int = 0) -> bool:
    """A fixed period of the last ten years whose release is due."""
    now = now or utcnow()
    if p.id is None or p.start.year <= now.year - PUBLIC_YEARS:
        return False
    return release_due(p, days) <= now


def public_periods(now: datetime | None = None, days: int = 0) -> list[Period]:
    """The fixed periods due for release now: years, quarters, then months, newest first."""
    now = now or utcnow()
    years = range(now.year, now.year - PUBLIC_YEARS, -1)
    out = [year_period(y) for y in years]
    out += [quarter_period(y, q) for y in years for q in range(4, 0, -1)]
    out += [month_period(y, m) for y in years for m in range(12, 0, -1)]
    return [p for p in out if is_public_period(p, now, days)]


def latest_public_period(now: datetime | None = None, days: int = 0) -> Period:
    """The default for the public: the last calendar month due for release."""
    now = now or utcnow()
    return next(p for p in public_periods(now, days) if p.kind == "month")


class PeriodNotPublic(InvalidInput):
    code, title = "period_not_public", "Period not public"


class PeriodNotReleased(NotFound):
    code, title = "period_not_released", "Period not released yet"


def public_period(text: str | None, now: datetime | None = None, days: int = 0) -> Period:
    """A fixed period the public may read, or the error that lists those that exist."""
    now = now or utcnow()
    p = fixed(text) if text is not None else latest_public_period(now, days)
    if p is None or not is_public_period(p, now, days):
        raise not_public(now, days)
    return p


def not_public(
    now: datetime | None = None, days: int = 0, periods: Sequence[str] | None = None
) -> PeriodNotPublic:
    """``periods``: those the caller may ask for (by default, every fixed period due)."""
    if periods is None:
        periods = [str(p.id) for p in public_periods(now, days)]
    return PeriodNotPublic(
        "The public figures are by calendar month, quarter or year, released once the period is "
        f"over (a period is released {days} days after it ends); other periods are for the "
        "territory's coordinators.",
        periods=list(periods),
    )


def not_released(p: Period | None, released: Sequence[str], days: int = 0) -> PeriodNotReleased:
    """A fixed period (or, without one, any) whose figures are not released yet: when they will
    be, and the periods released."""
    extra: dict[str, Any] = {"periods": list(released)}
    message = "No figures of this territory are released yet."
    if p is not None:
        due = release_due(p, days)
        extra |= {"period": p.id, "release_after": due.isoformat(timespec="seconds")}
        message = (
            f"The figures of {p.id} are released once, {days} days after the period ends: "
            f"after {due.isoformat(timespec='minutes')} UTC, at the instance's next release run."
        )
    return PeriodNotReleased(message, **extra)


# --- the counts, in the database -----------------------------------------------------------------


def _month(session: Session, column: Any, timestamp: bool = False) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        if timestamp:
            column = sa.func.timezone("UTC", column)
        return sa.func.to_char(column, "YYYY-MM")
    # SQLite keeps dates and (UTC) datetimes as ISO text.
    return sa.func.substr(column, 1, 7)


def _counted_validations(territory_id: int, until: date) -> Any:
    """The validations that count, of passports held by the territory, observed up to ``until``."""
    return (
        sa.select()
        .select_from(Validation.__table__.join(Passport.__table__, _P.id == _V.passport_id))  # type: ignore[attr-defined]
        .where(
            _P.territory_id == territory_id,
            _V.withdrawn_at.is_(None),
            _V.method.notin_(NOT_COUNTED),
            _V.observed_on <= until,
        )
    )


def _in_period(query: Any, p: Period) -> Any:
    return query.where(_V.observed_on >= p.start)


def _competence() -> Any:
    # A Premiers pas skill counts for its CRCN competence (at its own level, stored with it).
    return sa.func.coalesce(_S.crcn_code, _S.code)


def _pairs(session: Session, query: Any) -> dict[Any, int]:
    return {
        tuple(row[:-1]) if len(row) > 2 else row[0]: int(row[-1]) for row in session.execute(query)
    }


def passports_by_month(session: Session, territory_id: int, p: Period) -> dict[str, int]:
    start, end = p.bounds()
    month = _month(session, _P.created_at, timestamp=True).label("month")
    query = (
        sa.select(month, sa.func.count())
        .where(
            _P.territory_id == territory_id,
            _P.merged_into_id.is_(None),
            _P.created_at >= start,
            _P.created_at < end,
        )
        .group_by(month)
    )
    return _pairs(session, query)


def validations_by_competence_level(
    session: Session, territory_id: int, p: Period
) -> dict[tuple[str, int], int]:
    competence = _competence().label("competence")
    query = (
        _in_period(_counted_validations(territory_id, p.end), p)
        .join(Skill.__table__, _S.code == _V.skill_code)  # type: ignore[attr-defined]
        .add_columns(competence, _V.level, sa.func.count())
        .group_by(competence, _V.level)
    )
    return _pairs(session, query)


def validations_by_method(session: Session, territory_id: int, p: Period) -> dict[str, int]:
    query = (
        _in_period(_counted_validations(territory_id, p.end), p)
        .add_columns(_V.method, sa.func.count())
        .group_by(_V.method)
    )
    return _pairs(session, query)


def validations_by_structure(
    session: Session, territory_id: int, p: Period
) -> dict[int | None, int]:
    query = (
        _in_period(_counted_validations(territory_id, p.end), p)
        .add_columns(_V.structure_id, sa.func.count())
        .group_by(_V.structure_id)
    )
    return _pairs(session, query)


def validations_by_month(session: Session, territory_id: int, p: Period) -> dict[str, int]:
    month = _month(session, _V.observed_on).label("month")
    query = (
        _in_period(_counted_validations(territory_id, p.end), p)
        .add_columns(month, sa.func.count())
        .group_by(month)
    )
    return _pairs(session, query)


def _first_steps(territory_id: int, until: date) -> Any:
    """Each passport's first standing validation (``first``) of each Premiers pas skill."""
    return (
        _counted_validations(territory_id, until)
        .add_columns(_V.passport_id, _V.skill_code, sa.func.min(_V.observed_on).label("first"))
        .where(_V.skill_code.like("pp:%"))
        .group_by(_V.passport_id, _V.skill_code)
        .subquery()
    )


def first_steps_acquired(session: Session, territory_id: int, p: Period) -> dict[str, int]:
    """People whose first standing validation of each Premiers pas skill falls in the period."""
    firsts = _first_steps(territory_id, p.end)
    query = (
        sa.select(firsts.c.skill_code, sa.func.count())
        .where(firsts.c.first >= p.start)
        .group_by(firsts.c.skill_code)
    )
    return _pairs(session, query)


def _levels(territory_id: int, p: Period) -> Any:
    """Each person's best level per competence before the period and at its end."""
    competence = _competence().label("competence")
    before = sa.func.max(sa.case((_V.observed_on < p.start, _V.level), else_=0))
    return (
        _counted_validations(territory_id, p.end)
        .join(Skill.__table__, _S.code == _V.skill_code)  # type: ignore[attr-defined]
        .add_columns(
            _V.passport_id,
            competence,
            before.label("before"),
            sa.func.max(_V.level).label("after"),
        )
        .group_by(_V.passport_id, competence)
        .subquery()
    )


def progress(session: Session, territory_id: int, p: Period) -> tuple[dict[str, int], int]:
    """People who gained a level, per competence, and in at least one: one pass over the rows."""
    levels = _levels(territory_id, p)
    gained = (
        sa.select(levels.c.passport_id, levels.c.competence)
        .where(levels.c.after > levels.c.before)
        .cte("gained")
    )
    query = sa.union_all(
        sa.select(gained.c.competence, sa.func.count()).group_by(gained.c.competence),
        sa.select(sa.null(), sa.func.count(sa.distinct(gained.c.passport_id))),
    )
    per_competence: dict[str, int] = {}
    people = 0
    for competence, count in session.execute(query):
        if competence is None:
            people = int(count)
        else:
            per_competence[competence] = int(count)
    return per_competence, people


def credentials_by_month(session: Session, territory_id: int, p: Period) -> dict[str, int]:
    start, end = p.bounds()
    month = _month(session, _C.issued_at, timestamp=True).label("month")
    query = (
        sa.select(month, sa.func.count())
        .where(_C.territory_id == territory_id, _C.issued_at >= start, _C.issued_at < end)
        .group_by(month)
    )
    return _pairs(session, query)


def verifications_by_month(session: Session, p: Period) -> dict[tuple[str, str, str], int]:
    month = _month(session, _T.day).label("month")
    query = (
        sa.select(month, _T.result, _T.channel, sa.func.sum(_T.count))
        .where(_T.day >= p.start, _T.day <= p.end)
        .group_by(month, _T.result, _T.channel)
    )
    return _pairs(session, query)


# Each aggregate view by name, as the benchmark times them.
VIEWS: dict[str, Callable[[Session, int, Period], Any]] = {
    "passports_by_month": passports_by_month,
    "validations_by_competence_level": validations_by_competence_level,
    "validations_by_method": validations_by_method,
    "validations_by_structure": validations_by_structure,
    "validations_by_month": validations_by_month,
    "first_steps_acquired": first_steps_acquired,
    "progress": progress,
    "credentials_by_month": credentials_by_month,
    "verifications_by_month": lambda s, _t, p: verifications_by_month(s, p),
}


# --- the published tables ------------------------------------------------------------------------


@dataclass
class Table:
    """One published table: dimension columns, then ``count`` and ``suppressed``."""

    name: str
    dimensions: tuple[str, ...]
    rows: list[tuple[tuple[Any, ...], secrecy.Key]] = field(default_factory=list)

    def add(self, dims: Sequence[Any], key: secrecy.Key) -> None:
        assert len(dims) == len(self.dimensions)
        self.rows.append((tuple(dims), key))


@dataclass
class Book:
    """Every cell of every table, and the lines that tie them, before secrecy."""

    values: dict[secrecy.Key, int] = field(default_factory=dict)
    lines: list[secrecy.Line] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)

    def cell(self, key: secrecy.Key, value: int) -> secrecy.Key:
        if key in self.values and self.values[key] != value:
            raise AssertionError(f"cell {key!r} counted twice with different values")
        self.values[key] = value
        return key

    def line(self, total: secrecy.Key, cells: Iterable[secrecy.Key]) -> None:
        self.lines.append(secrecy.Line(total, tuple(cells)))

    def table(self, name: str, *dimensions: str) -> Table:
        table = Table(name, dimensions)
        self.tables.append(table)
        return table

    def one_way(
        self, table: Table, prefix: str, items: Sequence[tuple[Sequence[Any], Any, int]]
    ) -> secrecy.Key:
        """A list of cells and its total (which may be shared with other tables)."""
        total = (prefix, TOTAL)
        self.breakdown(
            table, [(dims, (prefix, ident), value) for dims, ident, value in items], total
        )
        return self.cell(total, sum(value for _, _, value in items))

    def breakdown(
        self,
        table: Table,
        cells: Sequence[tuple[Sequence[Any], secrecy.Key, int]],
        total: secrecy.Key,
    ) -> None:
        """Rows of cells (dimensions, key, value), then a total row: ``total`` adds them up."""
        keys = []
        for dims, key, value in cells:
            table.add(dims, self.cell(key, value))
            keys.append(key)
        table.add([TOTAL, *[""] * (len(table.dimensions) - 1)], total)
        self.line(total, keys)


@dataclass(frozen=True)
class Figures:
    """A territory's counts for a period, before secrecy: never published as such."""

    passports: dict[str, int]
    competence_level: dict[tuple[str, int], int]
    methods: dict[str, int]
    structures: dict[int | None, int]
    validation_months: dict[str, int]
    first_steps: dict[str, int]
    progress: dict[str, int]
    progressed: int
    credentials: dict[str, int]
    verifications: dict[tuple[str, str, str], int]


def prepare(session: Session) -> None:
    """Give this transaction's sorts room: grouping 400,000 validations by person spilled to disk
    with PostgreSQL's default 4 MB and took twice as long (docs/performance.md, Observatory)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SET LOCAL work_mem = '32MB'"))


def figures(session: Session, territory_id: int, p: Period) -> Figures:
    prepare(session)
    gains, people = progress(session, territory_id, p)
    return Figures(
        passports=passports_by_month(session, territory_id, p),
        competence_level=validations_by_competence_level(session, territory_id, p),
        methods=validations_by_method(session, territory_id, p),
        structures=validations_by_structure(session, territory_id, p),
        validation_months=validations_by_month(session, territory_id, p),
        first_steps=first_steps_acquired(session, territory_id, p),
        progress=gains,
        progressed=people,
        credentials=credentials_by_month(session, territory_id, p),
        verifications=verifications_by_month(session, p),
    )


@dataclass(frozen=True)
class Reference:
    """Labels and the complete lists of dimension values, so every table has a fixed shape."""

    competences: dict[str, tuple[str, str]]  # code -> (domain code, label)
    domains: dict[str, str]  # code -> label
    first_steps: dict[str, str]  # code -> label
    structures: dict[int, str]  # id -> name


def reference(
    session: Session, territory_id: int, structure_ids: Iterable[int | None]
) -> Reference:
    areas = {
        a.code: a.label_fr
        for a in session.exec(select(FrameworkArea).order_by(col(FrameworkArea.position)))
    }
    competences: dict[str, tuple[str, str]] = {}
    first_steps: dict[str, str] = {}
    for skill in session.exec(
        select(Skill).order_by(col(Skill.framework_code), col(Skill.position))
    ):
        if skill.framework_code == "pp":
            first_steps[skill.code] = skill.label_fr
        else:
            competences[skill.code] = (skill.area_code or "", skill.label_fr)
    wanted = {i for i in structure_ids if i is not None}
    structures = {
        s.id: s.nom
        for s in session.exec(
            select(Structure).where(
                sa.or_(col(Structure.territory_id) == territory_id, col(Structure.id).in_(wanted))
            )
        )
        if s.id is not None
    }
    return Reference(competences, areas, first_steps, structures)


def book(f: Figures, ref: Reference, p: Period) -> Book:
    """The published tables of a territory, with the lines secondary suppression must respect."""
    months = p.months()
    b = Book()

    # Passports opened, and credentials issued, by month.
    for name, prefix, counts in (
        ("passports_by_month", "passports", f.passports),
        ("credentials_by_month", "credentials", f.credentials),
    ):
        t = b.table(name, "month")
        b.one_way(t, prefix, [((m,), m, counts.get(m, 0)) for m in months])

    # Validations: one grand total shared by every view of them.
    grand = ("validations", TOTAL)
    # By competence and level, with each competence's total and each level's total.
    used = sorted({c for c, _ in f.competence_level}, key=lambda c: (c not in ref.competences, c))
    shown = [c for c in ref.competences if c.startswith("crcn:")]
    shown += [c for c in used if c not in shown]
    t = b.table(
        "validations_by_competence_level", "domain", "competence", "competence_label", "level"
    )
    levels = range(1, 9)
    level_keys: dict[int, list[secrecy.Key]] = {lv: [] for lv in levels}
    competence_total: dict[str, secrecy.Key] = {}
    for code in shown:
        domain, label = ref.competences.get(code, ("", code))
        row_keys = []
        for lv in levels:
            key = b.cell(("validations", "cl", code, lv), f.competence_level.get((code, lv), 0))
            t.add((domain, code, label, lv), key)
            row_keys.append(key)
            level_keys[lv].append(key)
        total = b.cell(
            ("validations", "competence", code),
            sum(f.competence_level.get((code, lv), 0) for lv in levels),
        )
        t.add((domain, code, label, TOTAL), total)
        b.line(total, row_keys)
        competence_total[code] = total
    level_totals = []
    for lv in levels:
        total = b.cell(
            ("validations", "level", lv),
            sum(v for (_, level), v in f.competence_level.items() if level == lv),
        )
        t.add((TOTAL, TOTAL, "", lv), total)
        b.line(total, level_keys[lv])
        level_totals.append(total)
    all_validations = sum(f.competence_level.values())
    b.cell(grand, all_validations)
    t.add((TOTAL, TOTAL, "", TOTAL), grand)
    b.line(grand, level_totals)
    b.line(grand, list(competence_total.values()))

    # By domain: each domain's total is the sum of its competences' totals.
    t = b.table("validations_by_domain", "domain", "domain_label")
    domain_keys = []
    domains = sorted({ref.competences.get(c, ("", c))[0] for c in shown})
    for domain in domains:
        members = [
            competence_total[c] for c in shown if ref.competences.get(c, ("", c))[0] == domain
        ]
        key = b.cell(("validations", "domain", domain), sum(b.values[k] for k in members))
        t.add((domain, ref.domains.get(domain, "")), key)
        b.line(key, members)
        domain_keys.append(key)
    t.add((TOTAL, ""), grand)
    b.line(grand, domain_keys)

    # By method, by structure, by month: the same grand total.
    b.breakdown(
        b.table("validations_by_method", "method"),
        [((m,), ("validations", "method", m), f.methods.get(m, 0)) for m in COUNTED_METHODS],
        grand,
    )
    ids = sorted(set(ref.structures) | {i for i in f.structures if i is not None})
    by_structure: list[tuple[Sequence[Any], secrecy.Key, int]] = [
        (
            (str(sid), ref.structures.get(sid, "")),
            ("validations", "structure", sid),
            f.structures.get(sid, 0),
        )
        for sid in ids
    ]
    unattached = f.structures.get(None, 0)
    by_structure.append(
        ((NO_STRUCTURE, ""), ("validations", "structure", NO_STRUCTURE), unattached)
    )
    b.breakdown(
        b.table("validations_by_structure", "structure_id", "structure_name"), by_structure, grand
    )
    b.breakdown(
        b.table("validations_by_month", "month"),
        [((m,), ("validations", "month", m), f.validation_months.get(m, 0)) for m in months],
        grand,
    )

    # Premiers pas: people per skill; the total is of acquisitions (a person counts per skill).
    t = b.table("premiers_pas_acquired", "skill", "skill_label")
    b.one_way(
        t,
        "premiers_pas",
        [((c, label), c, f.first_steps.get(c, 0)) for c, label in ref.first_steps.items()],
    )

    # Progress: people per competence (one person may progress in several: no additive total).
    t = b.table("progress_by_competence", "competence", "competence_label")
    for code in shown:
        key = b.cell(("progress", code), f.progress.get(code, 0))
        t.add((code, ref.competences.get(code, ("", code))[1]), key)

    # Verifications answered by this instance: month by verdict, and month by channel.
    verdicts = sorted({r for _, r, _ in f.verifications})
    channels = sorted({ch for _, _, ch in f.verifications} | {"qr", "code"})
    by_result = b.table("verifications_by_result", "month", "result")
    by_channel = b.table("verifications_by_channel", "month", "channel")
    v_grand = b.cell(("verifications", TOTAL), sum(f.verifications.values()))
    month_totals = []
    result_cells: dict[str, list[secrecy.Key]] = {r: [] for r in verdicts}
    channel_cells: dict[str, list[secrecy.Key]] = {ch: [] for ch in channels}
    for m in months:
        total = b.cell(
            ("verifications", "month", m),
            sum(v for (month, _, _), v in f.verifications.items() if month == m),
        )
        month_totals.append(total)
        # The month's row by verdict (the key's second part), then by channel (its third).
        for table, tag, at, cells in (
            (by_result, "mr", 1, result_cells),
            (by_channel, "mc", 2, channel_cells),
        ):
            row = []
            for x in cells:
                value = sum(v for k, v in f.verifications.items() if k[0] == m and k[at] == x)
                key = b.cell(("verifications", tag, m, x), value)
                table.add((m, x), key)
                row.append(key)
                cells[x].append(key)
            table.add((m, TOTAL), total)
            b.line(total, row)
    for name, table, cells in (
        ("result", by_result, result_cells),
        ("channel", by_channel, channel_cells),
    ):
        totals = []
        for value_name, keys in cells.items():
            key = b.cell(("verifications", name, value_name), sum(b.values[k] for k in keys))
            table.add((TOTAL, value_name), key)
            b.line(key, keys)
            totals.append(key)
        table.add((TOTAL, TOTAL), v_grand)
        b.line(v_grand, totals)
    b.line(v_grand, month_totals)

    # The headline figures, each the same cell as a table's total.
    t = b.table("summary", "indicator")
    t.add(("passports_opened",), ("passports", TOTAL))
    t.add(("validations",), grand)
    t.add(("premiers_pas_acquired",), ("premiers_pas", TOTAL))
    t.add(("people_progressed",), b.cell(("progress", TOTAL), f.progressed))
    t.add(("credentials_issued",), ("credentials", TOTAL))
    t.add(("verifications",), v_grand)
    return b


# --- a year's public documents at once ----------------------------------------------------------
# The documents of a year are counted month by month in one query per view (the month in the
# GROUP BY), and a quarter's or the year's counts are sums of its months': eight scans for the
# seventeen documents rather than eight each. Progress counts people, who do not add up: a person
# progressed in a competence over a run of whole months exactly when one of those months raised
# their best level in it (a "record" month), which a window over each person's months finds in
# the database; the counts of people per month, quarter and year are then distinct counts there.


def _quarter_of(month: Any) -> Any:
    """'2026-Q3' from '2026-08', in SQL."""
    year, number = sa.func.substr(month, 1, 4), sa.func.substr(month, 6, 2)
    return sa.case(
        *[
            (number.in_([f"{m:02d}" for m in range(3 * q - 2, 3 * q + 1)]), year.concat(f"-Q{q}"))
            for q in (1, 2, 3)
        ],
        else_=year.concat("-Q4"),
    )


def _by_month(session: Session, query: Any) -> dict[str, dict[Any, int]]:
    """Rows (month, key..., count) as month -> {key: count}."""
    out: dict[str, dict[Any, int]] = {}
    for row in session.execute(query):
        key = tuple(row[1:-1]) if len(row) > 3 else row[1]
        out.setdefault(row[0], {})[key] = int(row[-1])
    return out


def _records(
    session: Session, territory_id: int, span: Period
) -> dict[str, tuple[dict[str, int], int]]:
    """Per month, quarter and year of ``span``: people who progressed, per competence and in all."""
    competence = _competence()
    month = _month(session, _V.observed_on)
    monthly = (
        _counted_validations(territory_id, span.end)
        .join(Skill.__table__, _S.code == _V.skill_code)  # type: ignore[attr-defined]
        .add_columns(
            _V.passport_id.label("passport_id"),
            competence.label("competence"),
            month.label("month"),
            sa.func.max(_V.level).label("top"),
        )
        .group_by(_V.passport_id, competence, month)
        .subquery()
    )
    before = sa.func.max(monthly.c.top).over(
        partition_by=(monthly.c.passport_id, monthly.c.competence),
        order_by=monthly.c.month,
        rows=(None, -1),
    )
    running = sa.select(
        monthly.c.passport_id,
        monthly.c.competence,
        monthly.c.month,
        monthly.c.top,
        before.label("before"),
    ).subquery()
    records = (
        sa.select(running.c.passport_id, running.c.competence, running.c.month)
        .where(
            running.c.top > sa.func.coalesce(running.c.before, 0),
            running.c.month >= span.months()[0],
        )
        .cte("records")
    )
    people = sa.func.count(sa.distinct(records.c.passport_id))
    selects = []
    for grouping in (
        records.c.month,
        _quarter_of(records.c.month),
        sa.func.substr(records.c.month, 1, 4),
    ):
        selects.append(
            sa.select(grouping, records.c.competence, people).group_by(
                grouping, records.c.competence
            )
        )
        selects.append(sa.select(grouping, sa.null(), people).group_by(grouping))
    out: dict[str, tuple[dict[str, int], int]] = {}
    for period_id, code, count in session.execute(sa.union_all(*selects)):
        per_competence, total = out.get(period_id, ({}, 0))
        if code is None:
            total = int(count)
        else:
            per_competence[code] = int(count)
        out[period_id] = (per_competence, total)
    return out


def family_figures(
    session: Session, territory_id: int, periods: Sequence[Period]
) -> dict[str, Figures]:
    """The figures of fixed periods of one year (its months over, and the quarters and the year
    they complete), the same as ``figures`` for each, in one query per view."""
    months = sorted((p for p in periods if p.kind == "month"), key=lambda p: p.start)
    span = Period(months[0].start, months[-1].end)
    prepare(session)
    month = _month(session, _V.observed_on).label("month")
    counted = _in_period(_counted_validations(territory_id, span.end), span)
    levels = _by_month(
        session,
        counted.join(Skill.__table__, _S.code == _V.skill_code)  # type: ignore[attr-defined]
        .add_columns(month, _competence().label("competence"), _V.level, sa.func.count())
        .group_by(month, _competence(), _V.level),
    )
    methods = _by_month(
        session, counted.add_columns(month, _V.method, sa.func.count()).group_by(month, _V.method)
    )
    structures = _by_month(
        session,
        counted.add_columns(month, _V.structure_id, sa.func.count()).group_by(
            month, _V.structure_id
        ),
    )
    firsts = _first_steps(territory_id, span.end)
    first_month = _month(session, firsts.c.first)
    first_steps = _by_month(
        session,
        sa.select(first_month, firsts.c.skill_code, sa.func.count())
        .where(firsts.c.first >= span.start)
        .group_by(first_month, firsts.c.skill_code),
    )
    passports = passports_by_month(session, territory_id, span)
    credentials = credentials_by_month(session, territory_id, span)
    verifications = verifications_by_month(session, span)
    records = _records(session, territory_id, span)

    def add(parts: Iterable[dict[Any, int]]) -> dict[Any, int]:
        out: dict[Any, int] = {}
        for part in parts:
            for key, value in part.items():
                out[key] = out.get(key, 0) + value
        return out

    out = {}
    for p in periods:
        ids = p.months()
        gains, people = records.get(str(p.id), ({}, 0))
        out[str(p.id)] = Figures(
            passports={m: passports[m] for m in ids if m in passports},
            competence_level=add(levels.get(m, {}) for m in ids),
            methods=add(methods.get(m, {}) for m in ids),
            structures=add(structures.get(m, {}) for m in ids),
            validation_months={m: sum(levels[m].values()) for m in ids if m in levels},
            first_steps=add(first_steps.get(m, {}) for m in ids),
            progress=gains,
            progressed=people,
            credentials={m: credentials[m] for m in ids if m in credentials},
            verifications={k: v for k, v in verifications.items() if k[0] in ids},
        )
    return out


# --- publication ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Published:
    """What leaves the instance: every table with its small cells suppressed."""

    territory: Territory
    period: Period
    threshold: int
    generated_at: datetime
    tables: list[tuple[Table, list[tuple[tuple[Any, ...], int | None]]]]
    # The instance's public URL: which member of a federation the figures come from.
    instance: str = ""

    def document(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "licence": LICENCE,
            "licence_url": LICENCE_URL,
            "instance": self.instance,
            "territory": {"code": self.territory.code, "name": self.territory.name},
            "period": self.period.view(),
            "threshold": self.threshold,
            "generated_at": self.generated_at.isoformat(timespec="seconds"),
            "tables": {
                table.name: {
                    "columns": [*table.dimensions, "count", "suppressed"],
                    "rows": [
                        {
                            **dict(zip(table.dimensions, dims, strict=True)),
                            "count": value,
                            "suppressed": value is None,
                        }
                        for dims, value in rows
                    ],
                }
                for table, rows in self.tables
            },
        }

    def table_names(self) -> list[str]:
        return [table.name for table, _ in self.tables]

    def csv(self, name: str) -> str:
        """One table as CSV: a fixed header, suppressed counts empty beside a flag column."""
        if name in self.table_names():
            document = self.document()["tables"][name]
            return csv_of(document["columns"], document["rows"])
        raise NotFound(f"No table is called {name!r}.", code="unknown_table")


def csv_of(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> str:
    """A document's table as CSV: its columns, a suppressed count empty, the flag true/false."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(
            [
                ("true" if row[c] else "false")
                if c == "suppressed"
                else ("" if row[c] is None else row[c])
                for c in columns
            ]
        )
    return out.getvalue()


def publish(
    b: Book, threshold: int, hidden: set[secrecy.Key] | None = None
) -> list[tuple[Table, list[tuple[tuple[Any, ...], int | None]]]]:
    if hidden is None:
        hidden = secrecy.suppress(b.values, b.lines, threshold)
    return [
        (table, [(dims, None if key in hidden else b.values[key]) for dims, key in table.rows])
        for table in b.tables
    ]


def published(
    session: Session, territory: Territory, p: Period, threshold: int, instance: str = ""
) -> Published:
    """One document on its own: the secrecy of its tables together (any period)."""
    f = figures(session, pk(territory), p)
    ref = reference(session, pk(territory), f.structures)
    tables = publish(book(f, ref, p), threshold)
    return Published(territory, p, threshold, utcnow(), tables, instance.rstrip("/"))


def family_stages(p: Period, now: datetime | None = None, days: int = 0) -> list[list[Period]]:
    """The public periods of ``p``'s year in the order they are released: each month, with the
    quarter and the year it closes."""
    now = now or utcnow()
    year = p.start.year
    stages = []
    for m in range(1, 13):
        month = month_period(year, m)
        if not is_public_period(month, now, days):
            break
        stage = [month]
        if m % 3 == 0:
            stage.append(quarter_period(year, m // 3))
        if m == 12:
            stage.append(year_period(year))
        stages.append(stage)
    return stages


def calendar_relations(periods: Iterable[Period]) -> secrecy.Relations:
    """Months, quarters and a year: a quarter sums its months, the year its quarters; a count by
    month in a quarter's or year's table is the month's own count."""
    periods = list(periods)
    months = {p.id for p in periods if p.kind == "month"}

    def canonical(name: Hashable, key: secrecy.Key) -> secrecy.Key:
        if isinstance(key, tuple):
            for part in key:
                if isinstance(part, str) and part in months:
                    return (part, key)
        return (name, key)

    parts: dict[Hashable, list[Hashable]] = {}
    nested: list[tuple[Hashable, Hashable]] = []
    for outer in periods:
        inner = [p for p in periods if p is not outer and outer.contains(p)]
        nested += [(outer.id, p.id) for p in inner]
        if outer.kind == "quarter":
            parts[outer.id] = [p.id for p in inner if p.kind == "month"]
        elif outer.kind == "year":
            parts[outer.id] = [p.id for p in inner if p.kind == "quarter"]
    return secrecy.Relations(
        canonical=canonical,
        parts=parts,
        nested=nested,
        additive=lambda key: not (isinstance(key, tuple) and key[0] == "progress"),
    )


# --- the territory's choice to publish -----------------------------------------------------------


def is_public(session: Session, territory_id: int) -> bool:
    row = session.get(StatsPublication, territory_id)
    return bool(row and row.public)


def set_public(
    session: Session, principal: Principal, territory: Territory, public: bool
) -> StatsPublication:
    authz.ensure_territory_admin(principal, pk(territory))
    row = session.get(StatsPublication, pk(territory))
    if row is None:
        row = StatsPublication(territory_id=pk(territory), public=False)
        session.add(row)
    if row.public != public:
        row.public = public
        row.changed_at = utcnow()
        row.changed_by_account_id = principal.account_id
        audit.record(
            session,
            "stats.published" if public else "stats.unpublished",
            actor_account_id=principal.account_id,
            territory_id=pk(territory),
            target_type="territory",
            target_id=pk(territory),
        )
    session.flush()
    return row


def ensure_readable(session: Session, principal: Principal, territory: Territory) -> None:
    """Public once the territory opted in; before that, its coordinators and platform admins."""
    if is_public(session, pk(territory)):
        return
    ensure_coordinator(principal, pk(territory))


def ensure_coordinator(principal: Principal, territory_id: int) -> None:
    """401 without an account, 403 unless the caller coordinates the territory (or is a
    platform admin): what any period, and figures not yet public, need."""
    authz.check(authz.TERRITORY_ADMIN, principal)
    authz.ensure_territory_admin(principal, territory_id)


def is_coordinator(principal: Principal, territory_id: int) -> bool:
    try:
        ensure_coordinator(principal, territory_id)
    except AppError:
        return False
    return True


def to_json(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, indent=1).encode()


V = TypeVar("V")


class PublishedCache:
    """The last publications computed, for a few minutes: on a large instance one costs a second
    or two of database time (docs/performance.md), and the public route must not multiply that.

    One computation per key at a time; callers asking for the same figures meanwhile wait for it.
    """

    def __init__(self, seconds: float = CACHE_SECONDS, size: int = 64) -> None:
        self.seconds = seconds
        self.size = size
        self._lock = threading.Lock()
        self._entries: dict[Hashable, tuple[float, Any]] = {}
        self._computing: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable, compute: Callable[[], V]) -> V:
        with self._lock:
            key_lock = self._computing.setdefault(key, threading.Lock())
        with key_lock:
            now = time_module.monotonic()
            with self._lock:
                entry = self._entries.get(key)
                if entry is not None and now - entry[0] < self.seconds:
                    return cast(V, entry[1])
            value = compute()
            with self._lock:
                if len(self._entries) >= self.size:
                    oldest = min(self._entries, key=lambda k: self._entries[k][0])
                    del self._entries[oldest]
                self._entries[key] = (time_module.monotonic(), value)
                self._computing.pop(key, None)
            return value


def cache_key(territory: Territory, p: Period, threshold: int) -> Hashable:
    # The creation date too: a territory deleted and created again under the same id is another.
    return (territory.id, territory.code, territory.created_at, p.start, p.end, threshold)
