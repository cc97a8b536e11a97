"""National figures: each member's published figures, signed by the member, summed by the hub.

Member side, a territory that opted in serves ``{iss}/stats.jws``: a compact JWS, header
``{"alg":"ES256","kid":<thumbprint>,"typ":TYP}``, over its published document (already under
statistical secrecy, docs/open-data.md) with ``iss`` and ``iat`` added.

Hub side, ``passeport federation stats collect`` fetches each member's released documents of its
last month released (``{iss}/stats.jws``), then of the last quarter and year that month closes or
follows (``?period=…``: public figures are by fixed period, released once, docs/open-data.md),
and checks each against the key set the hub holds for that
member: the one in the last trust list it signed, not one fetched beside the document (whoever
could forge the document could forge that too). The latest valid document per member and period
is kept; a refused one changes nothing. The national view sums the documents of one period.

Here rather than in app/observatory/: the hub's side is federation (members, held key sets, the
bounded fetcher, the journal of refusals), and what it reads of the figures is only their fixed
published schema, checked below.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final

import sqlalchemy as sa
from joserfc import jws
from joserfc.jwk import ECKey
from sqlalchemy import Engine
from sqlmodel import Field, Session, SQLModel, col, select

from app.audit import service as audit
from app.core.db import pk, transaction
from app.core.errors import NotFound
from app.core.settings import ConfigurationError, Settings
from app.core.time import aware, utcnow
from app.credentials import format as fmt
from app.federation import documents, fetch, hub
from app.federation.models import TZ, FederationMember
from app.observatory import service as observatory
from app.observatory.service import Period

TYP: Final = "pn-stats+jws"
#: The member's published schema (app/observatory/service.py SCHEMA), the only one summed.
MEMBER_SCHEMA: Final = "passeport-numerique/stats/1"
NATIONAL_SCHEMA: Final = "passeport-numerique/national-stats/1"
#: A territory's document is some 100 KB (a row per competence and level, per month...).
MAX_STATS_BYTES: Final = 2_000_000
MAX_ROWS: Final = 20_000
#: A member computes the public documents of a year at the first request for one of them
#: (seconds on a large territory, docs/performance.md), then serves them from its cache: a hub
#: waits that long, whatever its timeout for key sets and trust lists.
MIN_STATS_TIMEOUT: Final = 30.0
TOTAL: Final = "total"

#: Each published table and its dimension columns, as docs/open-data.md fixes them. A member's
#: document with any other table or column is refused rather than summed half-understood.
TABLES: Final[dict[str, tuple[str, ...]]] = {
    "passports_by_month": ("month",),
    "credentials_by_month": ("month",),
    "validations_by_competence_level": ("domain", "competence", "competence_label", "level"),
    "validations_by_domain": ("domain", "domain_label"),
    "validations_by_method": ("method",),
    "validations_by_structure": ("structure_id", "structure_name"),
    "validations_by_month": ("month",),
    "premiers_pas_acquired": ("skill", "skill_label"),
    "progress_by_competence": ("competence", "competence_label"),
    "verifications_by_result": ("month", "result"),
    "verifications_by_channel": ("month", "channel"),
    "summary": ("indicator",),
}
#: Structure ids are each instance's own: structure 3 here and structure 3 there are not the same
#: place, so the national view has no table by structure.
LOCAL_TABLES: Final = frozenset({"validations_by_structure"})
#: Labels follow the code beside them; the sum is keyed by codes only.
LABELS: Final = frozenset({"competence_label", "domain_label", "skill_label", "structure_name"})
NATIONAL_COLUMNS: Final = ("count", "incomplete", "known", "members", "suppressed_members")


class MemberStats(SQLModel, table=True):
    """Hub side: each member's latest valid figures document per fixed period, as received and
    as read."""

    __tablename__ = "member_stats"

    member_id: int = Field(
        foreign_key="federation_member.id",
        primary_key=True,
        sa_column_kwargs={"autoincrement": False},
        ondelete="CASCADE",
    )
    # A fixed public period: "2026-11", "2026-Q3" or "2026".
    period: str = Field(primary_key=True, max_length=7)
    iss: str = Field(max_length=300)
    kid: str = Field(max_length=100)
    # The compact JWS as fetched, so that anyone can check the hub's sums against the signature.
    document: str = Field(sa_type=sa.Text)
    figures: dict[str, Any] = Field(sa_type=sa.JSON)
    period_start: date
    period_end: date
    # The member's iat: a document older than the one held is a replay, refused.
    signed_at: datetime = Field(sa_type=TZ)
    fetched_at: datetime = Field(default_factory=utcnow, sa_type=TZ)


class StatsError(documents.MemberDocumentError):
    """A member's figures refused; ``reason`` is a stable code for the journal."""


