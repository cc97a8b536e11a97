"""Authentication: from a request's cookie or bearer token to a Principal.

Browser sessions live in `web_session` (the cookie holds a random token, the table its hash) and
end after `session_idle_minutes` without a request, or `session_max_hours` after sign-in. API
clients send `Authorization: Bearer pn_…` personal access tokens. A cookie-authenticated write must
carry the session's CSRF token in `X-CSRF-Token`; a bearer token needs none (browsers never attach
it by themselves).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from fastapi import Request, Response
from sqlalchemy import Engine
from sqlmodel import Session, select

from app.accounts.models import Account, ApiToken, Role, StructureMembership, WebSession
from app.accounts.principal import ANONYMOUS, CallerKind, Principal
from app.accounts.security import csrf_matches, token_hash
from app.audit import service as audit
from app.core.changes import ACCOUNT, ChangeFeed
from app.core.db import pk, transaction
from app.core.errors import Forbidden, Unauthenticated
from app.core.settings import Settings
from app.core.time import aware, utcnow
from app.passports.models import CitizenSession, Passport

SESSION_COOKIE = "pn_session"
CITIZEN_COOKIE = "pn_citizen"
CSRF_HEADER = "X-CSRF-Token"
TOKEN_PREFIX = "pn_"  # noqa: S105 (a prefix, not a secret)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# last_seen_at is written at most this often, not on every request.
TOUCH_EVERY = timedelta(seconds=60)


class _TokenRefused(Exception):
    def __init__(self, reason: str, account_id: int | None) -> None:
        self.reason = reason
        self.account_id = account_id


@dataclass(frozen=True)
class _Found:
    principal: Principal
    touch_session: int | None = None
    citizen: bool = False
    # A bearer token's expiry (for the cache).
    expires_at: datetime | None = None


def set_session_cookie(
    response: Response, settings: Settings, token: str, *, name: str = SESSION_COOKIE
) -> None:
    """A session cookie, the same for staff (password or SSO) and for citizens."""
    response.set_cookie(
        name,
        token,
        max_age=settings.session_max_hours * 3600,
        httponly=True,
        secure=settings.cookie_secure,
        samesite="lax",
        path="/",
    )


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


def _structure_ids(session: Session, account_id: int) -> frozenset[int]:
    rows = session.exec(
        select(StructureMembership.structure_id).where(StructureMembership.account_id == account_id)
    ).all()
    return frozenset(rows)


def _principal_for(
    session: Session,
    account: Account,
    *,
    address: str | None,
    session_id: int | None = None,
    token: ApiToken | None = None,
) -> Principal:
    return Principal(
        kind=CallerKind.ACCOUNT,
        account_id=pk(account),
        role=Role(account.role),
        territory_id=account.territory_id,
        structure_ids=_structure_ids(session, pk(account)),
        scopes=frozenset(token.scopes) if token else None,
        session_id=session_id,
        token_id=token.id if token else None,
        client_address=address,
        display_name=account.display_name,
    )


def _from_bearer(session: Session, raw: str, address: str | None) -> _Found:
    token = session.exec(select(ApiToken).where(ApiToken.token_hash == token_hash(raw))).first()
    now = utcnow()
    if token is None:
        raise _TokenRefused("unknown", None)
    if token.revoked_at is not None:
        raise _TokenRefused("revoked", token.account_id)
    if aware(token.expires_at) <= now:
        raise _TokenRefused("expired", token.account_id)
    account = session.get(Account, token.account_id)
    if account is None or not account.is_active:
        raise _TokenRefused("account_disabled", token.account_id)
    return _Found(
        _principal_for(session, account, address=address, token=token),
        expires_at=aware(token.expires_at),
    )


def _from_cookie(
    session: Session, raw: str, address: str | None, settings: Settings
) -> _Found | tuple[str, int | None]:
    """The session's principal, or why the cookie opens nothing (and whose it was)."""
    web = session.exec(select(WebSession).where(WebSession.token_hash == token_hash(raw))).first()
    now = utcnow()
    if web is None:
        return "unknown", None
    if web.revoked_at is not None:
        return "revoked", web.account_id
    idle_limit = aware(web.last_seen_at) + timedelta(minutes=settings.session_idle_minutes)
    if aware(web.expires_at) <= now:
        return "expired", web.account_id
    if idle_limit <= now:
        return "idle", web.account_id
    account = session.get(Account, web.account_id)
    if account is None or not account.is_active:
        return "account_disabled", web.account_id
    touch = web.id if now - aware(web.last_seen_at) >= TOUCH_EVERY else None
    return _Found(_principal_for(session, account, address=address, session_id=web.id), touch)


