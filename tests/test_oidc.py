"""Single sign-on, end to end, against a real OpenID provider process.

The provider is panva's oidc-provider (tests/oidc/provider.js) run by Node.js on 127.0.0.1; the
app is a real `passeport serve` process. Each test plays the browser with httpx over real HTTP:
the app's /auth/oidc/login, the provider's login and consent pages, then the app's callback,
which the tests deliver themselves (sometimes late, twice, or tampered with).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from base64 import urlsafe_b64decode, urlsafe_b64encode
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import col, select

from app.accounts import oidc, security
from app.accounts.models import Account, Invitation, Role, StructureMembership, WebSession
from app.accounts.oidc_models import OidcLogin
from app.accounts.oidc_router import STATE_COOKIE
from app.audit.models import AuditEvent
from app.core.db import pk, transaction
from app.core.ratelimit import RateLimitBucket
from app.core.time import utcnow
from app.main import create_app
from app.structures.models import Structure
from app.territory.models import Territory
from tests.conftest import TEST_SECRET, free_port, make_settings
from tests.factories import bearer, make_account, make_structure, make_territory
from tests.servers import Server, passeport_env, running_server

OIDC_DIR = Path(__file__).parent / "oidc"
CLIENT_SECRET = "test-client-secret"
# Codes issued to logins starting with "shortcode" live this long at the provider.
SHORT_CODE_TTL = 2
CALLBACK_PATH = "/api/v1/auth/oidc/callback"


# --- the provider and the app, as real processes -------------------------------------------------


def _install_provider() -> None:
    """npm ci once (the lock file is committed); a file lock keeps xdist workers from racing."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail("the SSO tests need Node.js 20+ and npm on PATH (they run a real provider)")
    lock_path = Path(tempfile.gettempdir()) / "passeport-test-oidc-npm.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
            installed = subprocess.run(
                ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
                cwd=OIDC_DIR,
                check=False,
                timeout=300,
                capture_output=True,
                text=True,
            )
            if installed.returncode != 0:
                pytest.fail(f"npm ci in {OIDC_DIR} failed:\n{installed.stderr[-2000:]}")


