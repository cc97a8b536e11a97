"""What the credentials API takes and gives: issuance, revocation, verification, keys."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, model_validator

from app.core.validation import NoNul, UtcDateTime
from app.credentials import DEFAULT_VALIDITY_DAYS
from app.credentials import format as fmt
from app.passports.schemas import SkillCode
from app.wallet import sdjwt


class CredentialRequest(BaseModel):
    skills: list[SkillCode] = Field(min_length=1, max_length=fmt.MAX_SKILLS)
    validity_days: int = Field(default=DEFAULT_VALIDITY_DAYS, ge=1, le=3650)
    include_name: bool = False


class CredentialPublic(BaseModel):
    id: int
    jti: str
    code: str = Field(description="The short code to type on the issuer's site")
    skills: list[str]
    with_name: bool
    issued_at: UtcDateTime
    expires_at: UtcDateTime
    revoked_at: UtcDateTime | None
    qr_text: str | None = Field(description="The QR's content (PN1: and digits)")
    format: str = Field(default="pn1", description="pn1 (QR) or dc+sd-jwt (a wallet's copy)")


class CredentialIssued(CredentialPublic):
    qr_version: int = Field(description="QR version at error correction Q")
    warnings: list[str] = Field(
        description="`qr_dense`: above the version 22 the format is sized for; print the QR at "
        "least 6 cm wide, or issue fewer skills"
    )


class Revocation(BaseModel):
    reason: Annotated[str, Field(max_length=40, pattern=r"^[a-z_]{3,40}$"), NoNul] = (
        "holder_request"
    )


class VerifyRequest(BaseModel):
    qr_text: Annotated[str, Field(max_length=fmt.MAX_QR_TEXT + 100), NoNul] | None = None
    code: Annotated[str, Field(max_length=20), NoNul] | None = Field(
        default=None, description="The typed code, V-…"
    )
    presentation: Annotated[str, Field(max_length=sdjwt.MAX_PRESENTATION_CHARS), NoNul] | None = (
        Field(default=None, description="An SD-JWT VC presentation, <sd-jwt>~…~<kb-jwt>")
    )

    @model_validator(mode="after")
    def _one_of(self) -> VerifyRequest:
        if [self.qr_text, self.code, self.presentation].count(None) != 2:
            raise ValueError("send one of qr_text, code or presentation")
        return self


class VerifiedSkill(BaseModel):
    code: str
    label_fr: str | None
    label_en: str | None
    level: int
    date: str
    structure: str


# The verifier's answer as the API publishes it, made from a format.Outcome and the trust store
# (a comment, not a docstring: the OpenAPI document would show it).
class Verdict(BaseModel):
    result: str = Field(description="valid, or the reason it is not (docs/credential-format.md)")
    reason: str
    issuer: str | None = Field(default=None, description="Present when the signature holds")
    territory: str | None = None
    holder_name: str | None = None
    issued_at: int | None = None
    expires_at: int | None = None
    skills: list[VerifiedSkill] | None = None


class KeyPublic(BaseModel):
    kid: str
    state: str
    created_at: UtcDateTime
    rotated_at: UtcDateTime | None
    publish_until: UtcDateTime | None
    retired_at: UtcDateTime | None
