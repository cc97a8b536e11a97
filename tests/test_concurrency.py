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