def _from_citizen_cookie(
    session: Session, raw: str, address: str | None, settings: Settings
) -> _Found | tuple[str, int | None]:
    web = session.exec(
        select(CitizenSession).where(CitizenSession.token_hash == token_hash(raw))
    ).first()
    now = utcnow()
    if web is None:
        return "unknown", None
    idle_limit = aware(web.last_seen_at) + timedelta(minutes=settings.session_idle_minutes)
    if web.revoked_at is not None or aware(web.expires_at) <= now or idle_limit <= now:
        return "ended", None
    passport = session.get(Passport, web.passport_id)
    if passport is None or not passport.is_live:
        return "passport_gone", None
    principal = Principal(
        kind=CallerKind.CITIZEN,
        passport_id=passport.id,
        territory_id=passport.territory_id,
        session_id=web.id,
        client_address=address,
    )
    touch = web.id if now - aware(web.last_seen_at) >= TOUCH_EVERY else None
    return _Found(principal, touch, citizen=True)


class BearerCache:
    """Principals of API tokens recently accepted, per process, so that a busy API client costs
    no authentication query per request.

    An entry holds while the change feed's ``account`` topic has not moved (a token revoked, its
    scopes or expiry changed, an account disabled or its role, territory or structures changed:
    the next request of any process sees it, app/core/changes.py), before the token's expiry, and
    for ``max_age`` seconds at most. Keyed by the token's hash, never the token.
    """

    def __init__(self, feed: ChangeFeed, max_age: float = 60.0, size: int = 10_000) -> None:
        self._feed = feed
        self._max_age = max_age
        self._size = size
        self._entries: dict[str, tuple[Principal, datetime, int, float]] = {}

    def revision(self) -> int:
        return self._feed.version(ACCOUNT)

    def get(self, hashed: str) -> Principal | None:
        entry = self._entries.get(hashed)
        if entry is None:
            return None
        principal, expires_at, revision, stored = entry
        if (
            revision != self._feed.version(ACCOUNT)
            or time.monotonic() - stored >= self._max_age
            or expires_at <= utcnow()
        ):
            self._entries.pop(hashed, None)
            return None
        return principal

    def put(self, hashed: str, principal: Principal, expires_at: datetime, revision: int) -> None:
        if revision != self._feed.version(ACCOUNT):
            return  # something changed while we looked it up: not kept
        if len(self._entries) >= self._size:
            self._entries.clear()
        self._entries[hashed] = (principal, expires_at, revision, time.monotonic())


def end_session(session: Session, principal: Principal) -> WebSession | CitizenSession | None:
    """Sign the caller out: their browser session, an account's or a citizen's, is revoked now.

    The row, or None when the caller came without one or it had already ended.
    """
    if principal.session_id is None:
        return None
    row: WebSession | CitizenSession | None
    if principal.kind is CallerKind.CITIZEN:
        row = session.get(CitizenSession, principal.session_id)
    else:
        row = session.get(WebSession, principal.session_id)
    if row is None or row.revoked_at is not None:
        return None
    row.revoked_at = utcnow()
    return row


def _bearer_raw(authorization: str) -> str:
    scheme, _, raw = authorization.partition(" ")
    if scheme.lower() != "bearer" or not raw.startswith(TOKEN_PREFIX) or len(raw) > 100:
        raise Unauthenticated(
            "Send an API token as `Authorization: Bearer pn_…`.",
            code="invalid_token",
            headers={"WWW-Authenticate": 'Bearer error="invalid_request"'},
        )
    return raw.strip()


