"""Write and read the audit journal, and apply its retention.

Rows are never edited, with one exception: a refusal anyone can provoke as often as they like
(a made-up session cookie or API token, a knock on a locked account) is one row per action,
reason, address and ten-minute window, whose ``count`` goes up (:func:`record_coalesced`), so that
nobody can grow the journal at will. Rows are deleted only by :func:`prune`, past the retention
the settings give (security events long, refusals naming nobody short).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel, col, delete, select

from app.accounts.models import Account
from app.accounts.principal import Principal
from app.audit.models import AuditEvent
from app.core.db import transaction
from app.core.logging import current_request_id
from app.core.settings import Settings
from app.core.time import utcnow

logger = logging.getLogger("app.audit")

#: Refusals from one address are counted in one row per window of this length.
COALESCE_WINDOW = timedelta(minutes=10)


def record(
    session: Session,
    action: str,
    *,
    outcome: str = "success",
    actor_account_id: int | None = None,
    territory_id: int | None = None,
    target_type: str | None = None,
    target_id: object | None = None,
    client_address: str | None = None,
    **details: Any,
) -> AuditEvent:
    """Journal an action in the caller's transaction: it lands if and only if the action does."""
    event = AuditEvent(
        action=action,
        outcome=outcome,
        actor_account_id=actor_account_id,
        territory_id=territory_id,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        request_id=current_request_id(),
        client_address=client_address,
        details=details,
    )
    session.add(event)
    return event


def record_on(
    session: Session,
    action: str,
    target: SQLModel,
    actor: Principal | Account | int | None = None,
    *,
    outcome: str = "success",
    client_address: str | None = None,
    target_type: str | None = None,
    **details: Any,
) -> AuditEvent:
    """Journal an action on one row, naming it and its territory the one way the journal does.

    - The target is the row's table (``target_type`` only where the journal's word differs, as
      ``issuer`` for a trusted issuer) and its id; a row without an id yet is added and flushed.
    - The territory is the row's own (its ``territory_id``, or its id for a territory), else
      the actor's.
    - The actor is the caller (a principal), an account acting for itself (signing in,
      accepting an invitation), an account's id (no territory), or nobody.
    """
    row: Any = target  # SQLModel types neither a row's id nor its table's name
    if row.id is None:
        session.add(row)
        session.flush()
    table: str = row.__tablename__
    if isinstance(actor, Principal):
        actor_account_id, actor_territory_id = actor.account_id, actor.territory_id
    elif isinstance(actor, Account):
        actor_account_id, actor_territory_id = actor.id, actor.territory_id
    else:
        actor_account_id, actor_territory_id = actor, None
    if table == "territory":
        territory_id = row.id
    else:
        territory_id = getattr(row, "territory_id", actor_territory_id)
    return record(
        session,
        action,
        outcome=outcome,
        actor_account_id=actor_account_id,
        territory_id=territory_id,
        target_type=target_type or table,
        target_id=row.id,
        client_address=client_address,
        **details,
    )


def record_now(engine: Engine, action: str, **kwargs: Any) -> None:
    """Journal in a transaction of its own: for refusals, whose request will roll back."""
    with transaction(engine) as session:
        record(session, action, **kwargs)


def record_coalesced(
    engine: Engine,
    action: str,
    *,
    client_address: str | None,
    reason: str,
    outcome: str = "denied",
    actor_account_id: int | None = None,
    territory_id: int | None = None,
    path: str | None = None,
) -> None:
    """Journal a refusal anyone can provoke: the window's row for this address counts one more.

    (Or one a signed-in account can repeat at will, such as a write without its CSRF token: the
    row then names the account and its territory, and counts per account.)

    One INSERT … ON CONFLICT DO UPDATE on the row's unique key, so that parallel refusals add to
    one row instead of racing to make several. The row keeps the first request's id and time;
    ``last_at`` is the latest.
    """
    now = utcnow()
    window = int(now.timestamp()) // int(COALESCE_WINDOW.total_seconds())
    key = f"{action}|{reason}|{actor_account_id or ''}|{client_address or ''}|{window}"
    table = AuditEvent.__table__  # type: ignore[attr-defined]
    insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    statement = insert(table).values(
        at=now,
        action=action,
        outcome=outcome,
        actor_account_id=actor_account_id,
        territory_id=territory_id,
        client_address=client_address,
        request_id=current_request_id(),
        details={"reason": reason, **({"path": path} if path else {})},
        count=1,
        last_at=now,
        coalesce_key=key[:200],
    )
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.coalesce_key],
        set_={"count": table.c.count + 1, "last_at": statement.excluded.last_at},
    )
    with transaction(engine) as session:
        session.execute(statement)


def is_noise() -> sa.ColumnElement[bool]:
    """A refusal that names nobody: no account, no target. Anyone can make these."""
    return sa.and_(
        col(AuditEvent.outcome) != "success",
        col(AuditEvent.actor_account_id).is_(None),
        col(AuditEvent.target_id).is_(None),
    )


@dataclass
class Pruned:
    security: int
    noise: int


def prune(session: Session, settings: Settings, *, now: datetime, dry_run: bool = False) -> Pruned:
    """Delete journal rows past their retention (see Settings.audit_retention_days)."""
    security_cutoff = now - timedelta(days=settings.audit_retention_days)
    noise_cutoff = now - timedelta(days=settings.audit_noise_retention_days)
    last = sa.func.coalesce(col(AuditEvent.last_at), col(AuditEvent.at))
    conditions = {
        "security": sa.and_(sa.not_(is_noise()), last < security_cutoff),
        "noise": sa.and_(is_noise(), last < noise_cutoff),
    }
    counts: dict[str, int] = {}
    for name, condition in conditions.items():
        if dry_run:
            counts[name] = session.exec(
                select(sa.func.count()).select_from(AuditEvent).where(condition)
            ).one()
        else:
            counts[name] = session.exec(delete(AuditEvent).where(condition)).rowcount
    return Pruned(**counts)


PRUNE_SECONDS = 3600.0


async def prune_periodically(
    engine: Engine, settings: Settings, every: float = PRUNE_SECONDS
) -> None:
    """The app's background task: prune now, then every hour, until cancelled."""

    def run() -> Pruned:
        with transaction(engine) as session:
            return prune(session, settings, now=utcnow())

    while True:
        try:
            pruned = await asyncio.to_thread(run)
            if pruned.security or pruned.noise:
                logger.info(
                    "audit journal pruned",
                    extra={"security": pruned.security, "noise": pruned.noise},
                )
        except Exception:
            logger.exception("audit journal pruning failed; tried again at the next run")
        await asyncio.sleep(every)


def list_events(
    session: Session,
    *,
    territory_id: int | None,
    action_prefix: str | None = None,
    before_id: int | None = None,
    since: datetime | None = None,
    limit: int = 100,
) -> Sequence[AuditEvent]:
    """Newest first; `before_id` pages backwards. territory_id None means every territory."""
    query = select(AuditEvent).order_by(col(AuditEvent.id).desc()).limit(limit)
    if territory_id is not None:
        query = query.where(AuditEvent.territory_id == territory_id)
    if action_prefix:
        query = query.where(col(AuditEvent.action).startswith(action_prefix))
    if before_id is not None:
        query = query.where(col(AuditEvent.id) < before_id)
    if since is not None:
        query = query.where(col(AuditEvent.at) >= since)
    return session.exec(query).all()
