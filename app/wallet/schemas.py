"""What the wallet routes accept and answer (the OpenID4VCI documents are built in router.py)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from app.core.validation import NoNul, UtcDateTime
from app.credentials import format as fmt

SkillCode = Annotated[str, Field(max_length=32), NoNul]
# Bounded: a proof JWT is a few hundred characters.
ProofJwt = Annotated[str, Field(min_length=1, max_length=8000), NoNul]


class OfferRequest(BaseModel):
    # Strict, as a consent should be: "yes" or an unknown field is refused, not guessed at.
    model_config = ConfigDict(extra="forbid")

    skills: list[SkillCode] = Field(min_length=1, max_length=fmt.MAX_SKILLS)
    include_name: StrictBool = False


class OfferPublic(BaseModel):
    id: int
    offer_uri: str = Field(description="openid-credential-offer://?credential_offer=… (by value)")
    credential_offer: dict[str, object]
    qr_svg: str = Field(description="The offer URI as a QR code (SVG), for the wallet's camera")
    tx_code: str = Field(description="The PIN (6 digits), to show apart from the QR")
    expires_at: UtcDateTime
    skills: list[str]
    with_name: bool


class Proofs(BaseModel):
    jwt: list[ProofJwt] = Field(min_length=1, max_length=1)


class Proof(BaseModel):
    proof_type: Annotated[str, Field(max_length=20), NoNul]
    jwt: ProofJwt


class CredentialRequest(BaseModel):
    """OpenID4VCI 1.0 credential request; ``proof`` (drafts) is read as one ``proofs.jwt``."""

    credential_configuration_id: Annotated[str, Field(max_length=100), NoNul] | None = None
    proofs: Proofs | None = None
    proof: Proof | None = None


class NonceResponse(BaseModel):
    nonce: str
    audience: str = Field(description="What the key-binding JWT's aud must be")
    expires_at: UtcDateTime
