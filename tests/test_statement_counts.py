"""How many SQL statements the hot paths send, counted with SQLAlchemy's before_cursor_execute.

No timing here: the figures are in docs/performance.md. What is asserted is the shape of the cost:
none for a verification in steady state (a passport view: tests/test_passports.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.factories import World, make_world, on_every_statement


@contextmanager
def counted(app: Any) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    with on_every_statement(app, count):
        yield statements


def _validate(client: TestClient, world: World, code: str) -> None:
    response = client.post(
        f"/api/v1/passports/{world.passport.id}/validations",
        json={
            "skill_code": code,
            "level": 2 if code.startswith("crcn:") else None,
            "method": "observation",
            "observed_on": date.today().isoformat(),
            "structure_id": world.a1.id,
        },
        headers=world.headers["mediator_of_structure"],
    )
    assert response.status_code == 201, response.text


def test_a_verification_sends_no_sql_in_steady_state(client: TestClient, engine: sa.Engine) -> None:
    world = make_world(engine)
    _validate(client, world, "pp:PP-06")
    issued = client.post(
        f"/api/v1/passports/{world.passport.id}/credentials",
        json={"skills": ["pp:PP-06"]},
        headers=world.headers["mediator_of_structure"],
    )
    assert issued.status_code == 201, issued.text
    for body in ({"qr_text": issued.json()["qr_text"]}, {"code": issued.json()["code"]}):
        first = client.post("/api/v1/verify", json=body)
        assert first.json()["result"] == "valid", first.text
        # Steady state: on PostgreSQL the notifications of the writes above arrive through the
        # listening thread, possibly after the first verification, and each rebuilds the
        # snapshot once. Once they are in, a verification sends nothing. A bound on waiting for
        # them, not a speed check: every verification sending SQL fails.
        sent: list[list[str]] = []
        for _ in range(50):
            with counted(client.app) as statements:
                again = client.post("/api/v1/verify", json=body)
            assert again.json()["result"] == "valid", again.text
            sent.append(statements)
            if not statements:
                break
            time.sleep(0.1)
        assert sent[-1] == [], (body, sent)
        # And it stays so.
        with counted(client.app) as statements:
            assert client.post("/api/v1/verify", json=body).json()["result"] == "valid"
        assert statements == [], body
