"""Single sign-on logins in flight: what the callback needs to finish what the login started."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.core.time import utcnow

TZ = sa.DateTime(timezone=True)


class OidcLogin(SQLModel, table=True):
    """One trip to the OpenID provider, from /auth/oidc/login to /auth/oidc/callback.

    The state travels in URLs, so only its hash is kept. The nonce and the PKCE code verifier
    never leave this server before the token request and must be read back: they are kept as
    they are, blanked once the callback used them, and the row is deleted once it expires.
    """

    __tablename__ = "oidc_login"

    id: int | None = Field(default=None, primary_key=True)
    state_hash: str = Field(max_length=64, unique=True)
    nonce: str = Field(max_length=100)
    code_verifier: str = Field(max_length=128)
    # Where to send the browser afterwards: a path on this site, checked before it is stored.
    return_to: str = Field(max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=TZ)
    expires_at: datetime = Field(sa_type=TZ, index=True)
    # Kept until expiry so that a replayed callback is told apart from an unknown one.
    used_at: datetime | None = Field(default=None, sa_type=TZ)
