"""Every route declares exactly one authorization rule, and the check itself can fail.

The full permission matrix (every route, every kind of caller) grows here as accounts arrive; for
now every route is public, and the matrix asserts that an anonymous caller is let through.
"""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.authz import (
    PUBLIC,
    RouteInfo,
    api_routes,
    authorize,
    check_routes,
    rule_of,
    undeclared_routes,
)
from app.core.settings import Settings
from app.main import create_app

# Expected rule for every route of the app: a new route must be added here, on purpose.
EXPECTED = {
    ("GET", "/"): PUBLIC,
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/api/v1/framework"): PUBLIC,
    ("GET", "/api/v1/framework/skills/{code}"): PUBLIC,
}

SAMPLE_PATH_VALUES = {"code": "crcn:4.1"}


def _routes(app: FastAPI) -> list[tuple[str, str, RouteInfo]]:
    return [(method, route.path, route) for route in api_routes(app) for method in route.methods]


def test_every_route_has_its_expected_rule(app: FastAPI) -> None:
    seen = {}
    for method, path, route in _routes(app):
        rules = rule_of(route)
        assert len(rules) == 1, f"{method} {path} declares {len(rules)} rules"
        seen[(method, path)] = rules[0]
    assert seen == EXPECTED


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


@pytest.mark.parametrize(("method", "path"), sorted(EXPECTED))
def test_matrix_anonymous_caller(client: TestClient, method: str, path: str) -> None:
    url = re.sub(r"\{(\w+)\}", lambda m: SAMPLE_PATH_VALUES[m.group(1)], path)
    response = client.request(method, url)
    allowed = EXPECTED[(method, path)] is PUBLIC
    if allowed:
        assert response.status_code not in (401, 403), (method, path, response.text)
    else:
        assert response.status_code in (401, 403, 404), (method, path, response.text)
