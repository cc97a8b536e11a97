"""Codes sent by e-mail: invitations and password resets."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app import authz
from app.accounts import security
from app.accounts.models import (
    Account,
    Invitation,
    PasswordReset,
)
from app.accounts.principal import Principal
from app.accounts.schemas import (
    InvitationCreate,
    InvitationPublic,
)
from app.accounts.service.accounts import (
    check_structures,
    create_account,
    get_account,
    get_visible_account,
    normalise_email,
    revoke_sessions,
)
from app.audit import service as audit
from app.core import addresses, mail, ratelimit
from app.core.db import transaction
from app.core.errors import (
    Conflict,
    Forbidden,
    NotFound,
)
from app.core.schemas import from_entity
from app.core.settings import Settings
from app.core.time import aware, utcnow
from app.territory.models import Territory

INVALID_CODE = "This code is not valid: it may be mistyped, used or expired."


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
    return from_entity(InvitationPublic, invitation, territory_code=territory.code)


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
    check_structures(session, territory.id, data.structure_ids)
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
    audit.record_on(session, "invitation.created", invitation, principal, role=data.role.value)
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
        audit.record_on(session, "invitation.revoked", invitation, principal)
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
    audit.record_on(
        session, "invitation.accepted", invitation, account, via=email_verified_by or "code"
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
    audit.record_on(session, "password_reset.created", account, actor_account_id)
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
    revoke_sessions(session, account.id)
    audit.record_on(session, "password_reset.completed", account, account)
    return account
