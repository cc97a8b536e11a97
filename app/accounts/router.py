"""Sign-in, sessions, API tokens, invitations, password resets and account administration."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, Response, status

from app.accounts import service
from app.accounts.authn import SESSION_COOKIE, client_address, set_session_cookie
from app.accounts.models import Invitation
from app.accounts.principal import Principal
from app.accounts.schemas import (
    AccountPublic,
    AccountUpdate,
    InvitationAccept,
    InvitationCreate,
    InvitationCreated,
    InvitationLookup,
    InvitationPublic,
    LoginRequest,
    LoginResponse,
    PasswordResetComplete,
    PasswordResetCreated,
    PasswordResetRequest,
    TokenCreate,
    TokenCreated,
    TokenPublic,
)
from app.api.deps import EngineDep, SessionDep, SettingsDep
from app.authz import (
    BROWSER_SESSION,
    PUBLIC,
    SIGNED_IN,
    TERRITORY_ADMIN,
    authorize,
)
from app.core.db import pk
from app.core.validation import Id, TerritoryCode
from app.territory import service as territories

router = APIRouter(tags=["accounts"])


@router.post("/auth/login", response_model=LoginResponse, dependencies=[authorize(PUBLIC)])
def login(
    data: LoginRequest,
    request: Request,
    response: Response,
    session: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
) -> LoginResponse:
    """Sign in with e-mail and password; sets the session cookie and returns the CSRF token."""
    address = client_address(request)
    account_id = service.authenticate(engine, settings, data.email, data.password, address)
    account = service.get_account(session, account_id)
    started = service.start_session(
        session, settings, account, method="password", address=address, password=data.password
    )
    set_session_cookie(response, settings, started.token)
    return LoginResponse(
        account=service.to_public(session, account),
        csrf_token=started.csrf_token,
        idle_timeout_seconds=settings.session_idle_minutes * 60,
        expires_at=started.web_session.expires_at,
    )


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(
    principal: Annotated[Principal, authorize(BROWSER_SESSION)],
    response: Response,
    session: SessionDep,
) -> None:
    """End this browser session."""
    service.logout(session, principal)
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.get("/auth/me", response_model=AccountPublic)
def me(principal: Annotated[Principal, authorize(SIGNED_IN)], session: SessionDep) -> AccountPublic:
    """The signed-in account."""
    assert principal.account_id is not None
    return service.to_public(session, service.get_account(session, principal.account_id))


@router.get("/auth/tokens", response_model=list[TokenPublic])
def list_tokens(
    principal: Annotated[Principal, authorize(SIGNED_IN)], session: SessionDep
) -> list[TokenPublic]:
    """One's personal access tokens (never the secrets)."""
    return [service.token_public(t) for t in service.list_tokens(session, principal)]


@router.post("/auth/tokens", response_model=TokenCreated, status_code=status.HTTP_201_CREATED)
def create_token(
    data: TokenCreate,
    principal: Annotated[Principal, authorize(BROWSER_SESSION)],
    session: SessionDep,
    settings: SettingsDep,
) -> TokenCreated:
    """Make a personal access token; the secret is in this answer only."""
    token, raw = service.create_token(session, settings, principal, data)
    return TokenCreated(**service.token_public(token).model_dump(), token=raw)


@router.delete("/auth/tokens/{token_id}", response_model=TokenPublic)
def revoke_token(
    token_id: Id, principal: Annotated[Principal, authorize(SIGNED_IN)], session: SessionDep
) -> TokenPublic:
    """Revoke one of one's tokens; it stops working at once."""
    return service.token_public(service.revoke_token(session, principal, token_id))


@router.post(
    "/auth/password-reset",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[authorize(PUBLIC)],
)
def request_password_reset(
    data: PasswordResetRequest, session: SessionDep, settings: SettingsDep
) -> dict[str, str]:
    """Send a reset code to this address if it has an account (the answer does not say)."""
    service.request_password_reset(session, settings, data.email)
    return {"status": "accepted"}


@router.post(
    "/auth/password-reset/complete", response_model=AccountPublic, dependencies=[authorize(PUBLIC)]
)
def complete_password_reset(
    data: PasswordResetComplete,
    request: Request,
    session: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
) -> AccountPublic:
    """Choose a new password with a reset code; every session of the account ends."""
    reset_id = service.check_reset_code(engine, settings, data.code, client_address(request))
    account = service.complete_password_reset(session, reset_id, data.password)
    return service.to_public(session, account)