def resolve_from_memory(request: Request) -> Principal | None:
    """The caller of a request with an API token this process accepted recently (BearerCache),
    with no I/O, so that the event loop can answer it; None when :func:`resolve` must run."""
    authorization = request.headers.get("authorization")
    cache: BearerCache | None = getattr(request.app.state, "bearer_cache", None)
    if not authorization or cache is None:
        return None
    scheme, _, raw = authorization.partition(" ")
    if scheme.lower() != "bearer" or not raw.startswith(TOKEN_PREFIX) or len(raw) > 100:
        return None  # resolve refuses it, with its problem
    known = cache.get(token_hash(raw.strip()))
    if known is None:
        return None
    return replace(known, client_address=client_address(request))


def resolve(request: Request, engine: Engine, settings: Settings) -> Principal:
    """The caller of this request; ANONYMOUS when it presents nothing valid."""
    address = client_address(request)
    authorization = request.headers.get("authorization", "")
    cookie = request.cookies.get(SESSION_COOKIE)
    citizen_cookie = request.cookies.get(CITIZEN_COOKIE)
    cache: BearerCache | None = getattr(request.app.state, "bearer_cache", None)
    hashed = revision = None
    if authorization:
        raw = _bearer_raw(authorization)
        if cache is not None:
            hashed = token_hash(raw)
            known = cache.get(hashed)
            if known is not None:
                return replace(known, client_address=address)
            revision = cache.revision()
    try:
        with transaction(engine, write=False) as session:
            if authorization:
                found: _Found | tuple[str, int | None] | None = _from_bearer(session, raw, address)
                if cache is not None and hashed is not None and revision is not None:
                    assert isinstance(found, _Found) and found.expires_at is not None
                    cache.put(hashed, found.principal, found.expires_at, revision)
            elif cookie:
                found = (
                    _from_cookie(session, cookie, address, settings)
                    if len(cookie) <= 100
                    else ("malformed", None)
                )
            elif citizen_cookie:
                found = (
                    _from_citizen_cookie(session, citizen_cookie, address, settings)
                    if len(citizen_cookie) <= 100
                    else ("malformed", None)
                )
                cookie = citizen_cookie
            else:
                found = None
    except _TokenRefused as refused:
        # Anyone can send made-up tokens: one counted row per address and window, not one each.
        audit.record_coalesced(
            engine,
            "auth.token_refused",
            actor_account_id=refused.account_id,
            client_address=address,
            reason=refused.reason,
        )
        raise Unauthenticated(
            "The API token is not valid (unknown, expired or revoked).",
            code="invalid_token",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        ) from None
    if found is None:
        return ANONYMOUS
    if isinstance(found, tuple):
        # A cookie that opens nothing: forged, or a session that ended. The caller is anonymous,
        # and the attempt is on record.
        reason, account_id = found
        audit.record_coalesced(
            engine,
            "auth.session_refused",
            actor_account_id=account_id,
            client_address=address,
            reason=reason,
        )
        return ANONYMOUS
    if found.touch_session is not None:
        with transaction(engine) as session:
            model = CitizenSession if found.citizen else WebSession
            web = session.get(model, found.touch_session)
            if web is not None:
                web.last_seen_at = utcnow()
    principal = found.principal
    if principal.via_cookie and request.method not in SAFE_METHODS:
        assert cookie is not None
        presented = request.headers.get(CSRF_HEADER)
        if not csrf_matches(settings.secret_key.get_secret_value(), cookie, presented):
            # One row per account, address and window, with a count: a signed-in page (or a
            # script with its cookie) cannot grow the journal by a row a request.
            audit.record_coalesced(
                engine,
                "auth.csrf_refused",
                actor_account_id=principal.account_id,
                territory_id=principal.territory_id,
                client_address=address,
                path=request.url.path,
                reason="csrf_token",
            )
            raise Forbidden(
                f"A signed-in browser must send the {CSRF_HEADER} header on every change.",
                code="csrf_failed",
            )
    return principal