# --- member side ---------------------------------------------------------------------------------


def stats_uri(iss: str, period: str | None = None) -> str:
    uri = f"{iss.rstrip('/')}/stats.jws"
    return f"{uri}?period={period}" if period else uri


def collected_periods(month: Period) -> list[Period]:
    """What a hub fetches of a member whose last month released is ``month``: that month, and
    the last quarter and year it closes or follows (a member releases a quarter and a year with
    their last month, docs/open-data.md, "Releases")."""
    quarter = (month.start.month - 1) // 3 + 1
    closed = (
        observatory.quarter_period(month.start.year, quarter)
        if month.start.month % 3 == 0
        else observatory.quarter_period(month.start.year, quarter - 1)
        if quarter > 1
        else observatory.quarter_period(month.start.year - 1, 4)
    )
    year = month.start.year if month.start.month == 12 else month.start.year - 1
    return [month, closed, observatory.year_period(year)]


def sign_stats(document: dict[str, Any], *, iss: str, kid: str, key: ECKey, now: datetime) -> str:
    body = {**document, "iss": iss, "iat": int(now.timestamp())}
    header = {"alg": fmt.ALG, "kid": kid, "typ": TYP}
    payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return jws.serialize_compact(header, payload, key, registry=documents.REGISTRY)


# --- hub side: checking a document ---------------------------------------------------------------


def _date(value: Any, where: str) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise StatsError(f"{where} must be an ISO date") from None


def _check_tables(tables: Any) -> None:
    if not isinstance(tables, dict) or set(tables) != set(TABLES):
        raise StatsError(f"tables must be exactly {', '.join(sorted(TABLES))}")
    rows_seen = 0
    for name, dims in TABLES.items():
        table = tables[name]
        columns = [*dims, "count", "suppressed"]
        if not isinstance(table, dict) or table.get("columns") != columns:
            raise StatsError(f"table {name} must have the columns {', '.join(columns)}")
        rows = table.get("rows")
        if not isinstance(rows, list):
            raise StatsError(f"table {name}: rows must be a list")
        rows_seen += len(rows)
        if rows_seen > MAX_ROWS:
            raise StatsError(f"more than {MAX_ROWS} rows", reason="too_large")
        for i, row in enumerate(rows):
            where = f"table {name}, row {i}"
            if not isinstance(row, dict) or set(row) != set(columns):
                raise StatsError(f"{where} must have exactly the table's columns")
            for d in dims:
                value = row[d]
                if type(value) not in (str, int) or len(str(value)) > 300:
                    raise StatsError(f"{where}: {d} must be a short string or an integer")
            count, suppressed = row["count"], row["suppressed"]
            if type(suppressed) is not bool:
                raise StatsError(f"{where}: suppressed must be true or false")
            if suppressed:
                if count is not None:
                    raise StatsError(f"{where}: a suppressed cell must have no count")
            elif type(count) is not int or not 0 <= count <= fmt.MAX_TIME:
                raise StatsError(f"{where}: count must be a non-negative integer")


