"""The one input policy (docs/api.md, "Input policy"): ids, text and dates, everywhere.

Issue 12: integers past 2³¹ (int4 on PostgreSQL), NUL characters (refused by PostgreSQL), dates
outside the credential format's range and a non-ASCII CSRF header all answered 500. Each case is
reproduced here on the real app and database; the walk over the OpenAPI document then makes sure
that every integer, number, string and date a client can send carries the policy's bounds, so
that a route added later cannot reopen the hole by forgetting a type.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.audit.models import AuditEvent
from app.core.db import pk, transaction
from app.core.validation import DATE_WINDOW_KEY, MAX_ID, TEXT_POLICY, TEXT_POLICY_KEY
from app.credentials import format as fmt
from app.passports.models import Method, Validation
from tests.factories import World, browser_login, make_world

PROBLEM = "application/problem+json"
TODAY = date.today().isoformat()
TOO_BIG = [2**31, 2**63, 2**64]


@pytest.fixture
def world(engine: sa.Engine) -> World:
    return make_world(engine)


def _send(client: TestClient, method: str, url: str, body: Any, headers: dict[str, str]) -> Any:
    # json.dumps keeps "\ud800" as an escape, as a hostile client would send it.
    return client.request(
        method,
        url,
        content=json.dumps(body),
        headers={**headers, "Content-Type": "application/json"},
    )


def _refused(response: Any, error_type: str | None = None) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    problem: dict[str, Any] = response.json()
    assert problem["code"] == "validation_error"
    if error_type is not None:
        assert error_type in [error["type"] for error in problem["errors"]], problem
    return problem


def _passport_body(world: World, **extra: Any) -> dict[str, Any]:
    return {
        "first_name": "Amina",
        "last_name": "Diallo",
        "birth_year": 1961,
        "structure_id": world.a1.id,
        "consent": True,
        **extra,
    }


def _validation_body(world: World, **extra: Any) -> dict[str, Any]:
    return {
        "skill_code": "pp:PP-06",
        "method": "observation",
        "observed_on": TODAY,
        "structure_id": world.a1.id,
        **extra,
    }


# --- ids ------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", TOO_BIG)
def test_ids_past_int4_in_bodies_are_refused(client: TestClient, world: World, value: int) -> None:
    mediator = world.headers["mediator_of_structure"]
    admin = world.headers["territory_admin"]
    cases = [
        ("POST", "/api/v1/passports", _passport_body(world, structure_id=value), mediator),
        (
            "POST",
            f"/api/v1/passports/{world.passport.id}/validations",
            _validation_body(world, structure_id=value),
            mediator,
        ),
        (
            "POST",
            f"/api/v1/territories/{world.a.code}/invitations",
            {
                "email": "new@example.org",
                "display_name": "New",
                "role": "mediator",
                "structure_ids": [value],
            },
            admin,
        ),
        (
            "PATCH",
            f"/api/v1/accounts/{world.mediator_a1.id}",
            {"structure_ids": [value]},
            admin,
        ),
        (
            "POST",
            f"/api/v1/passports/{world.passport.id}/grants",
            {"structure_id": value, "access_code": "BCDF2345"},
            mediator,
        ),
    ]
    for method, url, body, headers in cases:
        _refused(_send(client, method, url, body, headers), "less_than_equal")


@pytest.mark.parametrize("value", TOO_BIG)
def test_ids_past_int4_in_paths_and_queries_are_refused(
    client: TestClient, world: World, value: int
) -> None:
    mediator = world.headers["mediator_of_structure"]
    admin = world.headers["territory_admin"]
    for url, headers in [
        (f"/api/v1/passports/{value}", mediator),
        (f"/api/v1/structures/{value}", {}),
        (f"/api/v1/territories/{world.a.code}/audit?before_id={value}", admin),
        (f"/api/v1/trust/journal?before_id={value}", world.headers["platform_admin"]),
    ]:
        _refused(client.get(url, headers=headers), "less_than_equal")


@pytest.mark.parametrize(
    ("written", "error_type"),
    [("true", "int_type"), ("float", "int_type"), ("+", "int_parsing"), ("0", "int_parsing")],
)
def test_an_id_in_a_body_is_an_integer_not_what_reads_as_one(
    client: TestClient, world: World, written: str, error_type: str
) -> None:
    """``true`` was taken as 1, ``3.0`` as 3, ``"+3"`` and ``"03"`` as 3 (pydantic's lax
    integers): the validation was written."""
    mediator = world.headers["mediator_of_structure"]
    structure_id = world.a1.id or 0
    value = {
        "true": True,
        "float": float(structure_id),
        "+": f"+{structure_id}",
        "0": f"0{structure_id}",
    }[written]
    body = _validation_body(world, structure_id=value)
    before = client.get(f"/api/v1/passports/{world.passport.id}", headers=mediator).json()
    url = f"/api/v1/passports/{world.passport.id}/validations"
    _refused(_send(client, "POST", url, body, mediator), error_type)
    after = client.get(f"/api/v1/passports/{world.passport.id}", headers=mediator).json()
    assert after["validations"] == before["validations"]


@pytest.mark.parametrize("written", ["1.0", "01", "+1", " 1", "1 ", "\u0661"])
def test_an_id_in_a_path_is_written_in_plain_digits(
    client: TestClient, world: World, written: str
) -> None:
    """``/passports/1.0``, ``/passports/01``… named passport 1: one passport, one address."""
    mediator = world.headers["mediator_of_structure"]
    path = f"/api/v1/passports/{written.replace('1', str(world.passport.id))}"
    _refused(client.get(path, headers=mediator), "int_parsing")
    assert client.get(f"/api/v1/passports/{world.passport.id}", headers=mediator).status_code == 200


def test_the_largest_id_is_a_plain_not_found(client: TestClient, world: World) -> None:
    response = client.get(
        f"/api/v1/passports/{MAX_ID}", headers=world.headers["mediator_of_structure"]
    )
    assert response.status_code == 404, response.text


# --- text -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "error_type"),
    [("Am\x00ina", "string_nul_character"), ("Am\ud800ina", "string_lone_surrogate")],
)
def test_nul_and_lone_surrogates_in_bodies_are_refused(
    client: TestClient, world: World, bad: str, error_type: str
) -> None:
    mediator = world.headers["mediator_of_structure"]
    passport = f"/api/v1/passports/{world.passport.id}"
    cases = [
        ("POST", "/api/v1/passports", _passport_body(world, first_name=bad)),
        ("POST", f"{passport}/validations", _validation_body(world, skill_code=bad)),
        ("POST", f"{passport}/validations", _validation_body(world, evidence=bad)),
        ("POST", "/api/v1/verify", {"code": bad}),
        ("POST", "/api/v1/auth/login", {"email": "a@example.org", "password": bad}),
    ]
    for method, url, body in cases:
        _refused(_send(client, method, url, body, mediator), error_type)
    # A token's name, by a signed-in browser (the only one that may make tokens).
    csrf = browser_login(client, world.mediator_a1.email)
    token = {"name": bad, "scopes": ["passports:read"]}
    _refused(_send(client, "POST", "/api/v1/auth/tokens", token, csrf), error_type)
    client.cookies.clear()
    admin = world.headers["territory_admin"]
    structure = {"nom": bad, "commune": "Cayenne", "code_postal": "97300", "adresse": "1 rue"}
    response = _send(
        client, "POST", f"/api/v1/territories/{world.a.code}/structures", structure, admin
    )
    assert response.status_code == 422, response.text


def test_nul_in_queries_and_paths_is_refused(client: TestClient, world: World) -> None:
    mediator = world.headers["mediator_of_structure"]
    for url in [
        f"/api/v1/territories/{world.a.code}/structures?q=%00",
        "/api/v1/passports?q=a%00b",
        "/api/v1/territories/t%00a",
        "/api/v1/framework/skills/pp:PP%00",
    ]:
        _refused(client.get(url, headers=mediator), "string_nul_character")


def test_unknown_keys_with_lone_surrogates_are_a_problem_not_a_crash(
    client: TestClient, world: World
) -> None:
    # The error's location names the key; it must still render as UTF-8.
    body = {"nom": "A", "commune": "B", "code_postal": "97300", "adresse": "C", "\ud800": 1}
    response = _send(
        client,
        "POST",
        f"/api/v1/territories/{world.a.code}/structures",
        body,
        world.headers["territory_admin"],
    )
    _refused(response)


# --- dates ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "error_type"),
    [
        ("0001-01-01", "date_too_early"),
        ("1969-12-31", "date_too_early"),
        ("1989-12-31", "date_too_early"),
        ((date.today() + timedelta(days=2)).isoformat(), "date_too_late"),
        ("9999-12-31", "date_too_late"),
    ],
)
def test_observation_dates_outside_the_window_are_refused(
    client: TestClient, world: World, day: str, error_type: str
) -> None:
    response = _send(
        client,
        "POST",
        f"/api/v1/passports/{world.passport.id}/validations",
        _validation_body(world, observed_on=day),
        world.headers["mediator_of_structure"],
    )
    problem = _refused(response, error_type)
    context = "earliest" if error_type == "date_too_early" else "latest"
    assert problem["errors"][0]["type"] == error_type
    assert context in response.text or error_type in response.text


@pytest.mark.parametrize(
    ("instant", "error_type"),
    [
        # Outside datetime's range once moved to UTC: refused as dates, not a 500.
        ("0001-01-01T00:00:00+14:00", "date_too_early"),
        ("9999-12-31T23:59:59-14:00", "date_too_late"),
        ("0001-01-01T00:00:00Z", "date_too_early"),
    ],
)
@pytest.mark.parametrize("path", ["validations", "passports"])
def test_an_instant_at_the_edge_of_the_calendar_is_refused_as_a_date(
    client: TestClient, world: World, instant: str, error_type: str, path: str
) -> None:
    mediator = world.headers["mediator_of_structure"]
    if path == "validations":
        url = f"/api/v1/passports/{world.passport.id}/validations"
        body = _validation_body(world, recorded_offline_at=instant)
    else:
        url = "/api/v1/passports"
        body = _passport_body(world, recorded_offline_at=instant)
    _refused(_send(client, "POST", url, body, mediator), error_type)


@pytest.mark.parametrize("day", ["1990-01-01", TODAY])
def test_every_accepted_observation_date_can_be_issued(
    client: TestClient, world: World, day: str
) -> None:
    """Issue 12 item 2: a 1969 validation was stored, then its credential answered 500."""
    mediator = world.headers["mediator_of_structure"]
    response = _send(
        client,
        "POST",
        f"/api/v1/passports/{world.passport.id}/validations",
        _validation_body(world, observed_on=day),
        mediator,
    )
    assert response.status_code == 201, response.text
    issued = _send(
        client,
        "POST",
        f"/api/v1/passports/{world.passport.id}/credentials",
        {"skills": ["pp:PP-06"]},
        mediator,
    )
    assert issued.status_code == 201, issued.text


def test_a_date_stored_before_the_policy_is_refused_not_a_crash(
    client: TestClient, world: World, engine: sa.Engine
) -> None:
    """A 1969 validation stored by an earlier version: issuing it said 500 (ClaimsError)."""
    with transaction(engine) as session:
        session.add(
            Validation(
                passport_id=pk(world.passport),
                skill_code="pp:PP-06",
                level=2,
                method=Method.OBSERVATION,
                observed_on=date(1969, 12, 31),
                account_id=world.mediator_a1.id,
                structure_id=world.a1.id,
            )
        )
    issued = _send(
        client,
        "POST",
        f"/api/v1/passports/{world.passport.id}/credentials",
        {"skills": ["pp:PP-06"]},
        world.headers["mediator_of_structure"],
    )
    assert issued.status_code == 422, issued.text
    assert issued.json()["code"] == "skill_not_validated"


def test_the_credential_day_range_contains_every_accepted_date() -> None:
    assert fmt.day_number(date(1990, 1, 1)) >= 0
    # The latest date any window allows (a period's end, a year ahead) for centuries to come.
    assert fmt.day_from_number(fmt.MAX_DAY) > date.today() + timedelta(days=366 * 150)


def test_stats_period_bounds_outside_the_window_are_refused(
    client: TestClient, world: World
) -> None:
    admin = world.headers["territory_admin"]
    base = f"/api/v1/territories/{world.a.code}/stats"
    _refused(client.get(f"{base}?start=0001-01-01&end=2020-01-01", headers=admin), "date_too_early")
    _refused(client.get(f"{base}?start=2020-01-01&end=9999-01-01", headers=admin), "date_too_late")
    _refused(
        client.get(
            f"/api/v1/territories/{world.a.code}/audit?since=0001-01-01T00:00:00Z", headers=admin
        ),
        "date_too_early",
    )


# --- CSRF -----------------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["é" * 64, "\u20ac", "ÿ"])
def test_a_non_ascii_csrf_token_is_refused_and_journaled(
    client: TestClient, world: World, engine: sa.Engine, token: str
) -> None:
    browser_login(client, world.mediator_a1.email)
    response = client.post(
        "/api/v1/auth/tokens",
        json={"name": "x", "scopes": []},
        headers={"X-CSRF-Token": token.encode("utf-8")},
    )
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == "csrf_failed"
    with engine.connect() as conn:
        refused = conn.execute(
            sa.select(sa.func.count())
            .select_from(AuditEvent)
            .where(sa.column("action") == "auth.csrf_refused")
        ).scalar_one()
    assert refused == 1


# --- the walk -------------------------------------------------------------------------------

# The largest maximum an integer may declare: ids are int4; the one exception is a 64-bit
# column, listed here by parameter.
INT_MAXIMUM = MAX_ID


def _policy_escapes(doc: dict[str, Any]) -> list[str]:
    components = doc.get("components", {}).get("schemas", {})
    escapes: list[str] = []

    def walk(
        schema: dict[str, Any], where: str, seen: frozenset[str], outer: dict[str, Any]
    ) -> None:
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            if name not in seen:
                walk(components[name], f"{where}<{name}>", seen | {name}, {})
            return
        # FastAPI puts a parameter's bounds beside `anyOf` ([str, null]): they apply to each branch.
        inherited = {k: v for k, v in schema.items() if k not in ("anyOf", "oneOf", "allOf")}
        for key in ("anyOf", "oneOf", "allOf"):
            for branch in schema.get(key, []):
                walk(branch, where, seen, {**outer, **inherited})
        kind = schema.get("type")
        full = {**outer, **schema}
        if kind == "object":
            for name, sub in schema.get("properties", {}).items():
                walk(sub, f"{where}.{name}", seen, {})
            extra = schema.get("additionalProperties")
            if isinstance(extra, dict) and extra:
                walk(extra, f"{where}.*", seen, {})
        elif kind == "array":
            if "maxItems" not in full:
                escapes.append(f"{where}: array without maxItems")
            walk(schema.get("items", {}), f"{where}[]", seen, {})
        elif kind in ("integer", "number"):
            if "minimum" not in full or "maximum" not in full:
                escapes.append(f"{where}: {kind} without minimum and maximum")
            elif kind == "integer" and full["maximum"] > INT_MAXIMUM:
                escapes.append(f"{where}: maximum {full['maximum']} past 2**31-1")
        elif kind == "string":
            if "enum" in full or "const" in full:
                return
            if full.get("format") in ("date", "date-time"):
                if DATE_WINDOW_KEY not in full:
                    escapes.append(f"{where}: date without {DATE_WINDOW_KEY}")
                return
            if "maxLength" not in full:
                escapes.append(f"{where}: string without maxLength")
            if full.get(TEXT_POLICY_KEY) != TEXT_POLICY:
                escapes.append(f"{where}: string without {TEXT_POLICY_KEY}")

    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            label = f"{method.upper()} {path}"
            for parameter in operation.get("parameters", []):
                where = f"{label} {parameter['in']}:{parameter['name']}"
                walk(parameter["schema"], where, frozenset(), {})
            for media_type, content in operation.get("requestBody", {}).get("content", {}).items():
                walk(content.get("schema", {}), f"{label} body({media_type})", frozenset(), {})
    return escapes


def test_every_input_in_the_openapi_document_follows_the_policy(app: FastAPI) -> None:
    assert _policy_escapes(app.openapi()) == []


def test_the_walk_sees_a_field_that_escapes() -> None:
    """The walk itself can fail: a bare int, str, list and date are each reported."""
    doc = {
        "paths": {
            "/x/{id}": {
                "post": {
                    "parameters": [
                        {"in": "path", "name": "id", "schema": {"type": "integer", "minimum": 1}},
                        {
                            "in": "query",
                            "name": "q",
                            "schema": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                        },
                    ],
                    "requestBody": {
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/B"}}
                        }
                    },
                }
            }
        },
        "components": {
            "schemas": {
                "B": {
                    "type": "object",
                    "properties": {
                        "ids": {
                            "type": "array",
                            "items": {"type": "integer", "minimum": 1, "maximum": 2**63},
                        },
                        "day": {"type": "string", "format": "date"},
                        "name": {"type": "string", "maxLength": 10},
                    },
                }
            }
        },
    }
    assert len(_policy_escapes(doc)) == 7
