"""Passports and validations: open, find, record, withdraw, view, share, and the access journal.

Every read or write of a passport goes through `load` (visibility: 404 when the caller may not
see it) and is journaled: a change by a row of the passport's access journal in the same
transaction; a read through :class:`ReadJournal`, which coalesces a reader's repeated views.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy import Engine, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, func, select

from app import authz
from app.accounts import security
from app.accounts.models import Account, Role
from app.accounts.principal import CallerKind, Principal
from app.audit import service as audit
from app.core.db import transaction
from app.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.core.logging import current_request_id
from app.core.schemas import from_entity
from app.core.time import aware, utcnow
from app.framework.models import FrameworkArea, Skill
from app.passports import numbers
from app.passports.models import AccessGrant, AccessLog, Method, Passport, Validation
from app.passports.schemas import (
    AccessLogEntry,
    PassportCreate,
    PassportSummary,
    ValidationCreate,
    ValidationPublic,
)
from app.structures.models import Structure
from app.territory.models import Territory


def search_name(first_name: str, last_name: str) -> str:
    """Lower-case, unaccented, single-spaced "last first": what duplicates and search compare."""
    text = f"{last_name} {first_name}"
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = "".join(c if c.isalnum() else " " for c in text.lower())
    return " ".join(text.split())


# --- visibility and the access journal -----------------------------------------------------------


def _granted(session: Session, passport_id: int, structure_ids: frozenset[int]) -> bool:
    if not structure_ids:
        return False
    grant = session.exec(
        select(AccessGrant.id).where(
            AccessGrant.passport_id == passport_id,
            col(AccessGrant.structure_id).in_(structure_ids),
            col(AccessGrant.revoked_at).is_(None),
        )
    ).first()
    return grant is not None


class PassportRef(Protocol):
    """What visibility, liveness and the journal read of a passport: a :class:`Passport`, or a
    :class:`PassportRow` read without building the entity."""

    @property
    def id(self) -> int | None: ...
    @property
    def territory_id(self) -> int: ...
    @property
    def erased_at(self) -> datetime | None: ...
    @property
    def merged_into_id(self) -> int | None: ...
    @property
    def is_live(self) -> bool: ...


P = TypeVar("P", bound=PassportRef)


@dataclass(frozen=True, slots=True)
class PassportRow:
    """A passport as a plain row, without the entity (building it was a sixth of a recording's
    CPU on SQLite): what visibility and liveness read of it."""

    id: int
    territory_id: int
    erased_at: datetime | None
    merged_into_id: int | None
    is_live: bool


@dataclass(frozen=True, slots=True)
class StructureFacts:
    """What a recording needs of the structure it names (:func:`load_for_recording`): ``id``
    None when no structure has the id ``asked``."""

    asked: int
    id: int | None
    territory_id: int | None
    nom: str | None


@dataclass(frozen=True, slots=True)
class RecordingRow(PassportRow):
    """A passport as a plain row, locked, with the structure a recording names, read together
    (:func:`load_for_recording`)."""

    structure: StructureFacts


@dataclass(frozen=True, slots=True)
class PassportHead(PassportRow):
    """A passport's own columns as a plain row (:func:`load_head`): what a cached view is
    checked against (:class:`ViewCache`), read without building the entity."""

    number: str
    first_name: str | None
    last_name: str | None
    birth_year: int | None
    last_activity_at: datetime


_P = Passport.__table__.c  # type: ignore[attr-defined]
# ``is_live`` by the model's own SQL expression: the rule stays written once, on the model.
_ROW_COLUMNS = (
    _P.id,
    _P.territory_id,
    _P.erased_at,
    _P.merged_into_id,
    Passport.is_live.label("is_live"),
)
# A recording's first statement: the passport locked, and the structure it names, in one round
# trip (FOR UPDATE OF passport: the structure's row is only read). No such structure: NULLs.
_ST = Structure.__table__.c  # type: ignore[attr-defined]
_PASSPORT_ROW_AND_STRUCTURE_LOCKED = (
    sa.select(
        *_ROW_COLUMNS,
        _ST.id.label("structure_id"),
        _ST.territory_id.label("structure_territory_id"),
        _ST.nom.label("structure_nom"),
    )
    .select_from(
        Passport.__table__.outerjoin(  # type: ignore[attr-defined]
            Structure.__table__,  # type: ignore[attr-defined]
            _ST.id == sa.bindparam("structure_id"),
        )
    )
    .where(_P.id == sa.bindparam("passport_id"))
    .with_for_update(of=Passport.__table__)  # type: ignore[attr-defined]
)
_PASSPORT_HEAD = sa.select(
    *_ROW_COLUMNS, _P.number, _P.first_name, _P.last_name, _P.birth_year, _P.last_activity_at
).where(_P.id == sa.bindparam("passport_id"))


def can_see(session: Session, principal: Principal, passport: PassportRef) -> bool:
    if principal.kind is CallerKind.CITIZEN:
        return principal.passport_id == passport.id
    if principal.kind is not CallerKind.ACCOUNT or principal.is_platform_admin:
        # Platform admins run the instance; they have no business reading citizens' passports.
        return False
    if principal.territory_id == passport.territory_id:
        return True
    assert passport.id is not None
    return _granted(session, passport.id, principal.structure_ids)


def load(
    session: Session, principal: Principal, passport_id: int, *, lock: bool = False
) -> Passport:
    """The passport, if this caller may see it; 404 otherwise, whether or not it exists.

    ``lock``: the row is read FOR UPDATE (PostgreSQL; SQLite's writing transactions hold the
    database's one write lock already), for a write that must not race an erasure.
    """
    passport = session.get(Passport, passport_id, with_for_update=lock)
    return _visible_live(session, principal, passport)


def load_for_recording(
    session: Session, principal: Principal, passport_id: int, structure_id: int
) -> RecordingRow:
    """:func:`load` as a plain row, locked, for a recording: the same checks and refusals,
    without the entity, and in the same statement the structure the recording names (checked
    by :func:`record_validation`)."""
    row = session.execute(
        _PASSPORT_ROW_AND_STRUCTURE_LOCKED,
        {"passport_id": passport_id, "structure_id": structure_id},
    ).first()
    passport = None
    if row is not None:
        structure = StructureFacts(
            structure_id, row.structure_id, row.structure_territory_id, row.structure_nom
        )
        passport = RecordingRow(
            row.id, row.territory_id, row.erased_at, row.merged_into_id, row.is_live, structure
        )
    return _visible_live(session, principal, passport)


def load_head(session: Session, principal: Principal, passport_id: int) -> PassportHead:
    """:func:`load` as a plain :class:`PassportHead`: the same checks and refusals, one SELECT
    of the passport's own columns (a view served from :data:`VIEWS` needs no more)."""
    row = session.execute(_PASSPORT_HEAD, {"passport_id": passport_id}).first()
    return _visible_live(session, principal, PassportHead(*row) if row is not None else None)


def _visible_live(session: Session, principal: Principal, passport: P | None) -> P:
    if passport is None or not can_see(session, principal, passport):
        raise NotFound("No such passport.", code="unknown_passport")
    return ensure_live(session, passport)


def ensure_live(session: Session, passport: P) -> P:
    """The passport if it is live (``Passport.is_live``); 404 otherwise, naming the passport a
    merged one was folded into, so that the caller can go on with that one."""
    if passport.is_live:
        return passport
    if passport.erased_at is not None:
        raise NotFound("No such passport.", code="unknown_passport")
    target = session.get(Passport, passport.merged_into_id)
    number = target.number if target else None
    raise NotFound(
        f"This passport was merged into {number}." if number else "This passport was merged.",
        code="passport_merged",
        merged_into=number,
    )


def get(session: Session, passport_id: int) -> Passport:
    """A passport by id, with no visibility check: for callers that have just proven access."""
    passport = session.get(Passport, passport_id)
    if passport is None:
        raise NotFound("No such passport.", code="unknown_passport")
    return passport


def ensure_holder(principal: Principal, passport: Passport) -> None:
    """Only the territory holding the passport manages its access code and its sharing."""
    if principal.territory_id != passport.territory_id:
        raise Forbidden(
            "Only the territory that holds this passport may do this.", code="not_holder"
        )


def _actor(principal: Principal) -> tuple[str, int | None]:
    kind = {
        CallerKind.CITIZEN: "citizen",
        CallerKind.ACCOUNT: "admin" if principal.role is Role.TERRITORY_ADMIN else "mediator",
        CallerKind.OPERATOR: "operator",
    }.get(principal.kind, "anonymous")
    structure_id = None
    if principal.kind is CallerKind.ACCOUNT and len(principal.structure_ids) == 1:
        structure_id = next(iter(principal.structure_ids))
    return kind, structure_id


def journal(
    session: Session,
    principal: Principal,
    passport: PassportRef,
    action: str,
    *,
    written: Validation | None = None,
) -> None:
    """One row of the passport's access journal, and the activity date retention counts from.

    ``written``: a new validation the journal line is about, inserted here, before the line
    (its ``id`` set): on PostgreSQL in the same statement, one round trip fewer while a
    recording holds the passport's row lock.
    """
    assert passport.id is not None
    kind, structure_id = _actor(principal)
    now = utcnow()
    entry = {
        "passport_id": passport.id,
        "at": now,
        "action": action,
        "actor_kind": kind,
        "account_id": principal.account_id,
        "structure_id": structure_id,
        "request_id": current_request_id(),
        "count": 1,
        "last_at": None,
        "touched_id": passport.id,
        "touched_at": now,
    }
    # Plain statements: the entry is never read back here, and the unit of work's flush of the
    # activity date cost a tenth of a recording's CPU; the attribute is set as already stored.
    if session.get_bind().dialect.name == "postgresql":
        # One round trip for all, the passport often locked meanwhile (a recording).
        if written is None:
            session.execute(_JOURNAL_AND_TOUCH, entry)
        else:
            values = {f"v_{name}": value for name, value in _validation_values(written).items()}
            written.id = session.execute(_RECORD_JOURNAL_AND_TOUCH, entry | values).scalar_one()
    else:
        if written is not None:
            _insert(session, written)
        session.execute(_INSERT_ACCESS_LOG, entry)
        session.execute(_TOUCH_PASSPORT, entry)
    if isinstance(passport, Passport):
        set_committed_value(passport, "last_activity_at", now)
    # What comes next is no longer "the same reading" as what came before; the views of it
    # counted in memory since its entry was last written go into that entry now, with this
    # change (a statement only where a reader viewed the passport within the last minute).
    for reading in READS.take(passport.id):
        session.execute(
            _ADD_PENDING_READS,
            {"log_id": reading.log_id, "pending": reading.pending, "last_at": reading.last_at},
        )


_INSERT_ACCESS_LOG = sa.insert(AccessLog.__table__)  # type: ignore[attr-defined]
_LOG = AccessLog.__table__.c  # type: ignore[attr-defined]
_ADD_PENDING_READS = (
    sa.update(AccessLog.__table__)  # type: ignore[attr-defined]
    .where(_LOG.id == sa.bindparam("log_id"))
    .values(count=_LOG.count + sa.bindparam("pending"), last_at=sa.bindparam("last_at"))
)
_TOUCH_PASSPORT = (
    sa.update(Passport.__table__)  # type: ignore[attr-defined]
    .where(Passport.__table__.c.id == sa.bindparam("touched_id"))  # type: ignore[attr-defined]
    .values(last_activity_at=sa.bindparam("touched_at"))
)
# PostgreSQL: WITH touched AS (UPDATE passport …) INSERT INTO passport_access_log …
_JOURNAL_AND_TOUCH = _INSERT_ACCESS_LOG.add_cte(_TOUCH_PASSPORT.cte("touched"))
# ... and WITH recorded AS (INSERT INTO validation … RETURNING id) too, answering its id. The
# validation's parameters are prefixed: both tables have passport_id, account_id, structure_id,
# and the journal's structure is the actor's, not necessarily the validation's.
_RECORDED = (
    sa.insert(Validation.__table__)  # type: ignore[attr-defined]
    .values(
        {
            c.name: sa.bindparam(f"v_{c.name}", type_=c.type)
            for c in Validation.__table__.columns  # type: ignore[attr-defined]
            if c.name != "id"
        }
    )
    .returning(Validation.__table__.c.id)  # type: ignore[attr-defined]
    .cte("recorded")
)
_RECORD_JOURNAL_AND_TOUCH = _JOURNAL_AND_TOUCH.add_cte(_RECORDED).returning(
    sa.select(_RECORDED.c.id).scalar_subquery()
)

#: Journaled reads that coalesce: the same reader's repeated views, nothing else in between.
READ_ACTIONS = frozenset({"passport.read", "access_log.read"})
#: A reading session: views further apart than this are separate entries.
READ_SESSION = timedelta(minutes=30)
#: The journal's entry for a reading is rewritten at most this often (count, latest time).
READ_TOUCH = timedelta(seconds=60)


@dataclass
class _Reading:
    log_id: int
    written_at: datetime
    # Views since the entry was last written, added to its count at the next write, and when
    # the latest of them was.
    pending: int = 0
    last_at: datetime | None = None


class ReadJournal:
    """Coalesced reads, so that a reader's page reloads do not bury what changed.

    Per process, what each reader's latest reading entry is: a view within ``READ_TOUCH`` of its
    last write is counted in memory only, with no write at all, so concurrent readers are not
    queued behind a write (on SQLite, the one writer; on PostgreSQL, the row lock). Otherwise one
    short transaction either extends the passport's latest entry (same reader, same action,
    within ``READ_SESSION``) or adds one. Views counted in memory reach the journal at the
    reader's next write, or with the next change of the passport (:func:`journal`); a process
    stopped meanwhile loses them from the count, never the entry.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._readings: dict[tuple[int, str, int | None, str], _Reading] = {}

    def take(self, passport_id: int) -> list[_Reading]:
        """Forget the passport's readings (a change ends them), handing back those with views
        not yet written, for the caller's transaction to add to their entries."""
        with self._lock:
            keys = [k for k in self._readings if k[0] == passport_id]
            readings = [self._readings.pop(k) for k in keys]
        return [r for r in readings if r.pending]

    def clear(self) -> None:
        with self._lock:
            self._readings.clear()

    def count(self, principal: Principal, passport_id: int, action: str) -> bool:
        """Count the view in memory if this reader's entry was written within ``READ_TOUCH``;
        False when it needs a write (:meth:`record`), nothing counted."""
        kind, _ = _actor(principal)
        now = utcnow()
        with self._lock:
            reading = self._readings.get((passport_id, kind, principal.account_id, action))
            if reading is not None and now - reading.written_at < READ_TOUCH:
                reading.pending += 1
                reading.last_at = now
                return True
        return False

    def record(self, engine: Engine, principal: Principal, passport_id: int, action: str) -> None:
        if self.count(principal, passport_id, action):
            return
        kind, structure_id = _actor(principal)
        key = (passport_id, kind, principal.account_id, action)
        now = utcnow()
        with self._lock:
            reading = self._readings.get(key)
            pending = reading.pending if reading is not None else 0
        with transaction(engine) as session:
            latest = session.exec(
                select(AccessLog)
                .where(AccessLog.passport_id == passport_id)
                .order_by(col(AccessLog.id).desc())
                .limit(1)
            ).first()
            if (
                latest is not None
                and latest.action == action
                and latest.actor_kind == kind
                and latest.account_id == principal.account_id
                and now - aware(latest.last_at or latest.at) < READ_SESSION
            ):
                latest.count += 1 + pending
                latest.last_at = now
                entry = latest
            else:
                entry = AccessLog(
                    passport_id=passport_id,
                    action=action,
                    actor_kind=kind,
                    account_id=principal.account_id,
                    structure_id=structure_id,
                    request_id=current_request_id(),
                    count=1 + pending,
                )
                session.add(entry)
                # Retention counts from the latest activity; a reading extended counts from
                # its start, which is at most READ_SESSION earlier.
                session.exec(
                    update(Passport)
                    .where(col(Passport.id) == passport_id)
                    .values(last_activity_at=now)
                )
            session.flush()
            assert entry.id is not None
            log_id = entry.id
        with self._lock:
            self._readings[key] = _Reading(log_id, now)


READS = ReadJournal()


# --- opening and finding -------------------------------------------------------------------------


def summary(session: Session, passport: Passport) -> PassportSummary:
    territory = session.get(Territory, passport.territory_id)
    assert passport.id is not None and territory is not None
    return from_entity(PassportSummary, passport, territory_code=territory.code)


def likely_duplicates(
    session: Session, territory_id: int, name: str, birth_year: int | None
) -> Sequence[Passport]:
    return session.exec(
        select(Passport).where(
            Passport.territory_id == territory_id,
            Passport.search_name == name,
            Passport.birth_year == birth_year,
            Passport.is_live,
        )
    ).all()


def _structure_in_territory(session: Session, principal: Principal, structure_id: int) -> Structure:
    structure = session.get(Structure, structure_id)
    _ensure_structure_of_caller(principal, structure, structure_id)
    assert structure is not None
    return structure


def _ensure_structure_of_caller(principal: Principal, structure: Any, structure_id: int) -> None:
    """The structure a caller names for their own work (``id``, ``territory_id``): one of their
    territory's, and theirs. Missing and another territory's answer alike (``unknown_structure``),
    so that the answer says nothing more of another territory."""
    if structure is None or (
        not principal.is_platform_admin and structure.territory_id != principal.territory_id
    ):
        raise InvalidInput("No such structure.", code="unknown_structure")
    authz.ensure_structure_member(principal, structure.territory_id, structure_id)


_STRUCTURE_FACTS = sa.select(
    Structure.__table__.c.id,  # type: ignore[attr-defined]
    Structure.__table__.c.territory_id,  # type: ignore[attr-defined]
    Structure.__table__.c.nom,  # type: ignore[attr-defined]
).where(Structure.__table__.c.id == sa.bindparam("structure_id"))  # type: ignore[attr-defined]


def _structure_facts(
    session: Session, principal: Principal, structure_id: int, known: StructureFacts | None = None
) -> Any:
    """:func:`_structure_in_territory`'s check on a plain row (``id``, ``territory_id``,
    ``nom``): a recording only names the structure, building its entity cost more than the read.
    ``known``: the structure as read with the passport (:func:`load_for_recording`), no read."""
    if known is not None and known.asked == structure_id:
        structure: Any = known if known.id is not None else None
    else:
        structure = session.execute(_STRUCTURE_FACTS, {"structure_id": structure_id}).first()
    _ensure_structure_of_caller(principal, structure, structure_id)
    return structure


@dataclass
class Opened:
    passport: Passport
    access_code: str | None
    replayed: bool = False


def open_passport(
    session: Session,
    principal: Principal,
    data: PassportCreate,
    idempotency_key: str | None = None,
) -> Opened:
    """Open a passport; a replay with the same Idempotency-Key returns the first one, without
    its access code (``Opened.replayed``): the code is kept only as a hash."""
    fingerprint = passport_fingerprint(data) if idempotency_key else None
    if idempotency_key:
        existing = _passport_by_key(session, principal, idempotency_key)
        if existing is not None:
            return _same_opening(existing, fingerprint)
    if not data.consent:
        raise InvalidInput(
            "A passport is opened only with the citizen's consent.", code="consent_required"
        )
    structure = _structure_in_territory(session, principal, data.structure_id)
    name = search_name(data.first_name, data.last_name)
    duplicates = likely_duplicates(session, structure.territory_id, name, data.birth_year)
    if duplicates and not data.confirm_not_duplicate:
        raise Conflict(
            "A passport with the same name and birth year exists; search for it, or confirm "
            "that this is another person.",
            code="likely_duplicate",
            candidates=[p.number for p in duplicates],
        )
    code = numbers.new_access_code()
    now = utcnow()
    passport = Passport(
        territory_id=structure.territory_id,
        number=numbers.new_number(),
        first_name=data.first_name,
        last_name=data.last_name,
        birth_year=data.birth_year,
        commune_insee=data.commune_insee,
        phone=data.phone,
        email=data.email,
        search_name=name,
        holder_id=secrets.token_hex(16),
        access_code_hash=security.hash_password(code),
        access_code_set_at=now,
        consent_version=data.consent_version,
        # Given on the device, offline: that moment, not the sync's.
        consent_at=aware(data.recorded_offline_at) if data.recorded_offline_at else now,
        consent_account_id=principal.account_id,
        consent_structure_id=structure.id,
        recorded_offline_at=data.recorded_offline_at,
        idempotency_key=idempotency_key,
        request_hash=fingerprint,
    )
    # 27^7 numbers: a collision is rare, but the unique index decides, not a prior SELECT.
    for _ in range(5):
        try:
            with session.begin_nested():
                session.add(passport)
                session.flush()
            break
        except IntegrityError:
            if idempotency_key:
                # A concurrent replay under the same key won the race: answer with its passport.
                existing = _passport_by_key(session, principal, idempotency_key)
                if existing is not None:
                    return _same_opening(existing, fingerprint)
            passport.number = numbers.new_number()
    else:  # pragma: no cover - five collisions in a row would mean a broken generator
        raise Conflict("Could not allocate a passport number; retry.", code="number_exhausted")
    if data.recorded_offline_at is None:
        journal(session, principal, passport, "passport.opened")
    else:
        journal(session, principal, passport, "passport.opened_offline")
    audit.record_on(session, "passport.opened", passport, principal)
    return Opened(passport, code)


PASSPORT_ROUTE = "POST /api/v1/passports"


def _canonical(route: str, body: dict[str, Any], **more: Any) -> str:
    # Absent and null are one: a body without the offline field keeps the fingerprint it had
    # before the field existed (keys stored then still match their retries).
    if body.get("recorded_offline_at") is None:
        body.pop("recorded_offline_at", None)
    canonical = json.dumps(
        {"route": route, **more, "body": body},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def passport_fingerprint(data: PassportCreate) -> str:
    """sha256 of the route and the parsed body, as :func:`request_fingerprint` does."""
    return _canonical(PASSPORT_ROUTE, data.model_dump(mode="json"))


def _passport_by_key(session: Session, principal: Principal, key: str) -> Passport | None:
    if principal.account_id is None:
        return None
    return session.exec(
        select(Passport).where(
            Passport.consent_account_id == principal.account_id,
            Passport.idempotency_key == key,
        )
    ).first()


def _same_opening(existing: Passport, fingerprint: str | None) -> Opened:
    # Erased since (its fingerprint with it): the replay opens nothing, and says so.
    if existing.erased_at is not None:
        raise NotFound("No such passport.", code="unknown_passport")
    if existing.request_hash != fingerprint:
        raise Conflict(
            "This Idempotency-Key was used for another request.", code="idempotency_key_reused"
        )
    return Opened(existing, None, replayed=True)


def find(
    session: Session,
    principal: Principal,
    *,
    text: str | None,
    birth_year: int | None,
    limit: int = 50,
) -> Sequence[Passport]:
    """Search the caller's territory by name, number or birth year."""
    if principal.territory_id is None:
        raise Forbidden(
            "Searching passports is for the people of a territory.", code="forbidden_role"
        )
    query = select(Passport).where(
        Passport.territory_id == principal.territory_id,
        Passport.is_live,
    )
    if text:
        number = numbers.normalise_number(text)
        if number:
            query = query.where(Passport.number == number)
        else:
            words = search_name("", text).split()
            if not words:
                # "😀" or "!!": a search for no letter or digit matches nobody, not everybody.
                return []
            for word in words:
                query = query.where(col(Passport.search_name).contains(word))
    if birth_year is not None:
        query = query.where(Passport.birth_year == birth_year)
    return session.exec(query.order_by(col(Passport.search_name)).limit(limit)).all()


# --- validations ---------------------------------------------------------------------------------


def _skill(session: Session, code: str) -> Skill:
    skill = session.get(Skill, code)
    if skill is None:
        raise InvalidInput(f"No skill has the code {code!r}.", code="unknown_skill")
    return skill


@dataclass(frozen=True)
class SkillFacts:
    """What a recording needs of a skill: its framework, fixed level and French label."""

    code: str
    framework_code: str
    level: int | None
    label_fr: str


_SKILL_FACTS = sa.select(
    Skill.__table__.c.code,  # type: ignore[attr-defined]
    Skill.__table__.c.framework_code,  # type: ignore[attr-defined]
    Skill.__table__.c.level,  # type: ignore[attr-defined]
    Skill.__table__.c.label_fr,  # type: ignore[attr-defined]
)


class SkillIndex:
    """Every skill's :class:`SkillFacts`, per process, for the change feed's ``trust`` version
    it was read at (the feed's ``trust`` topic watches the skill table, in every process): a
    recording then reads no skill row. A framework of a few hundred skills is one small read,
    again only when the version moved."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._revision: Any = None
        self._facts: dict[str, SkillFacts] = {}

    def get(self, session: Session, code: str, revision: Any) -> SkillFacts:
        if revision is None or revision != self._revision:
            facts = {
                row.code: SkillFacts(row.code, row.framework_code, row.level, row.label_fr)
                for row in session.execute(_SKILL_FACTS)
            }
            if revision is not None:
                with self._lock:
                    self._facts, self._revision = facts, revision
        else:
            facts = self._facts
        found = facts.get(code)
        if found is None:
            raise InvalidInput(f"No skill has the code {code!r}.", code="unknown_skill")
        return found


SKILLS = SkillIndex()


@dataclass
class Recorded:
    """What :func:`record_validation` did: the validation, new or replayed (``created``), and
    for a new one what its answer names, read on the way (no second read for the answer)."""

    validation: Validation
    created: bool
    skill_label_fr: str | None = None
    structure_name: str | None = None


def record_validation(
    session: Session,
    principal: Principal,
    passport: Passport | PassportRow,
    data: ValidationCreate,
    idempotency_key: str | None,
    *,
    locked: bool = False,
    skills_revision: Any = None,
) -> Recorded:
    """Append a validation; a retry with the same Idempotency-Key returns the first one.

    ``locked``: the caller loaded the passport with ``load(..., lock=True)`` or
    :func:`load_for_recording` in this transaction (a :class:`PassportRow` must be); with the
    latter, the structure is not read again.
    ``skills_revision``: the change feed's ``trust`` version, read before the transaction; with
    it the skill comes from :data:`SKILLS` (no read while the passport is locked).
    """
    assert passport.id is not None and principal.account_id is not None
    # Lock the passport row for the rest of the transaction, so an erasure running at the same
    # moment either comes first (and the passport is gone) or waits (and blanks this evidence).
    if not locked:
        assert isinstance(passport, Passport), "a PassportRow is read locked (load_for_recording)"
        session.flush()  # refresh() would drop changes not yet written
        session.refresh(passport, with_for_update=True)
    ensure_live(session, passport)
    fingerprint = request_fingerprint(passport.id, data) if idempotency_key else None
    if idempotency_key:
        existing = _by_key(session, principal.account_id, idempotency_key)
        if existing is not None:
            return Recorded(_same_request(existing, passport.id, data, fingerprint), False)
    skill = SKILLS.get(session, data.skill_code, skills_revision)
    if skill.framework_code == "pp":
        assert skill.level is not None
        if data.level not in (None, skill.level):
            raise InvalidInput(
                f"{skill.code} is a level {skill.level} skill.", code="level_mismatch"
            )
        level = skill.level
    elif data.level is None:
        raise InvalidInput("Give the level observed (1 to 8).", code="level_required")
    else:
        level = data.level
    known = passport.structure if isinstance(passport, RecordingRow) else None
    structure = _structure_facts(session, principal, data.structure_id, known)
    validation = Validation(
        passport_id=passport.id,
        skill_code=skill.code,
        level=level,
        method=data.method,
        evidence=data.evidence or None,
        observed_on=data.observed_on,
        account_id=principal.account_id,
        structure_id=structure.id,
        idempotency_key=idempotency_key,
        request_hash=fingerprint,
        recorded_offline_at=data.recorded_offline_at,
    )
    written = None
    if idempotency_key is None:
        written = validation  # inserted with its journal line, below
    else:
        try:
            # A savepoint only where a unique key can collide: it costs two statements.
            with session.begin_nested():
                _insert(session, validation)
        except IntegrityError:
            # A concurrent retry with the same key won the race: answer with its validation.
            existing = _by_key(session, principal.account_id, idempotency_key)
            if existing is None:
                raise
            return Recorded(_same_request(existing, passport.id, data, fingerprint), False)
    if data.recorded_offline_at is None:
        journal(session, principal, passport, "validation.created", written=written)
    else:
        journal(session, principal, passport, "validation.created_offline", written=written)
    return Recorded(validation, True, skill.label_fr, structure.nom)


def _insert(session: Session, validation: Validation) -> None:
    """One INSERT … RETURNING id, without the unit of work (a third of a recording's CPU went
    to flushing this one new object). The object stays out of the session: it is the answer's
    source only, never changed afterwards."""
    validation.id = session.execute(_INSERT_VALIDATION, _validation_values(validation)).scalar_one()


def _validation_values(validation: Validation) -> dict[str, Any]:
    table = Validation.__table__  # type: ignore[attr-defined]
    return {c.name: getattr(validation, c.name) for c in table.columns if c.name != "id"}


_INSERT_VALIDATION = sa.insert(Validation.__table__).returning(  # type: ignore[attr-defined]
    Validation.__table__.c.id  # type: ignore[attr-defined]
)


def _by_key(session: Session, account_id: int, key: str) -> Validation | None:
    return session.exec(
        select(Validation).where(
            Validation.account_id == account_id, Validation.idempotency_key == key
        )
    ).first()


VALIDATION_ROUTE = "POST /api/v1/passports/{passport_id}/validations"


def request_fingerprint(passport_id: int, data: ValidationCreate) -> str:
    """sha256 of the route, the passport and the body as parsed, in canonical JSON.

    Parsed, so that what the API treats as the same request is the same (key order, spacing,
    an omitted field and its default); every field counts, so a retry that changed the level,
    the date, the method or the evidence is another request. The caller is the other half of
    the key's unique constraint.
    """
    return _canonical(VALIDATION_ROUTE, data.model_dump(mode="json"), passport_id=passport_id)


def _same_request(
    existing: Validation, passport_id: int, data: ValidationCreate, fingerprint: str | None
) -> Validation:
    same = (
        existing.request_hash == fingerprint
        if existing.request_hash is not None
        # Stored before fingerprints (migration 0017): compare what was kept of the body.
        else (
            existing.passport_id == passport_id
            and existing.skill_code == data.skill_code
            and data.level in (None, existing.level)
            and existing.method is data.method
            and existing.observed_on == data.observed_on
            and existing.structure_id == data.structure_id
            and existing.evidence == (data.evidence or None)
        )
    )
    if not same:
        raise Conflict(
            "This Idempotency-Key was used for another request.", code="idempotency_key_reused"
        )
    return existing


def withdraw(
    session: Session, principal: Principal, passport: Passport, validation_id: int, reason: str
) -> Validation:
    validation = session.get(Validation, validation_id, with_for_update=True)
    if validation is None or validation.passport_id != passport.id:
        raise NotFound("No such validation in this passport.", code="unknown_validation")
    if validation.method is Method.SELF_ASSESSMENT:
        raise Forbidden("A self-assessment belongs to the citizen.", code="not_withdrawable")
    if validation.withdrawn_at is not None:
        raise Conflict("This validation is already withdrawn.", code="already_withdrawn")
    if validation.structure_id is not None:
        structure = session.get(Structure, validation.structure_id)
        assert structure is not None
        authz.ensure_structure_member(principal, structure.territory_id, structure.id or 0)
    validation.withdrawn_at = utcnow()
    validation.withdrawn_by_account_id = principal.account_id
    validation.withdrawal_reason = reason
    journal(session, principal, passport, "validation.withdrawn")
    return validation


# --- the view ------------------------------------------------------------------------------------


# Plain column rows, not ORM entities: a view of 200 validations spent half its time building
# identity-mapped objects it never changed (31 ms before, measured in-process on SQLite).
_V = Validation.__table__.c  # type: ignore[attr-defined]
_S = Skill.__table__.c  # type: ignore[attr-defined]


def _public(row: Any) -> ValidationPublic:
    # Rows come from our own tables, already checked on the way in: model_construct skips a
    # second validation, which took a third of a 200-validation view.
    return ValidationPublic.model_construct(
        id=row.id,
        skill_code=row.skill_code,
        skill_label_fr=row.skill_label_fr,
        level=row.level,
        method=Method(row.method),
        evidence=row.evidence,
        observed_on=row.observed_on,
        mediator_name=row.mediator_name,
        structure_name=row.structure_name or row.source_structure,
        created_at=aware(row.created_at),
        withdrawn_at=aware(row.withdrawn_at) if row.withdrawn_at else None,
        withdrawal_reason=row.withdrawal_reason,
        source_issuer=row.source_issuer,
        recorded_offline_at=aware(row.recorded_offline_at) if row.recorded_offline_at else None,
    )


def _validation_rows() -> Any:
    return (
        select(  # type: ignore[call-overload]
            _V.id,
            _V.skill_code,
            _S.label_fr.label("skill_label_fr"),
            _S.framework_code,
            _S.crcn_code,
            _V.level,
            _V.method,
            _V.evidence,
            _V.observed_on,
            col(Account.display_name).label("mediator_name"),
            col(Structure.nom).label("structure_name"),
            _V.source_structure,
            _V.created_at,
            _V.withdrawn_at,
            _V.withdrawal_reason,
            _V.source_issuer,
            _V.recorded_offline_at,
        )
        .select_from(Validation.__table__)  # type: ignore[attr-defined]
        .join(Skill.__table__, _S.code == _V.skill_code)  # type: ignore[attr-defined]
        .outerjoin(Account.__table__, col(Account.id) == _V.account_id)  # type: ignore[attr-defined]
        .outerjoin(Structure.__table__, col(Structure.id) == _V.structure_id)  # type: ignore[attr-defined]
    )


# Built once: a statement object memoises its cache key, which SQLAlchemy otherwise computes
# again at every execution (measured: a quarter of this read's cost, on every recording).
_ONE_VALIDATION = _validation_rows().where(_V.id == sa.bindparam("validation_id"))


def validation_public(session: Session, validation_id: int) -> ValidationPublic:
    session.flush()
    row = session.execute(_ONE_VALIDATION, {"validation_id": validation_id}).one()
    return _public(row)


def recorded_public(session: Session, principal: Principal, recorded: Recorded) -> dict[str, Any]:
    """The answer to a recording (ValidationPublic's fields): for a new validation, from what
    the recording wrote and read, the same values the view shows; a replay is read back."""
    validation = recorded.validation
    if not recorded.created or principal.display_name is None or recorded.skill_label_fr is None:
        return validation_public(session, validation.id or 0).model_dump()
    session.flush()  # the journal's activity date, so that errors surface here as before
    return {
        "id": validation.id,
        "skill_code": validation.skill_code,
        "skill_label_fr": recorded.skill_label_fr,
        "level": validation.level,
        "method": validation.method,
        "evidence": validation.evidence,
        "observed_on": validation.observed_on,
        "mediator_name": principal.display_name,
        "structure_name": recorded.structure_name,
        "created_at": aware(validation.created_at),
        "withdrawn_at": None,
        "withdrawal_reason": None,
        "source_issuer": None,
        "recorded_offline_at": (
            aware(validation.recorded_offline_at) if validation.recorded_offline_at else None
        ),
    }


def _plain(row: Any) -> dict[str, Any]:
    """A validation as the API shows it (ValidationPublic's fields), from a plain row."""
    return {
        "id": row.id,
        "skill_code": row.skill_code,
        "skill_label_fr": row.skill_label_fr,
        "level": row.level,
        "method": row.method,
        "evidence": row.evidence,
        "observed_on": row.observed_on,
        "mediator_name": row.mediator_name,
        "structure_name": row.structure_name or row.source_structure,
        "created_at": aware(row.created_at),
        "withdrawn_at": aware(row.withdrawn_at) if row.withdrawn_at else None,
        "withdrawal_reason": row.withdrawal_reason,
        "source_issuer": row.source_issuer,
        "recorded_offline_at": aware(row.recorded_offline_at) if row.recorded_offline_at else None,
    }


def view(session: Session, passport: Passport) -> dict[str, Any]:
    """The whole passport as PassportView's plain values, in a fixed number of queries however
    many validations it holds: plain rows in, plain dicts out, no model built or validated (the
    route serialises them once, with orjson)."""
    assert passport.id is not None
    rows = session.execute(
        _validation_rows()
        .where(_V.passport_id == passport.id)
        .order_by(_V.observed_on.desc(), _V.id.desc())
    ).all()
    crcn = session.execute(
        select(
            _S.code,
            _S.label_fr,
            col(FrameworkArea.code).label("area_code"),
            col(FrameworkArea.label_fr).label("area_label"),
        )
        .select_from(Skill.__table__)  # type: ignore[attr-defined]
        .join(FrameworkArea.__table__, col(FrameworkArea.code) == _S.area_code)  # type: ignore[attr-defined]
        .where(_S.framework_code == "crcn")
        .order_by(_S.position)
    ).all()
    first_steps = session.execute(
        select(_S.code, _S.label_fr).where(_S.framework_code == "pp").order_by(_S.position)
    ).all()

    history: list[dict[str, Any]] = []
    own: list[dict[str, Any]] = []
    best: dict[str, tuple[int, date]] = {}
    self_best: dict[str, int] = {}
    acquired: dict[str, date] = {}
    self_assessment = Method.SELF_ASSESSMENT.value
    for row in rows:
        public = _plain(row)
        # A Premiers pas skill counts for its CRCN competence, at its own level.
        competence = row.crcn_code if row.framework_code == "pp" else row.skill_code
        if row.method == self_assessment:
            own.append(public)
            if competence and row.withdrawn_at is None:
                self_best[competence] = max(self_best.get(competence, 0), row.level)
            continue
        history.append(public)
        if row.withdrawn_at is not None:
            continue
        if row.framework_code == "pp":
            first = acquired.get(row.skill_code)
            acquired[row.skill_code] = min(first, row.observed_on) if first else row.observed_on
        if competence:
            current = best.get(competence)
            if current is None or (row.level, row.observed_on) > current:
                best[competence] = (row.level, row.observed_on)

    areas: dict[str, dict[str, Any]] = {}
    for skill in crcn:
        view_area = areas.setdefault(
            skill.area_code,
            {"code": skill.area_code, "label_fr": skill.area_label, "competences": []},
        )
        if skill.code in best:
            level, since = best[skill.code]
            view_area["competences"].append(
                {"code": skill.code, "label_fr": skill.label_fr, "level": level, "since": since}
            )
    in_progress = [
        code for code, level in self_best.items() if level > best.get(code, (0, date.min))[0]
    ]
    return {
        "passport": summary(session, passport).model_dump(),
        "areas": list(areas.values()),
        "premiers_pas": [
            {"code": s.code, "label_fr": s.label_fr, "acquired_on": acquired.get(s.code)}
            for s in first_steps
        ],
        "in_progress": sorted(in_progress),
        "validations": history,
        "self_assessments": own,
    }


class ViewCache:
    """Passport views already serialised, per process, for the same passport unchanged.

    A view is the same for every reader allowed to see it, and it changes only through a write
    that is journaled, which moves the passport's ``last_activity_at`` (in the row ``load`` reads
    anyway): the entry holds while that date, the passport's own fields and the change feed's
    ``trust`` version (skill labels) are the same, for ``max_age`` seconds at most (a renamed
    mediator or structure shows within that time; an erased passport's view leaves memory by
    then too). A mediator's page reloaded nine times costs one view and eight lookups.
    """

    def __init__(self, size: int = 256, max_age: float = 60.0, max_bytes: int = 512_000) -> None:
        self._lock = threading.Lock()
        self._size = size
        self._max_age = max_age
        self._max_bytes = max_bytes
        self._entries: dict[int, tuple[tuple[Any, ...], float, bytes]] = {}

    @staticmethod
    def _stamp(passport: Passport | PassportHead, revision: Any) -> tuple[Any, ...]:
        return (
            revision,
            passport.last_activity_at,
            passport.number,
            passport.first_name,
            passport.last_name,
            passport.birth_year,
            passport.territory_id,
        )

    def get(self, passport: Passport | PassportHead, revision: Any) -> bytes | None:
        assert passport.id is not None
        entry = self._entries.get(passport.id)
        if entry is None:
            return None
        stamp, stored, body = entry
        if stamp != self._stamp(passport, revision) or time.monotonic() - stored >= self._max_age:
            return None
        return body

    def put(self, passport: Passport, revision: Any, body: bytes) -> None:
        assert passport.id is not None
        if len(body) > self._max_bytes:
            return
        now = time.monotonic()
        with self._lock:
            if len(self._entries) >= self._size:
                self._entries = {
                    k: v for k, v in self._entries.items() if now - v[1] < self._max_age
                }
                if len(self._entries) >= self._size:
                    self._entries.clear()
            self._entries[passport.id] = (self._stamp(passport, revision), now, body)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


VIEWS = ViewCache()


def cached_view(
    session: Session, principal: Principal, passport_id: int, revision: Any
) -> bytes | None:
    """The passport's view as served last time, if it still stands (:class:`ViewCache`) and
    this read is counted in memory by the journal (:meth:`ReadJournal.count`); None when the
    caller must build it, or write the journal, the full way. One SELECT (:func:`load_head`,
    with :func:`load`'s refusals), no entity."""
    head = load_head(session, principal, passport_id)
    body = VIEWS.get(head, revision)
    if body is not None and READS.count(principal, passport_id, "passport.read"):
        return body
    return None


# --- sharing -------------------------------------------------------------------------------------


def grant(
    session: Session, principal: Principal, passport: Passport, structure_id: int
) -> AccessGrant:
    structure = session.get(Structure, structure_id)
    if structure is None:
        raise InvalidInput("No such structure.", code="unknown_structure")
    if structure.territory_id == passport.territory_id:
        raise InvalidInput(
            "The territory's own structures already see this passport.", code="grant_not_needed"
        )
    existing = session.exec(
        select(AccessGrant).where(
            AccessGrant.passport_id == passport.id,
            AccessGrant.structure_id == structure_id,
            col(AccessGrant.revoked_at).is_(None),
        )
    ).first()
    if existing is not None:
        return existing
    access = AccessGrant(
        passport_id=passport.id or 0,
        structure_id=structure_id,
        granted_by_account_id=principal.account_id,
    )
    session.add(access)
    session.flush()
    journal(session, principal, passport, "access.granted")
    return access


def revoke_grant(
    session: Session, principal: Principal, passport: Passport, grant_id: int
) -> AccessGrant:
    access = session.get(AccessGrant, grant_id)
    if access is None or access.passport_id != passport.id:
        raise NotFound("No such access.", code="unknown_grant")
    if access.revoked_at is None:
        access.revoked_at = utcnow()
        journal(session, principal, passport, "access.revoked")
    return access


def access_log(
    session: Session, passport: Passport, *, limit: int | None = 200, oldest_first: bool = False
) -> list[AccessLogEntry]:
    """Who read or changed the passport: the latest ``limit`` entries, newest first (the pages),
    or all of them, oldest first (the citizen's copy of their data)."""
    order = col(AccessLog.id) if oldest_first else col(AccessLog.id).desc()
    rows = session.exec(
        select(AccessLog, Account.display_name, Structure.nom)
        .outerjoin(Account, col(Account.id) == AccessLog.account_id)
        .outerjoin(Structure, col(Structure.id) == AccessLog.structure_id)
        .where(AccessLog.passport_id == passport.id)
        .order_by(order)
        .limit(limit)
    ).all()
    return [
        from_entity(AccessLogEntry, entry, who=who, structure=where) for entry, who, where in rows
    ]


def active_grants(session: Session, passport: Passport) -> Sequence[AccessGrant]:
    return session.exec(
        select(AccessGrant).where(
            AccessGrant.passport_id == passport.id, col(AccessGrant.revoked_at).is_(None)
        )
    ).all()


# --- the citizen's own records, and merging duplicates -------------------------------------------

MAX_SELF_ASSESSMENTS = 500


def self_assess(
    session: Session, principal: Principal, passport: Passport, skill_code: str, level: int | None
) -> Validation:
    """The citizen's own view of a skill, kept apart from what mediators observed."""
    skill = _skill(session, skill_code)
    if skill.framework_code == "pp":
        level = skill.level
    elif level is None:
        raise InvalidInput("Give the level you think you have (1 to 8).", code="level_required")
    count = session.exec(
        select(func.count())
        .select_from(Validation)
        .where(Validation.passport_id == passport.id, Validation.method == Method.SELF_ASSESSMENT)
    ).one()
    if count >= MAX_SELF_ASSESSMENTS:
        raise Conflict("Too many self-assessments in this passport.", code="too_many")
    assert passport.id is not None and level is not None
    validation = Validation(
        passport_id=passport.id,
        skill_code=skill.code,
        level=level,
        method=Method.SELF_ASSESSMENT,
        observed_on=utcnow().date(),
    )
    session.add(validation)
    session.flush()
    journal(session, principal, passport, "self_assessment.created")
    return validation


def merge(session: Session, principal: Principal, keep: Passport, absorb_id: int) -> Passport:
    """Fold a duplicate into `keep`: every validation moves, the duplicate keeps only its number
    (so that a card already printed says where it went) and the trace of the merge.

    The duplicate is locked before its validations are listed, as a recording locks it before
    writing: a recording in flight either commits first (and its validation moves with the
    others) or waits, then sees the merge (404 ``passport_merged``); never left behind."""
    absorb = load(session, principal, absorb_id, lock=True)
    assert keep.id is not None and absorb.id is not None
    authz.ensure_territory_admin(principal, keep.territory_id)
    if keep.id == absorb.id:
        raise InvalidInput("A passport cannot be merged into itself.", code="same_passport")
    if keep.territory_id != absorb.territory_id:
        raise InvalidInput("Only passports of one territory can be merged.", code="other_territory")
    moved = 0
    for validation in session.exec(
        select(Validation).where(Validation.passport_id == absorb.id)
    ).all():
        validation.passport_id = keep.id
        moved += 1
    for access in session.exec(
        select(AccessGrant).where(AccessGrant.passport_id == absorb.id)
    ).all():
        access.passport_id = keep.id
    absorb.merged_into_id = keep.id
    for field in ("first_name", "last_name", "birth_year", "commune_insee", "phone", "email"):
        setattr(absorb, field, None)
    absorb.search_name = None
    absorb.access_code_hash = None
    journal(session, principal, keep, "passport.merged")
    journal(session, principal, absorb, "passport.merged")
    audit.record_on(
        session,
        "passport.merged",
        keep,
        principal,
        absorbed=absorb.id,
        validations_moved=moved,
    )
    return keep
