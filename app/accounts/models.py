"""Accounts of the people who run the service (admins, coordinators, mediators), and their secrets.

Citizens are not accounts: they reach their own passport with its number and access code.
Every secret (session token, API token, invitation and reset tokens) is stored as a SHA-256 hash;
passwords as argon2id hashes.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.core.db import HashedSecret
from app.core.time import utcnow

TZ = sa.DateTime(timezone=True)


class Role(StrEnum):
    PLATFORM_ADMIN = "platform_admin"
    TERRITORY_ADMIN = "territory_admin"
    MEDIATOR = "mediator"


# Stored as its value in a VARCHAR (no native enum type: adding a role stays a plain migration),
# read back as a Role so that `account.role is Role.X` holds.
ROLE_TYPE = sa.Enum(
    Role, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]
)


class Account(SQLModel, table=True):
    __tablename__ = "account"
    __table_args__ = (
        sa.CheckConstraint(
            "role = 'platform_admin' OR territory_id IS NOT NULL", name="territory_required"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True)  # stored lower-cased
    display_name: str = Field(max_length=200)
    role: Role = Field(sa_type=ROLE_TYPE)
    # A platform admin belongs to no territory; everyone else to exactly one.
    territory_id: int | None = Field(default=None, foreign_key="territory.id", index=True)
    # None for an account that only signs in through SSO.
    password_hash: str | None = Field(default=None, max_length=200)
    is_active: bool = True
    failed_logins: int = 0
    locked_until: datetime | None = Field(default=None, sa_type=TZ)
    created_at: datetime = Field(default_factory=utcnow, sa_type=TZ)
    last_login_at: datetime | None = Field(default=None, sa_type=TZ)


class StructureMembership(SQLModel, table=True):
    """A mediator works in one or more structures of their territory."""

    __tablename__ = "structure_membership"

    account_id: int = Field(foreign_key="account.id", primary_key=True, ondelete="CASCADE")
    structure_id: int = Field(
        foreign_key="structure.id", primary_key=True, index=True, ondelete="CASCADE"
    )


class WebSession(HashedSecret, table=True):
    """A browser session; the cookie holds the token, the table its hash."""

    __tablename__ = "web_session"

    account_id: int = Field(foreign_key="account.id", index=True, ondelete="CASCADE")
    method: str = Field(max_length=20)  # password | oidc
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=TZ)
    revoked_at: datetime | None = Field(default=None, sa_type=TZ)


class ApiToken(HashedSecret, table=True):
    """A personal access token for API clients: scoped, expiring, revocable."""

    __tablename__ = "api_token"

    account_id: int = Field(foreign_key="account.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=100)
    # The first characters, shown in lists so a person can tell their tokens apart.
    prefix: str = Field(max_length=16)
    scopes: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    revoked_at: datetime | None = Field(default=None, sa_type=TZ)
    last_used_at: datetime | None = Field(default=None, sa_type=TZ)


class Invitation(HashedSecret, table=True):
    """A territory admin's invitation; its e-mail also pre-authorises a first SSO login."""

    __tablename__ = "invitation"

    territory_id: int = Field(foreign_key="territory.id", index=True)
    email: str = Field(max_length=320, index=True)
    display_name: str = Field(max_length=200)
    role: Role = Field(sa_type=ROLE_TYPE)
    structure_ids: list[int] = Field(default_factory=list, sa_type=sa.JSON)
    created_by_id: int | None = Field(default=None, foreign_key="account.id", ondelete="SET NULL")
    accepted_at: datetime | None = Field(default=None, sa_type=TZ)
    revoked_at: datetime | None = Field(default=None, sa_type=TZ)


class PasswordReset(HashedSecret, table=True):
    __tablename__ = "password_reset"

    account_id: int = Field(foreign_key="account.id", index=True, ondelete="CASCADE")
    used_at: datetime | None = Field(default=None, sa_type=TZ)
