"""The audit journal, read-only, for a territory's coordinators."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.accounts.principal import Principal
from app.api.deps import SessionDep
from app.audit import service
from app.audit.schemas import AuditEventPublic
from app.authz import TERRITORY_ADMIN, authorize
from app.core.db import pk
from app.core.validation import MAX_ID, NoNul, PastDateTime, TerritoryCode
from app.territory import service as territories

router = APIRouter(tags=["audit"])


@router.get("/territories/{code}/audit", response_model=list[AuditEventPublic])
def list_audit(
    code: TerritoryCode,
    principal: Annotated[Principal, authorize(TERRITORY_ADMIN)],
    session: SessionDep,
    action: Annotated[str | None, NoNul, Query(max_length=64, pattern=r"^[a-z_.]+$")] = None,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    since: Annotated[PastDateTime | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[AuditEventPublic]:
    """The territory's journal, newest first; page with before_id (the last id you saw)."""
    territory = territories.get_administered(session, principal, code)
    events = service.list_events(
        session,
        territory_id=pk(territory),
        action_prefix=action,
        before_id=before_id,
        since=since,
        limit=limit,
    )
    return [AuditEventPublic.model_validate(e, from_attributes=True) for e in events]
