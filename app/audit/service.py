"""Write and read the audit journal. There is no update or delete here, nor anywhere else."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.audit.models import AuditEvent
from app.core.db import transaction
from app.core.logging import current_request_id


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


def record_now(engine: Engine, action: str, **kwargs: Any) -> None:
    """Journal in a transaction of its own: for refusals, whose request will roll back."""
    with transaction(engine) as session:
        record(session, action, **kwargs)


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
