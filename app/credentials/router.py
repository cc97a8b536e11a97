"""Credentials: issuance and revocation (mediators, the citizen), status lists and verification."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, model_validator
from sqlmodel import Session

from app.accounts.principal import Principal
from app.api.deps import EngineDep, SessionDep, SettingsDep, VerifierDep, WriteSessionDep
from app.authz import CITIZEN, PASSPORT_READ, PASSPORT_WRITE, PUBLIC, authorize
from app.core.db import transaction
from app.core.errors import NotFound
from app.core.pdf import attachment_headers
from app.core.settings import Settings
from app.core.validation import NoNul, UtcDateTime
from app.credentials import format as fmt
from app.credentials import service
from app.credentials.models import Credential
from app.credentials.verifier import NeedsIO, describe
from app.observatory.tally import record_verification
from app.passports import numbers
from app.passports import service as passports
from app.passports.models import Passport
from app.territory import service as territories
from app.wallet import sdjwt
from app.wallet import verify as wallet_verify

router = APIRouter(tags=["credentials"])
public_router = APIRouter(tags=["credentials"])

Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
SkillCode = Annotated[str, Field(max_length=32), NoNul]


class CredentialRequest(BaseModel):
    skills: list[SkillCode] = Field(min_length=1, max_length=fmt.MAX_SKILLS)
    validity_days: int = Field(default=service.DEFAULT_VALIDITY_DAYS, ge=1, le=3650)
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


def _public(credential: Credential) -> CredentialPublic:
    return CredentialPublic(
        id=credential.id or 0,
        jti=credential.jti,
        code=credential.code,
        skills=list(credential.skill_codes),
        with_name=credential.with_name,
        issued_at=credential.issued_at,
        expires_at=credential.expires_at,
        revoked_at=credential.revoked_at,
        qr_text=credential.qr_text,
        format=credential.format,
    )


def _issue(
    session: Session,
    settings: Settings,
    principal: Principal,
    passport: Passport,
    data: CredentialRequest,
) -> CredentialIssued:
    issued = service.issue(
        session,
        settings,
        principal,
        passport,
        skill_codes=data.skills,
        validity_days=data.validity_days,
        with_name=data.include_name,
    )
    dense = issued.qr_version > fmt.TARGET_QR_VERSION
    return CredentialIssued(
        **_public(issued.credential).model_dump(),
        qr_version=issued.qr_version,
        warnings=["qr_dense"] if dense else [],
    )


def _attestation(session: Session, settings: Settings, credential: Credential) -> Response:
    return Response(
        service.attestation_pdf(session, settings, credential),
        media_type="application/pdf",
        headers=attachment_headers(f"attestation-{credential.code}.pdf"),
    )


@router.post(
    "/passports/{passport_id}/credentials",
    response_model=CredentialIssued,
    status_code=status.HTTP_201_CREATED,
)
def issue_for_citizen(
    passport_id: Id,
    data: CredentialRequest,
    principal: Annotated[Principal, authorize(PASSPORT_WRITE)],
    session: SessionDep,
    settings: SettingsDep,
) -> CredentialIssued:
    """Sign chosen skills of the passport into a QR credential (the holding territory signs)."""
    passport = passports.load(session, principal, passport_id)
    passports.ensure_holder(principal, passport)
    return _issue(session, settings, principal, passport, data)


@router.get("/passports/{passport_id}/credentials", response_model=list[CredentialPublic])
def list_credentials(
    passport_id: Id,
    principal: Annotated[Principal, authorize(PASSPORT_READ)],
    session: SessionDep,
) -> list[CredentialPublic]:
    """The passport's credentials, newest first."""
    passport = passports.load(session, principal, passport_id)
    passports.ensure_holder(principal, passport)
    return [_public(c) for c in service.list_for(session, passport)]