@contextmanager
def running_provider(port: int, redirect_uris: list[str], log_path: Path) -> Iterator[str]:
    """Start tests/oidc/provider.js, wait for its discovery document, stop it on exit."""
    issuer = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "OIDC_PORT": str(port),
        "OIDC_REDIRECT_URIS": ",".join(redirect_uris),
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_SHORT_CODE_TTL": str(SHORT_CODE_TTL),
    }
    with log_path.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(
            ["node", "provider.js"], cwd=OIDC_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                log_text = log_path.read_text(encoding="utf-8")
                raise RuntimeError(f"provider exited with {process.returncode}:\n{log_text}")
            try:
                url = f"{issuer}/.well-known/openid-configuration"
                if httpx.get(url, timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"provider not ready:\n{log_path.read_text(encoding='utf-8')}")
            time.sleep(0.1)
        yield issuer
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _app_env(database_url: str, issuer: str, client_id: str) -> dict[str, str]:
    return passeport_env(
        database_url,
        PASSEPORT_OIDC_DISCOVERY_URL=f"{issuer}/.well-known/openid-configuration",
        PASSEPORT_OIDC_CLIENT_ID=client_id,
        PASSEPORT_OIDC_CLIENT_SECRET=CLIENT_SECRET,
        PASSEPORT_OIDC_PROVIDER_NAME="Test provider",
    )


@dataclass
class SSO:
    issuer: str
    app: Server
    database_url: str
    signed_app_port: int
    tmp: Path

    @property
    def url(self) -> str:
        return self.app.url


@pytest.fixture(scope="module")
def sso(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SSO]:
    """The provider, and the app signed up with it as client "passeport" (JSON userinfo)."""
    _install_provider()
    tmp = tmp_path_factory.mktemp("sso")
    ports: set[int] = set()
    while len(ports) < 3:
        ports.add(free_port())
    provider_port, app_port, signed_app_port = sorted(ports)
    callbacks = [f"http://127.0.0.1:{p}{CALLBACK_PATH}" for p in (app_port, signed_app_port)]
    with (
        running_provider(provider_port, callbacks, tmp / "provider.log") as issuer,
        running_server(
            _app_env(database_url, issuer, "passeport"), app_port, tmp / "app.log"
        ) as app,
    ):
        yield SSO(issuer, app, database_url, signed_app_port, tmp)


@pytest.fixture
def browser() -> Iterator[httpx.Client]:
    """A fresh browser: its own cookie jar, redirects followed by hand."""
    with httpx.Client(timeout=10, follow_redirects=False) as client:
        yield client


# --- playing the browser -------------------------------------------------------------------------


class _Page(HTMLParser):
    """The first form of a page (action and inputs), and its cancel link."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self.abort: str | None = None
        self._in_form = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = attributes.get("action")
            self._in_form = True
        elif tag == "input" and self._in_form and attributes.get("name"):
            self.fields[str(attributes["name"])] = attributes.get("value") or ""
        elif tag == "a" and (attributes.get("href") or "").endswith("/abort"):
            self.abort = attributes["href"]

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False


def _next(response: httpx.Response) -> str:
    assert response.is_redirect, (response.status_code, response.text[:500])
    return urljoin(str(response.url), response.headers["location"])


def start_login(browser: httpx.Client, app_url: str, return_to: str | None = None) -> str:
    """The app's login route; returns the provider URL it sends the browser to."""
    params = {"return_to": return_to} if return_to is not None else {}
    response = browser.get(f"{app_url}/api/v1/auth/oidc/login", params=params)
    assert response.status_code == 303, response.text
    return _next(response)


def at_provider(browser: httpx.Client, url: str, login: str, *, cancel: bool = False) -> str:
    """Sign in and consent on the provider's pages; returns the callback URL, not yet opened."""
    for _ in range(20):
        if urlsplit(url).path == CALLBACK_PATH:
            return url
        response = browser.get(url)
        if response.is_redirect:
            url = _next(response)
            continue
        assert response.status_code == 200, response.text[:500]
        page = _Page(response.text)
        if cancel:
            assert page.abort is not None
            url = _next(browser.get(urljoin(str(response.url), page.abort)))
            continue
        assert page.action is not None, response.text[:500]
        if page.fields.get("prompt") == "login":
            page.fields.update(login=login, password="any password")
        url = _next(browser.post(urljoin(str(response.url), page.action), data=page.fields))
    raise AssertionError("the provider never sent the browser back")


def callback_url(
    browser: httpx.Client, app_url: str, login: str, return_to: str | None = None
) -> str:
    return at_provider(browser, start_login(browser, app_url, return_to), login)


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def with_query(url: str, **changes: str) -> str:
    params = query(url) | changes
    return str(httpx.URL(url.split("?")[0], params=params))


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body


# --- reading the database ------------------------------------------------------------------------


def events(engine: sa.Engine, action: str) -> list[AuditEvent]:
    with transaction(engine, write=False) as session:
        return list(
            session.exec(
                select(AuditEvent).where(AuditEvent.action == action).order_by(col(AuditEvent.id))
            ).all()
        )


def refusal(engine: sa.Engine, code: str) -> AuditEvent:
    """The one journal entry of a refused SSO login with this code."""
    found = [
        e
        for e in events(engine, "auth.login_failed") + events(engine, "auth.login_refused")
        if e.details.get("reason") == code
    ]
    assert len(found) == 1, [(e.action, e.details) for e in found]
    assert found[0].details["method"] == "oidc"
    return found[0]


def count(engine: sa.Engine, model: type[Any]) -> int:
    with transaction(engine, write=False) as session:
        return len(session.exec(select(model)).all())


def account_by_email(engine: sa.Engine, email: str) -> Account | None:
    with transaction(engine, write=False) as session:
        return session.exec(select(Account).where(Account.email == email)).first()


def make_invitation(
    engine: sa.Engine,
    territory: Territory,
    email: str,
    *,
    role: Role = Role.MEDIATOR,
    structures: list[Structure] | None = None,
    revoked: bool = False,
) -> Invitation:
    with transaction(engine) as session:
        invitation = Invitation(
            territory_id=pk(territory),
            email=email,
            display_name="Invited Person",
            role=role,
            structure_ids=[pk(s) for s in structures or []],
            token_hash=security.token_hash(security.new_code()),
            expires_at=utcnow() + timedelta(days=7),
            revoked_at=utcnow() if revoked else None,
        )
        session.add(invitation)
    return invitation


# --- success -------------------------------------------------------------------------------------


def test_an_existing_account_signs_in(sso: SSO, engine: sa.Engine, browser: httpx.Client) -> None:
    territory = make_territory(engine)
    account = make_account(engine, Role.MEDIATOR, territory, email="agent@example.test")

    status = browser.get(f"{sso.url}/api/v1/auth/oidc").json()
    assert status == {
        "enabled": True,
        "provider_name": "Test provider",
        "login_url": "/api/v1/auth/oidc/login",
    }

    # The provider sends the address back in another case: matched all the same.
    url = callback_url(browser, sso.url, "Agent@Example.TEST", return_to="/#/passeports")
    response = browser.get(url)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"{sso.url}/#/passeports"
    cookie = browser.cookies.get("pn_session")
    assert cookie

    me = browser.get(f"{sso.url}/api/v1/auth/me")
    assert me.status_code == 200, me.text
    assert me.json()["email"] == "agent@example.test"

    # The frontend learns its CSRF token from /auth/session, and a change with it goes through.
    current = browser.get(f"{sso.url}/api/v1/auth/session").json()
    assert current["via"] == "session"
    assert current["csrf_token"] == security.csrf_token(TEST_SECRET, cookie)
    logout = browser.post(
        f"{sso.url}/api/v1/auth/logout", headers={"X-CSRF-Token": current["csrf_token"]}
    )
    assert logout.status_code == 204, logout.text

    [login] = events(engine, "auth.login")
    assert login.actor_account_id == account.id
    assert login.details == {"method": "oidc"}
    with transaction(engine, write=False) as session:
        [web] = session.exec(select(WebSession)).all()
        assert web.method == "oidc"
        [attempt] = session.exec(select(OidcLogin)).all()
        # Used once, and the secrets it held are gone.
        assert attempt.used_at is not None
        assert attempt.nonce == "" and attempt.code_verifier == ""


def test_a_first_login_accepts_the_pending_invitation(
    sso: SSO, engine: sa.Engine, browser: httpx.Client
) -> None:
    territory = make_territory(engine)
    s1, s2 = make_structure(engine, territory), make_structure(engine, territory)
    invitation = make_invitation(engine, territory, "newcomer@example.test", structures=[s1, s2])

    response = browser.get(callback_url(browser, sso.url, "newcomer@example.test"))
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"{sso.url}/"

    me = browser.get(f"{sso.url}/api/v1/auth/me").json()
    assert me["email"] == "newcomer@example.test"
    assert me["role"] == "mediator"
    assert me["territory_code"] == territory.code
    assert me["structure_ids"] == sorted([pk(s1), pk(s2)])
    assert me["has_password"] is False
    # The name the provider vouches for.
    assert me["display_name"] == "Agent newcomer"
    with transaction(engine, write=False) as session:
        accepted = session.get(Invitation, invitation.id)
        assert accepted is not None and accepted.accepted_at is not None
        memberships = session.exec(select(StructureMembership)).all()
        assert {m.structure_id for m in memberships} == {s1.id, s2.id}
    [accepted_event] = events(engine, "invitation.accepted")
    assert accepted_event.details["via"] == "oidc"
    assert len(events(engine, "account.created")) == 1
    assert len(events(engine, "auth.login")) == 1


def test_signed_userinfo_as_proconnect_sends_it(
    sso: SSO, engine: sa.Engine, browser: httpx.Client
) -> None:
    """The same flow with the client whose userinfo comes back as a signed JWT."""
    territory = make_territory(engine)
    make_account(engine, Role.TERRITORY_ADMIN, territory, email="coordinator@example.test")
    env = _app_env(sso.database_url, sso.issuer, "passeport-signed")
    with running_server(env, sso.signed_app_port, sso.tmp / "signed-app.log") as app:
        response = browser.get(callback_url(browser, app.url, "coordinator@example.test"))
        assert response.status_code == 303, response.text
        me = browser.get(f"{app.url}/api/v1/auth/me").json()
    assert me["email"] == "coordinator@example.test"
    assert me["role"] == "territory_admin"


# --- refusals ------------------------------------------------------------------------------------


def test_a_wrong_state_is_refused_and_does_not_burn_the_real_one(
    sso: SSO, engine: sa.Engine, browser: httpx.Client
) -> None:
    territory = make_territory(engine)
    make_account(engine, Role.MEDIATOR, territory, email="agent@example.test")
    url = callback_url(browser, sso.url, "agent@example.test")
    forged = security.new_token()

    # Another state than the one this browser started with.
    problem(browser.get(with_query(url, state=forged)), 400, "oidc_state_invalid")
    assert refusal(engine, "oidc_state_invalid").details["cause"] == "other_browser"

    # Even with a matching cookie, a state the app never issued is unknown.
    cookies = {STATE_COOKIE: forged}
    with httpx.Client(timeout=10, cookies=cookies) as other:
        response = other.get(with_query(url, state=forged))
    problem(response, 400, "oidc_state_invalid")
    causes = [e.details["cause"] for e in events(engine, "auth.login_failed")]
    assert causes == ["other_browser", "state_unknown"]

    # The real callback URL, opened in another browser, is refused too (login CSRF)...
    with httpx.Client(timeout=10) as other:
        problem(other.get(url), 400, "oidc_state_invalid")
    # ... and none of this consumed the genuine attempt.
    assert browser.get(url).status_code == 303
    assert count(engine, WebSession) == 1


def test_a_replayed_callback_is_refused(sso: SSO, engine: sa.Engine, browser: httpx.Client) -> None:
    territory = make_territory(engine)
    make_account(engine, Role.MEDIATOR, territory, email="agent@example.test")
    url = callback_url(browser, sso.url, "agent@example.test")
    assert browser.get(url).status_code == 303

    # The success cleared the state cookie; put it back, as an attacker holding both would.
    browser.cookies.set(STATE_COOKIE, query(url)["state"], domain="127.0.0.1", path=CALLBACK_PATH)
    problem(browser.get(url), 400, "oidc_state_invalid")
    assert refusal(engine, "oidc_state_invalid").details["cause"] == "state_used"
    assert count(engine, WebSession) == 1


def test_a_wrong_nonce_is_refused(sso: SSO, engine: sa.Engine, browser: httpx.Client) -> None:
    territory = make_territory(engine)
    make_account(engine, Role.MEDIATOR, territory, email="agent@example.test")
    url = callback_url(browser, sso.url, "agent@example.test")
    # The ID token the provider will issue carries the nonce sent with the login; make the
    # attempt the app remembers expect another one.
    with transaction(engine) as session:
        attempt = session.exec(select(OidcLogin)).one()
        attempt.nonce = security.new_token()

    problem(browser.get(url), 401, "oidc_nonce_mismatch")
    refusal(engine, "oidc_nonce_mismatch")
    assert count(engine, WebSession) == 0
    assert events(engine, "auth.login") == []


def test_an_expired_code_is_refused(sso: SSO, engine: sa.Engine, browser: httpx.Client) -> None:
    territory = make_territory(engine)
    make_account(engine, Role.MEDIATOR, territory, email="shortcode-agent@example.test")
    url = callback_url(browser, sso.url, "shortcode-agent@example.test")
    time.sleep(SHORT_CODE_TTL + 1.5)

    problem(browser.get(url), 401, "oidc_code_rejected")
    assert refusal(engine, "oidc_code_rejected").details["cause"] == "invalid_grant"
    assert count(engine, WebSession) == 0


def test_an_address_that_was_not_preauthorised_is_refused(
    sso: SSO, engine: sa.Engine, browser: httpx.Client
) -> None:
    territory = make_territory(engine)
    # A withdrawn invitation pre-authorises nothing.
    make_invitation(engine, territory, "stranger@example.test", revoked=True)

    problem(
        browser.get(callback_url(browser, sso.url, "stranger@example.test")),
        403,
        "not_preauthorised",
    )
    event = refusal(engine, "not_preauthorised")
    assert event.action == "auth.login_refused"
    assert event.outcome == "denied"
    assert event.details["email"] == "stranger@example.test"
    assert account_by_email(engine, "stranger@example.test") is None
    assert count(engine, WebSession) == 0


def test_an_unverified_address_is_refused(
    sso: SSO, engine: sa.Engine, browser: httpx.Client
) -> None:
    territory = make_territory(engine)
    make_invitation(engine, territory, "unverified@example.test")

    problem(
        browser.get(callback_url(browser, sso.url, "unverified@example.test")),
        403,
        "email_not_verified",
    )
    refusal(engine, "email_not_verified")
    assert account_by_email(engine, "unverified@example.test") is None


def test_an_unverified_address_passes_only_when_the_operator_trusts_the_provider(
    sso: SSO, engine: sa.Engine, browser: httpx.Client
) -> None:
    territory = make_territory(engine)
    make_invitation(engine, territory, "unverified@example.test")
    env = {
        **_app_env(sso.database_url, sso.issuer, "passeport"),
        "PASSEPORT_OIDC_REQUIRE_EMAIL_VERIFIED": "false",
    }
    with running_server(env, sso.signed_app_port, sso.tmp / "trusting-app.log") as app:
        response = browser.get(callback_url(browser, app.url, "unverified@example.test"))
        assert response.status_code == 303, response.text
        assert browser.get(f"{app.url}/api/v1/auth/me").json()["email"] == "unverified@example.test"


def test_a_disabled_account_and_a_platform_admin_are_refused(
    sso: SSO, engine: sa.Engine, browser: httpx.Client
) -> None:
    territory = make_territory(engine)
    disabled = make_account(engine, Role.MEDIATOR, territory, email="gone@example.test")
    with transaction(engine) as session:
        row = session.get(Account, disabled.id)
        assert row is not None
        row.is_active = False
    make_account(engine, Role.PLATFORM_ADMIN, email="root@example.test")

    problem(
        browser.get(callback_url(browser, sso.url, "gone@example.test")), 403, "account_disabled"
    )
    assert refusal(engine, "account_disabled").actor_account_id == disabled.id
    with httpx.Client(timeout=10) as other:
        url = callback_url(other, sso.url, "root@example.test")
        problem(other.get(url), 403, "sso_role_refused")
    refusal(engine, "sso_role_refused")
    assert count(engine, WebSession) == 0


def test_a_cancelled_login_at_the_provider_is_refused(
    sso: SSO, engine: sa.Engine, browser: httpx.Client
) -> None:
    url = at_provider(browser, start_login(browser, sso.url), "", cancel=True)
    assert query(url)["error"] == "access_denied"
    problem(browser.get(url), 401, "oidc_provider_error")
    assert refusal(engine, "oidc_provider_error").details["cause"] == "access_denied"


def test_return_to_never_leaves_the_site(
    sso: SSO, engine: sa.Engine, browser: httpx.Client
) -> None:
    territory = make_territory(engine)
    make_account(engine, Role.MEDIATOR, territory, email="agent@example.test")
    url = callback_url(browser, sso.url, "agent@example.test", return_to="//evil.example/x")
    response = browser.get(url)
    assert response.status_code == 303
    assert response.headers["location"] == f"{sso.url}/"


def test_login_starts_are_bounded_per_address(
    sso: SSO, engine: sa.Engine, browser: httpx.Client
) -> None:
    with transaction(engine) as session:
        session.add(
            RateLimitBucket(
                key="oidc:start:127.0.0.1",
                window_started_at=utcnow(),
                count=oidc.STARTS_PER_ADDRESS,
            )
        )
    response = browser.get(f"{sso.url}/api/v1/auth/oidc/login")
    problem(response, 429, "rate_limited")
    assert count(engine, OidcLogin) == 0


@pytest.mark.parametrize(
    ("asked", "kept"),
    [
        (None, "/"),
        ("", "/"),
        ("/", "/"),
        ("/#/passeports/12?tab=1", "/#/passeports/12?tab=1"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("/\t/evil.example", "/"),
        ("https://evil.example/", "/"),
        ("evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("/" + "a" * 600, "/"),
    ],
)
def test_safe_return_to(asked: str | None, kept: str) -> None:
    assert oidc.safe_return_to(asked) == kept


# --- the ID token checks, on real tokens from the provider ---------------------------------------


def test_id_token_checks_on_a_real_token(
    sso: SSO, engine: sa.Engine, database_url: str, browser: httpx.Client
) -> None:
    """Audience, signature and nonce, checked on an ID token the provider really issued."""
    url = callback_url(browser, sso.url, "agent@example.test")
    with transaction(engine, write=False) as session:
        attempt = session.exec(select(OidcLogin)).one()
    # Redeem the code ourselves, with the verifier the app stored, to hold a genuine token.
    token = httpx.post(
        f"{sso.issuer}/token",
        data={
            "grant_type": "authorization_code",
            "code": query(url)["code"],
            "redirect_uri": f"{sso.url}{CALLBACK_PATH}",
            "code_verifier": attempt.code_verifier,
        },
        auth=("passeport", CLIENT_SECRET),
    ).json()
    id_token = token["id_token"]

    def provider(client_id: str) -> oidc.OidcProvider:
        return oidc.OidcProvider(
            make_settings(
                database_url,
                oidc_discovery_url=f"{sso.issuer}/.well-known/openid-configuration",
                oidc_client_id=client_id,
            )
        )

    ours = provider("passeport")
    claims = oidc.verify_id_token(ours, id_token, attempt.nonce)
    assert claims["sub"] == "agent@example.test"

    def refused(client: oidc.OidcProvider, token: str, nonce: str) -> oidc.Refusal:
        with pytest.raises(oidc.Refusal) as caught:
            oidc.verify_id_token(client, token, nonce)
        return caught.value

    # Issued to another client: not for us.
    wrong_audience = refused(provider("someone-else"), id_token, attempt.nonce)
    assert (wrong_audience.code, wrong_audience.reason) == ("oidc_token_invalid", "claim aud")
    # Someone else's identity in a genuine token: the signature no longer matches.
    header, payload, signature = id_token.split(".")
    forged = json.loads(urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged["sub"] = forged["email"] = "intruder@example.test"
    forged_payload = urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
    bad_signature = refused(ours, f"{header}.{forged_payload}.{signature}", attempt.nonce)
    assert (bad_signature.code, bad_signature.reason) == (
        "oidc_token_invalid",
        "signature: BadSignatureError",
    )
    # Unsigned tokens are never accepted.
    unsigned = refused(ours, f"eyJhbGciOiJub25lIn0.{forged_payload}.", attempt.nonce)
    assert unsigned.code == "oidc_token_invalid"
    assert refused(ours, id_token, "another nonce").code == "oidc_nonce_mismatch"


# --- what the provider publishes ----------------------------------------------------------------

DISCOVERY_URL = "https://idp.example/api/v2/.well-known/openid-configuration"
DOCUMENT = {
    "issuer": "https://idp.example/api/v2",
    "authorization_endpoint": "https://idp.example/api/v2/authorize",
    "token_endpoint": "https://idp.example/api/v2/token",
    "jwks_uri": "https://idp.example/api/v2/jwks",
    "userinfo_endpoint": "https://idp.example/api/v2/userinfo",
}


def test_a_discovery_document_is_read() -> None:
    metadata = oidc.parse_metadata(DISCOVERY_URL, DOCUMENT)
    # The spec's defaults when the document is silent.
    assert metadata.signing_algs == ("RS256",)
    assert metadata.token_auth_method == "client_secret_basic"
    post_only = DOCUMENT | {
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
        "id_token_signing_alg_values_supported": ["ES256", "RS256", "HS256", "none"],
    }
    metadata = oidc.parse_metadata(DISCOVERY_URL, post_only)
    assert metadata.token_auth_method == "client_secret_post"
    assert metadata.signing_algs == ("RS256", "ES256")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"issuer": "https://other.example/api/v2"}, "issuer does not match its URL"),
        ({"code_challenge_methods_supported": ["plain"]}, "does not support PKCE S256"),
        ({"id_token_signing_alg_values_supported": ["none", "HS256"]}, "no supported ID token"),
        ({"token_endpoint": "http://idp.example/token"}, "token_endpoint is not an https URL"),
        ({"token_endpoint_auth_methods_supported": ["private_key_jwt"]}, "no client_secret"),
        ({"jwks_uri": None}, "jwks_uri missing"),
    ],
)
def test_an_unsafe_discovery_document_is_refused(change: dict[str, Any], reason: str) -> None:
    with pytest.raises(oidc.Refusal) as caught:
        oidc.parse_metadata(DISCOVERY_URL, DOCUMENT | change)
    assert caught.value.code == "oidc_unavailable"
    assert reason in caught.value.reason


