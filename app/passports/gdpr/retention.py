"""Retention: passports nobody used for PASSEPORT_RETENTION_YEARS are erased."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from app.passports.gdpr.erasure import ErasureReason, erase
from app.passports.models import Passport


def retention_cutoff(now: datetime, years: int) -> datetime:
    """`years` years before `now` (29 February falls back to the 28th)."""
    try:
        return now.replace(year=now.year - years)
    except ValueError:
        return (now - timedelta(days=1)).replace(year=now.year - years)


def purge_inactive(session: Session, *, older_than: datetime, dry_run: bool) -> list[int]:
    """Erase the passports nobody has used since `older_than`; the ids, erased or (dry run) not.

    A passport merged into another follows it: it is never purged on its own dates.
    """
    query = (
        select(Passport)
        .where(
            Passport.is_live,
            col(Passport.last_activity_at) < older_than,
        )
        .order_by(col(Passport.id))
    )
    if not dry_run:
        # A passport used while the purge runs must not be erased under the mediator's hands.
        query = query.with_for_update()
    stale = session.exec(query).all()
    if not dry_run:
        for passport in stale:
            erase(session, passport, actor=None, reason=ErasureReason.RETENTION)
    return [passport.id for passport in stale if passport.id is not None]
