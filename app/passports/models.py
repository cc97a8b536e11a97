"""Citizens' passports, the validations recorded in them, who may see them, and who did.

Personal data lives in the `passport` row only (names, birth year, commune, contact) and in the
free-text evidence notes; erasure blanks exactly those, so that what remains (skills, levels,
dates, structures) is anonymous and still counts in the figures.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.ext.hybrid import hybrid_property
from sqlmodel import Field, SQLModel, col
from sqlmodel._compat import SQLModelConfig

from app.core.db import HashedSecret
from app.core.time import utcnow

TZ = sa.DateTime(timezone=True)


class Method(StrEnum):
    OBSERVATION = "observation"
    SITUATION = "situation"  # mise en situation
    EXERCISE = "exercise"
    SELF_ASSESSMENT = "self_assessment"
    CREDENTIAL = "credential"  # imported from a verified credential
    PIX = "pix"  # imported from a Pix result


METHOD_TYPE = sa.Enum(
    Method, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]
)


class Passport(SQLModel, table=True):
    __tablename__ = "passport"
    # Pydantic would take the hybrid property below for a field without a type.
    model_config = SQLModelConfig(ignored_types=(hybrid_property,))
    __table_args__ = (
        # An index, not a constraint: SQLite adds it without rebuilding the table (and its
        # change-feed triggers, migration 0020). NULLs differ: passports opened without a key pass.
        sa.Index("ix_passport_idempotency", "consent_account_id", "idempotency_key", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    territory_id: int = Field(foreign_key="territory.id", index=True)
    # "P-" then seven random characters and a check character, from an unambiguous alphabet.
    number: str = Field(max_length=10, unique=True)
    # Personal data: None once erased.
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    birth_year: int | None = None
    commune_insee: str | None = Field(default=None, max_length=5)
    phone: str | None = Field(default=None, max_length=20)
    email: str | None = Field(default=None, max_length=320)
    # Lower-case, unaccented "last first", for search and the duplicate warning.
    search_name: str | None = Field(default=None, max_length=210, index=True)
    # The credentials' pseudonymous subject: random, never derived from the number.
    holder_id: str = Field(max_length=32, unique=True)
    access_code_hash: str | None = Field(default=None, max_length=200)
    access_code_set_at: datetime | None = Field(default=None, sa_type=TZ)
    consent_version: str = Field(max_length=20)
    consent_at: datetime = Field(sa_type=TZ)
    consent_account_id: int | None = Field(
        default=None, foreign_key="account.id", ondelete="SET NULL"
    )
    consent_structure_id: int | None = Field(
        default=None, foreign_key="structure.id", ondelete="SET NULL"
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=TZ)
    # Any read or write by a mediator or the citizen; the retention rule counts from here.
    last_activity_at: datetime = Field(default_factory=utcnow, sa_type=TZ, index=True)
    merged_into_id: int | None = Field(default=None, foreign_key="passport.id")
    erased_at: datetime | None = Field(default=None, sa_type=TZ)
    # Opened on a mediator's device while offline (the consent read there), sent at sync: when
    # the device recorded it. ``created_at`` is when it reached the server.
    recorded_offline_at: datetime | None = Field(default=None, sa_type=TZ)
    # The Idempotency-Key of the request that opened it (unique per account, with the request's
    # fingerprint), so that a replay of a lost answer opens nothing twice.
    idempotency_key: str | None = Field(default=None, max_length=100)
    request_hash: str | None = Field(default=None, max_length=64)

    # The one definition of a passport still in use: neither erased nor merged into another.
    # On a row it is a bool; on the class, the same rule as a SQL condition for queries
    # (``select(Passport).where(Passport.is_live)``).
    @hybrid_property
    def is_live(self) -> bool:
        return self.erased_at is None and self.merged_into_id is None

    @is_live.inplace.expression
    @classmethod
    def _is_live_expression(cls) -> sa.ColumnElement[bool]:
        return sa.and_(col(cls.erased_at).is_(None), col(cls.merged_into_id).is_(None))


class Validation(SQLModel, table=True):
    """One skill at one level, observed once. Never edited: withdrawn with a reason instead."""

    __tablename__ = "validation"
    __table_args__ = (
        sa.CheckConstraint("level BETWEEN 1 AND 8", name="level_range"),
        sa.UniqueConstraint("account_id", "idempotency_key", name="uq_validation_idempotency"),
        # A credential's skill is imported once per passport (NULLs differ: other methods pass).
        sa.UniqueConstraint(
            "passport_id",
            "source_issuer",
            "source_credential_id",
            "skill_code",
            name="uq_validation_import",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    passport_id: int = Field(foreign_key="passport.id", index=True)
    skill_code: str = Field(foreign_key="skill.code", max_length=32)
    level: int
    method: Method = Field(sa_type=METHOD_TYPE)
    evidence: str | None = Field(default=None, max_length=1000)
    observed_on: date
    # A mediator's validation has an account and a structure; a self-assessment has neither.
    account_id: int | None = Field(default=None, foreign_key="account.id", ondelete="SET NULL")
    structure_id: int | None = Field(default=None, foreign_key="structure.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=TZ)
    idempotency_key: str | None = Field(default=None, max_length=100)
    # Recorded on the mediator's device while offline, sent later: when the device recorded it
    # (the client's clock). ``created_at`` is when it reached the server; ``observed_on`` is the
    # day the mediator gave.
    recorded_offline_at: datetime | None = Field(default=None, sa_type=TZ)
    # sha256 of the route, the passport and the canonical request body sent with the key: a
    # retry is the same request only if it matches (app.passports.service.request_fingerprint).
    request_hash: str | None = Field(default=None, max_length=64)
    withdrawn_at: datetime | None = Field(default=None, sa_type=TZ)
    withdrawn_by_account_id: int | None = Field(
        default=None, foreign_key="account.id", ondelete="SET NULL"
    )
    withdrawal_reason: str | None = Field(default=None, max_length=500)
    # Provenance of an imported validation: the issuer, its credential id and structure name.
    source_issuer: str | None = Field(default=None, max_length=300)
    source_credential_id: str | None = Field(default=None, max_length=64)
    source_structure: str | None = Field(default=None, max_length=250)


class AccessGrant(SQLModel, table=True):
    """A structure of another territory may see this passport, by the citizen's choice."""

    __tablename__ = "passport_access_grant"

    id: int | None = Field(default=None, primary_key=True)
    passport_id: int = Field(foreign_key="passport.id", index=True)
    structure_id: int = Field(foreign_key="structure.id", index=True)
    granted_at: datetime = Field(default_factory=utcnow, sa_type=TZ)
    granted_by_account_id: int | None = Field(
        default=None, foreign_key="account.id", ondelete="SET NULL"
    )
    revoked_at: datetime | None = Field(default=None, sa_type=TZ)


