"""Signing in with a password, and the browser sessions it opens."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import Session, select

from app.accounts import authn, security
from app.accounts.models import (
    Account,
    WebSession,
)
from app.accounts.principal import Principal
from app.accounts.service.accounts import normalise_email
from app.audit import service as audit
from app.core import ratelimit
from app.core.db import transaction
from app.core.errors import (
    Unauthenticated,
)
from app.core.settings import Settings
from app.core.time import aware, utcnow


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
            audit.record_on(
                session,
                "auth.account_locked",
                account,
                account,
                outcome="denied",
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
    audit.record_on(session, "auth.login", web, account, client_address=address, method=method)
    return StartedSession(
        web, raw, security.csrf_token(settings.secret_key.get_secret_value(), raw)
    )


def logout(session: Session, principal: Principal) -> None:
    web = authn.end_session(session, principal)
    if web is not None:
        audit.record_on(session, "auth.logout", web, principal)
