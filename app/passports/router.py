"""Passports for mediators, and the citizen's own space."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from sqlmodel import Session

from app.accounts.authn import CITIZEN_COOKIE, client_address, set_session_cookie
from app.accounts.principal import Principal
from app.api.deps import EngineDep, SessionDep, SettingsDep, VerifierDep, in_transaction
from app.authz import CITIZEN, PASSPORT_READ, PASSPORT_WRITE, PUBLIC, authorize
from app.core.changes import TRUST
from app.core.responses import FastJSONResponse
from app.core.validation import Id, NoNul
from app.passports import citizen, imports, service
from app.passports.deps import (
    AdminPassport,
    CitizenPassport,
    HeldPassport,
    PassportAccess,
    ReadPassport,
    WritePassport,
    in_passport_row_transaction,
    in_passport_transaction,
)
from app.passports.models import AccessGrant, Passport
from app.passports.schemas import (
    AccessCode,
    AccessLogEntry,
    CitizenLoginRequest,
    CitizenLoginResponse,
    GrantCreate,
    GrantPublic,
    ImportRequest,
    ImportResult,
    LinkLogin,
    LinkRequest,
    MergeRequest,
    PassportCreate,
    PassportCreated,
    PassportSummary,
    PassportView,
    SelfAssessment,
    ValidationCreate,
    ValidationPublic,
    Withdrawal,
)

router = APIRouter(tags=["passports"])

IdempotencyKey = Annotated[
    str | None,
    NoNul,
    Header(alias="Idempotency-Key", min_length=8, max_length=100, pattern=r"^[\x21-\x7e]+$"),
]


def _view_body(request: Request, session: Session, passport: Passport) -> bytes:
    """The passport's view, serialised once per change of the passport (service.ViewCache)."""
    revision = request.app.state.change_feed.version(TRUST)
    body = service.VIEWS.get(passport, revision)
    if body is None:
        body = FastJSONResponse.dumps(service.view(session, passport))
        service.VIEWS.put(passport, revision, body)
    return body


def _view_response(request: Request, session: Session, passport: Passport) -> Response:
    return Response(_view_body(request, session, passport), media_type="application/json")


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
async def read_passport(
    request: Request,
    passport_id: Id,
    principal: Annotated[Principal, authorize(PASSPORT_READ)],
    engine: EngineDep,
) -> Response:
    """The passport: levels by competence, Premiers pas, history. The read is journaled
    (repeated views by the same reader are one entry of the journal, with a count)."""
    revision = request.app.state.change_feed.version(TRUST)

    def cached(session: Session) -> bytes | None:
        return service.cached_view(session, principal, passport_id, revision)

    # The view served last time, unchanged, its read counted in memory: one SELECT, on the
    # event loop on SQLite (no threadpool hop), with no BEGIN/COMMIT round trips on PostgreSQL.
    body = await in_transaction(request, cached, write=False, on_loop=True, autocommit=True)
    if body is None:

        def work(session: Session, access: PassportAccess) -> bytes:
            service.READS.record(engine, principal, passport_id, "passport.read")
            return _view_body(request, session, access.passport)

        # One threadpool hop for the transaction (app.passports.deps.in_passport_transaction).
        body = await in_passport_transaction(request, principal, passport_id, work, write=False)
    return Response(body, media_type="application/json")


