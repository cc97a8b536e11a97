"""Single sign-on with OpenID Connect: ProConnect, or any standard provider, from settings alone.

The authorization code flow, with every check a relying party owes:

1. :func:`begin_login` draws a state, a nonce and a PKCE code verifier (S256), keeps them in
   ``oidc_login`` (the state only as a hash; ten minutes; single use) and gives the provider's
   authorization URL. The browser also keeps the state in a cookie, so that a callback URL
   opened in another browser (login CSRF, a leaked URL) is refused.
2. :func:`finish_login` consumes the state, exchanges the code with the verifier, verifies the
   ID token (signature against the provider's published keys, iss, aud, azp, exp, iat, nonce),
   reads the e-mail (from the ID token, else from userinfo) and decides: an active account with
   this verified e-mail, or a pending invitation for it (what pre-authorises a first login).
3. :func:`sign_in` acts on that decision in the caller's transaction: creates the account from
   the invitation if needed, and opens the browser session.

As in :mod:`app.accounts.service`, verification happens before any write transaction is open
("verify outside, act inside"): a refusal is journaled in a transaction of its own, which must
survive the request's failure and, on SQLite, must not queue behind the request's write lock.

The provider's discovery document and keys are cached in process memory; every call to the
provider has a timeout and a response size cap, and its failures become a 502, never a 500.
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import authlib.deprecate  # noqa: F401  (registers authlib's own warning filter before ours)
import httpx
from joserfc import jwt
from joserfc.errors import ClaimError, InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from sqlalchemy import Engine
from sqlmodel import Session, col, delete, select

from app.accounts import security, service
from app.accounts.models import Account, Role
from app.accounts.oidc_models import OidcLogin
from app.audit import service as audit
from app.core import ratelimit
from app.core.db import transaction
from app.core.errors import AppError
from app.core.settings import Settings
from app.core.time import aware, utcnow

# authlib 1.9 prefers the httpx2 fork and warns once at import when it falls back to httpx, which
# the project standardised on; the integration itself is unchanged. Silence that one warning so
# it does not land in every server's log.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="The httpx module is deprecated")
    from authlib.integrations.base_client.errors import OAuthError
    from authlib.integrations.httpx_client import OAuth2Client

logger = logging.getLogger("app.oidc")

LOGIN_TTL = timedelta(minutes=10)
STARTS_PER_ADDRESS = 100  # per LOGIN_TTL
# The discovery document and keys change rarely; keys rotate with overlap, and an unknown key id
# triggers one refetch (at most every KEYS_REFETCH_SECONDS, so forged tokens cannot make us
# hammer the provider).
METADATA_TTL_SECONDS = 3600.0
KEYS_REFETCH_SECONDS = 60.0
HTTP_TIMEOUT = httpx.Timeout(5.0)
MAX_RESPONSE_BYTES = 256 * 1024
# Clock skew tolerated on exp and iat.
LEEWAY_SECONDS = 60
# What we accept to verify ID tokens with: asymmetric algorithms only (no "none", no HMAC with a
# client secret that the provider's operators also hold).
SUPPORTED_ALGS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
WELL_KNOWN = "/.well-known/openid-configuration"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

DEFAULT_RETURN_TO = "/"
# A path on this site: one leading slash, never two, no backslash (browsers read "/\\" as "//")
# and no control characters (browsers drop tabs and newlines, so "/\t/evil" would become
# "//evil").
_RETURN_TO = re.compile(r"^/(?![/\\])[^\x00-\x1f\x7f\\]*$")


# --- refusals ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Kind:
    status: int
    outcome: str  # failure: the protocol failed; denied: it worked and the policy says no
    detail: str


REFUSALS: dict[str, _Kind] = {
    "oidc_state_invalid": _Kind(
        400,
        "failure",
        "This sign-in is unknown, already used or expired, or was started in another browser. "
        "Start again.",
    ),
    "oidc_provider_error": _Kind(401, "failure", "The identity provider did not sign you in."),
    "oidc_code_rejected": _Kind(
        401,
        "failure",
        "The identity provider refused the sign-in code (expired or already used). Start again.",
    ),
    "oidc_token_invalid": _Kind(
        401, "failure", "The identity provider's answer could not be verified."
    ),
    "oidc_nonce_mismatch": _Kind(
        401, "failure", "The identity provider's answer does not belong to this sign-in."
    ),
    "email_not_verified": _Kind(
        403, "denied", "The identity provider does not vouch for your e-mail address."
    ),
    "not_preauthorised": _Kind(
        403,
        "denied",
        "No account or invitation matches this e-mail address; ask your territory's "
        "coordinator for an invitation.",
    ),
    "account_disabled": _Kind(403, "denied", "This account is disabled."),
    "sso_role_refused": _Kind(
        403, "denied", "Platform admins sign in with their password, not through the SSO."
    ),
    "oidc_unavailable": _Kind(
        502, "failure", "The identity provider cannot be reached or misbehaves; try again later."
    ),
}


class Refusal(Exception):
    """Why a sign-in is refused: `code` is answered and journaled, `reason` and `details` are
    journaled only."""

    def __init__(self, code: str, reason: str, **details: Any) -> None:
        assert code in REFUSALS
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason
        self.details = details


def _refusal_error(code: str) -> AppError:
    kind = REFUSALS[code]
    return AppError(kind.detail, code=code, status=kind.status, title="Sign-in refused")


def _journal(engine: Engine, refused: Refusal, address: str | None) -> None:
    kind = REFUSALS[refused.code]
    if refused.code == "oidc_unavailable":
        logger.warning("identity provider unavailable", extra={"reason": refused.reason})
    audit.record_now(
        engine,
        "auth.login_failed" if kind.outcome == "failure" else "auth.login_refused",
        outcome=kind.outcome,
        client_address=address,
        method="oidc",
        reason=refused.code,
        cause=refused.reason,
        **refused.details,
    )


def _clip(value: object, limit: int = 100) -> str:
    """Provider-sent text for the journal: it comes through the browser, so bound it."""
    return str(value)[:limit]


# --- talking to the provider ---------------------------------------------------------------------


class ResponseTooLarge(httpx.TransportError):
    pass


class _CappedStream(httpx.SyncByteStream):
    def __init__(self, stream: httpx.SyncByteStream, limit: int) -> None:
        self._stream = stream
        self._limit = limit

    def __iter__(self) -> Iterator[bytes]:
        seen = 0
        for chunk in self._stream:
            seen += len(chunk)
            if seen > self._limit:
                raise ResponseTooLarge(f"response larger than {self._limit} bytes")
            yield chunk

    def close(self) -> None:
        self._stream.close()


class _CappedTransport(httpx.HTTPTransport):
    """Reads at most MAX_RESPONSE_BYTES of any answer: a provider cannot make us buffer more."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        assert isinstance(response.stream, httpx.SyncByteStream)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_CappedStream(response.stream, MAX_RESPONSE_BYTES),
            extensions=response.extensions,
        )


