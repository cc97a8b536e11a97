"""The permission matrix: every route, every kind of caller, the expected answer.

Each route of the app must have a row in ROUTES, so a new route fails this file until someone
decides who may call it. Callers (see tests.factories.make_world) act on territory `ta` and its
structure `a1`; "other" callers belong to structure `a2` or territory `tb`. Expected answers:
ALLOW (any status but 401/403/404), or the refusal status. Citizens join the matrix with passports.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.accounts import security
from app.accounts.models import Invitation, PasswordReset, Role
from app.authz import (
    BROWSER_SESSION,
    PLATFORM_ADMIN,
    PUBLIC,
    SIGNED_IN,
    TERRITORY_ADMIN,
    Rule,
    api_routes,
    authorize,
    check_routes,
    rule_of,
    undeclared_routes,
)
from app.core.db import transaction
from app.core.settings import Settings
from app.core.time import utcnow
from app.main import create_app
from tests.factories import PASSWORD, World, make_world

ALLOW = "allow"
CALLERS = (
    "anonymous",
    "mediator_of_structure",
    "mediator_other_structure",
    "mediator_other_territory",
    "territory_admin",
    "admin_other_territory",
    "platform_admin",
)
EVERYONE = dict.fromkeys(CALLERS, ALLOW)
ACCOUNTS_ONLY = {**EVERYONE, "anonymous": 401}
# A route of territory `ta` reached by its (public) code: other admins get 403.
TA_ADMINS = {
    "anonymous": 401,
    "mediator_of_structure": 403,
    "mediator_other_structure": 403,
    "mediator_other_territory": 403,
    "territory_admin": ALLOW,
    "admin_other_territory": 403,
    "platform_admin": ALLOW,
}
# A resource of `ta` reached by its id: callers of another territory cannot tell it exists (404).
TA_ADMINS_BY_ID = {**TA_ADMINS, "admin_other_territory": 404}
PLATFORM_ONLY = {**TA_ADMINS, "territory_admin": 403}

Setup = Callable[[World, sa.Engine, str], tuple[str, Any]]


@dataclass
class Case:
    rule: Rule
    expected: dict[str, int | str]
    setup: Setup = field(default=lambda w, e, c: ("", None))
    # Routes only a browser session may call: the caller signs in instead of using a token.
    session: bool = False


def _invitation(world: World, engine: sa.Engine, code: str = "INVITE2345AB") -> int:
    with transaction(engine) as session:
        invitation = Invitation(
            territory_id=world.a.id,  # type: ignore[arg-type]
            email="newcomer@example.org",
            display_name="Newcomer",
            role=Role.MEDIATOR,
            token_hash=security.token_hash(code),
            expires_at=utcnow().replace(year=utcnow().year + 1),
        )
        session.add(invitation)
        session.flush()
        assert invitation.id is not None
        return invitation.id


def _reset(world: World, engine: sa.Engine, code: str = "RESET2345ABC") -> None:
    with transaction(engine) as session:
        session.add(
            PasswordReset(
                account_id=world.mediator_a1.id,  # type: ignore[arg-type]
                token_hash=security.token_hash(code),
                expires_at=utcnow().replace(year=utcnow().year + 1),
            )
        )


def _complete_reset(world: World, engine: sa.Engine) -> tuple[str, Any]:
    _reset(world, engine)
    return "", {"code": "RESET2345ABC", "password": "a new long password"}


def _lookup(world: World, engine: sa.Engine) -> tuple[str, Any]:
    _invitation(world, engine)
    return "", {"code": "INVITE2345AB"}


def _accept(world: World, engine: sa.Engine) -> tuple[str, Any]:
    _invitation(world, engine)
    return "", {"code": "INVITE2345AB", "password": "a long enough password"}


def _token_id(world: World, engine: sa.Engine, caller: str) -> int:
    # Every caller revokes a token of its own: the one it is using (anonymous has none: any id).
    account = world.accounts.get(caller)
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.text("SELECT coalesce(max(id), 1) FROM api_token WHERE account_id = :a"),
                {"a": account.id if account else -1},
            ).scalar_one()
        )


ROUTES: dict[tuple[str, str], Case] = {
    ("GET", "/"): Case(PUBLIC, EVERYONE),
    ("GET", "/healthz"): Case(PUBLIC, EVERYONE),
    ("GET", "/readyz"): Case(PUBLIC, EVERYONE),
    ("GET", "/api/v1/framework"): Case(PUBLIC, EVERYONE),
    ("GET", "/api/v1/framework/skills/{code}"): Case(
        PUBLIC, EVERYONE, lambda w, e, c: ("/api/v1/framework/skills/crcn:4.1", None)
    ),
    ("GET", "/api/v1/territories"): Case(PUBLIC, EVERYONE),
    ("GET", "/api/v1/territories/{code}"): Case(
        PUBLIC, EVERYONE, lambda w, e, c: ("/api/v1/territories/ta", None)
    ),
    ("POST", "/api/v1/territories"): Case(
        PLATFORM_ADMIN, PLATFORM_ONLY, lambda w, e, c: ("", {"code": "tz", "name": "Nouveau"})
    ),
    ("PATCH", "/api/v1/territories/{code}"): Case(
        TERRITORY_ADMIN, TA_ADMINS, lambda w, e, c: ("/api/v1/territories/ta", {"name": "Renamed"})
    ),
    ("POST", "/api/v1/auth/login"): Case(
        PUBLIC,
        EVERYONE,
        lambda w, e, c: ("", {"email": "med-a1@example.org", "password": PASSWORD}),
    ),
    ("POST", "/api/v1/auth/logout"): Case(BROWSER_SESSION, ACCOUNTS_ONLY, session=True),
    ("GET", "/api/v1/auth/me"): Case(SIGNED_IN, ACCOUNTS_ONLY),
    ("GET", "/api/v1/auth/tokens"): Case(SIGNED_IN, ACCOUNTS_ONLY),
    ("POST", "/api/v1/auth/tokens"): Case(
        BROWSER_SESSION,
        ACCOUNTS_ONLY,
        lambda w, e, c: ("", {"name": "script", "scopes": ["account:read"]}),
        session=True,
    ),
    ("DELETE", "/api/v1/auth/tokens/{token_id}"): Case(
        SIGNED_IN,
        ACCOUNTS_ONLY,
        lambda w, e, c: (f"/api/v1/auth/tokens/{_token_id(w, e, c)}", None),
    ),
    ("POST", "/api/v1/auth/password-reset"): Case(
        PUBLIC, EVERYONE, lambda w, e, c: ("", {"email": "med-a1@example.org"})
    ),
    ("POST", "/api/v1/auth/password-reset/complete"): Case(
        PUBLIC, EVERYONE, lambda w, e, c: _complete_reset(w, e)
    ),
    ("POST", "/api/v1/invitations/lookup"): Case(PUBLIC, EVERYONE, lambda w, e, c: _lookup(w, e)),
    ("POST", "/api/v1/invitations/accept"): Case(PUBLIC, EVERYONE, lambda w, e, c: _accept(w, e)),
    ("GET", "/api/v1/territories/{code}/invitations"): Case(
        TERRITORY_ADMIN, TA_ADMINS, lambda w, e, c: ("/api/v1/territories/ta/invitations", None)
    ),
    ("POST", "/api/v1/territories/{code}/invitations"): Case(
        TERRITORY_ADMIN,
        TA_ADMINS,
        lambda w, e, c: (
            "/api/v1/territories/ta/invitations",
            {"email": "new@example.org", "display_name": "New", "structure_ids": [w.a1.id]},
        ),
    ),
    ("DELETE", "/api/v1/invitations/{invitation_id}"): Case(
        TERRITORY_ADMIN,
        TA_ADMINS_BY_ID,
        lambda w, e, c: (f"/api/v1/invitations/{_invitation(w, e)}", None),
    ),
    ("GET", "/api/v1/territories/{code}/accounts"): Case(
        TERRITORY_ADMIN, TA_ADMINS, lambda w, e, c: ("/api/v1/territories/ta/accounts", None)
    ),
    ("PATCH", "/api/v1/accounts/{account_id}"): Case(
        TERRITORY_ADMIN,
        TA_ADMINS_BY_ID,
        lambda w, e, c: (f"/api/v1/accounts/{w.mediator_a1.id}", {"display_name": "Renamed"}),
    ),
    ("POST", "/api/v1/accounts/{account_id}/password-reset"): Case(
        TERRITORY_ADMIN,
        TA_ADMINS_BY_ID,
        lambda w, e, c: (f"/api/v1/accounts/{w.mediator_a1.id}/password-reset", None),
    ),
    ("GET", "/api/v1/territories/{code}/audit"): Case(
        TERRITORY_ADMIN, TA_ADMINS, lambda w, e, c: ("/api/v1/territories/ta/audit", None)
    ),
}

EMAILS = {
    "mediator_of_structure": "med-a1@example.org",
    "mediator_other_structure": "med-a2@example.org",
    "mediator_other_territory": "med-b1@example.org",
    "territory_admin": "admin-a@example.org",
    "admin_other_territory": "admin-b@example.org",
    "platform_admin": "root@example.org",
}


def test_every_route_is_in_the_matrix_with_its_rule(app: FastAPI) -> None:
    seen: dict[tuple[str, str], Rule] = {}
    for route in api_routes(app):
        rules = rule_of(route)
        assert len(rules) == 1, f"{route.methods} {route.path} declares {len(rules)} rules"
        for method in route.methods:
            seen[(method, route.path)] = rules[0]
    missing = sorted(set(seen) - set(ROUTES))
    assert not missing, f"routes with no row in the permission matrix: {missing}"
    assert not sorted(set(ROUTES) - set(seen)), "matrix rows for routes that no longer exist"
    for key, rule in seen.items():
        assert ROUTES[key].rule == rule, (
            f"{key} declares {rule.name}, matrix says {ROUTES[key].rule.name}"
        )


def test_a_route_without_a_rule_is_caught(settings: Settings) -> None:
    application = create_app(settings, configure_logs=False)
    assert undeclared_routes(application) == []

    @application.get("/api/v1/forgotten")
    def forgotten() -> None:
        return None

    @application.get("/api/v1/doubled", dependencies=[authorize(PUBLIC), authorize(PUBLIC)])
    def doubled() -> None:
        return None

    assert undeclared_routes(application) == ["GET /api/v1/forgotten", "GET /api/v1/doubled"]
    with pytest.raises(RuntimeError, match="forgotten"):
        check_routes(application)
    application.state.engine.dispose()


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize(("method", "path"), sorted(ROUTES))
def test_matrix(client: TestClient, engine: sa.Engine, method: str, path: str, caller: str) -> None:
    case = ROUTES[(method, path)]
    world = make_world(engine)
    url, body = case.setup(world, engine, caller)
    url = url or path
    headers: dict[str, str] = {}
    if case.session and caller != "anonymous":
        login = client.post(
            "/api/v1/auth/login", json={"email": EMAILS[caller], "password": PASSWORD}
        )
        assert login.status_code == 200, login.text
        headers["X-CSRF-Token"] = login.json()["csrf_token"]
    else:
        headers.update(world.headers[caller])
    response = client.request(method, url, json=body, headers=headers)
    expected = case.expected[caller]
    if expected == ALLOW:
        assert response.status_code < 400, (method, url, caller, response.text)
    else:
        assert response.status_code == expected, (method, url, caller, response.text)
        assert response.headers["content-type"] == "application/problem+json"
