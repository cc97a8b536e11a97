"""What the trust API takes and gives: the trust store, its issuers, the hub's trust list."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from app.core.validation import NoNul, UtcDateTime

IssuerUrl = Annotated[str, Field(min_length=8, max_length=200), NoNul]


class IssuerPublic(BaseModel):
    id: int
    iss: str
    name: str
    fingerprints: list[str]
    status_uris: list[str]
    source: str = Field(description="`manual` (pinned here) or `trust_list` (from the hub)")
    added_at: UtcDateTime
    added_by_account_id: int | None
    updated_at: UtcDateTime


class TrustListState(BaseModel):
    hub: str
    sequence: int
    issued_at: UtcDateTime
    fresh_until: UtcDateTime
    imported_at: UtcDateTime
    stale: bool = Field(
        description="Past fresh_until: its issuers' credentials verify as "
        "`stale_trust_list` until a newer list is imported"
    )


class TrustStore(BaseModel):
    issuers: list[IssuerPublic]
    trust_list: TrustListState | None


class PreviewRequest(BaseModel):
    iss: IssuerUrl


class PreviewPublic(BaseModel):
    iss: str
    jwks_uri: str
    fingerprints: list[str] = Field(description="RFC 7638 thumbprints, to check with the issuer")
    status_uris: list[str]


class AddRequest(BaseModel):
    iss: IssuerUrl
    fingerprints: list[Annotated[str, Field(max_length=64), NoNul]] = Field(
        min_length=1, max_length=16
    )
    name: Annotated[str, Field(max_length=200), NoNul] | None = None
