"""The observatory's request and response bodies (the figures themselves are a plain document)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel

from app.core.validation import UtcDateTime


class PublicationUpdate(BaseModel):
    public: bool


class PublicationView(BaseModel):
    territory_code: str
    public: bool
    changed_at: UtcDateTime | None


class PeriodView(BaseModel):
    id: str
    kind: str
    start: date
    end: date
    # Its figures are released: stored, the same for every reader from now on.
    released: bool


class PeriodsView(BaseModel):
    # The last month released (or, before any release, the last month due): None in a
    # territory's first month.
    default: str | None
    periods: list[PeriodView]
    # The statistical secrecy threshold the documents are computed with.
    threshold: int
    # A period is released this many days after it ends (PASSEPORT_STATS_RELEASE_DAYS).
    release_days: int
