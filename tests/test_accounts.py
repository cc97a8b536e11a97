"""Sign-in, sessions, tokens, invitations, resets, lockout and the journal, through the API."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.accounts.authn import SESSION_COOKIE
from app.accounts.models import Role
from app.core.time import utcnow
from tests.factories import PASSWORD, World, bearer, browser_login, make_account, make_world

PROBLEM = "application/problem+json"


@pytest.fixture
def world(engine: sa.Engine) -> World:
    return make_world(engine)


def _journal(engine: sa.Engine, action: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT * FROM audit_event WHERE action = :a ORDER BY id"), {"a": action}
        ).mappings()
        return [dict(r) for r in rows]


def _problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body


def test_login_sets_a_safe_cookie_and_csrf_guards_writes(
    client: TestClient, world: World, engine: sa.Engine
) -> None:
    response = client.post(
        "/api/v1/auth/login", json={"email": "ADMIN-A@example.org", "password": PASSWORD}
    )
    assert response.status_code == 200
    cookie = response.headers["set-cookie"]
    assert f"{SESSION_COOKIE}=" in cookie
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    body = response.json()
    assert body["account"]["role"] == "territory_admin"
    assert body["account"]["territory_code"] == "ta"
    assert body["idle_timeout_seconds"] == 30 * 60
    csrf = {"X-CSRF-Token": body["csrf_token"]}
    # Secrets never come back in the account.
    assert "argon2" not in response.text and "password_hash" not in response.text

    assert client.get("/api/v1/auth/me").json()["email"] == "admin-a@example.org"
    without = client.patch("/api/v1/territories/ta", json={"name": "Sans jeton"})
    _problem(without, 403, "csrf_failed")
    forged = client.patch(
        "/api/v1/territories/ta", json={"name": "Faux"}, headers={"X-CSRF-Token": "0" * 64}
    )
    _problem(forged, 403, "csrf_failed")
    # Two refusals, one row with their count: a signed-in script cannot grow the journal a row
    # a request.
    (refused,) = _journal(engine, "auth.csrf_refused")
    assert refused["count"] == 2 and refused["actor_account_id"] is not None
    assert refused["territory_id"] is not None
    ok = client.patch("/api/v1/territories/ta", json={"name": "Avec jeton"}, headers=csrf)
    assert ok.status_code == 200 and ok.json()["name"] == "Avec jeton"

    assert client.post("/api/v1/auth/logout", headers=csrf).status_code == 204
    client.cookies.set(SESSION_COOKIE, response.cookies[SESSION_COOKIE])
    _problem(client.get("/api/v1/auth/me"), 401, "unauthenticated")
    assert _journal(engine, "auth.session_refused")[-1]["details"] in (
        {"reason": "revoked"},
        '{"reason": "revoked"}',
    )


def test_forged_cookie_is_refused_and_journaled(
    client: TestClient, world: World, engine: sa.Engine
) -> None:
    client.cookies.set(SESSION_COOKIE, "forged-session-token-value")
    _problem(client.get("/api/v1/auth/me"), 401, "unauthenticated")
    assert len(_journal(engine, "auth.session_refused")) == 1


def test_idle_and_old_sessions_end(client: TestClient, world: World, engine: sa.Engine) -> None:
    browser_login(client, "med-a1@example.org")
    assert client.get("/api/v1/auth/me").status_code == 200
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE web_session SET last_seen_at = :t"),
            {"t": utcnow() - timedelta(minutes=31)},
        )
    _problem(client.get("/api/v1/auth/me"), 401, "unauthenticated")

    browser_login(client, "med-a1@example.org")
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE web_session SET expires_at = :t"),
            {"t": utcnow() - timedelta(seconds=1)},
        )
    _problem(client.get("/api/v1/auth/me"), 401, "unauthenticated")
    reasons = [e["details"] for e in _journal(engine, "auth.session_refused")]
    assert len(reasons) == 2


def test_wrong_password_then_lockout_then_journal(
    client: TestClient, world: World, engine: sa.Engine
) -> None:
    login = {"email": "med-a1@example.org", "password": "not the password"}
    for _ in range(5):
        _problem(client.post("/api/v1/auth/login", json=login), 401, "invalid_credentials")
    # Locked now: even the right password is refused, with a Retry-After.
    right = client.post(
        "/api/v1/auth/login", json={"email": "med-a1@example.org", "password": PASSWORD}
    )
    _problem(right, 429, "account_locked")
    assert 0 < int(right.headers["retry-after"]) <= 15 * 60
    failed = _journal(engine, "auth.login_failed")
    assert len(failed) == 5
    assert all(e["actor_account_id"] == world.mediator_a1.id for e in failed)
    assert len(_journal(engine, "auth.account_locked")) == 1
    assert len(_journal(engine, "auth.login_refused")) == 1
    # Another account from the same address is not locked by this one.
    assert (
        client.post(
            "/api/v1/auth/login", json={"email": "med-a2@example.org", "password": PASSWORD}
        ).status_code
        == 200
    )


def test_one_address_guessing_across_accounts_is_stopped(
    client: TestClient, world: World, engine: sa.Engine
) -> None:
    for i in range(30):
        response = client.post(
            "/api/v1/auth/login", json={"email": f"nobody{i}@example.org", "password": "guess"}
        )
        _problem(response, 401, "invalid_credentials")
    blocked = client.post(
        "/api/v1/auth/login", json={"email": "med-a1@example.org", "password": PASSWORD}
    )
    _problem(blocked, 429, "rate_limited")
    assert int(blocked.headers["retry-after"]) > 0
    unknown = _journal(engine, "auth.login_failed")
    assert len(unknown) == 30 and all(e["actor_account_id"] is None for e in unknown)


def test_tokens_are_shown_once_scoped_revocable_and_expire(
    client: TestClient, world: World, engine: sa.Engine
) -> None:
    csrf = browser_login(client, "admin-a@example.org")
    created = client.post(
        "/api/v1/auth/tokens",
        json={"name": "script", "scopes": ["account:read"], "expires_in_days": 30},
        headers=csrf,
    )
    assert created.status_code == 201
    raw = created.json()["token"]
    assert raw.startswith("pn_") and created.json()["prefix"] == raw[:8]
    listed = client.get("/api/v1/auth/tokens").json()
    assert raw not in str(listed) and listed[0]["name"] == "script"
    _problem(
        client.post(
            "/api/v1/auth/tokens", json={"name": "x", "scopes": ["platform:admin"]}, headers=csrf
        ),
        422,
        "invalid_scope",
    )
    client.cookies.clear()

    headers = {"Authorization": f"Bearer {raw}"}
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 200
    # The token has account:read only: coordinating needs territory:admin.
    _problem(
        client.get("/api/v1/territories/ta/accounts", headers=headers), 403, "insufficient_scope"
    )
    # A token cannot mint tokens, and needs no CSRF header for its own writes.
    _problem(
        client.post(
            "/api/v1/auth/tokens", json={"name": "y", "scopes": ["account:read"]}, headers=headers
        ),
        403,
        "session_required",
    )
    token_id = created.json()["id"]
    assert client.delete(f"/api/v1/auth/tokens/{token_id}", headers=headers).status_code == 200
    _problem(client.get("/api/v1/auth/me", headers=headers), 401, "invalid_token")

    expiring = bearer(engine, world.mediator_a1)
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE api_token SET expires_at = :t WHERE revoked_at IS NULL"),
            {"t": utcnow() - timedelta(seconds=1)},
        )
    _problem(client.get("/api/v1/auth/me", headers=expiring), 401, "invalid_token")
    _problem(
        client.get("/api/v1/auth/me", headers={"Authorization": "Bearer pn_unknown"}),
        401,
        "invalid_token",
    )
    _problem(
        client.get("/api/v1/auth/me", headers={"Authorization": "Basic abc"}), 401, "invalid_token"
    )
    reasons = sorted(str(e["details"]) for e in _journal(engine, "auth.token_refused"))
    assert len(reasons) == 3
    assert [e["action"] for e in _journal(engine, "token.created")]
    assert len(_journal(engine, "token.revoked")) == 1


def test_invitation_by_code_then_sign_in(
    client: TestClient, world: World, engine: sa.Engine, capfd: pytest.CaptureFixture[str]
) -> None:
    admin = world.headers["territory_admin"]
    created = client.post(
        "/api/v1/territories/ta/invitations",
        json={
            "email": "Nouvelle@Example.org",
            "display_name": "Nouvelle",
            "structure_ids": [world.a1.id],
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    code, link = created.json()["code"], created.json()["link"]
    assert len(code) == 12 and link.endswith(f"/compte#invitation={code}")
    assert code in capfd.readouterr().err  # the console mailer, in development and tests

    again = client.post(
        "/api/v1/territories/tb/invitations",
        json={"email": "nouvelle@example.org", "display_name": "Encore"},
        headers=world.headers["admin_other_territory"],
    )
    _problem(again, 409, "invitation_pending")
    other = client.post(
        "/api/v1/territories/ta/invitations",
        json={"email": "x@example.org", "display_name": "X", "structure_ids": [world.b1.id]},
        headers=admin,
    )
    _problem(other, 404, "unknown_structure")

    looked = client.post("/api/v1/invitations/lookup", json={"code": code.lower()})
    assert looked.status_code == 200
    assert looked.json()["email"] == "nouvelle@example.org"
    accepted = client.post(
        "/api/v1/invitations/accept", json={"code": code, "password": "a brand new password"}
    )
    assert accepted.status_code == 201, accepted.text
    account = accepted.json()
    assert (account["role"], account["territory_code"], account["structure_ids"]) == (
        "mediator",
        "ta",
        [world.a1.id],
    )
    _problem(
        client.post(
            "/api/v1/invitations/accept", json={"code": code, "password": "another password!"}
        ),
        404,
        "invalid_code",
    )
    assert browser_login(client, "nouvelle@example.org", "a brand new password")
    assert len(_journal(engine, "invitation.accepted")) == 1
    assert len(_journal(engine, "invitation.code_refused")) == 1


def test_wrong_codes_are_rate_limited(client: TestClient, world: World, engine: sa.Engine) -> None:
    statuses = [
        client.post("/api/v1/invitations/lookup", json={"code": f"WRONGCODE{i:03d}"}).status_code
        for i in range(11)
    ]
    assert statuses == [404] * 10 + [429]
    reset = client.post(
        "/api/v1/auth/password-reset/complete", json={"code": "WRONGCODE999", "password": "x" * 12}
    )
    _problem(reset, 429, "rate_limited")
    assert len(_journal(engine, "invitation.code_refused")) == 10


def test_password_reset_self_service_and_by_admin(
    client: TestClient, world: World, engine: sa.Engine, capfd: pytest.CaptureFixture[str]
) -> None:
    csrf = browser_login(client, "med-a1@example.org")
    old_cookie = client.cookies[SESSION_COOKIE]
    capfd.readouterr()
    for email in ("med-a1@example.org", "nobody@example.org"):
        assert client.post("/api/v1/auth/password-reset", json={"email": email}).status_code == 202
    printed = capfd.readouterr().err
    # One message, to the known address, printed masked (app.core.mail).
    assert printed.count("--- mail to m…@e….org: ") == 1
    assert "med-a1@example.org" not in printed and "nobody" not in printed
    code = printed.split("saisissez ce code : ")[1].split()[0]
    done = client.post(
        "/api/v1/auth/password-reset/complete", json={"code": code, "password": "my new password!"}
    )
    assert done.status_code == 200
    # The session opened with the old password is over.
    client.cookies.set(SESSION_COOKIE, old_cookie)
    _problem(client.get("/api/v1/auth/me", headers=csrf), 401, "unauthenticated")
    browser_login(client, "med-a1@example.org", "my new password!")

    by_admin = client.post(
        f"/api/v1/accounts/{world.mediator_a2.id}/password-reset",
        headers=world.headers["territory_admin"],
    )
    assert by_admin.status_code == 201
    done = client.post(
        "/api/v1/auth/password-reset/complete",
        json={"code": by_admin.json()["code"], "password": "handed over in person"},
    )
    assert done.status_code == 200
    assert len(_journal(engine, "password_reset.completed")) == 2


def test_role_change_and_disabling_are_journaled(
    client: TestClient, world: World, engine: sa.Engine
) -> None:
    admin = world.headers["territory_admin"]
    promoted = client.patch(
        f"/api/v1/accounts/{world.mediator_a1.id}", json={"role": "territory_admin"}, headers=admin
    )
    assert promoted.json()["role"] == "territory_admin"
    change = _journal(engine, "account.role_changed")
    assert len(change) == 1 and change[0]["actor_account_id"] == world.admin_a.id
    _problem(
        client.patch(
            f"/api/v1/accounts/{world.admin_a.id}", json={"role": "mediator"}, headers=admin
        ),
        403,
        "self_change",
    )
    _problem(
        client.patch(
            f"/api/v1/accounts/{world.mediator_a2.id}",
            json={"role": "platform_admin"},
            headers=admin,
        ),
        422,
        "invalid_role",
    )
    disabled = client.patch(
        f"/api/v1/accounts/{world.mediator_a2.id}", json={"is_active": False}, headers=admin
    )
    assert disabled.json()["is_active"] is False
    _problem(
        client.post(
            "/api/v1/auth/login", json={"email": "med-a2@example.org", "password": PASSWORD}
        ),
        401,
        "invalid_credentials",
    )
    _problem(
        client.get("/api/v1/auth/me", headers=world.headers["mediator_other_structure"]),
        401,
        "invalid_token",
    )


def test_journal_is_per_territory_and_read_only(
    client: TestClient, app: FastAPI, world: World, engine: sa.Engine
) -> None:
    client.patch(
        "/api/v1/territories/ta", json={"name": "Alpha"}, headers=world.headers["territory_admin"]
    )
    client.patch(
        "/api/v1/territories/tb",
        json={"name": "Beta"},
        headers=world.headers["admin_other_territory"],
    )
    events = client.get(
        "/api/v1/territories/ta/audit", headers=world.headers["territory_admin"]
    ).json()
    assert [e["action"] for e in events] == ["territory.updated"]
    assert events[0]["request_id"]
    paged = client.get(
        f"/api/v1/territories/ta/audit?before_id={events[0]['id']}",
        headers=world.headers["territory_admin"],
    ).json()
    assert paged == []
    _problem(
        client.get(
            "/api/v1/territories/ta/audit?limit=100000", headers=world.headers["territory_admin"]
        ),
        422,
        "validation_error",
    )
    # No route of any kind writes to the journal by its own path.
    from app.authz import api_routes

    for route in api_routes(app):
        if "audit" in route.path:
            assert route.methods == ("GET",)


def test_territories_are_public_and_created_by_platform_admins(
    client: TestClient, world: World
) -> None:
    codes = [t["code"] for t in client.get("/api/v1/territories").json()]
    assert codes == ["ta", "tb"]
    created = client.post(
        "/api/v1/territories",
        json={"code": "2A", "name": "Corse-du-Sud"},
        headers=world.headers["platform_admin"],
    )
    assert created.status_code == 201
    assert created.json()["issuer_url"].endswith("/t/2A")
    for bad in (
        {"code": "a b", "name": "X"},
        {"code": "ok", "name": ""},
        {"code": "x" * 50, "name": "X"},
    ):
        _problem(
            client.post("/api/v1/territories", json=bad, headers=world.headers["platform_admin"]),
            422,
            "validation_error",
        )
    _problem(
        client.post(
            "/api/v1/territories",
            json={"code": "2A", "name": "Again"},
            headers=world.headers["platform_admin"],
        ),
        409,
        "territory_exists",
    )
    _problem(client.get("/api/v1/territories/nowhere"), 404, "unknown_territory")


def test_make_account_helper_roles(engine: sa.Engine) -> None:
    # The platform-admin constraint holds in the database itself.
    with pytest.raises(sa.exc.IntegrityError):
        make_account(engine, Role.MEDIATOR, None)


def test_made_up_cookies_and_tokens_cannot_grow_the_journal(
    client: TestClient, world: World, engine: sa.Engine
) -> None:
    for i in range(100):
        client.cookies.set(SESSION_COOKIE, f"made-up-session-{i:04d}")
        _problem(client.get("/api/v1/auth/me"), 401, "unauthenticated")
    client.cookies.clear()
    for i in range(100):
        bearer = {"Authorization": f"Bearer pn_made_up_{i:04d}"}
        _problem(client.get("/api/v1/auth/me", headers=bearer), 401, "invalid_token")
    # One row per kind of refusal, address and window, counting them all.
    for action in ("auth.session_refused", "auth.token_refused"):
        rows = _journal(engine, action)
        assert [(r["count"], r["client_address"]) for r in rows] == [(100, "testclient")]
        assert rows[0]["last_at"] is not None and rows[0]["outcome"] == "denied"
