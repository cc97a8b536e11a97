"""Territories: the operators of an instance or of a tenant, each with its own issuer identity."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.core.time import utcnow


class Territory(SQLModel, table=True):
    __tablename__ = "territory"

    id: int | None = Field(default=None, primary_key=True)
    # A département code ("973", "2A") or a slug ("nouvelle-caledonie"); appears in URLs.
    code: str = Field(max_length=40, unique=True)
    name: str = Field(max_length=200)
    # Base URL under which the territory's public keys and status lists are published.
    issuer_url: str = Field(max_length=300, unique=True)
    contact_email: str | None = Field(default=None, max_length=320)
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


def issuer_url_for(public_url: str, code: str) -> str:
    """The issuer URL a territory hosted on this instance gets by default: short, for the QR."""
    return f"{public_url.rstrip('/')}/t/{code}"
