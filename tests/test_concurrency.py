"""Concurrent writes to one passport, on a real server: nothing lost, nothing doubled."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from tests.conftest import free_port, run_async
from tests.factories import make_world
from tests.servers import passeport_env, running_server

PARALLEL = 50


async def _post_all(url: str, headers: list[dict[str, str]], body: Mapping[str, Any]) -> list[int]:
    limits = httpx.Limits(max_connections=PARALLEL)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        responses = await asyncio.gather(
            *(client.post(body["path"], json=body["json"], headers=h) for h in headers)
        )
    return [r.status_code for r in responses]


def test_parallel_validations_all_land_and_retries_land_once(
    database_url: str, engine: sa.Engine, tmp_path: Path
) -> None:
    world = make_world(engine)
    mediator = world.headers["mediator_of_structure"]
    path = f"/api/v1/passports/{world.passport.id}/validations"
    body = {
        "path": path,
        "json": {
            "skill_code": "pp:PP-12",
            "method": "observation",
            "observed_on": date.today().isoformat(),
            "structure_id": world.a1.id,
        },
    }
    with running_server(
        passeport_env(database_url), free_port(), tmp_path / "server.log"
    ) as server:
        distinct = run_async(
            _post_all(
                server.url,
                [{**mediator, "Idempotency-Key": f"distinct-key-{i:04d}"} for i in range(PARALLEL)],
                body,
            )
        )
        assert distinct == [201] * PARALLEL, server.log()[-2000:]
        retried = run_async(
            _post_all(
                server.url, [{**mediator, "Idempotency-Key": "one-retried-key"}] * PARALLEL, body
            )
        )
        assert sorted(retried) == [200] * (PARALLEL - 1) + [201], server.log()[-2000:]
    with engine.connect() as conn:
        count = conn.execute(
            sa.text("SELECT count(*) FROM validation WHERE passport_id = :p"),
            {"p": world.passport.id},
        ).scalar_one()
        logged = conn.execute(
            sa.text(
                "SELECT count(*) FROM passport_access_log"
                " WHERE passport_id = :p AND action = 'validation.created'"
            ),
            {"p": world.passport.id},
        ).scalar_one()
    assert count == PARALLEL + 1
    assert logged == PARALLEL + 1


async def _post_each(
    url: str, path: str, headers: dict[str, str], bodies: list[dict[str, object]]
) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=PARALLEL)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        return list(
            await asyncio.gather(*(client.post(path, json=b, headers=headers) for b in bodies))
        )


def test_one_key_with_parallel_different_bodies_stores_one_and_refuses_the_others(
    database_url: str, engine: sa.Engine, tmp_path: Path
) -> None:
    world = make_world(engine)
    headers = {**world.headers["mediator_of_structure"], "Idempotency-Key": "one-key-many-bodies"}
    path = f"/api/v1/passports/{world.passport.id}/validations"
    # Five bodies, ten copies of each, all at once under one key.
    bodies: list[dict[str, object]] = [
        {
            "skill_code": "crcn:1.1",
            "level": 1 + i % 5,
            "method": "observation",
            "observed_on": date.today().isoformat(),
            "structure_id": world.a1.id,
        }
        for i in range(PARALLEL)
    ]
    with running_server(
        passeport_env(database_url), free_port(), tmp_path / "server.log"
    ) as server:
        answers = run_async(_post_each(server.url, path, headers, bodies))
        log = server.log()[-2000:]
    with engine.connect() as conn:
        stored = conn.execute(
            sa.text("SELECT level FROM validation WHERE passport_id = :p"),
            {"p": world.passport.id},
        ).all()
    assert len(stored) == 1
    level = stored[0][0]
    assert [a.status_code for a in answers].count(201) == 1, log
    for body, answer in zip(bodies, answers, strict=True):
        if body["level"] == level:
            assert answer.status_code in (200, 201), (answer.status_code, answer.text)
            assert answer.json()["level"] == level
        else:
            assert answer.status_code == 409, (answer.status_code, answer.text)
            assert answer.json()["code"] == "idempotency_key_reused"


async def _guess_from_many_addresses(
    url: str, path: str, bodies: Sequence[Mapping[str, object]]
) -> list[httpx.Response]:
    # Each guess from its own address (127.0.0.0/8 is all loopback), so that only the per-passport
    # or per-account limit can stop them.
    clients = [
        httpx.AsyncClient(
            base_url=url,
            timeout=60,
            transport=httpx.AsyncHTTPTransport(local_address=f"127.0.0.{10 + i}"),
        )
        for i in range(len(bodies))
    ]
    try:
        return list(
            await asyncio.gather(
                *(c.post(path, json=b) for c, b in zip(clients, bodies, strict=True))
            )
        )
    finally:
        for c in clients:
            await c.aclose()


def _journaled(engine: sa.Engine, action: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.text("SELECT count(*) FROM audit_event WHERE action = :a"), {"a": action}
            ).scalar_one()
        )


def test_parallel_guesses_cannot_get_past_the_lockout(
    database_url: str, engine: sa.Engine, tmp_path: Path
) -> None:
    world = make_world(engine)
    codes = [{"number": world.passport.number, "code": f"BBBBBB{i:02d}"} for i in range(40)]
    passwords = [{"email": "med-a1@example.org", "password": f"wrong-{i}"} for i in range(30)]
    with running_server(
        passeport_env(database_url), free_port(), tmp_path / "server.log"
    ) as server:
        by_code = run_async(_guess_from_many_addresses(server.url, "/api/v1/citizen/login", codes))
        by_password = run_async(
            _guess_from_many_addresses(server.url, "/api/v1/auth/login", passwords)
        )
        log = server.log()[-2000:]
    for answers, checked_action, wrong, locked in [
        (by_code, "citizen.login_failed", "invalid_access_code", "rate_limited"),
        (by_password, "auth.login_failed", "invalid_credentials", "account_locked"),
    ]:
        statuses = [a.status_code for a in answers]
        assert set(statuses) == {401, 429}, (statuses, log)
        # A guess is journaled once it has been checked: at most the limit were.
        assert statuses.count(401) == _journaled(engine, checked_action) <= 5
        for answer in answers:
            problem = answer.json()
            if answer.status_code == 401:
                assert problem["code"] == wrong
            else:
                assert problem["code"] == locked
                assert 0 < int(answer.headers["retry-after"]) <= 15 * 60
                assert problem["retry_after_minutes"] in range(1, 16)
                assert f"{problem['retry_after_minutes']} minute" in problem["detail"]
