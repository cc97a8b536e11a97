"""Concurrent writes to one passport, on a real server: nothing lost, nothing doubled."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

import httpx
import sqlalchemy as sa

from tests.conftest import free_port, run_async
from tests.factories import make_world
from tests.servers import passeport_env, running_server

PARALLEL = 50


async def _post_all(url: str, headers: list[dict[str, str]], body: dict[str, object]) -> list[int]:
    limits = httpx.Limits(max_connections=PARALLEL)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        responses = await asyncio.gather(
            *(client.post(body["path"], json=body["json"], headers=h) for h in headers)  # type: ignore[arg-type]
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
