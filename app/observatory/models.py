"""The observatory's own tables: the verification tally and each territory's publication choice.

Neither holds anything about a person: a verification is counted by day, verdict and channel only,
never with the credential, the territory it came from, or the client that asked.
"""

from __future__ import annotations

from datetime import date, datetime

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