class AccessLog(SQLModel, table=True):
    """Who read or changed a passport, and when: what the citizen sees of their own journal."""

    __tablename__ = "passport_access_log"

    id: int | None = Field(default=None, primary_key=True)
    passport_id: int = Field(foreign_key="passport.id", index=True)
    at: datetime = Field(default_factory=utcnow, sa_type=TZ)
    action: str = Field(max_length=40)  # read, validation.created, card.printed, …
    actor_kind: str = Field(max_length=16)  # mediator, admin, citizen
    account_id: int | None = Field(default=None, foreign_key="account.id", ondelete="SET NULL")
    structure_id: int | None = Field(default=None, foreign_key="structure.id")
    request_id: str | None = Field(default=None, max_length=64)
    # Repeated reads by the same reader, nothing else journaled in between, are one entry: how
    # many, and when the latest was (None: only one). Changes are always one entry each.
    count: int = Field(default=1, sa_column_kwargs={"server_default": sa.text("1")})
    last_at: datetime | None = Field(default=None, sa_type=TZ)


class CitizenSession(HashedSecret, table=True):
    """A citizen signed in with their passport number and access code (cookie `pn_citizen`)."""

    __tablename__ = "citizen_session"

    passport_id: int = Field(foreign_key="passport.id", index=True)
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=TZ)
    revoked_at: datetime | None = Field(default=None, sa_type=TZ)


class CitizenLink(HashedSecret, table=True):
    """A one-time sign-in link sent to a citizen who has an e-mail address."""

    __tablename__ = "citizen_link"

    passport_id: int = Field(foreign_key="passport.id", index=True)
    used_at: datetime | None = Field(default=None, sa_type=TZ)
