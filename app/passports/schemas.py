"""What the passport API takes and gives."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints, field_validator

from app.core.time import utcnow
from app.core.validation import Email, Id, NoNul, PastDate, PastDateTime, UtcDateTime
from app.credentials import format as fmt
from app.passports.models import Method

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), NoNul]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000), NoNul]
SkillCode = Annotated[str, StringConstraints(max_length=32), NoNul]
Phone = Annotated[str, StringConstraints(max_length=21, pattern=r"^\+?[0-9 .-]{6,20}$"), NoNul]

# The consent text a mediator reads to the citizen; its version is recorded with each passport.
CONSENT_VERSION = "2026-11"


class PassportCreate(BaseModel):
    first_name: Name
    last_name: Name
    birth_year: int | None = Field(default=None, ge=1900, le=2100)
    commune_insee: (
        Annotated[str, StringConstraints(max_length=5, pattern=r"^(?:\d{5}|2[AB]\d{3})$"), NoNul]
        | None
    ) = None
    phone: (
        Annotated[str, StringConstraints(max_length=21, pattern=r"^\+?[0-9 .-]{6,20}$"), NoNul]
        | None
    ) = None
    email: Email | None = None
    structure_id: Id = Field(description="Where the passport is opened")
    consent: bool = Field(description="The citizen agreed to the consent text, read to them")
    consent_version: Annotated[str, Field(max_length=20), NoNul] = CONSENT_VERSION
    # A likely duplicate (same name and birth year) is refused unless the mediator confirms.
    confirm_not_duplicate: bool = False
    recorded_offline_at: PastDateTime | None = Field(
        default=None,
        description="Opened on the mediator's device while offline (the consent step done "
        "there): when, by the device's clock. Journaled as opened offline.",
    )

    @field_validator("birth_year")
    @classmethod
    def _not_future(cls, year: int | None) -> int | None:
        if year is not None and year > utcnow().year:
            raise ValueError("a birth year cannot be in the future")
        return year


class PassportSummary(BaseModel):
    id: int
    number: str
    first_name: str | None
    last_name: str | None
    birth_year: int | None
    territory_code: str
    created_at: UtcDateTime


class PassportCreated(PassportSummary):
    access_code: str | None = Field(
        description="Shown once: printed on the access card. None in the answer to a replay "
        "(same Idempotency-Key): the code is not kept, print the card to make a new one"
    )


class ValidationCreate(BaseModel):
    skill_code: SkillCode
    level: int | None = Field(
        default=None, ge=1, le=8, description="Premiers pas skills carry theirs"
    )
    method: Method
    evidence: Text | None = None
    observed_on: PastDate = Field(
        description="1990-01-01 to tomorrow (UTC): docs/api.md, Input policy"
    )
    structure_id: Id
    recorded_offline_at: PastDateTime | None = Field(
        default=None,
        description="Recorded on the mediator's device while offline and sent later: when, by "
        "the device's clock. Journaled as recorded offline; the server keeps when it arrived.",
    )

    @field_validator("method")
    @classmethod
    def _mediator_methods(cls, method: Method) -> Method:
        if method in (Method.SELF_ASSESSMENT, Method.CREDENTIAL):
            raise ValueError("self-assessments and imports are recorded by their own routes")
        return method


class Withdrawal(BaseModel):
    reason: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=3, max_length=500), NoNul
    ]


class ValidationPublic(BaseModel):
    id: int
    skill_code: str
    skill_label_fr: str
    level: int
    method: Method
    evidence: str | None
    observed_on: date
    mediator_name: str | None
    structure_name: str | None
    created_at: UtcDateTime
    withdrawn_at: UtcDateTime | None
    withdrawal_reason: str | None
    source_issuer: str | None
    recorded_offline_at: UtcDateTime | None = None


class CompetenceLevel(BaseModel):
    code: str
    label_fr: str
    level: int
    since: date


class AreaView(BaseModel):
    code: str
    label_fr: str
    competences: list[CompetenceLevel]


class FirstStepView(BaseModel):
    code: str
    label_fr: str
    acquired_on: date | None


class PassportView(BaseModel):
    passport: PassportSummary
    areas: list[AreaView] = Field(description="Current level per CRCN competence, by domain")
    premiers_pas: list[FirstStepView]
    in_progress: list[str] = Field(description="Competences with only self-assessments so far")
    validations: list[ValidationPublic] = Field(description="The full history, newest first")
    self_assessments: list[ValidationPublic]


class SelfAssessment(BaseModel):
    skill_code: SkillCode
    level: int | None = Field(default=None, ge=1, le=8)


class MergeRequest(BaseModel):
    absorb_id: int = Field(ge=1, le=2**31 - 1, description="The duplicate to fold in")


class CitizenLoginRequest(BaseModel):
    number: Annotated[str, Field(max_length=20), NoNul]
    code: Annotated[str, Field(max_length=20), NoNul]


class LinkRequest(BaseModel):
    email: Email


class LinkLogin(BaseModel):
    token: Annotated[str, Field(min_length=20, max_length=100), NoNul]


class CitizenLoginResponse(BaseModel):
    passport: PassportSummary
    csrf_token: str


class AccessCode(BaseModel):
    number: str
    access_code: str


class GrantCreate(BaseModel):
    structure_id: Id
    # A mediator proves the citizen is present, and agrees, with the citizen's access code.
    access_code: Annotated[str, Field(max_length=20), NoNul] | None = None


class GrantPublic(BaseModel):
    id: int
    structure_id: int
    granted_at: UtcDateTime
    revoked_at: UtcDateTime | None


class AccessLogEntry(BaseModel):
    at: UtcDateTime
    # Repeated reads by the same reader: how many, and the latest (None when only one).
    count: int = 1
    last_at: UtcDateTime | None = None
    action: str
    actor_kind: str
    who: str | None
    structure: str | None


class ImportRequest(BaseModel):
    qr_text: Annotated[str, Field(max_length=fmt.MAX_QR_TEXT + 100), NoNul] = Field(
        description="The QR's content, PN1:…"
    )


class ImportSkipped(BaseModel):
    code: str
    reason: str = Field(
        description="`unknown_skill` (not in this instance's frameworks) or "
        "`level_mismatch` (a Premiers pas skill at another level than its own)"
    )


class ImportResult(BaseModel):
    issuer: str
    territory: str | None
    credential_id: str = Field(description="The credential's jti")
    imported: list[ValidationPublic]
    already_imported: list[str] = Field(description="Skills imported from it before")
    skipped: list[ImportSkipped]


class ExportFormat(StrEnum):
    JSON = "json"
    PDF = "pdf"


class CitizenErasure(BaseModel):
    confirm: bool = Field(description="True: the citizen confirms, having read what it means")


class CoordinatorErasure(BaseModel):
    # A reason from a list, not free text: the audit journal keeps it forever, and a sentence
    # typed here would often name the very person being erased.
    reason: Literal["request", "consent_withdrawn", "opened_by_mistake"] = Field(
        description="request: the citizen asked, in person or by letter"
    )


class ErasurePublic(BaseModel):
    erased_at: UtcDateTime
    validations_kept: int = Field(description="Kept without anything personal, for the figures")
