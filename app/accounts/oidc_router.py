"""Single sign-on routes (OpenID Connect), and the session details a browser needs afterwards."""

from __future__ import annotations

import threading
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse

from app.accounts import oidc, service
from app.accounts.authn import SESSION_COOKIE, client_address, set_session_cookie
from app.accounts.models import WebSession
from app.accounts.principal import Principal
from app.accounts.schemas import SessionPublic, SsoStatus
from app.accounts.security import csrf_token
from app.api.deps import EngineDep, SessionDep, SettingsDep
from app.authz import PUBLIC, SIGNED_IN, authorize
from app.core.db import transaction
from app.core.errors import NotFound
from app.core.settings import Settings
from app.core.time import aware
from app.core.validation import NoNul

router = APIRouter(tags=["accounts"])

# The state of the login this browser started; the callback must present the same one.
STATE_COOKIE = "pn_oidc_state"
CALLBACK_ROUTE = "oidc_callback"

_provider_lock = threading.Lock()

ShortText = Annotated[str | None, NoNul, Query(max_length=500)]


def get_provider(request: Request) -> oidc.OidcProvider:
    """The app's provider (its metadata and keys cached across requests); 404 when SSO is off."""
    settings: Settings = request.app.state.settings
    if not settings.oidc_enabled:
        raise NotFound("Single sign-on is not configured on this server.", code="sso_disabled")
    with _provider_lock:
        provider: oidc.OidcProvider | None = getattr(request.app.state, "oidc_provider", None)
        if provider is None:
            provider = oidc.OidcProvider(settings)
            request.app.state.oidc_provider = provider
    return provider


ProviderDep = Annotated[oidc.OidcProvider, Depends(get_provider)]


def _callback_path(request: Request) -> str:
    return str(request.app.url_path_for(CALLBACK_ROUTE))


def _redirect_uri(request: Request, settings: Settings) -> str:
    # Built from the configured public URL, not from the request's Host header: it must match
    # what is registered at the provider, whatever proxy the request came through.
    return settings.public_url + _callback_path(request)


@router.get("/auth/oidc", response_model=SsoStatus, dependencies=[authorize(PUBLIC)])
def sso_status(request: Request, settings: SettingsDep) -> SsoStatus:
    """Whether single sign-on is offered, and through which provider (for the sign-in page)."""
    login_url = str(request.app.url_path_for("oidc_login")) if settings.oidc_enabled else None
    return SsoStatus(
        enabled=settings.oidc_enabled,
        provider_name=settings.oidc_provider_name,
        login_url=login_url,
    )


@router.get(
    "/auth/oidc/login",
    name="oidc_login",
    status_code=303,
    response_class=RedirectResponse,
    dependencies=[authorize(PUBLIC)],
)
def oidc_login(
    request: Request,
    provider: ProviderDep,
    engine: EngineDep,
    settings: SettingsDep,
    return_to: ShortText = None,
) -> RedirectResponse:
    """Start signing in through the identity provider (a browser navigation, not an API call)."""
    start = oidc.begin_login(
        engine,
        provider,
        redirect_uri=_redirect_uri(request, settings),
        return_to=return_to,
        address=client_address(request),
    )
    response = RedirectResponse(start.authorization_url, status_code=303)
    # Lax, so that the provider's redirect back (a top-level GET) carries it; scoped to the
    # callback, and gone when the login expires.
    response.set_cookie(
        STATE_COOKIE,
        start.state,
        max_age=int(oidc.LOGIN_TTL.total_seconds()),
        httponly=True,
        secure=settings.cookie_secure,
        samesite="lax",
        path=_callback_path(request),
    )
    return response


@router.get(
    "/auth/oidc/callback",
    name=CALLBACK_ROUTE,
    status_code=303,
    response_class=RedirectResponse,
    dependencies=[authorize(PUBLIC)],
)
def oidc_callback(
    request: Request,
    provider: ProviderDep,
    engine: EngineDep,
    settings: SettingsDep,
    code: Annotated[str | None, NoNul, Query(max_length=2048)] = None,
    state: ShortText = None,
    error: ShortText = None,
    error_description: Annotated[str | None, NoNul, Query(max_length=2000)] = None,
    iss: Annotated[str | None, NoNul, Query(max_length=2000)] = None,
) -> RedirectResponse:
    """Where the identity provider sends the browser back; signs in and redirects onwards."""
    address = client_address(request)
    verified = oidc.finish_login(
        engine,
        provider,
        oidc.Callback(
            code=code, state=state, error=error, error_description=error_description, iss=iss
        ),
        browser_state=request.cookies.get(STATE_COOKIE),
        redirect_uri=_redirect_uri(request, settings),
        address=address,
    )
    # A GET, so the request's own session would be a read-only one: this route writes (a
    # session, maybe an account) in a transaction of its own, opened only now that everything
    # is verified.
    with transaction(engine) as session:
        started = oidc.sign_in(session, settings, verified, address=address)
    response = RedirectResponse(settings.public_url + verified.return_to, status_code=303)
    set_session_cookie(response, settings, started.token)
    response.delete_cookie(
        STATE_COOKIE,
        path=_callback_path(request),
        httponly=True,
        secure=settings.cookie_secure,
        samesite="lax",
    )
    return response


@router.get("/auth/session", response_model=SessionPublic)
def current_session(
    principal: Annotated[Principal, authorize(SIGNED_IN)],
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
) -> SessionPublic:
    """The signed-in account and, for a browser session, its CSRF token (e.g. after SSO)."""
    assert principal.account_id is not None
    account = service.to_public(session, service.get_account(session, principal.account_id))
    if not principal.via_cookie:
        return SessionPublic(
            account=account,
            via="token",
            csrf_token=None,
            idle_timeout_seconds=None,
            expires_at=None,
        )
    cookie = request.cookies.get(SESSION_COOKIE)
    web = session.get(WebSession, principal.session_id)
    assert cookie is not None and web is not None
    return SessionPublic(
        account=account,
        via="session",
        csrf_token=csrf_token(settings.secret_key.get_secret_value(), cookie),
        idle_timeout_seconds=settings.session_idle_minutes * 60,
        expires_at=aware(web.expires_at),
    )