@router.post(
    "/invitations/lookup", response_model=InvitationPublic, dependencies=[authorize(PUBLIC)]
)
def lookup_invitation(
    data: InvitationLookup,
    request: Request,
    session: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
) -> InvitationPublic:
    """What an invitation code is for (territory, role, e-mail), before accepting it."""
    invitation_id = service.check_invitation_code(
        engine, settings, data.code, client_address(request)
    )
    invitation = session.get(Invitation, invitation_id)
    assert invitation is not None
    return service.invitation_public(session, invitation)


@router.post(
    "/invitations/accept",
    response_model=AccountPublic,
    status_code=status.HTTP_201_CREATED,
    dependencies=[authorize(PUBLIC)],
)
def accept_invitation(
    data: InvitationAccept,
    request: Request,
    session: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
) -> AccountPublic:
    """Create one's account from an invitation code and a password."""
    invitation_id = service.check_invitation_code(
        engine, settings, data.code, client_address(request)
    )
    account = service.accept_invitation(
        session, invitation_id, password=data.password, display_name=data.display_name
    )
    return service.to_public(session, account)


@router.get("/territories/{code}/invitations", response_model=list[InvitationPublic])
def list_invitations(
    code: TerritoryCode,
    principal: Annotated[Principal, authorize(TERRITORY_ADMIN)],
    session: SessionDep,
) -> list[InvitationPublic]:
    """The territory's invitations, newest first."""
    territory = territories.get_administered(session, principal, code)
    return [
        service.invitation_public(session, i)
        for i in service.list_invitations(session, pk(territory))
    ]


@router.post(
    "/territories/{code}/invitations",
    response_model=InvitationCreated,
    status_code=status.HTTP_201_CREATED,
)
def create_invitation(
    code: TerritoryCode,
    data: InvitationCreate,
    principal: Annotated[Principal, authorize(TERRITORY_ADMIN)],
    session: SessionDep,
    settings: SettingsDep,
) -> InvitationCreated:
    """Invite a mediator or a coordinator; the code and link are in this answer only."""
    territory = territories.get_by_code(session, code)
    invitation, raw = service.create_invitation(session, settings, principal, territory, data)
    return InvitationCreated(
        **service.invitation_public(session, invitation).model_dump(),
        code=raw,
        link=service.link_for(settings, "invitation", raw),
    )


@router.delete("/invitations/{invitation_id}", response_model=InvitationPublic)
def revoke_invitation(
    invitation_id: Id,
    principal: Annotated[Principal, authorize(TERRITORY_ADMIN)],
    session: SessionDep,
) -> InvitationPublic:
    """Withdraw an invitation that was not accepted yet."""
    invitation = service.revoke_invitation(session, principal, invitation_id)
    return service.invitation_public(session, invitation)


@router.get("/territories/{code}/accounts", response_model=list[AccountPublic])
def list_accounts(
    code: TerritoryCode,
    principal: Annotated[Principal, authorize(TERRITORY_ADMIN)],
    session: SessionDep,
) -> list[AccountPublic]:
    """The territory's coordinators and mediators."""
    territory = territories.get_administered(session, principal, code)
    return [service.to_public(session, a) for a in service.list_accounts(session, pk(territory))]


@router.patch("/accounts/{account_id}", response_model=AccountPublic)
def update_account(
    account_id: Id,
    data: AccountUpdate,
    principal: Annotated[Principal, authorize(TERRITORY_ADMIN)],
    session: SessionDep,
) -> AccountPublic:
    """Change a member's name, role, structures, or disable them (signs them out)."""
    account = service.update_account(session, principal, account_id, data)
    return service.to_public(session, account)


@router.post("/accounts/{account_id}/departure", response_model=AccountPublic)
def end_membership(
    account_id: Id,
    principal: Annotated[Principal, authorize(TERRITORY_ADMIN)],
    session: SessionDep,
) -> AccountPublic:
    """A member leaves: memberships end, account disabled, sessions and tokens revoked."""
    account = service.end_membership(session, principal, account_id)
    return service.to_public(session, account)


@router.post(
    "/accounts/{account_id}/password-reset",
    response_model=PasswordResetCreated,
    status_code=status.HTTP_201_CREATED,
)
def admin_password_reset(
    account_id: Id,
    principal: Annotated[Principal, authorize(TERRITORY_ADMIN)],
    session: SessionDep,
    settings: SettingsDep,
) -> PasswordResetCreated:
    """Make a reset code for a member, to hand over in person; shown in this answer only."""
    reset, raw = service.admin_password_reset(session, settings, principal, account_id)
    return PasswordResetCreated(
        account_id=account_id,
        code=raw,
        link=service.link_for(settings, "reset", raw),
        expires_at=reset.expires_at,
    )
