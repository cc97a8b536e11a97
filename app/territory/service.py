"""Territories: lookup and creation."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from app import authz
from app.accounts.principal import Principal
from app.audit import service as audit
from app.core import zones
from app.core.db import pk
from app.core.errors import Conflict, NotFound
from app.core.schemas import from_entity
from app.territory.models import Territory, issuer_url_for
from app.territory.schemas import TerritoryCreate, TerritoryPublic, TerritoryUpdate


def get_by_code(session: Session, code: str) -> Territory:
    territory = session.exec(select(Territory).where(Territory.code == code)).first()
    if territory is None:
        raise NotFound(f"No territory has the code {code!r}.", code="unknown_territory")
    return territory


def get_administered(session: Session, principal: Principal, code: str) -> Territory:
    """The territory with this code, to a caller who coordinates it (404 before 403)."""
    territory = get_by_code(session, code)
    authz.ensure_territory_admin(principal, pk(territory))
    return territory


def ensure(
    session: Session, *, code: str, name: str, issuer_url: str, contact_email: str | None
) -> tuple[Territory, bool]:
    """The territory with this code, created if missing; the flag says whether it was created."""
    territory = session.exec(select(Territory).where(Territory.code == code)).first()
    if territory is not None:
        return territory, False
    territory = Territory(code=code, name=name, issuer_url=issuer_url, contact_email=contact_email)
    session.add(territory)
    session.flush()
    return territory, True


def to_public(territory: Territory) -> TerritoryPublic:
    time_zone = zones.zone_name(zones.department_of_territory(territory.code))
    return from_entity(TerritoryPublic, territory, time_zone=time_zone)


def list_all(session: Session) -> Sequence[Territory]:
    return session.exec(select(Territory).order_by(col(Territory.code))).all()


def create(
    session: Session, principal: Principal, data: TerritoryCreate, public_url: str
) -> Territory:
    issuer_url = (data.issuer_url or issuer_url_for(public_url, data.code)).rstrip("/")
    clash = session.exec(
        select(Territory).where(
            (Territory.code == data.code) | (Territory.issuer_url == issuer_url)
        )
    ).first()
    if clash is not None:
        raise Conflict("A territory already has this code or issuer URL.", code="territory_exists")
    territory = Territory(
        code=data.code, name=data.name, issuer_url=issuer_url, contact_email=data.contact_email
    )
    audit.record_on(session, "territory.created", territory, principal, code=territory.code)
    return territory


def update(session: Session, principal: Principal, code: str, data: TerritoryUpdate) -> Territory:
    territory = get_by_code(session, code)
    authz.ensure_territory_admin(principal, pk(territory))
    changed = data.model_dump(exclude_unset=True, exclude_none=True)
    for field, value in changed.items():
        setattr(territory, field, value)
    if changed:
        audit.record_on(session, "territory.updated", territory, principal, fields=sorted(changed))
    return territory
