"""Credentials issued from passports, and the revocation status lists they point into."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.core.time import utcnow

TZ = sa.DateTime(timezone=True)

# One status list per territory (list 1) of 2^17 one-bit slots (16 KiB raw, a few hundred bytes
# compressed while mostly zero), handed out at random: a verifier who fetches the list learns
# nothing from a credential's position.
LIST_ID = 1
LIST_SIZE = 2**17


class Credential(SQLModel, table=True):
    __tablename__ = "credential"
    __table_args__ = (
        sa.UniqueConstraint("territory_id", "status_index", name="uq_credential_status_slot"),
    )

    id: int | None = Field(default=None, primary_key=True)
    territory_id: int = Field(foreign_key="territory.id", index=True)
    passport_id: int = Field(foreign_key="passport.id", index=True)
    jti: str = Field(max_length=32, unique=True)
    # The short code printed beside the QR (V- and eight characters), for people without a
    # smartphone: anyone can check it on the issuer's instance.
    code: str = Field(max_length=10, unique=True)
    kid: str = Field(max_length=64)
    # The bit of the territory's status list (list 1) that says whether it is revoked.
    status_index: int
    skill_codes: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    with_name: bool = False
    issued_at: datetime = Field(default_factory=utcnow, sa_type=TZ)
    expires_at: datetime = Field(sa_type=TZ)
    # What the QR carries, kept so the holder can show it again. It may hold the display name,
    # so erasure blanks it along with everything personal.
    qr_text: str | None = Field(default=None, max_length=4100)
    revoked_at: datetime | None = Field(default=None, sa_type=TZ)
    revocation_reason: str | None = Field(default=None, max_length=40)
    # pn1: the signed QR; dc+sd-jwt: the copy issued to a wallet (app/wallet/), which has no
    # QR text and is revoked through the same status list.
    format: str = Field(default="pn1", max_length=16, sa_column_kwargs={"server_default": "pn1"})


class StatusListRow(SQLModel, table=True):
    """A territory's revocation bits (one list per territory), as the raw byte array."""

    __tablename__ = "status_list"

    territory_id: int = Field(foreign_key="territory.id", primary_key=True)
    list_id: int = Field(default=1, primary_key=True)
    size: int
    bits: bytes = Field(sa_type=sa.LargeBinary)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=TZ)
