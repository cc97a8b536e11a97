"""What the audit API gives: the journal's entries."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from app.core.validation import UtcDateTime


class AuditEventPublic(BaseModel):
    id: int
    at: UtcDateTime
    action: str
    outcome: str
    actor_account_id: int | None
    target_type: str | None
    target_id: str | None
    request_id: str | None
    client_address: str | None
    details: dict[str, Any]
    count: int = Field(
        default=1, description="How many times: refusals anyone can provoke are one row per window"
    )
    last_at: UtcDateTime | None = Field(default=None, description="The latest of them")