@router.post(
    "/passports/{passport_id}/validations",
    response_model=ValidationPublic,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "A retry with the same Idempotency-Key: the first answer"}},
)
async def record_validation(
    request: Request,
    passport_id: Id,
    data: ValidationCreate,
    principal: Annotated[Principal, authorize(PASSPORT_WRITE)],
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Record what the citizen was seen doing. Send an Idempotency-Key to retry safely."""

    # The skills' version, read before the transaction: the skill then comes from memory.
    skills_revision = request.app.state.change_feed.version(TRUST)

    def work(session: Session, passport: service.RecordingRow) -> tuple[dict[str, Any], bool]:
        recorded = service.record_validation(
            session,
            principal,
            passport,
            data,
            idempotency_key,
            locked=True,
            skills_revision=skills_revision,
        )
        return service.recorded_public(session, principal, recorded), recorded.created

    # The whole transaction on the event loop, no threadpool hop (app.api.deps.in_transaction):
    # on SQLite the one writer's place, and on PostgreSQL the passport's row lock, are held for
    # the work only, not for thread wake-ups. Locked from the first read, which reads the
    # structure named too: two statements fewer than reading them apart and locking afterwards;
    # a plain row, the recording needs no entity.
    body, created = await in_passport_row_transaction(
        request, principal, passport_id, data.structure_id, work
    )
    if not created:
        return FastJSONResponse(body, headers={"Idempotent-Replayed": "true"})
    return FastJSONResponse(body, status_code=status.HTTP_201_CREATED)


@router.post(
    "/passports/{passport_id}/imports",
    response_model=ImportResult,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "Imported before: nothing new was added"}},
)
def import_credential(
    data: ImportRequest,
    access: WritePassport,
    session: SessionDep,
    verifier: VerifierDep,
    response: Response,
) -> ImportResult:
    """Take the skills of a credential verified here (another territory's, usually) into this
    passport, as validations that keep their provenance. Importing it again adds nothing."""
    result = imports.import_qr(session, access.principal, access.passport, verifier, data.qr_text)
    if not result.imported:
        response.status_code = status.HTTP_200_OK
    return result


@router.post(
    "/passports/{passport_id}/validations/{validation_id}/withdraw",
    response_model=ValidationPublic,
)
def withdraw_validation(
    access: WritePassport, validation_id: Id, data: Withdrawal, session: SessionDep
) -> ValidationPublic:
    """Withdraw a mistaken validation; it stays in the history, with the reason."""
    service.withdraw(session, access.principal, access.passport, validation_id, data.reason)
    return service.validation_public(session, validation_id)


@router.post("/passports/{passport_id}/access-code", response_model=AccessCode)
def renew_access_code(access: HeldPassport, session: SessionDep) -> AccessCode:
    """Give the citizen a new access code; the old one stops working at once."""
    code = citizen.renew_code(session, access.principal, access.passport)
    return AccessCode(number=access.passport.number, access_code=code)


@router.get("/passports/{passport_id}/access-log", response_model=list[AccessLogEntry])
def passport_access_log(
    access: ReadPassport, session: SessionDep, engine: EngineDep
) -> list[AccessLogEntry]:
    """Who read or changed this passport, and when (repeated reads: one entry, a count)."""
    service.READS.record(engine, access.principal, access.passport_id, "access_log.read")
    return service.access_log(session, access.passport)


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
    # Not loaded by a dependency: the code is checked before this request's transaction is used
    # (see citizen.grant_with_code).
    access = citizen.grant_with_code(
        session,
        engine,
        settings,
        principal,
        passport_id,
        structure_id=data.structure_id,
        code=data.access_code or "",
        address=client_address(request),
    )
    return _grant_public(access)


@router.delete("/passports/{passport_id}/grants/{grant_id}", response_model=GrantPublic)
def revoke_access(access: HeldPassport, grant_id: Id, session: SessionDep) -> GrantPublic:
    """Stop sharing this passport with a structure of another territory."""
    return _grant_public(service.revoke_grant(session, access.principal, access.passport, grant_id))


@router.post("/passports/{passport_id}/merge", response_model=PassportSummary)
def merge_passports(
    data: MergeRequest, access: AdminPassport, session: SessionDep
) -> PassportSummary:
    """Fold a duplicate passport into this one, keeping every validation and the trace."""
    kept = service.merge(session, access.principal, access.passport, data.absorb_id)
    return service.summary(session, kept)


# --- the citizen ---------------------------------------------------------------------------------


class _CitizenSignIn:
    """What a citizen's sign-in takes besides its body: the code checks' engine and settings,
    the caller's address, and the route's session and response, where the session and its
    cookie are made."""

    def __init__(
        self,
        request: Request,
        response: Response,
        session: SessionDep,
        engine: EngineDep,
        settings: SettingsDep,
    ) -> None:
        self.session, self.response = session, response
        self.engine, self.settings = engine, settings
        self.address = client_address(request)

    def start(self, passport_id: int) -> CitizenLoginResponse:
        login = citizen.start_session(self.session, self.settings, passport_id, self.address)
        set_session_cookie(self.response, self.settings, login.token, name=CITIZEN_COOKIE)
        passport = service.get(self.session, passport_id)
        return CitizenLoginResponse(
            passport=service.summary(self.session, passport), csrf_token=login.csrf_token
        )


CitizenSignIn = Annotated[_CitizenSignIn, Depends()]


@router.post(
    "/citizen/login", response_model=CitizenLoginResponse, dependencies=[authorize(PUBLIC)]
)
def citizen_login(data: CitizenLoginRequest, sign_in: CitizenSignIn) -> CitizenLoginResponse:
    """Sign in with the passport number and access code printed on the card."""
    passport_id = citizen.check_code(
        sign_in.engine, sign_in.settings, data.number, data.code, sign_in.address
    )
    return sign_in.start(passport_id)


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
def citizen_link_login(data: LinkLogin, sign_in: CitizenSignIn) -> CitizenLoginResponse:
    """Sign in with the one-time link received by e-mail."""
    passport_id = citizen.check_link(sign_in.engine, sign_in.settings, data.token, sign_in.address)
    citizen.use_link(sign_in.session, data.token)
    return sign_in.start(passport_id)


@router.post("/citizen/logout", status_code=status.HTTP_204_NO_CONTENT)
def citizen_logout(
    principal: Annotated[Principal, authorize(CITIZEN)], response: Response, session: SessionDep
) -> None:
    """End the citizen's session."""
    citizen.logout(session, principal)
    response.delete_cookie(CITIZEN_COOKIE, path="/")


@router.get("/citizen/passport", response_model=PassportView)
def citizen_passport(
    request: Request, access: CitizenPassport, session: SessionDep, engine: EngineDep
) -> Response:
    """My passport."""
    service.READS.record(engine, access.principal, access.passport_id, "passport.read")
    return _view_response(request, session, access.passport)


@router.post(
    "/citizen/self-assessments",
    response_model=ValidationPublic,
    status_code=status.HTTP_201_CREATED,
)
def citizen_self_assess(
    data: SelfAssessment, access: CitizenPassport, session: SessionDep
) -> ValidationPublic:
    """Say what I think I can do; shown apart from what mediators validated."""
    validation = service.self_assess(
        session, access.principal, access.passport, data.skill_code, data.level
    )
    return service.validation_public(session, validation.id or 0)


@router.get("/citizen/access-log", response_model=list[AccessLogEntry])
def citizen_access_log(access: CitizenPassport, session: SessionDep) -> list[AccessLogEntry]:
    """Who looked at or changed my passport, and when."""
    return service.access_log(session, access.passport)


@router.get("/citizen/grants", response_model=list[GrantPublic])
def citizen_grants(access: CitizenPassport, session: SessionDep) -> list[GrantPublic]:
    """The structures of other territories I share my passport with."""
    return [_grant_public(g) for g in service.active_grants(session, access.passport)]


@router.post("/citizen/grants", response_model=GrantPublic, status_code=status.HTTP_201_CREATED)
def citizen_grant(data: GrantCreate, access: CitizenPassport, session: SessionDep) -> GrantPublic:
    """Share my passport with a structure of another territory."""
    return _grant_public(
        service.grant(session, access.principal, access.passport, data.structure_id)
    )


@router.delete("/citizen/grants/{grant_id}", response_model=GrantPublic)
def citizen_revoke(grant_id: Id, access: CitizenPassport, session: SessionDep) -> GrantPublic:
    """Stop sharing my passport with a structure."""
    return _grant_public(service.revoke_grant(session, access.principal, access.passport, grant_id))
