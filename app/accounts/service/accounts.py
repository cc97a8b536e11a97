"""Accounts themselves: reading, creating and administering them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from app import authz
from app.accounts import security
from app.accounts.models import (
    Account,
    ApiToken,
    Role,
    StructureMembership,
    WebSession,
)
from app.accounts.principal import Principal
from app.accounts.schemas import (
    AccountPublic,
    AccountUpdate,
)
from app.audit import service as audit
from app.core.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
)
from app.core.time import aware, utcnow
from app.structures.models import Structure
from app.territory.models import Territory


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


def check_structures(session: Session, territory_id: int, structure_ids: list[int]) -> None:
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
        check_structures(session, territory_id, structure_ids or [])
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
    audit.record_on(session, "account.created", account, actor_account_id, role=role.value)
    return account


def revoke_sessions(session: Session, account_id: int) -> None:
    """End every browser session of an account (its password or role changed)."""
    now = utcnow()
    for web in session.exec(
        select(WebSession).where(
            WebSession.account_id == account_id, col(WebSession.revoked_at).is_(None)
        )
    ).all():
        web.revoked_at = now


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
            revoke_sessions(session, account.id)
    if data.structure_ids is not None:
        check_structures(session, account.territory_id, data.structure_ids)
        _set_memberships(session, account.id, data.structure_ids)
        changes["structure_ids"] = sorted(set(data.structure_ids))
    if changes:
        action = "account.role_changed" if "role" in changes else "account.updated"
        audit.record_on(session, action, account, principal, **changes)
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
    revoke_sessions(session, account.id)
    now = utcnow()
    tokens = session.exec(
        select(ApiToken).where(
            ApiToken.account_id == account.id, col(ApiToken.revoked_at).is_(None)
        )
    ).all()
    for token in tokens:
        token.revoked_at = now
    session.flush()
    audit.record_on(
        session,
        "account.membership_ended",
        account,
        principal,
        structure_ids=structure_ids,
        tokens_revoked=len(tokens),
    )
    return account


def last_session_expiry(web: WebSession) -> datetime:
    return aware(web.expires_at)
