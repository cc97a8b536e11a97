"""Passports for mediators, and the citizen's own space."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request, Response, status
from pydantic import BaseModel, Field

from app.accounts.authn import CITIZEN_COOKIE, client_address, set_session_cookie
from app.accounts.principal import Principal
from app.api.deps import EngineDep, SessionDep, SettingsDep, VerifierDep
from app.authz import CITIZEN, PASSPORT_READ, PASSPORT_WRITE, PUBLIC, TERRITORY_ADMIN, authorize
from app.core.changes import TRUST
from app.core.db import transaction
from app.core.responses import FastJSONResponse
from app.core.time import utcnow
from app.core.validation import Email, NoNul, UtcDateTime
from app.core.validation import Id as EntityId
from app.credentials import format as fmt
from app.passports import citizen, imports, service
from app.passports.models import AccessGrant, Passport
from app.passports.schemas import (
    PassportCreate,
    PassportCreated,
    PassportSummary,
    PassportView,
    SkillCode,
    ValidationCreate,
    ValidationPublic,
    Withdrawal,
)

router = APIRouter(tags=["passports"])

Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
IdempotencyKey = Annotated[
    str | None,
    NoNul,
    Header(alias="Idempotency-Key", min_length=8, max_length=100, pattern=r"^[\x21-\x7e]+$"),
]


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
    structure_id: EntityId
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


def _view_response(request: Request, session: SessionDep, passport: Passport) -> Response:
    """The passport's view, serialised once per change of the passport (service.ViewCache)."""
    revision = request.app.state.change_feed.version(TRUST)
    body = service.VIEWS.get(passport, revision)
    if body is None:
        body = FastJSONResponse.dumps(service.view(session, passport))
        service.VIEWS.put(passport, revision, body)
    return Response(body, media_type="application/json")


def _grant_public(access: AccessGrant) -> GrantPublic:
    return GrantPublic.model_validate(access, from_attributes=True)


# --- mediators -----------------------------------------------------------------------------------


