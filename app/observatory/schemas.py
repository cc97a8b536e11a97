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


class PeriodsView(BaseModel):
    default: str
    periods: list[PeriodView]
    # The statistical secrecy threshold the documents are computed with.
    threshold: int
