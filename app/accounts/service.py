"""Accounts, sign-in, sessions, API tokens, invitations and password resets.

Secrets are checked *before* the request's transaction is used ("verify outside, act inside"):
a failed attempt is counted and journaled in a transaction of its own, which on SQLite must not
wait on the request's write lock, and which must survive the request's rollback.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app import authz
from app.accounts import security
from app.accounts.models import (
    Account,
    ApiToken,
    Invitation,
    PasswordReset,
    Role,
    StructureMembership,
    WebSession,
)
from app.accounts.principal import Principal
from app.accounts.schemas import (
    AccountPublic,
    AccountUpdate,
    InvitationCreate,
    InvitationPublic,
    TokenCreate,
    TokenPublic,
)
from app.audit import service as audit
from app.core import addresses, mail, ratelimit
from app.core.db import transaction
from app.core.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthenticated,
)
from app.core.settings import Settings
from app.core.time import aware, utcnow
from app.structures.models import Structure
from app.territory.models import Territory

INVALID_CODE = "This code is not valid: it may be mistyped, used or expired."


def normalise_email(email: str) -> str:
    return email.strip().lower()


# --- reading -------------------------------------------------------------------------------------


def to_public(session: Session, account: Account) -> AccountPublic:
    assert account.id is not None
    territory = session.get(Territory, account.territory_id) if account.territory_id else None
    structure_ids = session.exec(
        select(StructureMembership.structure_id)
        .where(StructureMembership.account_id == account.id)
        .order_by(col(StructureMembership.structure_id))
    ).all()
    return AccountPublic(
        id=account.id,
        email=account.email,
        display_name=account.display_name,
        role=account.role,
        territory_code=territory.code if territory else None,
        structure_ids=list(structure_ids),
        is_active=account.is_active,
        has_password=account.password_hash is not None,
        created_at=account.created_at,
        last_login_at=account.last_login_at,
    )


def get_account(session: Session, account_id: int) -> Account:
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound("No such account.", code="unknown_account")
    return account


def get_visible_account(session: Session, principal: Principal, account_id: int) -> Account:
    account = session.get(Account, account_id)
    if account is None or (account.territory_id is None and not principal.is_platform_admin):
        raise NotFound("No such account.", code="unknown_account")
    if account.territory_id is not None:
        authz.ensure_visible(principal, account.territory_id)
    return account


def list_accounts(session: Session, territory_id: int) -> Sequence[Account]:
    return session.exec(
        select(Account).where(Account.territory_id == territory_id).order_by(col(Account.id))
    ).all()


# --- creating ------------------------------------------------------------------------------------


def _check_structures(session: Session, territory_id: int, structure_ids: list[int]) -> None:
    if not structure_ids:
        return
    found = session.exec(
        select(Structure.id).where(
            col(Structure.id).in_(structure_ids), Structure.territory_id == territory_id
        )
    ).all()
    missing = sorted(set(structure_ids) - set(found))
    if missing:
        raise InvalidInput(
            f"Unknown structures in this territory: {', '.join(map(str, missing))}.",
            code="unknown_structure",
        )


def _set_memberships(session: Session, account_id: int, structure_ids: list[int]) -> None:
    for existing in session.exec(
        select(StructureMembership).where(StructureMembership.account_id == account_id)
    ).all():
        session.delete(existing)
    session.flush()
    for structure_id in sorted(set(structure_ids)):
        session.add(StructureMembership(account_id=account_id, structure_id=structure_id))


def create_account(
    session: Session,
    *,
    email: str,
    display_name: str,
    role: Role,
    territory_id: int | None,
    password: str | None,
    structure_ids: list[int] | None = None,
    actor_account_id: int | None = None,
) -> Account:
    email = normalise_email(email)
    if session.exec(select(Account).where(Account.email == email)).first() is not None:
        raise Conflict("An account already uses this e-mail address.", code="email_taken")
    if role is not Role.PLATFORM_ADMIN and territory_id is None:
        raise InvalidInput("This role belongs to a territory.", code="territory_required")
    if territory_id is not None:
        _check_structures(session, territory_id, structure_ids or [])
    account = Account(
        email=email,
        display_name=display_name,
        role=role,
        territory_id=None if role is Role.PLATFORM_ADMIN else territory_id,
        password_hash=security.hash_password(password) if password else None,
    )
    session.add(account)
    session.flush()
    assert account.id is not None
    _set_memberships(session, account.id, structure_ids or [])
    audit.record(
        session,
        "account.created",
        actor_account_id=actor_account_id,
        territory_id=account.territory_id,
        target_type="account",
        target_id=account.id,
        role=role.value,
    )
    return account


# --- sign-in -------------------------------------------------------------------------------------


def _login_window(settings: Settings) -> timedelta:
    return timedelta(minutes=settings.login_lockout_minutes)


def _reserve_login(
    engine: Engine, settings: Settings, account_id: int, address: str | None
) -> bool:
    """Count a password guess on the account before it is checked, under the account's row lock.

    Guesses sent at once queue on the lock: the one that reaches the limit locks the account,
    and those after it are refused unchecked (429). True when this guess set the lock; a right
    password lifts it again (start_session). Refusals are journaled by the caller.
    """
    now = utcnow()
    with transaction(engine) as session:
        account = session.get(Account, account_id, with_for_update=True)
        if account is None:
            return False
        locked_until = aware(account.locked_until) if account.locked_until else None
        if locked_until is None or locked_until <= now:
            account.failed_logins += 1
            if account.failed_logins < settings.login_max_failures:
                return False
            account.locked_until = now + _login_window(settings)
            account.failed_logins = 0
            return True
    # Knocking on a locked account again and again: one counted row per address and window.
    audit.record_coalesced(
        engine,
        "auth.login_refused",
        actor_account_id=account_id,
        client_address=address,
        reason="locked",
    )
    raise ratelimit.refusal(
        max(1, math.ceil((locked_until - utcnow()).total_seconds())),
        code="account_locked",
        what=" on this account",
    )


def _record_login_failure(
    engine: Engine,
    settings: Settings,
    account_id: int | None,
    address: str | None,
    reason: str,
    *,
    locked: bool,
) -> None:
    with transaction(engine) as session:
        account = session.get(Account, account_id) if account_id else None
        territory_id = account.territory_id if account else None
        if locked and account is not None:
            audit.record(
                session,
                "auth.account_locked",
                outcome="denied",
                actor_account_id=account.id,
                territory_id=territory_id,
                target_type="account",
                target_id=account.id,
                client_address=address,
                minutes=settings.login_lockout_minutes,
            )
        audit.record(
            session,
            "auth.login_failed",
            outcome="failure",
            actor_account_id=account_id,
            territory_id=territory_id,
            client_address=address,
            reason=reason,
        )


def authenticate(
    engine: Engine, settings: Settings, email: str, password: str, address: str | None
) -> int:
    """The id of the account these credentials open, or a refusal (401, or 429 when guessing).

    Each guess is counted before it is checked, per address and per account, and given back
    when right: parallel guesses cannot slip past the limit (app.core.ratelimit).
    """
    ip_key = f"login:ip:{address}"
    ratelimit.attempt(
        engine, ip_key, limit=settings.ip_max_failures, window=_login_window(settings)
    )
    with transaction(engine, write=False) as session:
        account = session.exec(
            select(Account).where(Account.email == normalise_email(email))
        ).first()
        account_id = account.id if account else None
        active = bool(account and account.is_active)
        password_hash = account.password_hash if account else None
    locked = (
        _reserve_login(engine, settings, account_id, address) if account_id is not None else False
    )
    # Always verify a hash, even for an unknown e-mail, so timing tells nothing.
    valid = security.verify_password(password_hash, password)
    if not valid or not active or account_id is None:
        reason = (
            "unknown_email"
            if account_id is None
            else ("disabled" if not active else "wrong_password")
        )
        _record_login_failure(engine, settings, account_id, address, reason, locked=locked)
        raise Unauthenticated("Wrong e-mail or password.", code="invalid_credentials")
    ratelimit.succeeded(engine, ip_key)
    return account_id


@dataclass
class StartedSession:
    web_session: WebSession
    token: str
    csrf_token: str


def start_session(
    session: Session,
    settings: Settings,
    account: Account,
    *,
    method: str,
    address: str | None,
    password: str | None = None,
) -> StartedSession:
    """Open a browser session for an authenticated account (password or SSO).

    A successful sign-in by any method clears the failure count and a lockout: the lock stops
    password guessing, and whoever passed SSO has proven who they are.
    """
    assert account.id is not None
    now = utcnow()
    account.failed_logins = 0
    account.locked_until = None
    account.last_login_at = now
    if password and account.password_hash and security.needs_rehash(account.password_hash):
        account.password_hash = security.hash_password(password)
    raw = security.new_token()
    web = WebSession(
        token_hash=security.token_hash(raw),
        account_id=account.id,
        method=method,
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=settings.session_max_hours),
    )
    session.add(web)
    session.flush()
    audit.record(
        session,
        "auth.login",
        actor_account_id=account.id,
        territory_id=account.territory_id,
        target_type="web_session",
        target_id=web.id,
        client_address=address,
        method=method,
    )
    return StartedSession(
        web, raw, security.csrf_token(settings.secret_key.get_secret_value(), raw)
    )


def logout(session: Session, principal: Principal) -> None:
    if principal.session_id is None:
        return
    web = session.get(WebSession, principal.session_id)
    if web is not None and web.revoked_at is None:
        web.revoked_at = utcnow()
        audit.record(
            session,
            "auth.logout",
            actor_account_id=principal.account_id,
            territory_id=principal.territory_id,
            target_type="web_session",
            target_id=web.id,
        )


def _revoke_sessions(session: Session, account_id: int) -> None:
    now = utcnow()
    for web in session.exec(
        select(WebSession).where(
            WebSession.account_id == account_id, col(WebSession.revoked_at).is_(None)
        )
    ).all():
        web.revoked_at = now


# --- API tokens ----------------------------------------------------------------------------------


def token_public(token: ApiToken) -> TokenPublic:
    return TokenPublic.model_validate(token, from_attributes=True)


def create_token(
    session: Session, settings: Settings, principal: Principal, data: TokenCreate
) -> tuple[ApiToken, str]:
    assert principal.account_id is not None and principal.role is not None
    allowed = authz.ROLE_SCOPES[principal.role]
    unknown = sorted(set(data.scopes) - allowed)
    if unknown:
        raise InvalidInput(
            f"Scopes not available to your role: {', '.join(unknown)}.", code="invalid_scope"
        )
    if data.expires_in_days > settings.api_token_max_days:
        raise InvalidInput(
            f"A token lasts at most {settings.api_token_max_days} days.",
            code="token_too_long",
            max_days=settings.api_token_max_days,
        )
    raw = security.new_token("pn_")
    token = ApiToken(
        account_id=principal.account_id,
        name=data.name,
        token_hash=security.token_hash(raw),
        prefix=raw[:8],
        scopes=sorted(set(data.scopes)),
        expires_at=utcnow() + timedelta(days=data.expires_in_days),
    )
    session.add(token)
    session.flush()
    audit.record(
        session,
        "token.created",
        actor_account_id=principal.account_id,
        territory_id=principal.territory_id,
        target_type="api_token",
        target_id=token.id,
        scopes=token.scopes,
    )
    return token, raw


def list_tokens(session: Session, principal: Principal) -> Sequence[ApiToken]:
    return session.exec(
        select(ApiToken)
        .where(ApiToken.account_id == principal.account_id)
        .order_by(col(ApiToken.id).desc())
    ).all()


def revoke_token(session: Session, principal: Principal, token_id: int) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None or token.account_id != principal.account_id:
        raise NotFound("No such token.", code="unknown_token")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record(
            session,
            "token.revoked",
            actor_account_id=principal.account_id,
            territory_id=principal.territory_id,
            target_type="api_token",
            target_id=token.id,
        )
    return token


# --- codes: invitations and password resets ------------------------------------------------------


def _code_window(settings: Settings) -> timedelta:
    return timedelta(minutes=settings.login_lockout_minutes)


def _guard_code(engine: Engine, settings: Settings, address: str | None) -> None:
    """Count the guess before it is checked (app.core.ratelimit); _code_right gives it back."""
    ratelimit.attempt(
        engine,
        f"code:ip:{address}",
        limit=settings.login_max_failures * 2,
        window=_code_window(settings),
    )


def _code_right(engine: Engine, address: str | None) -> None:
    ratelimit.succeeded(engine, f"code:ip:{address}")


def _code_failed(engine: Engine, settings: Settings, address: str | None, action: str) -> None:
    audit.record_now(
        engine, action, outcome="failure", client_address=address, reason="invalid_code"
    )


def link_for(settings: Settings, kind: str, code: str) -> str:
    # In the fragment, so the code never reaches a server log or a Referer header.
    if kind == "invitation":
        return addresses.account_invitation(settings.public_url, code)
    return addresses.account_reset(settings.public_url, code)


def invitation_public(session: Session, invitation: Invitation) -> InvitationPublic:
    assert invitation.id is not None
    territory = session.get(Territory, invitation.territory_id)
    assert territory is not None
    return InvitationPublic(
        id=invitation.id,
        email=invitation.email,
        display_name=invitation.display_name,
        role=invitation.role,
        territory_code=territory.code,
        structure_ids=list(invitation.structure_ids),
        created_at=invitation.created_at,
        expires_at=invitation.expires_at,
        accepted_at=invitation.accepted_at,
        revoked_at=invitation.revoked_at,
    )


def create_invitation(
    session: Session,
    settings: Settings,
    principal: Principal,
    territory: Territory,
    data: InvitationCreate,
) -> tuple[Invitation, str]:
    assert territory.id is not None
    authz.ensure_territory_admin(principal, territory.id)
    email = normalise_email(data.email)
    if session.exec(select(Account).where(Account.email == email)).first() is not None:
        raise Conflict("An account already uses this e-mail address.", code="email_taken")
    # One open invitation per address, across territories: it is what pre-authorises a first
    # SSO login, which must land in one territory and one role.
    if pending_invitation_for(session, email) is not None:
        raise Conflict(
            "An invitation for this address is still open; withdraw it first.",
            code="invitation_pending",
        )
    _check_structures(session, territory.id, data.structure_ids)
    code = security.new_code()
    invitation = Invitation(
        territory_id=territory.id,
        email=email,
        display_name=data.display_name,
        role=data.role,
        structure_ids=sorted(set(data.structure_ids)),
        token_hash=security.token_hash(code),
        created_by_id=principal.account_id,
        expires_at=utcnow() + timedelta(days=settings.invitation_days),
    )
    session.add(invitation)
    session.flush()
    audit.record(
        session,
        "invitation.created",
        actor_account_id=principal.account_id,
        territory_id=territory.id,
        target_type="invitation",
        target_id=invitation.id,
        role=data.role.value,
    )
    mail.send(
        settings,
        to=email,
        subject=f"Invitation à rejoindre Passeport numérique ({territory.name})",
        body=(
            f"Bonjour {data.display_name},\n\n"
            "Vous êtes invité(e) à rejoindre Passeport numérique.\n"
            f"Ouvrez ce lien : {link_for(settings, 'invitation', code)}\n"
            f"ou saisissez ce code : {code}\n"
        ),
    )
    return invitation, code


def list_invitations(session: Session, territory_id: int) -> Sequence[Invitation]:
    return session.exec(
        select(Invitation)
        .where(Invitation.territory_id == territory_id)
        .order_by(col(Invitation.id).desc())
    ).all()


def revoke_invitation(session: Session, principal: Principal, invitation_id: int) -> Invitation:
    invitation = session.get(Invitation, invitation_id)
    if invitation is None:
        raise NotFound("No such invitation.", code="unknown_invitation")
    authz.ensure_visible(principal, invitation.territory_id)
    authz.ensure_territory_admin(principal, invitation.territory_id)
    if invitation.accepted_at is not None:
        raise Conflict("This invitation was already accepted.", code="invitation_accepted")
    if invitation.revoked_at is None:
        invitation.revoked_at = utcnow()
        audit.record(
            session,
            "invitation.revoked",
            actor_account_id=principal.account_id,
            territory_id=invitation.territory_id,
            target_type="invitation",
            target_id=invitation.id,
        )
    return invitation


def _usable_invitation(session: Session, code: str) -> Invitation | None:
    invitation = session.exec(
        select(Invitation).where(
            Invitation.token_hash == security.token_hash(security.normalise_code(code))
        )
    ).first()
    if (
        invitation is None
        or invitation.accepted_at is not None
        or invitation.revoked_at is not None
        or aware(invitation.expires_at) <= utcnow()
    ):
        return None
    return invitation


def check_invitation_code(
    engine: Engine, settings: Settings, code: str, address: str | None
) -> int:
    """The id of the invitation this code opens; a wrong code is counted and journaled."""
    _guard_code(engine, settings, address)
    with transaction(engine, write=False) as session:
        invitation = _usable_invitation(session, code)
        invitation_id = invitation.id if invitation else None
    if invitation_id is None:
        _code_failed(engine, settings, address, "invitation.code_refused")
        raise NotFound(INVALID_CODE, code="invalid_code")
    _code_right(engine, address)
    return invitation_id


def accept_invitation(
    session: Session,
    invitation_id: int,
    *,
    password: str | None,
    display_name: str | None,
    email_verified_by: str | None = None,
) -> Account:
    """Turn an invitation into an account (by password, or by a first SSO login)."""
    invitation = session.get(Invitation, invitation_id, with_for_update=True)
    if (
        invitation is None
        or invitation.accepted_at is not None
        or invitation.revoked_at is not None
        or aware(invitation.expires_at) <= utcnow()
    ):
        raise NotFound(INVALID_CODE, code="invalid_code")
    account = create_account(
        session,
        email=invitation.email,
        display_name=display_name or invitation.display_name,
        role=invitation.role,
        territory_id=invitation.territory_id,
        password=password,
        structure_ids=list(invitation.structure_ids),
        actor_account_id=invitation.created_by_id,
    )
    invitation.accepted_at = utcnow()
    audit.record(
        session,
        "invitation.accepted",
        actor_account_id=account.id,
        territory_id=invitation.territory_id,
        target_type="invitation",
        target_id=invitation.id,
        via=email_verified_by or "code",
    )
    return account


def pending_invitation_for(session: Session, email: str) -> Invitation | None:
    """The open invitation for this address: what pre-authorises a first SSO login."""
    return session.exec(
        select(Invitation)
        .where(
            Invitation.email == normalise_email(email),
            col(Invitation.accepted_at).is_(None),
            col(Invitation.revoked_at).is_(None),
            col(Invitation.expires_at) > utcnow(),
        )
        .order_by(col(Invitation.id).desc())
    ).first()


def _new_reset(
    session: Session, settings: Settings, account: Account, actor_account_id: int | None
) -> tuple[PasswordReset, str]:
    assert account.id is not None
    code = security.new_code()
    reset = PasswordReset(
        account_id=account.id,
        token_hash=security.token_hash(code),
        expires_at=utcnow() + timedelta(minutes=settings.password_reset_minutes),
    )
    session.add(reset)
    session.flush()
    audit.record(
        session,
        "password_reset.created",
        actor_account_id=actor_account_id,
        territory_id=account.territory_id,
        target_type="account",
        target_id=account.id,
    )
    return reset, code


def request_password_reset(session: Session, settings: Settings, email: str) -> None:
    """Self-service: the code goes by mail (console in development); the answer never tells
    whether the address has an account."""
    account = session.exec(select(Account).where(Account.email == normalise_email(email))).first()
    if account is None or not account.is_active:
        return
    _, code = _new_reset(session, settings, account, actor_account_id=None)
    mail.send(
        settings,
        to=account.email,
        subject="Réinitialisation de votre mot de passe Passeport numérique",
        body=(
            f"Ouvrez ce lien : {link_for(settings, 'reset', code)}\nou saisissez ce code : {code}\n"
        ),
    )


def admin_password_reset(
    session: Session, settings: Settings, principal: Principal, account_id: int
) -> tuple[PasswordReset, str]:
    account = get_visible_account(session, principal, account_id)
    if account.territory_id is None:
        if not principal.is_platform_admin:
            raise Forbidden("Only platform admins may do this.", code="forbidden_role")
    else:
        authz.ensure_territory_admin(principal, account.territory_id)
    return _new_reset(session, settings, account, actor_account_id=principal.account_id)


def check_reset_code(engine: Engine, settings: Settings, code: str, address: str | None) -> int:
    _guard_code(engine, settings, address)
    with transaction(engine, write=False) as session:
        reset = session.exec(
            select(PasswordReset).where(
                PasswordReset.token_hash == security.token_hash(security.normalise_code(code))
            )
        ).first()
        usable = reset is not None and reset.used_at is None and aware(reset.expires_at) > utcnow()
        reset_id = reset.id if reset is not None and usable else None
    if reset_id is None:
        _code_failed(engine, settings, address, "password_reset.code_refused")
        raise NotFound(INVALID_CODE, code="invalid_code")
    _code_right(engine, address)
    return reset_id


def complete_password_reset(session: Session, reset_id: int, password: str) -> Account:
    reset = session.get(PasswordReset, reset_id, with_for_update=True)
    if reset is None or reset.used_at is not None:
        raise NotFound(INVALID_CODE, code="invalid_code")
    account = get_account(session, reset.account_id)
    reset.used_at = utcnow()
    account.password_hash = security.hash_password(password)
    account.failed_logins = 0
    account.locked_until = None
    # Whoever knew the old password is signed out everywhere.
    assert account.id is not None
    _revoke_sessions(session, account.id)
    audit.record(
        session,
        "password_reset.completed",
        actor_account_id=account.id,
        territory_id=account.territory_id,
        target_type="account",
        target_id=account.id,
    )
    return account


# --- administration ------------------------------------------------------------------------------


def update_account(
    session: Session, principal: Principal, account_id: int, data: AccountUpdate
) -> Account:
    account = get_visible_account(session, principal, account_id)
    if account.territory_id is None or account.role is Role.PLATFORM_ADMIN:
        raise Forbidden("Platform admins are managed from the command line.", code="forbidden_role")
    authz.ensure_territory_admin(principal, account.territory_id)
    assert account.id is not None
    if account.id == principal.account_id and (data.role is not None or data.is_active is False):
        raise Forbidden("You cannot change your own role or disable yourself.", code="self_change")
    if data.role is Role.PLATFORM_ADMIN:
        raise InvalidInput(
            "Platform admins are made with `passeport admin create`.", code="invalid_role"
        )
    changes: dict[str, Any] = {}
    if data.display_name is not None and data.display_name != account.display_name:
        account.display_name = data.display_name
        changes["display_name"] = True
    if data.role is not None and data.role != account.role:
        changes["role"] = [account.role.value, data.role.value]
        account.role = data.role
    if data.is_active is not None and data.is_active != account.is_active:
        account.is_active = data.is_active
        changes["is_active"] = data.is_active
        if not data.is_active:
            _revoke_sessions(session, account.id)
    if data.structure_ids is not None:
        _check_structures(session, account.territory_id, data.structure_ids)
        _set_memberships(session, account.id, data.structure_ids)
        changes["structure_ids"] = sorted(set(data.structure_ids))
    if changes:
        action = "account.role_changed" if "role" in changes else "account.updated"
        audit.record(
            session,
            action,
            actor_account_id=principal.account_id,
            territory_id=account.territory_id,
            target_type="account",
            target_id=account.id,
            **changes,
        )
    return account


def end_membership(session: Session, principal: Principal, account_id: int) -> Account:
    """A member leaves the territory: every structure membership ends (the name leaves the
    public pages), the account is disabled, its sessions and API tokens are revoked (the change
    feed's ``account`` topic tells every process's token cache), and the journal names the
    coordinator who did it. The validations they recorded stay with their places."""
    account = get_visible_account(session, principal, account_id)
    if account.territory_id is None or account.role is Role.PLATFORM_ADMIN:
        raise Forbidden("Platform admins are managed from the command line.", code="forbidden_role")
    authz.ensure_territory_admin(principal, account.territory_id)
    assert account.id is not None
    if account.id == principal.account_id:
        raise Forbidden("You cannot change your own role or disable yourself.", code="self_change")
    memberships = session.exec(
        select(StructureMembership).where(StructureMembership.account_id == account.id)
    ).all()
    structure_ids = sorted(m.structure_id for m in memberships)
    for membership in memberships:
        session.delete(membership)
    account.is_active = False
    _revoke_sessions(session, account.id)
    now = utcnow()
    tokens = session.exec(
        select(ApiToken).where(
            ApiToken.account_id == account.id, col(ApiToken.revoked_at).is_(None)
        )
    ).all()
    for token in tokens:
        token.revoked_at = now
    session.flush()
    audit.record(
        session,
        "account.membership_ended",
        actor_account_id=principal.account_id,
        territory_id=account.territory_id,
        target_type="account",
        target_id=account.id,
        structure_ids=structure_ids,
        tokens_revoked=len(tokens),
    )
    return account


def last_session_expiry(web: WebSession) -> datetime:
    return aware(web.expires_at)
