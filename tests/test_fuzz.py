"""Schemathesis over every operation of the OpenAPI document: no 5xx, problem+json on every 4xx.

Issue 12: an independent attack found 500s on out-of-range integers, NUL characters and odd
headers. The property-based fuzzer generates requests from the schema itself: its coverage phase
(boundary values, and values just outside each bound: the ones that found the 500s) and a few
random examples per operation. A request that fits the schema goes out as three callers
(anonymous, a mediator and a territory coordinator, both with bearer tokens), with the ids of
real rows in its path for a part of them, so that it reaches the code behind the checks; one that
breaks the schema, and each boundary value of the coverage phase, goes out as one caller, in
turn. Then, once per operation and field, a request that got past validation is sent again with
that field set to a value that answered 500 in issue 12 (2**63, a NUL). It runs in process on the
suite's database (PASSEPORT_TEST_DATABASE), derandomized: about 3,300 requests, 90 s in one
process on a loaded 2-core machine, spread over the workers under `make test`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import count
from typing import Any

import pytest
import schemathesis
import sqlalchemy as sa
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, settings
from schemathesis import GenerationMode
from schemathesis.generation.meta import TestPhase
from schemathesis.python import asgi

from app.accounts.models import Role
from app.core.db import metadata
from app.core.validation import MAX_ID
from app.main import create_app
from tests.conftest import REFERENCE_TABLES, make_settings
from tests.factories import World, bearer, make_account, make_world

PROBLEM = "application/problem+json"
# Random examples per operation, on top of the coverage phase's boundary values.
EXAMPLES_PER_OPERATION = 3
_turn = count()


def _document() -> dict[str, Any]:
    # The operations must be known at collection time, before the test database exists: the
    # document comes from an app that is never served (its database is never opened). The
    # requests go to the suite's app, on the real database.
    app = create_app(make_settings("sqlite:///never-opened.db"), configure_logs=False)
    document = app.openapi()
    app.state.engine.dispose()
    return document


schema = schemathesis.openapi.from_dict(
    _document(),
    # A GET sent as DELETE is a 405 from the router, the same for every route; not worth
    # thousands of requests.
    config=schemathesis.Config.from_dict({"phases": {"coverage": {"unexpected-methods": []}}}),
)


@dataclass
class Fuzzed:
    world: World
    session: Any
    callers: dict[str, dict[str, str]]


@pytest.fixture(autouse=True)
def _clean_tables() -> Iterator[None]:
    # Replaces the suite's per-test cleaning: the world below lives for the whole module (one
    # world per operation would cost more than the requests), and is wiped at its end.
    yield


@pytest.fixture(scope="module")
def world(app: FastAPI, engine: sa.Engine) -> Iterator[tuple[World, Any]]:
    with asgi.get_client(app) as session:
        yield make_world(engine), session
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            if table.name not in REFERENCE_TABLES:
                conn.execute(table.delete())


@pytest.fixture
def fuzzed(engine: sa.Engine, world: tuple[World, Any]) -> Fuzzed:
    # Fresh accounts for each operation: the fuzzer revokes its own tokens, disables accounts and
    # signs in wrongly until locked out, with real ids; the next operation must not inherit that.
    the_world, session = world
    mediator = make_account(engine, Role.MEDIATOR, the_world.a, [the_world.a1])
    coordinator = make_account(engine, Role.TERRITORY_ADMIN, the_world.a)
    callers = {
        "anonymous": {},
        "mediator": bearer(engine, mediator),
        "coordinator": bearer(engine, coordinator),
    }
    return Fuzzed(the_world, session, callers)


def _aim_at_real_rows(case: Any, world: World) -> None:
    """Half of the valid requests name the world's rows, so they get past "not found"."""
    if next(_turn) % 2:
        return
    real = {"passport_id": world.passport.id, "structure_id": world.a1.id, "code": world.a.code}
    for name, value in (case.path_parameters or {}).items():
        if name in real and (not isinstance(value, int) or 1 <= value <= MAX_ID):
            case.path_parameters[name] = real[name]
    if isinstance(case.body, dict) and isinstance(case.body.get("structure_id"), int):
        case.body["structure_id"] = world.a1.id


# The values that answered 500 in issue 12, put in place of one field at a time, once per
# operation and field: they check the class of bug even where a schema forgot a bound.
_hostile_done: set[tuple[str, str, str]] = set()


def _hostile(value: Any) -> list[Any]:
    if isinstance(value, bool):
        return []
    if isinstance(value, int):
        return [2**63]
    if isinstance(value, str):
        return [value + "\x00", str(2**63)] if value.isdigit() else [value + "\x00"]
    if isinstance(value, list) and value and all(type(item) is int for item in value):
        return [[2**64]]
    return []


def _hostile_variants(case: Any) -> Iterator[str]:
    """Set each field of an accepted request to a hostile value in turn (restored after)."""
    label = f"{case.method} {case.path}"
    containers = {"path": case.path_parameters, "query": case.query, "body": case.body}
    for where, container in containers.items():
        if not isinstance(container, dict):
            continue
        for key, value in list(container.items()):
            if (label, where, key) in _hostile_done:
                continue
            _hostile_done.add((label, where, key))
            for hostile in _hostile(value):
                container[key] = hostile
                try:
                    yield f"{where}:{key}={hostile!r}"
                finally:
                    container[key] = value


def _check(case: Any, response: Any, where: str) -> None:
    assert response.status_code < 500, f"{where}\n{response.status_code} {response.text}"
    if 400 <= response.status_code < 500:
        content_type = response.headers.get("content-type", "")
        if isinstance(content_type, list):
            content_type = content_type[0] if content_type else ""
        if content_type.startswith("application/json") and case.path.startswith("/wallet/"):
            # A wallet's OAuth endpoints: the problem's members plus OAuth's ``error``, as the
            # application/json RFC 6749 5.2 requires (docs/wallet.md).
            body = response.json()
            assert {"code", "error"} <= set(body), f"{where}\n{response.status_code}"
            return
        assert content_type.startswith(PROBLEM), f"{where}\n{response.status_code}"


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_no_server_error_and_problems_for_client_errors(
    case: Any, app: FastAPI, fuzzed: Fuzzed
) -> None:
    valid = case.meta is None or case.meta.generation.mode is GenerationMode.POSITIVE
    coverage = case.meta is not None and case.meta.phase.name is TestPhase.COVERAGE
    if valid:
        _aim_at_real_rows(case, fuzzed.world)
    if valid and not coverage:
        callers = list(fuzzed.callers.items())
    else:
        # The coverage phase's many boundary values, and every invalid request, go out once,
        # as each caller in turn: the same checks run whoever sends them.
        names = list(fuzzed.callers)
        name = names[next(_turn) % len(names)]
        callers = [(name, fuzzed.callers[name])]
    # The callers whose request got past validation: a hostile field is then the only fault.
    accepted: list[dict[str, str]] = []
    for caller, headers in callers:
        sent = {**(case.headers or {}), **headers}
        response = case.call(app=app, session=fuzzed.session, headers=sent)
        _check(case, response, f"{caller}: {case.as_curl_command()}")
        if response.status_code < 300 or response.status_code in (404, 409):
            accepted.append(sent)
    if valid and accepted:
        for change in _hostile_variants(case):
            response = case.call(app=app, session=fuzzed.session, headers=accepted[-1])
            _check(case, response, f"{change}: {case.as_curl_command()}")