def _client_options() -> dict[str, Any]:
    return {"timeout": HTTP_TIMEOUT, "transport": _CappedTransport(), "follow_redirects": False}


def _http() -> httpx.Client:
    return httpx.Client(**_client_options())


def _checked_url(value: object, name: str) -> str:
    """An endpoint of the provider: https, or plain http on this machine (tests, development)."""
    if not isinstance(value, str) or len(value) > 2000:
        raise Refusal("oidc_unavailable", f"discovery: {name} missing")
    parts = urlsplit(value)
    if parts.scheme == "https" and parts.hostname:
        return value
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return value
    raise Refusal("oidc_unavailable", f"discovery: {name} is not an https URL")


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    signing_algs: tuple[str, ...]
    token_auth_method: str


def parse_metadata(discovery_url: str, document: object) -> ProviderMetadata:
    if not isinstance(document, dict):
        raise Refusal("oidc_unavailable", "discovery: not a JSON object")
    issuer = _checked_url(document.get("issuer"), "issuer")
    # OpenID Connect Discovery 1.0, section 4.3: the issuer is the URL the document was found
    # under. It is what the ID token's iss is checked against.
    if discovery_url.endswith(WELL_KNOWN) and issuer.rstrip("/") != discovery_url.removesuffix(
        WELL_KNOWN
    ).rstrip("/"):
        raise Refusal("oidc_unavailable", "discovery: issuer does not match its URL")
    methods = document.get("code_challenge_methods_supported")
    if isinstance(methods, list) and "S256" not in methods:
        raise Refusal("oidc_unavailable", "discovery: provider does not support PKCE S256")
    advertised = document.get("id_token_signing_alg_values_supported") or ["RS256"]
    algs = tuple(
        alg for alg in SUPPORTED_ALGS if isinstance(advertised, list) and alg in advertised
    )
    if not algs:
        raise Refusal("oidc_unavailable", "discovery: no supported ID token algorithm")
    # Client authentication at the token endpoint: the spec's default, basic, when offered.
    auth_methods = document.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    if not isinstance(auth_methods, list):
        auth_methods = []
    auth_method = next(
        (m for m in ("client_secret_basic", "client_secret_post") if m in auth_methods), None
    )
    if auth_method is None:
        raise Refusal("oidc_unavailable", "discovery: no client_secret authentication method")
    userinfo = document.get("userinfo_endpoint")
    return ProviderMetadata(
        issuer=issuer,
        authorization_endpoint=_checked_url(
            document.get("authorization_endpoint"), "authorization_endpoint"
        ),
        token_endpoint=_checked_url(document.get("token_endpoint"), "token_endpoint"),
        jwks_uri=_checked_url(document.get("jwks_uri"), "jwks_uri"),
        userinfo_endpoint=_checked_url(userinfo, "userinfo_endpoint") if userinfo else None,
        signing_algs=algs,
        token_auth_method=auth_method,
    )


