"""Every failure is an RFC 9457 problem document with a stable code; never a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from app.authz import PUBLIC, authorize
from app.core.errors import Conflict
from app.core.settings import Settings
from app.main import create_app

PROBLEM = "application/problem+json"


class Payload(BaseModel):
    name: str = Field(max_length=10)
    password: str


@pytest.fixture(scope="module")
def probe_app(settings: Settings) -> Iterator[FastAPI]:
    """The real app plus three routes that fail on purpose."""
    application = create_app(
        settings.model_copy(update={"max_body_bytes": 2048}), configure_logs=False
    )

    @application.get("/api/v1/_probe/boom", dependencies=[authorize(PUBLIC)])
    def boom() -> None:
        raise RuntimeError("secret internal detail")

    @application.get("/api/v1/_probe/conflict", dependencies=[authorize(PUBLIC)])
    def conflict() -> None:
        raise Conflict("Already there.", code="already_there", existing_id=7)

    @application.post("/api/v1/_probe/echo", dependencies=[authorize(PUBLIC)])
    def echo(payload: Payload) -> dict[str, str]:
        return {"name": payload.name}

    yield application
    application.state.engine.dispose()


@pytest.fixture
def probe(probe_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(probe_app, raise_server_exceptions=False) as client:
        yield client


def _problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"urn:passeport:problem:{code}"
    assert body["title"] and body["detail"]
    assert body["request_id"] == response.headers["x-request-id"]
    return body


def test_unknown_route_and_wrong_method(probe: TestClient) -> None:
    _problem(probe.get("/api/v1/nothing-here"), 404, "not_found")
    _problem(probe.delete("/api/v1/framework"), 405, "method_not_allowed")


def test_unexpected_exception_is_a_500_problem_without_details(
    probe: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    response = probe.get("/api/v1/_probe/boom")
    _problem(response, 500, "internal_error")
    assert "secret internal detail" not in response.text
    assert "Traceback" not in response.text
    # The detail goes to the log instead, with the request id.
    assert any("secret internal detail" in (r.exc_text or "") for r in caplog.records)


def test_domain_error_carries_its_code_and_extras(probe: TestClient) -> None:
    body = _problem(probe.get("/api/v1/_probe/conflict"), 409, "already_there")
    assert body["existing_id"] == 7
    assert body["instance"] == "/api/v1/_probe/conflict"


def test_validation_error_lists_fields_without_echoing_input(probe: TestClient) -> None:
    response = probe.post("/api/v1/_probe/echo", json={"name": "x" * 11, "password": 12})
    body = _problem(response, 422, "validation_error")
    locations = [e["loc"] for e in body["errors"]]
    assert ["body", "name"] in locations and ["body", "password"] in locations
    assert "x" * 11 not in response.text
    assert all(set(e) == {"loc", "field", "msg", "type"} for e in body["errors"])


def test_malformed_json_body(probe: TestClient) -> None:
    response = probe.post(
        "/api/v1/_probe/echo", content=b"{not json", headers={"content-type": "application/json"}
    )
    _problem(response, 422, "validation_error")


def test_oversized_body_is_refused_before_it_is_read(probe: TestClient) -> None:
    big = b'{"name": "a", "password": "' + b"p" * 5000 + b'"}'
    declared = probe.post(
        "/api/v1/_probe/echo", content=big, headers={"content-type": "application/json"}
    )
    _problem(declared, 413, "payload_too_large")

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(big), 512):
            yield big[i : i + 512]

    chunked = probe.post(
        "/api/v1/_probe/echo", content=chunks(), headers={"content-type": "application/json"}
    )
    _problem(chunked, 413, "payload_too_large")

    small = probe.post("/api/v1/_probe/echo", json={"name": "ok", "password": "p"})
    assert small.status_code == 200


def test_chunked_body_under_the_limit_is_replayed_intact(probe: TestClient) -> None:
    body = b'{"name": "chunky", "password": "p"}'
    response = probe.post(
        "/api/v1/_probe/echo",
        content=iter([body[:10], body[10:]]),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 200
    assert response.json() == {"name": "chunky"}


def test_request_id_is_kept_when_plain_and_replaced_when_not(probe: TestClient) -> None:
    kept = probe.get("/healthz", headers={"X-Request-ID": "proxy-abc-12345"})
    assert kept.headers["x-request-id"] == "proxy-abc-12345"
    replaced = probe.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert replaced.headers["x-request-id"] != "bad id\twith spaces"
    assert len(replaced.headers["x-request-id"]) == 32
    assert (
        probe.get("/healthz").headers["x-request-id"]
        != probe.get("/healthz").headers["x-request-id"]
    )
