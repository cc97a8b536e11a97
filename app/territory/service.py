"""Territories: lookup and creation."""

from __future__ import annotations

from sqlmodel import Session, select

from app.core.errors import NotFound
from app.territory.models import Territory


def get_by_code(session: Session, code: str) -> Territory:
    territory = session.exec(select(Territory).where(Territory.code == code)).first()
    if territory is None:
        raise NotFound(f"No territory has the code {code!r}.", code="unknown_territory")
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