@router.post(
    "/passports/{passport_id}/credentials/{credential_id}/revoke",
    response_model=CredentialPublic,
)
def revoke_credential(
    passport_id: Id,
    credential_id: Id,
    data: Revocation,
    principal: Annotated[Principal, authorize(PASSPORT_WRITE)],
    session: SessionDep,
) -> CredentialPublic:
    """Revoke a credential: its bit flips in the published status list at once."""
    passport = passports.load(session, principal, passport_id)
    passports.ensure_holder(principal, passport)
    return _public(service.revoke(session, principal, passport, credential_id, data.reason))


@router.post(
    "/citizen/credentials", response_model=CredentialIssued, status_code=status.HTTP_201_CREATED
)
def citizen_issue(
    data: CredentialRequest,
    principal: Annotated[Principal, authorize(CITIZEN)],
    session: SessionDep,
    settings: SettingsDep,
) -> CredentialIssued:
    """Make a credential of my own, with the skills I choose."""
    passport = passports.load(session, principal, principal.passport_id or 0)
    return _issue(session, settings, principal, passport, data)


@router.get("/citizen/credentials", response_model=list[CredentialPublic])
def citizen_credentials(
    principal: Annotated[Principal, authorize(CITIZEN)], session: SessionDep
) -> list[CredentialPublic]:
    """My credentials."""
    passport = passports.load(session, principal, principal.passport_id or 0)
    return [_public(c) for c in service.list_for(session, passport)]


@router.post("/citizen/credentials/{credential_id}/revoke", response_model=CredentialPublic)
def citizen_revoke(
    credential_id: Id,
    data: Revocation,
    principal: Annotated[Principal, authorize(CITIZEN)],
    session: SessionDep,
) -> CredentialPublic:
    """Revoke one of my credentials."""
    passport = passports.load(session, principal, principal.passport_id or 0)
    return _public(service.revoke(session, principal, passport, credential_id, data.reason))


QrFormat = Annotated[str, NoNul, Path(max_length=3, pattern="^(svg|png)$")]


def _qr_image(credential: Credential, image: str) -> Response:
    if credential.qr_text is None:
        raise NotFound("This credential's QR was erased.", code="unknown_credential")
    if image == "svg":
        body: bytes = fmt.qr_svg(credential.qr_text).encode()
        media = "image/svg+xml"
    else:
        body = fmt.qr_png(credential.qr_text, box_size=8)
        media = "image/png"
    # The QR may carry the holder's name: never kept by shared caches.
    return Response(body, media_type=media, headers={"Cache-Control": "private, no-store"})


@router.get(
    "/passports/{passport_id}/credentials/{credential_id}/qr.{image}",
    responses={200: {"content": {"image/svg+xml": {}, "image/png": {}}}},
    response_class=Response,
)
def credential_qr(
    passport_id: Id,
    credential_id: Id,
    image: QrFormat,
    principal: Annotated[Principal, authorize(PASSPORT_READ)],
    session: SessionDep,
) -> Response:
    """The credential's QR code as SVG or PNG, to print or to show."""
    passport = passports.load(session, principal, passport_id)
    passports.ensure_holder(principal, passport)
    return _qr_image(service.get_for(session, passport, credential_id), image)


@router.get(
    "/citizen/credentials/{credential_id}/qr.{image}",
    responses={200: {"content": {"image/svg+xml": {}, "image/png": {}}}},
    response_class=Response,
)
def citizen_credential_qr(
    credential_id: Id,
    image: QrFormat,
    principal: Annotated[Principal, authorize(CITIZEN)],
    session: SessionDep,
) -> Response:
    """My credential's QR code, to show full screen."""
    passport = passports.load(session, principal, principal.passport_id or 0)
    return _qr_image(service.get_for(session, passport, credential_id), image)


PDF_RESPONSE: dict[int | str, dict[str, Any]] = {200: {"content": {"application/pdf": {}}}}


