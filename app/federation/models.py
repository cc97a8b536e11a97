"""Federation tables: the trust store, the held trust list, the status list cache, and the hub's
members and published lists (docs/federation.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.core.time import utcnow

TZ = sa.DateTime(timezone=True)

MANUAL = "manual"
TRUST_LIST = "trust_list"


class TrustedIssuer(SQLModel, table=True):
    """An issuer of another instance whose credentials verify here, with its pinned keys."""

    __tablename__ = "trusted_issuer"

    id: int | None = Field(default=None, primary_key=True)
    iss: str = Field(max_length=300, unique=True)
    name: str = Field(max_length=200)
    # {"keys": [...]}: public members only, each kid the RFC 7638 thumbprint of its key.
    jwks: dict[str, Any] = Field(sa_type=sa.JSON)
    fingerprints: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    # The only places its revocation lists are fetched from; never a URL read in a credential.
    status_uris: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    # manual (pinned by an admin here) or trust_list (imported from the federation's list).
    source: str = Field(max_length=16)
    added_at: datetime = Field(default_factory=utcnow, sa_type=TZ)
    added_by_account_id: int | None = None
    # Every change sets it: it is part of the verifier's revision.
    updated_at: datetime = Field(default_factory=utcnow, sa_type=TZ)


class HeldTrustList(SQLModel, table=True):
    """The federation trust list this instance imported last (one row, id 1)."""

    __tablename__ = "held_trust_list"

    id: int = Field(default=1, primary_key=True)
    hub: str = Field(max_length=300)
    sequence: int
    issued_at: datetime = Field(sa_type=TZ)
    fresh_until: datetime = Field(sa_type=TZ)
    # The signed document as received, so that it can be checked again or handed on.
    document: str = Field(sa_type=sa.Text)
    imported_at: datetime = Field(default_factory=utcnow, sa_type=TZ)


class StatusListCache(SQLModel, table=True):
    """A remote issuer's signed status list token, as last fetched and verified."""

    __tablename__ = "status_list_cache"

    uri: str = Field(max_length=300, primary_key=True)
    iss: str = Field(max_length=300, index=True)
    token: str = Field(sa_type=sa.Text)
    fetched_at: datetime = Field(sa_type=TZ)
    # fetched_at + the list's ttl: after it the list is refetched before it is used.
    fresh_until: datetime = Field(sa_type=TZ)


class FederationMember(SQLModel, table=True):
    """Hub side: an issuer the hub puts in the trust list it publishes."""

    __tablename__ = "federation_member"

    id: int | None = Field(default=None, primary_key=True)
    iss: str = Field(max_length=300, unique=True)
    name: str = Field(max_length=200)
    status_uris: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    added_at: datetime = Field(default_factory=utcnow, sa_type=TZ)


class PublishedTrustList(SQLModel, table=True):
    """Hub side: each trust list signed here, the latest served to members."""

    __tablename__ = "published_trust_list"

    sequence: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    issued_at: datetime = Field(sa_type=TZ)
    fresh_until: datetime = Field(sa_type=TZ)
    document: str = Field(sa_type=sa.Text)