def verify_stats(document: str, iss: str, jwks: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(kid, body) of a member's figures signed by one of its held keys; StatsError otherwise."""
    kid, body = documents.verify_member_document(
        document,
        iss,
        jwks,
        typ=TYP,
        schema=MEMBER_SCHEMA,
        max_bytes=MAX_STATS_BYTES,
        error=StatsError,
    )
    p = body.get("period")
    if not isinstance(p, dict):
        raise StatsError("period must be an object")
    if _date(p.get("start"), "period.start") > _date(p.get("end"), "period.end"):
        raise StatsError("the period starts after it ends")
    named = observatory.fixed(p["id"]) if isinstance(p.get("id"), str) else None
    if named is None or (named.start.isoformat(), named.end.isoformat()) != (p["start"], p["end"]):
        raise StatsError("period.id must name the fixed period from start to end", "wrong_period")
    if type(body.get("threshold")) is not int or body["threshold"] < 1:
        raise StatsError("threshold must be a positive integer")
    _check_tables(body.get("tables"))
    return kid, body


# --- hub side: collecting ------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What became of one member's document (figures here, places in app.federation.places)."""

    iss: str
    ok: bool
    detail: str
    reason: str = ""


def held_key_sets(session: Session, settings: Settings) -> dict[str, dict[str, Any]]:
    """iss -> key set, from the last trust list this hub signed (checked with its anchor); a list
    that does not check is the operator's to fix (ConfigurationError)."""
    row = hub.latest(session)
    if row is None:
        return {}
    anchor = documents.load_anchor_private(settings.federation_anchor_key)
    try:
        trust_list = documents.verify_trust_list(row.document, anchor)
    except documents.DocumentError as exc:
        raise ConfigurationError(f"the last trust list published here is unusable: {exc}") from None
    return {entry.iss: entry.jwks for entry in trust_list.issuers}


def _fetch_and_check(
    settings: Settings, member: FederationMember, jwks: dict[str, Any] | None, period: str | None
) -> tuple[str, str, dict[str, Any]]:
    """The member's signed document of ``period``, checked; without one, of its last month
    released."""
    if jwks is None:
        raise StatsError(
            "the hub holds no key set for it: run `passeport federation publish` first",
            reason="no_key_set",
        )
    try:
        raw = fetch.fetch(
            stats_uri(member.iss, period),
            max_bytes=MAX_STATS_BYTES,
            timeout=max(settings.federation_fetch_timeout_seconds, MIN_STATS_TIMEOUT),
        )
    except fetch.FetchError as exc:
        raise StatsError(
            str(exc), reason="unreachable" if exc.unreachable else "too_large"
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise StatsError("the document is not UTF-8 text") from None
    kid, body = verify_stats(text, member.iss, jwks)
    if period is None and body["period"]["kind"] != "month":
        raise StatsError(
            f"asked for the last month released, got {str(body['period']['id'])[:20]}",
            reason="wrong_period",
        )
    if period is not None and body["period"]["id"] != period:
        raise StatsError(
            f"asked for the period {period}, got {str(body['period']['id'])[:20]}",
            reason="wrong_period",
        )
    return text.strip(), kid, body


def _keep(
    session: Session, member: FederationMember, token: str, kid: str, body: dict[str, Any]
) -> None:
    signed_at = datetime.fromtimestamp(body["iat"], tz=UTC)
    period = body["period"]["id"]
    row = session.get(MemberStats, (pk(member), period))
    if row is not None and aware(row.signed_at) > signed_at:
        raise StatsError(
            "signed before the document already held (a replay?)", reason="older_than_held"
        )
    if row is None:
        row = MemberStats(
            member_id=pk(member),
            period=period,
            iss=member.iss,
            kid=kid,
            document="",
            figures={},
            period_start=date.min,
            period_end=date.min,
            signed_at=signed_at,
        )
    row.iss, row.kid, row.document, row.figures = member.iss, kid, token, body
    row.period_start = date.fromisoformat(body["period"]["start"])
    row.period_end = date.fromisoformat(body["period"]["end"])
    row.signed_at, row.fetched_at = signed_at, utcnow()
    session.add(row)
    audit.record(
        session,
        "federation.stats_collected",
        target_type="issuer",
        target_id=pk(member),
        iss=member.iss,
        kid=kid,
        period=period,
        period_start=body["period"]["start"],
        period_end=body["period"]["end"],
    )


def collect(engine: Engine, settings: Settings) -> list[Outcome]:
    """Fetch, check and keep each member's figures; one member refused leaves the others be."""
    with transaction(engine, write=False) as session:
        current = list(hub.members(session))
        held = held_key_sets(session, settings)
    outcomes = []
    for member in current:
        periods: list[str] = []
        try:
            # The member's last month released first: its own release schedule says which
            # quarter and year it holds too.
            period: str | None = None
            todo: list[str] = []
            while True:
                token, kid, body = _fetch_and_check(settings, member, held.get(member.iss), period)
                with transaction(engine) as session:
                    if session.get(FederationMember, member.id) is None:
                        break  # removed meanwhile
                    _keep(session, member, token, kid, body)
                periods.append(body["period"]["id"])
                if period is None:
                    month = observatory.fixed(periods[0])
                    assert month is not None  # checked by verify_stats
                    todo = [str(p.id) for p in collected_periods(month)[1:]]
                if not todo:
                    break
                period = todo.pop(0)
        except StatsError as exc:
            audit.record_now(
                engine,
                "federation.stats_refused",
                outcome="failure",
                target_type="issuer",
                target_id=member.id,
                iss=member.iss,
                reason=exc.reason,
                detail=str(exc),
            )
            outcomes.append(Outcome(member.iss, False, str(exc), exc.reason))
            continue
        outcomes.append(Outcome(member.iss, True, f"periods {', '.join(periods)}"))
    return outcomes


# --- the national view ---------------------------------------------------------------------------


def national(session: Session, public_url: str, period: Period | None = None) -> dict[str, Any]:
    """Cell by cell sums of the members' published figures for one fixed period (default: the
    last month over), and where each comes from.

    A cell suppressed at any member is ``incomplete``: its count is empty (``known`` is the sum of
    the parts published), never an estimate. Every part is a member's public document of the
    same period, so the sums reveal nothing that the members' documents did not.
    """
    period = period or observatory.latest_public_period()
    names = {m.id: m.name for m in hub.members(session)}
    rows = session.exec(
        select(MemberStats)
        .where(col(MemberStats.member_id).in_(list(names)), MemberStats.period == period.id)
        .order_by(col(MemberStats.iss))
    ).all()
    held = session.exec(
        select(MemberStats.period).where(col(MemberStats.member_id).in_(list(names))).distinct()
    ).all()
    tables: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {
        name: {} for name in TABLES if name not in LOCAL_TABLES
    }
    for row in rows:
        for name, cells in tables.items():
            dims = TABLES[name]
            for item in row.figures["tables"][name]["rows"]:
                key = tuple(item[d] for d in dims if d not in LABELS)
                cell = cells.get(key)
                if cell is None:
                    cell = cells[key] = {d: item[d] for d in dims}
                    cell.update(known=0, members=0, suppressed_members=0)
                cell["members"] += 1
                if item["count"] is None:
                    cell["suppressed_members"] += 1
                else:
                    cell["known"] += item["count"]
    periods = {(r.period_start, r.period_end) for r in rows}
    return {
        "schema": NATIONAL_SCHEMA,
        "licence": "Licence Ouverte 2.0 (Etalab)",
        "hub": public_url,
        "generated_at": utcnow().isoformat(timespec="seconds"),
        "period": period.view(),
        "periods_held": sorted(held, key=_newest_first),
        "periods_agree": len(periods) <= 1,
        "members": [
            {
                "iss": r.iss,
                "name": names.get(r.member_id, ""),
                "territory": r.figures["territory"],
                "instance": r.figures.get("instance", ""),
                "period": r.figures["period"],
                "threshold": r.figures["threshold"],
                "generated_at": r.figures.get("generated_at", ""),
                "kid": r.kid,
                "fetched_at": r.fetched_at.isoformat(timespec="seconds"),
            }
            for r in rows
        ],
        "tables": {
            name: {
                "columns": [*TABLES[name], *NATIONAL_COLUMNS],
                "rows": [_national_row(cell) for cell in cells.values()],
            }
            for name, cells in tables.items()
        },
    }


def _newest_first(period_id: str) -> tuple[int, int, str]:
    p = observatory.fixed(period_id)
    kind = {"year": 0, "quarter": 1, "month": 2}[p.kind] if p else 3
    return (kind, -(p.start.toordinal() if p else 0), period_id)


def _national_row(cell: dict[str, Any]) -> dict[str, Any]:
    incomplete = cell["suppressed_members"] > 0
    return {
        **{k: v for k, v in cell.items() if k not in {"known", "members", "suppressed_members"}},
        "count": None if incomplete else cell["known"],
        "incomplete": incomplete,
        "known": cell["known"],
        "members": cell["members"],
        "suppressed_members": cell["suppressed_members"],
    }


def national_csv(view: dict[str, Any], name: str) -> str:
    """One national table as CSV: an incomplete cell's count is empty."""
    table = view["tables"].get(name)
    if table is None:
        raise NotFound(f"No table is called {name!r}.", code="unknown_table")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table["columns"])
    for row in table["rows"]:
        writer.writerow(
            [
                "" if row[c] is None else str(row[c]).lower() if type(row[c]) is bool else row[c]
                for c in table["columns"]
            ]
        )
    return out.getvalue()


def table_names() -> Sequence[str]:
    return [name for name in TABLES if name not in LOCAL_TABLES]