@router.get(
    "/passports/{passport_id}/credentials/{credential_id}/attestation.pdf",
    response_class=Response,
    responses=PDF_RESPONSE,
)
def credential_attestation(
    passport_id: Id,
    credential_id: Id,
    principal: Annotated[Principal, authorize(PASSPORT_READ)],
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """The printable attestation: the QR, the skills in plain words, the dates and the code."""
    passport = passports.load(session, principal, passport_id)
    passports.ensure_holder(principal, passport)
    return _attestation(session, settings, service.get_for(session, passport, credential_id))


@router.get(
    "/citizen/credentials/{credential_id}/attestation.pdf",
    response_class=Response,
    responses=PDF_RESPONSE,
)
def citizen_attestation(
    credential_id: Id,
    principal: Annotated[Principal, authorize(CITIZEN)],
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """My printable attestation."""
    passport = passports.load(session, principal, principal.passport_id or 0)
    return _attestation(session, settings, service.get_for(session, passport, credential_id))


class VerifiedSkill(BaseModel):
    code: str
    label_fr: str | None
    label_en: str | None
    level: int
    date: str
    structure: str


class Verdict(BaseModel):
    result: str = Field(description="valid, or the reason it is not (docs/credential-format.md)")
    reason: str
    issuer: str | None = Field(default=None, description="Present when the signature holds")
    territory: str | None = None
    holder_name: str | None = None
    issued_at: int | None = None
    expires_at: int | None = None
    skills: list[VerifiedSkill] | None = None


@router.post("/verify", dependencies=[authorize(PUBLIC)], responses={200: {"model": Verdict}})
async def verify(
    data: VerifyRequest, engine: EngineDep, verifier: VerifierDep, settings: SettingsDep
) -> Response:
    """Check a credential's QR text, typed code or wallet presentation: a verdict, and the
    (disclosed) skills when it is signed."""
    if data.presentation is not None:
        described = await run_in_threadpool(
            wallet_verify.verify, engine, settings, verifier, data.presentation
        )
        record_verification(described["result"], "wallet")
        return JSONResponse(described)

    channel = "qr" if data.qr_text is not None else "code"
    code = numbers.normalise_number(data.code or "", service.CODE_PREFIX)
    known = data.qr_text or (verifier.typed_codes.get(code) if code else None)
    if known is not None:
        try:
            # In steady state everything is in memory: no thread hop for a pure computation.
            described = describe(*verifier.verify(known, allow_io=False))
        except NeedsIO:
            pass
        else:
            record_verification(described["result"], channel)
            return JSONResponse(described)

    def run() -> dict[str, Any]:
        qr_text = data.qr_text
        if qr_text is None:
            revision = verifier.typed_codes.revision()
            with transaction(engine, write=False) as session:
                found = service.qr_text_for_code(session, data.code or "")
            if isinstance(found, fmt.Verdict):
                record_verification(found.result.value, "code")
                return describe(found, None)
            qr_text = found
            if code is not None:
                verifier.typed_codes.put(code, qr_text, revision)
        described = describe(*verifier.verify(qr_text))
        # Counted in memory, flushed now and then: the figures need no write per request.
        record_verification(described["result"], channel)
        return described

    # Built from our own plain values: returned as is, without a second serialisation pass,
    # since this is the route anyone may call as often as they like.
    return JSONResponse(await run_in_threadpool(run))


@public_router.get(
    "/t/{code}/status/{list_id}",
    dependencies=[authorize(PUBLIC)],
    responses={200: {"content": {"application/statuslist+jwt": {}}}},
)
def status_list(
    code: Annotated[str, NoNul, Path(max_length=40)],
    list_id: Annotated[int, Path(ge=1, le=1)],
    session: WriteSessionDep,
    settings: SettingsDep,
) -> Response:
    """The territory's revocation status list, as a signed statuslist+jwt (IETF draft)."""
    # A write session: the first use of a territory's signing key creates it.
    territory = territories.get_by_code(session, code)
    token = service.status_list_token(session, settings, territory)
    return Response(
        token,
        media_type="application/statuslist+jwt",
        headers={
            "Cache-Control": f"public, max-age={service.STATUS_TTL_SECONDS}",
            "Access-Control-Allow-Origin": "*",
        },
    )