def _get_json(url: str, what: str) -> object:
    try:
        with _http() as client:
            response = client.get(url, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise Refusal("oidc_unavailable", f"{what}: {type(exc).__name__}") from None
    if response.status_code != 200:
        raise Refusal("oidc_unavailable", f"{what}: HTTP {response.status_code}")
    try:
        return response.json()
    except ValueError:
        raise Refusal("oidc_unavailable", f"{what}: not JSON") from None


class OidcProvider:
    """The configured provider, with its discovery document and keys cached in memory.

    One per app; shared by the request threads, hence the lock (held while fetching, so that
    a cold cache costs the provider one request, not one per waiting request).
    """

    def __init__(self, settings: Settings) -> None:
        self.discovery_url = settings.oidc_discovery_url
        self.client_id = settings.oidc_client_id
        self.scopes = settings.oidc_scopes
        self.name = settings.oidc_provider_name
        self.require_email_verified = settings.oidc_require_email_verified
        self._client_secret = settings.oidc_client_secret
        self._lock = threading.Lock()
        self._metadata: ProviderMetadata | None = None
        self._metadata_at = 0.0
        self._keys: KeySet | None = None
        self._keys_at = 0.0

    def metadata(self) -> ProviderMetadata:
        with self._lock:
            now = time.monotonic()
            if self._metadata is None or now - self._metadata_at > METADATA_TTL_SECONDS:
                document = _get_json(self.discovery_url, "discovery")
                self._metadata = parse_metadata(self.discovery_url, document)
                self._metadata_at = now
                self._keys = None  # the key URL may have changed with the document
            return self._metadata

    def keys(self, *, refetch: bool = False) -> KeySet:
        metadata = self.metadata()
        with self._lock:
            now = time.monotonic()
            stale = self._keys is None or now - self._keys_at > METADATA_TTL_SECONDS
            if stale or (refetch and now - self._keys_at > KEYS_REFETCH_SECONDS):
                document = _get_json(metadata.jwks_uri, "jwks")
                keys = document.get("keys") if isinstance(document, dict) else None
                try:
                    if not isinstance(keys, list):
                        raise ValueError("no keys")
                    self._keys = KeySet.import_key_set({"keys": keys})
                except (JoseError, ValueError, TypeError, KeyError):
                    raise Refusal("oidc_unavailable", "jwks: not a usable key set") from None
                self._keys_at = now
            assert self._keys is not None
            return self._keys

    def decode(self, token: str) -> jwt.Token:
        """Check a JWT's signature with the provider's keys; claims are the caller's job."""
        algs = self.metadata().signing_algs
        try:
            try:
                return jwt.decode(token, self.keys(), algorithms=algs)
            except InvalidKeyIdError:
                # The provider may have rotated its keys since we fetched them.
                return jwt.decode(token, self.keys(refetch=True), algorithms=algs)
        except (JoseError, ValueError) as exc:
            raise Refusal("oidc_token_invalid", f"signature: {type(exc).__name__}") from None

    def oauth_client(self, redirect_uri: str) -> OAuth2Client:
        return OAuth2Client(
            client_id=self.client_id,
            client_secret=self._client_secret.get_secret_value(),
            token_endpoint_auth_method=self.metadata().token_auth_method,
            scope=self.scopes,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            **_client_options(),
        )


# --- 1. starting a login -------------------------------------------------------------------------


def safe_return_to(value: str | None) -> str:
    """Where to land after signing in: a path on this site, never another site."""
    if value and len(value) <= 500 and _RETURN_TO.match(value):
        return value
    return DEFAULT_RETURN_TO


@dataclass(frozen=True)
class LoginStart:
    authorization_url: str
    state: str


def begin_login(
    engine: Engine,
    provider: OidcProvider,
    *,
    redirect_uri: str,
    return_to: str | None,
    address: str | None,
) -> LoginStart:
    """Remember a new login attempt and give the provider's URL to send the browser to."""
    # Each start writes a row: bound what one address can make us store (a mediation centre's
    # shared connection stays far below this).
    key = f"oidc:start:{address}"
    ratelimit.attempt(engine, key, limit=STARTS_PER_ADDRESS, window=LOGIN_TTL)  # every start
    try:
        metadata = provider.metadata()
    except Refusal as refused:
        _journal(engine, refused, address)
        raise _refusal_error(refused.code) from None
    state = security.new_token()
    nonce = security.new_token()
    # RFC 7636: 43 to 128 characters; 64 bytes of randomness give 86.
    code_verifier = secrets.token_urlsafe(64)
    with provider.oauth_client(redirect_uri) as client:
        url, _ = client.create_authorization_url(
            metadata.authorization_endpoint, state=state, code_verifier=code_verifier, nonce=nonce
        )
    now = utcnow()
    with transaction(engine) as session:
        # Attempts that were never finished would otherwise pile up: each start sweeps them.
        session.exec(delete(OidcLogin).where(col(OidcLogin.expires_at) <= now))
        session.add(
            OidcLogin(
                state_hash=security.token_hash(state),
                nonce=nonce,
                code_verifier=code_verifier,
                return_to=safe_return_to(return_to),
                created_at=now,
                expires_at=now + LOGIN_TTL,
            )
        )
    return LoginStart(authorization_url=str(url), state=state)


# --- 2. finishing it -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Callback:
    """What the provider sent back through the browser (every field is the browser's word)."""

    code: str | None = None
    state: str | None = None
    error: str | None = None
    error_description: str | None = None
    iss: str | None = None


@dataclass(frozen=True)
class VerifiedLogin:
    """A verified identity and what it may open: an account, or an invitation to accept."""

    email: str
    subject: str
    display_name: str | None
    return_to: str
    account_id: int | None = None
    invitation_id: int | None = None


@dataclass(frozen=True)
class _Pending:
    nonce: str
    code_verifier: str
    return_to: str


def _consume_state(engine: Engine, state: str | None, browser_state: str | None) -> _Pending:
    if not state:
        raise Refusal("oidc_state_invalid", "state_missing")
    # The callback must come back to the browser that started the login; otherwise someone is
    # trying to sign this browser in with their own code (login CSRF) or replaying a URL.
    if not browser_state or not hmac.compare_digest(state.encode(), browser_state.encode()):
        raise Refusal("oidc_state_invalid", "other_browser")
    with transaction(engine) as session:
        login = session.exec(
            select(OidcLogin)
            .where(OidcLogin.state_hash == security.token_hash(state))
            .with_for_update()
        ).first()
        if login is None:
            reason = "state_unknown"
        elif login.used_at is not None:
            reason = "state_used"
        elif aware(login.expires_at) <= utcnow():
            reason = "state_expired"
        else:
            pending = _Pending(login.nonce, login.code_verifier, login.return_to)
            # Single use, and the secrets are of no further use: blank them now.
            login.used_at = utcnow()
            login.nonce = ""
            login.code_verifier = ""
            return pending
    raise Refusal("oidc_state_invalid", reason)


def _exchange_code(
    provider: OidcProvider, code: str, pending: _Pending, redirect_uri: str
) -> dict[str, Any]:
    metadata = provider.metadata()
    try:
        with provider.oauth_client(redirect_uri) as client:
            token = client.fetch_token(
                metadata.token_endpoint,
                grant_type="authorization_code",
                code=code,
                code_verifier=pending.code_verifier,
                redirect_uri=redirect_uri,
            )
    except OAuthError as exc:
        # invalid_grant: expired, used, or issued for another verifier or redirect URI.
        raise Refusal("oidc_code_rejected", _clip(exc.error)) from None
    except httpx.HTTPStatusError as exc:
        status = exc.response.status_code
        if 400 <= status < 500:
            raise Refusal("oidc_code_rejected", f"token: HTTP {status}") from None
        raise Refusal("oidc_unavailable", f"token: HTTP {status}") from None
    except (httpx.HTTPError, ValueError) as exc:
        raise Refusal("oidc_unavailable", f"token: {type(exc).__name__}") from None
    if not isinstance(token.get("id_token"), str):
        raise Refusal("oidc_token_invalid", "no id_token")
    return dict(token)


def verify_id_token(provider: OidcProvider, id_token: str, nonce: str) -> dict[str, Any]:
    """The ID token's claims, once signature, issuer, audience, times and nonce are checked."""
    metadata = provider.metadata()
    claims = provider.decode(id_token).claims
    registry = jwt.JWTClaimsRegistry(
        leeway=LEEWAY_SECONDS,
        iss={"essential": True, "value": metadata.issuer},
        aud={"essential": True, "value": provider.client_id},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
    )
    try:
        registry.validate(claims)
    except ClaimError as exc:
        raise Refusal("oidc_token_invalid", f"claim {exc.claim}") from None
    # OpenID Connect Core 3.1.3.7: with several audiences, azp names the one it was issued to.
    audience = claims["aud"]
    azp = claims.get("azp")
    if (isinstance(audience, list) and len(audience) > 1 and azp is None) or (
        azp is not None and azp != provider.client_id
    ):
        raise Refusal("oidc_token_invalid", "claim azp")
    # The nonce ties the token to the attempt this browser started: a token obtained for
    # another attempt (or injected) carries another nonce.
    presented = claims.get("nonce")
    if not isinstance(presented, str) or not hmac.compare_digest(
        presented.encode(), nonce.encode()
    ):
        raise Refusal("oidc_nonce_mismatch", "nonce")
    return claims


def _userinfo(provider: OidcProvider, access_token: object, subject: str) -> dict[str, Any]:
    """The userinfo claims (JSON, or a signed JWT as ProConnect sends), for the same subject."""
    metadata = provider.metadata()
    if metadata.userinfo_endpoint is None or not isinstance(access_token, str):
        return {}
    try:
        with _http() as client:
            response = client.get(
                metadata.userinfo_endpoint,
                headers={
                    "Authorization": f"Bearer {access_token}",
                    "Accept": "application/json, application/jwt",
                },
            )
    except httpx.HTTPError as exc:
        raise Refusal("oidc_unavailable", f"userinfo: {type(exc).__name__}") from None
    if response.status_code in (401, 403):
        raise Refusal("oidc_token_invalid", f"userinfo: HTTP {response.status_code}")
    if response.status_code != 200:
        raise Refusal("oidc_unavailable", f"userinfo: HTTP {response.status_code}")
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/jwt":
        claims: object = provider.decode(response.text.strip()).claims
        assert isinstance(claims, dict)
        # OpenID Connect Core 5.3.2: a signed answer should name its issuer and audience.
        registry = jwt.JWTClaimsRegistry(
            iss={"value": metadata.issuer}, aud={"value": provider.client_id}
        )
        try:
            registry.validate(claims)
        except ClaimError as exc:
            raise Refusal("oidc_token_invalid", f"userinfo claim {exc.claim}") from None
    else:
        try:
            claims = response.json()
        except ValueError:
            raise Refusal("oidc_unavailable", "userinfo: not JSON") from None
    if not isinstance(claims, dict):
        raise Refusal("oidc_unavailable", "userinfo: not an object")
    # Core 5.3.2: the userinfo sub must be the ID token's, or the answer is someone else's.
    if claims.get("sub") != subject:
        raise Refusal("oidc_token_invalid", "userinfo: other subject")
    return claims


def _display_name(claims: dict[str, Any]) -> str | None:
    name = claims.get("name")
    if not isinstance(name, str) or not name.strip():
        # ProConnect sends given_name and usual_name; others family_name.
        parts = [claims.get("given_name"), claims.get("usual_name") or claims.get("family_name")]
        name = " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())
    name = " ".join(name.split())[:200]
    return name or None


def _email(claims: dict[str, Any], *, require_verified: bool) -> str:
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email or len(email) > 320:
        raise Refusal("email_not_verified", "email_missing")
    email = service.normalise_email(email)
    # Some providers send the boolean as a string. A federation that vouches for every address
    # without sending the claim is trusted only when the operator says so (setting below).
    if require_verified and claims.get("email_verified") not in (True, "true"):
        raise Refusal("email_not_verified", "email_verified_false", email=email)
    return email


def _link(engine: Engine, email: str) -> tuple[int | None, int | None]:
    """The account this verified e-mail opens, or the invitation that pre-authorises it."""
    with transaction(engine, write=False) as session:
        account = session.exec(select(Account).where(Account.email == email)).first()
        if account is not None:
            assert account.id is not None
            who = {"actor_account_id": account.id, "territory_id": account.territory_id}
            if not account.is_active:
                raise Refusal("account_disabled", "account_disabled", **who)
            if account.role is Role.PLATFORM_ADMIN:
                raise Refusal("sso_role_refused", "platform_admin", **who)
            return account.id, None
        invitation = service.pending_invitation_for(session, email)
        if invitation is None:
            raise Refusal("not_preauthorised", "no_account_or_invitation", email=email)
        return None, invitation.id


def finish_login(
    engine: Engine,
    provider: OidcProvider,
    callback: Callback,
    *,
    browser_state: str | None,
    redirect_uri: str,
    address: str | None,
) -> VerifiedLogin:
    """Check everything the provider sent back; every refusal is journaled, then raised."""
    try:
        return _finish(engine, provider, callback, browser_state, redirect_uri)
    except Refusal as refused:
        _journal(engine, refused, address)
        raise _refusal_error(refused.code) from None


def _finish(
    engine: Engine,
    provider: OidcProvider,
    callback: Callback,
    browser_state: str | None,
    redirect_uri: str,
) -> VerifiedLogin:
    pending = _consume_state(engine, callback.state, browser_state)
    metadata = provider.metadata()
    # RFC 9207: a provider that names itself in the answer must be the one we sent the browser
    # to (defends against a mix-up with another provider).
    if callback.iss is not None and callback.iss != metadata.issuer:
        raise Refusal("oidc_provider_error", "issuer_mismatch")
    if callback.error:
        raise Refusal(
            "oidc_provider_error",
            _clip(callback.error),
            description=_clip(callback.error_description or ""),
        )
    if not callback.code:
        raise Refusal("oidc_provider_error", "code_missing")
    token = _exchange_code(provider, callback.code, pending, redirect_uri)
    claims = verify_id_token(provider, token["id_token"], pending.nonce)
    subject = claims["sub"]
    if "email" not in claims or "email_verified" not in claims:
        # Many providers (ProConnect among them) put the e-mail in userinfo only.
        claims = {**_userinfo(provider, token.get("access_token"), subject), **claims}
    email = _email(claims, require_verified=provider.require_email_verified)
    account_id, invitation_id = _link(engine, email)
    return VerifiedLogin(
        email=email,
        subject=subject,
        display_name=_display_name(claims),
        return_to=pending.return_to,
        account_id=account_id,
        invitation_id=invitation_id,
    )


# --- 3. acting on it -----------------------------------------------------------------------------


def sign_in(
    session: Session, settings: Settings, verified: VerifiedLogin, *, address: str | None
) -> service.StartedSession:
    """Open the session, creating the account from its invitation on a first login."""
    if verified.account_id is not None:
        account = service.get_account(session, verified.account_id)
        if not account.is_active:
            # Disabled between the check and now: refuse, without the journal entry the check
            # would have written (this transaction rolls back).
            raise _refusal_error("account_disabled")
    else:
        assert verified.invitation_id is not None
        account = service.accept_invitation(
            session,
            verified.invitation_id,
            password=None,
            display_name=verified.display_name,
            email_verified_by="oidc",
        )
    return service.start_session(session, settings, account, method="oidc", address=address)
