"""Territories as the API shows them: all public, since issuer identities must be."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from app.core.validation import Email, NoNul, UtcDateTime

# A département code ("75", "2A", "974") or a lower-case slug ("nouvelle-caledonie").
TerritoryCodeStr = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        max_length=40,
        pattern=r"^(?:\d{2,3}|2[AB]|[a-z0-9][a-z0-9-]{1,39})$",
    ),
    NoNul,
]
TerritoryName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=2, max_length=200), NoNul
]


class TerritoryPublic(BaseModel):
    code: str
    name: str
    issuer_url: str
    contact_email: str | None
    created_at: UtcDateTime
    time_zone: str = Field(
        description="IANA zone of the territory's days and hours (its department's; "
        "Europe/Paris when its code names none)"
    )


class TerritoryCreate(BaseModel):
    code: TerritoryCodeStr
    name: TerritoryName
    issuer_url: (
        Annotated[str, Field(max_length=300, pattern=r"^https?://[^\s?#]+$"), NoNul] | None
    ) = None
    contact_email: Email | None = None


class TerritoryUpdate(BaseModel):
    name: TerritoryName | None = None
    contact_email: Email | None = None
