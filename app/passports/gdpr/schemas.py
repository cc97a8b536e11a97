"""The copy of everything held about a citizen, as the API publishes it (JSON)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel

from app.core.validation import UtcDateTime
from app.passports.models import Method
from app.passports.schemas import AccessLogEntry

EXPORT_FORMAT = "passeport-numerique/export/1"


class ExportedTerritory(BaseModel):
    code: str
    name: str


class PersonalData(BaseModel):
    first_name: str | None
    last_name: str | None
    birth_year: int | None
    commune_insee: str | None
    phone: str | None
    email: str | None


class ExportedPassport(BaseModel):
    number: str
    # The pseudonymous subject of the credentials issued from this passport.
    holder_id: str
    territory: ExportedTerritory
    opened_at: UtcDateTime
    last_activity_at: UtcDateTime
    access_code_set_at: UtcDateTime | None


class ConsentRecord(BaseModel):
    version: str
    given_at: UtcDateTime
    structure: str | None
    recorded_by: str | None


class ExportedValidation(BaseModel):
    skill_code: str
    skill_label_fr: str
    level: int
    method: Method
    evidence: str | None
    observed_on: date
    recorded_at: UtcDateTime
    mediator: str | None
    structure: str | None
    status: Literal["active", "withdrawn"]
    withdrawn_at: UtcDateTime | None
    withdrawal_reason: str | None
    source_issuer: str | None


class ExportedGrant(BaseModel):
    structure: str
    territory: str
    granted_at: UtcDateTime
    granted_by: str | None
    revoked_at: UtcDateTime | None


class ExportedAccess(AccessLogEntry):
    pass


class ExportedSession(BaseModel):
    signed_in_at: UtcDateTime
    last_seen_at: UtcDateTime
    expires_at: UtcDateTime
    ended_at: UtcDateTime | None


class ExportedSecurityEvent(BaseModel):
    at: UtcDateTime
    action: str
    outcome: str


class PassportExport(BaseModel):
    """Everything held about the citizen, secrets excepted (the access code exists only as a
    hash, and session tokens only as hashes: neither is the citizen's data, both are keys)."""

    format: str = EXPORT_FORMAT
    exported_at: UtcDateTime
    passport: ExportedPassport
    personal_data: PersonalData
    consent: ConsentRecord
    validations: list[ExportedValidation]
    access_grants: list[ExportedGrant]
    access_journal: list[ExportedAccess]
    sessions: list[ExportedSession]
    security_events: list[ExportedSecurityEvent]
