"""What one process changes, another learns without a query per request (app/core/changes.py).

Two real `passeport serve` processes on one database: a credential revoked through one, or a key
retired by the CLI (a third process), is refused by the other at its next verification, although
verification answers from memory. On SQLite and on PostgreSQL (PASSEPORT_TEST_DATABASE).
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from app.core.changes import ACCOUNT, STATUS, TRUST, ChangeFeed
from app.core.db import create_db_engine
from tests.conftest import free_port, make_settings
from tests.factories import World, make_world, record_validation
from tests.servers import passeport_env, run_cli, running_server


def _verify(client: httpx.Client, qr_text: str) -> str:
    response = client.post("/api/v1/verify", json={"qr_text": qr_text})
    assert response.status_code == 200, response.text
    return str(response.json()["result"])


def _issue(client: httpx.Client, world: World, headers: dict[str, str]) -> dict[str, Any]:
    record_validation(client, world, headers=headers)
    issued = client.post(
        f"/api/v1/passports/{world.passport.id}/credentials",
        json={"skills": ["pp:PP-06"]},
        headers=headers,
    )
    assert issued.status_code == 201, issued.text
    return dict(issued.json())


def test_revocation_and_retirement_reach_the_other_process_at_its_next_request(
    database_url: str, engine: sa.Engine, tmp_path: Path
) -> None:
    world = make_world(engine)
    headers = world.headers["mediator_of_structure"]
    env = passeport_env(database_url)
    with ExitStack() as stack:
        one = stack.enter_context(running_server(env, free_port(), tmp_path / "one.log"))
        other = stack.enter_context(running_server(env, free_port(), tmp_path / "other.log"))
        a = stack.enter_context(httpx.Client(base_url=one.url, timeout=30))
        b = stack.enter_context(httpx.Client(base_url=other.url, timeout=30))

        view = f"/api/v1/passports/{world.passport.id}"
        assert b.get(view, headers=headers).json()["validations"] == []  # kept in B's memory
        kept = _issue(a, world, headers)
        # Recorded through A: B's next view shows it (the passport's activity date moved).
        assert [v["skill_code"] for v in b.get(view, headers=headers).json()["validations"]] == [
            "pp:PP-06"
        ]
        revoked = _issue(a, world, headers)
        # Both processes now hold the snapshot and the bits in memory.
        for client in (a, b):
            assert _verify(client, kept["qr_text"]) == "valid"
            assert _verify(client, revoked["qr_text"]) == "valid"

        answer = a.post(
            f"/api/v1/passports/{world.passport.id}/credentials/{revoked['id']}/revoke",
            json={},
            headers=headers,
        )
        assert answer.status_code == 200, answer.text
        assert _verify(b, revoked["qr_text"]) == "revoked"
        assert _verify(b, kept["qr_text"]) == "valid"

        with engine.connect() as conn:
            kid = conn.execute(
                sa.text("SELECT kid FROM credential WHERE id = :id"), {"id": kept["id"]}
            ).scalar_one()
        retired = run_cli("keys", "retire", kid, env=env)
        assert retired.returncode == 0, retired.stderr
        for client in (b, a):
            assert _verify(client, kept["qr_text"]) == "unknown_key"

        # A token revoked through one process is refused by the other at once.
        mine = a.get("/api/v1/auth/tokens", headers=headers)
        assert mine.status_code == 200, mine.text
        assert b.get(f"/api/v1/passports/{world.passport.id}", headers=headers).status_code == 200
        gone = a.delete(f"/api/v1/auth/tokens/{mine.json()[0]['id']}", headers=headers)
        assert gone.status_code == 200, gone.text
        refused = b.get(f"/api/v1/passports/{world.passport.id}", headers=headers)
        assert refused.status_code == 401, refused.text


def test_the_feed_moves_only_for_the_topic_that_changed(database_url: str) -> None:
    # Its own engine: another process's view of the same database.
    writer = create_db_engine(make_settings(database_url))
    reader = create_db_engine(make_settings(database_url))
    feed = ChangeFeed(reader)
    try:
        feed.start()
        if reader.dialect.name == "postgresql":
            # Up once the listening connection is (bounded wait, not a timing assertion).
            assert feed._live.wait(10)
        before = dict(feed.versions())
        assert dict(feed.versions()) == before  # nothing changed, nothing moves
        with writer.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO territory (code, name, issuer_url, created_at)"
                    " VALUES ('feed', 'Feed', 'https://feed.test/t/feed', CURRENT_TIMESTAMP)"
                )
            )
        after = _settled(feed, TRUST, before)
        assert after[TRUST] != before[TRUST]
        assert after[STATUS] == before[STATUS] and after[ACCOUNT] == before[ACCOUNT]
    finally:
        feed.close()
        with writer.begin() as conn:
            conn.execute(sa.text("DELETE FROM territory WHERE code = 'feed'"))
        writer.dispose()
        reader.dispose()


def _settled(feed: ChangeFeed, topic: str, before: dict[str, int]) -> dict[str, int]:
    """The versions once the feed has seen the change: at once on SQLite; on PostgreSQL the
    notification travels to the listener's thread, so wait for it (bounded, not timed)."""
    import time

    deadline = time.monotonic() + 10
    while True:
        now = dict(feed.versions())
        if now[topic] != before[topic] or time.monotonic() > deadline:
            return now
        time.sleep(0.01)


