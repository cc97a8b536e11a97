"""Territories: public identities; created by platform admins, edited by their coordinators."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, status

from app.accounts.principal import Principal
from app.api.deps import SessionDep, SettingsDep
from app.authz import PLATFORM_ADMIN, PUBLIC, TERRITORY_ADMIN, authorize
from app.core.validation import TerritoryCode
from app.territory import service
from app.territory.schemas import TerritoryCreate, TerritoryPublic, TerritoryUpdate

router = APIRouter(prefix="/territories", tags=["territories"])


@router.get("", response_model=list[TerritoryPublic], dependencies=[authorize(PUBLIC)])
def list_territories(session: SessionDep) -> list[TerritoryPublic]:
    """Every territory hosted on this instance, with its issuer URL."""
    return [service.to_public(t) for t in service.list_all(session)]


@router.get("/{code}", response_model=TerritoryPublic, dependencies=[authorize(PUBLIC)])
def get_territory(code: TerritoryCode, session: SessionDep) -> TerritoryPublic:
    """One territory."""
    return service.to_public(service.get_by_code(session, code))


@router.post("", response_model=TerritoryPublic, status_code=status.HTTP_201_CREATED)
def create_territory(
    data: TerritoryCreate,
    principal: Annotated[Principal, authorize(PLATFORM_ADMIN)],
    session: SessionDep,
    settings: SettingsDep,
) -> TerritoryPublic:
    """Host a new territory on this instance (its issuer URL defaults to {PUBLIC_URL}/t/{code})."""
    return service.to_public(service.create(session, principal, data, settings.public_url))


@router.patch("/{code}", response_model=TerritoryPublic)
def update_territory(
    code: TerritoryCode,
    data: TerritoryUpdate,
    principal: Annotated[Principal, authorize(TERRITORY_ADMIN)],
    session: SessionDep,
) -> TerritoryPublic:
    """Change a territory's name or contact (its code and issuer URL are fixed)."""
    return service.to_public(service.update(session, principal, code, data))
