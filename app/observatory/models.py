"""The observatory's own tables: the verification tally, each territory's publication choice and
its released figures.

None holds anything about a person: a verification is counted by day, verdict and channel only,
never with the credential, the territory it came from, or the client that asked.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.core.time import utcnow


class VerificationTally(SQLModel, table=True):
    __tablename__ = "verification_tally"

    day: date = Field(primary_key=True)
    result: str = Field(primary_key=True, max_length=32)
    channel: str = Field(primary_key=True, max_length=16)
    count: int = 0


class StatsPublication(SQLModel, table=True):
    """A territory's figures are public once a coordinator opts in; absent row: not public."""

    __tablename__ = "stats_publication"

    territory_id: int = Field(foreign_key="territory.id", primary_key=True)
    public: bool = False
    changed_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))
    changed_by_account_id: int | None = Field(
        default=None, foreign_key="account.id", ondelete="SET NULL"
    )


class StatsRelease(SQLModel, table=True):
    """A fixed period's public figures, released once after the period ends and served as stored
    ever after: a validation recorded later with an earlier date changes no public document.

    ``document`` is the public document as served (its suppressed counts empty); ``figures`` the
    counts before secrecy, never served, from which the quarter and the year are summed and the
    later releases of the year are suppressed around this one (docs/open-data.md, "Releases").
    """

    __tablename__ = "stats_release"

    territory_id: int = Field(
        foreign_key="territory.id",
        primary_key=True,
        sa_column_kwargs={"autoincrement": False},
        ondelete="CASCADE",
    )
    # "2026-11", "2026-Q3" or "2026".
    period: str = Field(primary_key=True, max_length=7)
    period_start: date
    period_end: date
    threshold: int
    released_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))
    document: dict[str, Any] = Field(sa_type=sa.JSON)
    figures: dict[str, Any] = Field(sa_type=sa.JSON)