class _Endless(BaseHTTPRequestHandler):
    """A misbehaving provider: an answer that never ends."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        try:
            for _ in range(64):
                self.wfile.write(b" " * 65536)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_a_provider_cannot_make_us_read_a_huge_answer() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Endless)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/.well-known/openid-configuration"
        settings = make_settings("sqlite://", oidc_discovery_url=url, oidc_client_id="passeport")
        with pytest.raises(oidc.Refusal) as caught:
            oidc.OidcProvider(settings).metadata()
    finally:
        server.shutdown()
        server.server_close()
    assert (caught.value.code, caught.value.reason) == (
        "oidc_unavailable",
        "discovery: ResponseTooLarge",
    )


# --- without SSO, or without the provider --------------------------------------------------------


def test_sso_disabled_is_a_404_problem(client: TestClient) -> None:
    assert client.get("/api/v1/auth/oidc").json()["enabled"] is False
    for path in ("/api/v1/auth/oidc/login", "/api/v1/auth/oidc/callback?code=x&state=y"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "sso_disabled"


def test_an_unreachable_provider_is_a_502_problem(database_url: str, engine: sa.Engine) -> None:
    settings = make_settings(
        database_url,
        oidc_discovery_url=f"http://127.0.0.1:{free_port()}/.well-known/openid-configuration",
        oidc_client_id="passeport",
    )
    application = create_app(settings, configure_logs=False)
    try:
        with TestClient(application, raise_server_exceptions=False) as client:
            response = client.get("/api/v1/auth/oidc/login", follow_redirects=False)
    finally:
        application.state.engine.dispose()
    assert response.status_code == 502, response.text
    assert response.json()["code"] == "oidc_unavailable"
    assert refusal(engine, "oidc_unavailable").details["cause"] == "discovery: ConnectError"


def test_session_details_for_a_token_carry_no_csrf_token(
    client: TestClient, engine: sa.Engine
) -> None:
    territory = make_territory(engine)
    account = make_account(engine, Role.MEDIATOR, territory)
    response = client.get("/api/v1/auth/session", headers=bearer(engine, account))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["via"], body["csrf_token"]) == ("token", None)
    assert body["account"]["id"] == account.id
