"""Erasure: the citizen's personal data and every way into the passport go; anonymous
skills stay, and count. docs/privacy.md explains each choice."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlmodel import Session, col, delete, select, update

from app.accounts.principal import CallerKind, Principal
from app.audit import service as audit
from app.core.errors import Conflict
from app.core.ratelimit import RateLimitBucket
from app.core.time import utcnow
from app.credentials import service as credentials
from app.passports.models import (
    AccessGrant,
    AccessLog,
    CitizenLink,
    CitizenSession,
    Passport,
    Validation,
)
from app.wallet import service as wallet


class ErasureReason(StrEnum):
    CITIZEN = "citizen"  # the citizen asked, signed in to their passport
    REQUEST = "request"  # the citizen asked a coordinator, in person or by letter
    CONSENT_WITHDRAWN = "consent_withdrawn"
    OPENED_BY_MISTAKE = "opened_by_mistake"
    RETENTION = "retention"  # nobody used the passport for the retention period


PERSONAL_FIELDS = (
    "first_name",
    "last_name",
    "birth_year",
    "commune_insee",
    "phone",
    "email",
    "search_name",
)


@dataclass
class Erasure:
    erased_at: datetime
    validations_kept: int = 0
    sessions_deleted: int = 0
    grants_revoked: int = 0
    journal_rows_deleted: int = 0
    merged_passports: int = 0
    credentials_revoked: int = 0


def tombstone_number(passport_id: int) -> str:
    """What replaces an erased passport's number: unique, and never a valid number (X, not P;
    hexadecimal, with the 0, 1 and vowels the number alphabet lacks), so it opens nothing."""
    return f"X-{passport_id:08X}"


def erase(
    session: Session, passport: Passport, *, actor: Principal | None, reason: ErasureReason
) -> Erasure:
    """Remove the citizen's personal data and every way into the passport; keep anonymous skills.

    Passports merged into this one are the same person's earlier duplicates: they go too.
    """
    # The row lock orders this against a validation being recorded at the same moment (see
    # passports.service.record_validation): one of the two waits for the other.
    session.flush()  # refresh() would drop changes not yet written
    session.refresh(passport, with_for_update=True)
    if passport.erased_at is not None:
        raise Conflict("This passport is already erased.", code="already_erased")
    assert passport.id is not None
    merged = _merged_into(session, passport.id)
    erasure = Erasure(erased_at=utcnow(), merged_passports=len(merged))
    for row in [passport, *merged]:
        _erase_row(session, row, erasure)
        # Every credential issued from the passport stops verifying (its status bit flips), and
        # the QR texts kept for the holder, which may carry the name, go.
        assert row.id is not None
        erasure.credentials_revoked += credentials.revoke_all(session, row.id, "erasure")
        wallet.forget_offers(session, row.id)  # offers not redeemed yet name it and its skills
    # Nothing personal in the journal: the coordinator's free text would have kept the very
    # names erased here, in a table nobody may edit. Hence a reason chosen from a list.
    audit.record_on(
        session,
        "passport.erased",
        passport,
        actor,
        reason=reason.value,
        by=_actor_kind(actor),
        validations_kept=erasure.validations_kept,
        sessions_deleted=erasure.sessions_deleted,
        grants_revoked=erasure.grants_revoked,
        journal_rows_deleted=erasure.journal_rows_deleted,
        merged_passports=erasure.merged_passports,
        credentials_revoked=erasure.credentials_revoked,
    )
    return erasure


def _actor_kind(actor: Principal | None) -> str:
    if actor is None:
        return "retention"
    if actor.kind is CallerKind.CITIZEN:
        return "citizen"
    return actor.role.value if actor.role else "account"


def _merged_into(session: Session, passport_id: int) -> list[Passport]:
    """Every passport merged into this one, directly or through another merged one."""
    found: dict[int, Passport] = {}
    pending = [passport_id]
    while pending:
        children = session.exec(
            select(Passport).where(col(Passport.merged_into_id).in_(pending))
        ).all()
        # The guard against a loop costs nothing; merging never makes one, but data outlives code.
        pending = [c.id for c in children if c.id is not None and c.id not in found]
        found.update((c.id, c) for c in children if c.id is not None)
    found.pop(passport_id, None)
    return list(found.values())


def _erase_row(session: Session, passport: Passport, erasure: Erasure) -> None:
    assert passport.id is not None
    old_number = passport.number
    for name in PERSONAL_FIELDS:
        setattr(passport, name, None)
    passport.access_code_hash = None
    passport.access_code_set_at = None
    # The number is on a card the citizen may keep, the holder id in every credential they were
    # given: either would tie the anonymous rows left here back to them.
    passport.number = tombstone_number(passport.id)
    passport.holder_id = secrets.token_hex(16)
    # A hash of the opening request's body, names included (a name and a birth year are few
    # enough to guess). The key stays: random, it names nobody, and a late replay of it must find
    # this passport erased rather than open a new one.
    passport.request_hash = None
    if passport.erased_at is None:
        passport.erased_at = erasure.erased_at

    # Free text may name anyone; the skill, level, date, method and place stay, and count.
    kept = session.exec(
        update(Validation)
        .where(col(Validation.passport_id) == passport.id)
        .values(
            evidence=None,
            withdrawal_reason=None,
            idempotency_key=None,
            # A hash of a body that held the evidence: whoever knew the text could confirm it.
            request_hash=None,
            # Another territory's records link its credential ids to the person.
            source_credential_id=None,
        )
    )
    erasure.validations_kept += kept.rowcount
    ended = session.exec(
        delete(CitizenSession).where(col(CitizenSession.passport_id) == passport.id)
    )
    erasure.sessions_deleted += ended.rowcount
    # Sign-in links by e-mail are ways in too.
    session.exec(delete(CitizenLink).where(col(CitizenLink.passport_id) == passport.id))
    revoked = session.exec(
        update(AccessGrant)
        .where(col(AccessGrant.passport_id) == passport.id, col(AccessGrant.revoked_at).is_(None))
        .values(revoked_at=erasure.erased_at)
    )
    erasure.grants_revoked += revoked.rowcount
    # The journal was kept for the citizen to see who looked; with nobody left to show it to,
    # it would only be a timeline of one person's visits.
    forgotten = session.exec(delete(AccessLog).where(col(AccessLog.passport_id) == passport.id))
    erasure.journal_rows_deleted += forgotten.rowcount
    session.exec(
        delete(RateLimitBucket).where(col(RateLimitBucket.key) == f"citizen:passport:{old_number}")
    )
