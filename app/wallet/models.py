"""Credential offers made for a wallet, and the nonces the issuer and the verifier hand out."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.core.time import utcnow

TZ = sa.DateTime(timezone=True)


class WalletOffer(SQLModel, table=True):
    """One credential offer: single use, short-lived, opened by a PIN shown apart from its QR.

    Only hashes of the pre-authorized code, the PIN and the access token are kept: the offer URI
    and the PIN are shown once, to the person who asked for them.
    """

    __tablename__ = "wallet_offer"

    id: int | None = Field(default=None, primary_key=True)
    territory_id: int = Field(foreign_key="territory.id", index=True)
    passport_id: int = Field(foreign_key="passport.id", index=True)
    code_hash: str = Field(max_length=64, unique=True)
    # HMAC of the PIN under the instance's secret key: six digits are guessed offline in no time
    # from a plain hash.
    pin_hash: str = Field(max_length=64)
    skill_codes: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    with_name: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_type=TZ)
    expires_at: datetime = Field(sa_type=TZ)
    # The token request that spent the pre-authorized code; a second one is refused.
    redeemed_at: datetime | None = Field(default=None, sa_type=TZ)
    token_hash: str | None = Field(default=None, max_length=64, unique=True)
    token_expires_at: datetime | None = Field(default=None, sa_type=TZ)
    # The credential issued on it (its row in the credential table, revocable like a QR's).
    credential_id: int | None = Field(default=None, foreign_key="credential.id")


class WalletNonce(SQLModel, table=True):
    """A nonce handed out once: ``c_nonce`` for the issuer's key proofs (purpose ``proof``), or
    the verifier's for key-binding JWTs (purpose ``presentation``). Spent at first use."""

    __tablename__ = "wallet_nonce"

    nonce_hash: str = Field(primary_key=True, max_length=64)
    purpose: str = Field(max_length=16)
    expires_at: datetime = Field(sa_type=TZ, index=True)
    used_at: datetime | None = Field(default=None, sa_type=TZ)
