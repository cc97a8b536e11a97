"""The audit journal: append-only, one row per security-relevant action."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.core.time import utcnow


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True), index=True)
    # Dotted verb: auth.login, auth.login_failed, invitation.created, token.revoked, …
    action: str = Field(max_length=64, index=True)
    outcome: str = Field(max_length=16, default="success")  # success | failure | denied
    # No foreign keys: the journal outlives what it mentions (an erased account, a removed token).
    actor_account_id: int | None = Field(default=None, index=True)
    territory_id: int | None = Field(default=None, index=True)
    target_type: str | None = Field(default=None, max_length=32)
    target_id: str | None = Field(default=None, max_length=64)
    request_id: str | None = Field(default=None, max_length=64)
    client_address: str | None = Field(default=None, max_length=64)
    details: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    # Refusals anyone can provoke (a made-up cookie or token, a locked door knocked on again) are
    # one row per action, reason, address and window, counted, so that the journal cannot be
    # grown at will (app.audit.service.record_coalesced). The key is unique while it is set.
    count: int = Field(default=1, sa_column_kwargs={"server_default": sa.text("1")})
    last_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    coalesce_key: str | None = Field(default=None, max_length=200, unique=True)