def test_two_workers_answer_under_load_and_a_revocation_counts_at_the_next_request(
    database_url: str, engine: sa.Engine, tmp_path: Path
) -> None:
    """`passeport serve --workers 2`: two processes behind one port, each with its own memory.
    Under concurrent load both answer verifications and views correctly; once a credential is
    revoked through the server, every next verification says so, whichever worker takes it."""
    world = make_world(engine)
    headers = world.headers["mediator_of_structure"]
    env = passeport_env(database_url)
    port = free_port()
    with running_server(env, port, tmp_path / "workers.log", workers=2) as server:

        def started() -> int:
            return sum(
                1
                for line in server.log().splitlines()
                if line.startswith("{") and json.loads(line).get("msg") == "started"
            )

        # /readyz answered from one worker; the other may still be starting on a busy machine.
        deadline = time.monotonic() + 120
        while started() < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert started() == 2, server.log()
        with httpx.Client(base_url=server.url, timeout=30) as client:
            kept = _issue(client, world, headers)
            revoked = _issue(client, world, headers)
        view = f"/api/v1/passports/{world.passport.id}"

        def one(index: int) -> tuple[str, str]:
            # A connection each, so that the kernel spreads them over both workers.
            with httpx.Client(base_url=server.url, timeout=30) as fresh:
                if index % 3 == 2:
                    seen = fresh.get(view, headers=headers)
                    assert seen.status_code == 200, seen.text
                    skills = [v["skill_code"] for v in seen.json()["validations"]]
                    assert skills == ["pp:PP-06", "pp:PP-06"], skills
                    return "view", "ok"
                qr = (kept if index % 2 else revoked)["qr_text"]
                response = fresh.post("/api/v1/verify", json={"qr_text": qr})
                assert response.status_code == 200, response.text
                return "verify", str(response.json()["result"])

        with ThreadPoolExecutor(max_workers=16) as pool:
            results = list(pool.map(one, range(240)))
        assert {result for kind, result in results if kind == "verify"} == {"valid"}

        with httpx.Client(base_url=server.url, timeout=30) as client:
            answer = client.post(
                f"{view}/credentials/{revoked['id']}/revoke", json={}, headers=headers
            )
            assert answer.status_code == 200, answer.text
        # Every next request, on a new connection each (either worker), knows of it.
        for _ in range(40):
            with httpx.Client(base_url=server.url, timeout=30) as fresh:
                assert _verify(fresh, revoked["qr_text"]) == "revoked"
                assert _verify(fresh, kept["qr_text"]) == "valid"