@router.post(
    "/passports",
    response_model=PassportCreated,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"description": "A replay with the same Idempotency-Key: the passport, no code"}
    },
)
def open_passport(
    data: PassportCreate,
    principal: Annotated[Principal, authorize(PASSPORT_WRITE)],
    session: SessionDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Open a passport, with the citizen's consent; the access code is in this answer only.
    Send an Idempotency-Key to retry safely (the offline queue of the mediator's page does)."""
    opened = service.open_passport(session, principal, data, idempotency_key)
    body = PassportCreated(
        **service.summary(session, opened.passport).model_dump(), access_code=opened.access_code
    ).model_dump(mode="json")
    if opened.replayed:
        return FastJSONResponse(body, headers={"Idempotent-Replayed": "true"})
    return FastJSONResponse(body, status_code=status.HTTP_201_CREATED)


@router.get("/passports", response_model=list[PassportSummary])
def find_passports(
    principal: Annotated[Principal, authorize(PASSPORT_READ)],
    session: SessionDep,
    q: Annotated[str | None, NoNul, Query(max_length=100)] = None,
    birth_year: Annotated[int | None, Query(ge=1900, le=2100)] = None,
) -> list[PassportSummary]:
    """Search the passports of one's territory by name, number or birth year."""
    found = service.find(session, principal, text=q, birth_year=birth_year)
    return [service.summary(session, p) for p in found]


@router.get("/passports/{passport_id}", response_model=PassportView)
def read_passport(
    request: Request,
    passport_id: Id,
    principal: Annotated[Principal, authorize(PASSPORT_READ)],
    session: SessionDep,
    engine: EngineDep,
) -> Response:
    """The passport: levels by competence, Premiers pas, history. The read is journaled
    (repeated views by the same reader are one entry of the journal, with a count)."""
    passport = service.load(session, principal, passport_id)
    service.READS.record(engine, principal, passport_id, "passport.read")
    return _view_response(request, session, passport)


@router.post(
    "/passports/{passport_id}/validations",
    response_model=ValidationPublic,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "A retry with the same Idempotency-Key: the first answer"}},
)
def record_validation(
    passport_id: Id,
    data: ValidationCreate,
    principal: Annotated[Principal, authorize(PASSPORT_WRITE)],
    session: SessionDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Record what the citizen was seen doing. Send an Idempotency-Key to retry safely."""
    # Locked from the first read: one statement fewer than locking it again afterwards.
    passport = service.load(session, principal, passport_id, lock=True)
    validation, created = service.record_validation(
        session, principal, passport, data, idempotency_key, locked=True
    )
    body = service.validation_public(session, validation.id or 0).model_dump()
    if not created:
        return FastJSONResponse(body, headers={"Idempotent-Replayed": "true"})
    return FastJSONResponse(body, status_code=status.HTTP_201_CREATED)


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


@router.post(
    "/passports/{passport_id}/imports",
    response_model=ImportResult,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "Imported before: nothing new was added"}},
)
def import_credential(
    passport_id: Id,
    data: ImportRequest,
    principal: Annotated[Principal, authorize(PASSPORT_WRITE)],
    session: SessionDep,
    verifier: VerifierDep,
    response: Response,
) -> ImportResult:
    """Take the skills of a credential verified here (another territory's, usually) into this
    passport, as validations that keep their provenance. Importing it again adds nothing."""
    passport = service.load(session, principal, passport_id)
    verdict, snapshot = verifier.verify(data.qr_text)
    issuer = snapshot.issuers.get(verdict.claims.iss) if verdict.claims else None
    done = imports.import_credential(
        session,
        principal,
        passport,
        verdict,
        issuer.name if issuer else None,
        snapshot.stale_since(verdict.claims.iss, utcnow()) if verdict.claims else None,
    )
    if not done.created:
        response.status_code = status.HTTP_200_OK
    session.flush()
    return ImportResult(
        issuer=done.issuer,
        territory=issuer.name if issuer else None,
        credential_id=done.credential_id,
        imported=[service.validation_public(session, v.id or 0) for v in done.created],
        already_imported=done.already,
        skipped=[ImportSkipped(code=c, reason=r) for c, r in done.skipped],
    )


@router.post(
    "/passports/{passport_id}/validations/{validation_id}/withdraw",
    response_model=ValidationPublic,
)
def withdraw_validation(
    passport_id: Id,
    validation_id: Id,
    data: Withdrawal,
    principal: Annotated[Principal, authorize(PASSPORT_WRITE)],
    session: SessionDep,
) -> ValidationPublic:
    """Withdraw a mistaken validation; it stays in the history, with the reason."""
    passport = service.load(session, principal, passport_id)
    service.withdraw(session, principal, passport, validation_id, data.reason)
    return service.validation_public(session, validation_id)


@router.post("/passports/{passport_id}/access-code", response_model=AccessCode)
def renew_access_code(
    passport_id: Id,
    principal: Annotated[Principal, authorize(PASSPORT_WRITE)],
    session: SessionDep,
) -> AccessCode:
    """Give the citizen a new access code; the old one stops working at once."""
    passport = service.load(session, principal, passport_id)
    service.ensure_holder(principal, passport)
    code = citizen.renew_code(session, principal, passport)
    return AccessCode(number=passport.number, access_code=code)


@router.get("/passports/{passport_id}/access-log", response_model=list[AccessLogEntry])
def passport_access_log(
    passport_id: Id,
    principal: Annotated[Principal, authorize(PASSPORT_READ)],
    session: SessionDep,
    engine: EngineDep,
) -> list[AccessLogEntry]:
    """Who read or changed this passport, and when (repeated reads: one entry, a count)."""
    passport = service.load(session, principal, passport_id)
    service.READS.record(engine, principal, passport_id, "access_log.read")
    return _log(session, passport)


@router.post(
    "/passports/{passport_id}/grants",
    response_model=GrantPublic,
    status_code=status.HTTP_201_CREATED,
)
def grant_access(
    passport_id: Id,
    data: GrantCreate,
    request: Request,
    principal: Annotated[Principal, authorize(PASSPORT_WRITE)],
    session: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
) -> GrantPublic:
    """Let a structure of another territory see this passport, the citizen present (their code)."""
    # Visibility first (404), then the code, both before this request's transaction is used: a
    # wrong code is counted and journaled in a transaction of its own (see citizen.check_code).
    with transaction(engine, write=False) as peek:
        number = service.load(peek, principal, passport_id).number
    citizen.check_code(engine, settings, number, data.access_code or "", client_address(request))
    passport = service.load(session, principal, passport_id)
    service.ensure_holder(principal, passport)
    return _grant_public(service.grant(session, principal, passport, data.structure_id))


@router.delete("/passports/{passport_id}/grants/{grant_id}", response_model=GrantPublic)
def revoke_access(
    passport_id: Id,
    grant_id: Id,
    principal: Annotated[Principal, authorize(PASSPORT_WRITE)],
    session: SessionDep,
) -> GrantPublic:
    """Stop sharing this passport with a structure of another territory."""
    passport = service.load(session, principal, passport_id)
    service.ensure_holder(principal, passport)
    return _grant_public(service.revoke_grant(session, principal, passport, grant_id))


@router.post("/passports/{passport_id}/merge", response_model=PassportSummary)
def merge_passports(
    passport_id: Id,
    data: MergeRequest,
    principal: Annotated[Principal, authorize(TERRITORY_ADMIN)],
    session: SessionDep,
) -> PassportSummary:
    """Fold a duplicate passport into this one, keeping every validation and the trace."""
    keep = service.load(session, principal, passport_id)
    absorb = service.load(session, principal, data.absorb_id)
    return service.summary(session, service.merge(session, principal, keep, absorb))


# --- the citizen ---------------------------------------------------------------------------------


def _log(session: SessionDep, passport: Passport) -> list[AccessLogEntry]:
    return [
        AccessLogEntry(
            at=entry.at,
            count=entry.count,
            last_at=entry.last_at,
            action=entry.action,
            actor_kind=entry.actor_kind,
            who=who,
            structure=where,
        )
        for entry, who, where in service.access_log(session, passport)
    ]


@router.post(
    "/citizen/login", response_model=CitizenLoginResponse, dependencies=[authorize(PUBLIC)]
)
def citizen_login(
    data: CitizenLoginRequest,
    request: Request,
    response: Response,
    session: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
) -> CitizenLoginResponse:
    """Sign in with the passport number and access code printed on the card."""
    passport_id = citizen.check_code(
        engine, settings, data.number, data.code, client_address(request)
    )
    return _sign_citizen_in(session, settings, response, passport_id, client_address(request))


def _sign_citizen_in(
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
    passport_id: int,
    address: str | None,
) -> CitizenLoginResponse:
    login = citizen.start_session(session, settings, passport_id, address)
    set_session_cookie(response, settings, login.token, name=CITIZEN_COOKIE)
    passport = service.get(session, passport_id)
    return CitizenLoginResponse(
        passport=service.summary(session, passport), csrf_token=login.csrf_token
    )


@router.post(
    "/citizen/link", status_code=status.HTTP_202_ACCEPTED, dependencies=[authorize(PUBLIC)]
)
def citizen_request_link(
    data: LinkRequest, session: SessionDep, settings: SettingsDep
) -> dict[str, str]:
    """Send a one-time sign-in link to a citizen's e-mail (the answer never says if it is known)."""
    citizen.send_link(session, settings, data.email)
    return {"status": "accepted"}


@router.post(
    "/citizen/link/login", response_model=CitizenLoginResponse, dependencies=[authorize(PUBLIC)]
)
def citizen_link_login(
    data: LinkLogin,
    request: Request,
    response: Response,
    session: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
) -> CitizenLoginResponse:
    """Sign in with the one-time link received by e-mail."""
    passport_id = citizen.check_link(engine, settings, data.token, client_address(request))
    citizen.use_link(session, data.token)
    return _sign_citizen_in(session, settings, response, passport_id, client_address(request))


@router.post("/citizen/logout", status_code=status.HTTP_204_NO_CONTENT)
def citizen_logout(
    principal: Annotated[Principal, authorize(CITIZEN)], response: Response, session: SessionDep
) -> None:
    """End the citizen's session."""
    citizen.logout(session, principal)
    response.delete_cookie(CITIZEN_COOKIE, path="/")


@router.get("/citizen/passport", response_model=PassportView)
def citizen_passport(
    request: Request,
    principal: Annotated[Principal, authorize(CITIZEN)],
    session: SessionDep,
    engine: EngineDep,
) -> Response:
    """My passport."""
    passport = service.load(session, principal, principal.passport_id or 0)
    assert passport.id is not None
    service.READS.record(engine, principal, passport.id, "passport.read")
    return _view_response(request, session, passport)


@router.post(
    "/citizen/self-assessments",
    response_model=ValidationPublic,
    status_code=status.HTTP_201_CREATED,
)
def citizen_self_assess(
    data: SelfAssessment, principal: Annotated[Principal, authorize(CITIZEN)], session: SessionDep
) -> ValidationPublic:
    """Say what I think I can do; shown apart from what mediators validated."""
    passport = service.load(session, principal, principal.passport_id or 0)
    validation = service.self_assess(session, principal, passport, data.skill_code, data.level)
    return service.validation_public(session, validation.id or 0)


@router.get("/citizen/access-log", response_model=list[AccessLogEntry])
def citizen_access_log(
    principal: Annotated[Principal, authorize(CITIZEN)], session: SessionDep
) -> list[AccessLogEntry]:
    """Who looked at or changed my passport, and when."""
    passport = service.load(session, principal, principal.passport_id or 0)
    return _log(session, passport)


@router.get("/citizen/grants", response_model=list[GrantPublic])
def citizen_grants(
    principal: Annotated[Principal, authorize(CITIZEN)], session: SessionDep
) -> list[GrantPublic]:
    """The structures of other territories I share my passport with."""
    passport = service.load(session, principal, principal.passport_id or 0)
    return [_grant_public(g) for g in service.active_grants(session, passport)]


@router.post("/citizen/grants", response_model=GrantPublic, status_code=status.HTTP_201_CREATED)
def citizen_grant(
    data: GrantCreate, principal: Annotated[Principal, authorize(CITIZEN)], session: SessionDep
) -> GrantPublic:
    """Share my passport with a structure of another territory."""
    passport = service.load(session, principal, principal.passport_id or 0)
    return _grant_public(service.grant(session, principal, passport, data.structure_id))


@router.delete("/citizen/grants/{grant_id}", response_model=GrantPublic)
def citizen_revoke(
    grant_id: Id, principal: Annotated[Principal, authorize(CITIZEN)], session: SessionDep
) -> GrantPublic:
    """Stop sharing my passport with a structure."""
    passport = service.load(session, principal, principal.passport_id or 0)
    return _grant_public(service.revoke_grant(session, principal, passport, grant_id))
