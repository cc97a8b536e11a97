"""A database outage is a 503 with Retry-After, never a 500, and the app recovers by itself.

On PostgreSQL: a real server under write load while its database refuses connections and its
backends are terminated (what a restart or a failover looks like from the app). On SQLite: the
database file's directory goes away and comes back under a running app.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import httpx
import psycopg
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.core.migrations import upgrade
from app.main import create_app
from tests.conftest import _admin_conninfo, free_port, make_settings
from tests.factories import World, make_world
from tests.servers import passeport_env, running_server

PROBLEM = "application/problem+json"


def _body(world: World) -> dict[str, object]:
    return {
        "skill_code": "pp:PP-12",
        "method": "observation",
        "observed_on": date.today().isoformat(),
        "structure_id": world.a1.id,
    }


def _unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == "database_unavailable"
    assert int(response.headers["retry-after"]) > 0


@dataclass
class Load:
    """Writers posting validations until told to stop; every answer kept."""

    url: str
    path: str
    headers: dict[str, str]
    body: dict[str, object]
    stop: threading.Event = field(default_factory=threading.Event)
    answers: list[tuple[str, int, int | None, str | None]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def writer(self, n: int) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            i = 0
            while not self.stop.is_set():
                key = f"outage-{n:02d}-{i:05d}"
                i += 1
                try:
                    answer = client.post(
                        self.path, json=self.body, headers={**self.headers, "Idempotency-Key": key}
                    )
                except httpx.TransportError:
                    continue  # never answered: nothing to check
                ok = answer.status_code in (200, 201)
                with self.lock:
                    self.answers.append(
                        (
                            key,
                            answer.status_code,
                            answer.json()["id"] if ok else None,
                            answer.headers.get("retry-after"),
                        )
                    )

    def statuses(self) -> list[int]:
        with self.lock:
            return [status for _, status, _, _ in self.answers]


def _until(done: Callable[[], object], what: str, seconds: float = 10) -> None:
    """Wait for a condition of the load (not a timing assertion: the bound only stops a hang)."""
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.05)


def _postgresql_outage(database_url: str, engine: sa.Engine, tmp_path: Path) -> None:
    world = make_world(engine)
    name = engine.url.database
    with running_server(passeport_env(database_url), free_port(), tmp_path / "server.log") as srv:
        load = Load(
            srv.url,
            f"/api/v1/passports/{world.passport.id}/validations",
            world.headers["mediator_of_structure"],
            _body(world),
        )
        writers = [threading.Thread(target=load.writer, args=(n,)) for n in range(6)]
        for thread in writers:
            thread.start()
        try:
            _until(lambda: load.statuses().count(201) >= 20, "the load is under way")
            with psycopg.connect(_admin_conninfo(), autocommit=True) as admin:
                admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
                try:
                    before = len(load.statuses())

                    # Until the writers have met the outage a few times, cut every connection
                    # the server holds or manages to open.
                    def met() -> bool:
                        admin.execute(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = %s AND pid <> pg_backend_pid()",
                            (name,),
                        )
                        return sum(s >= 500 for s in load.statuses()[before:]) >= 10

                    _until(met, "writes refused during the outage")
                    _unavailable(httpx.get(f"{srv.url}/readyz", timeout=30))
                finally:
                    admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
            # Back, without restarting the app: writes land again.
            recovered = len(load.statuses())
            _until(lambda: load.statuses()[recovered:].count(201) >= 20, "writes land again")
        finally:
            load.stop.set()
            for thread in writers:
                thread.join()
        assert httpx.get(f"{srv.url}/readyz", timeout=30).status_code == 200
        log = srv.log()
    statuses = load.statuses()
    assert 500 not in statuses, log[-3000:]
    assert set(statuses) <= {201, 503}, sorted(set(statuses))
    assert all(retry for _, status, _, retry in load.answers if status == 503)
    acknowledged = {vid for _, status, vid, _ in load.answers if status == 201}
    with engine.connect() as conn:
        stored = set(
            conn.execute(
                sa.text("SELECT id FROM validation WHERE passport_id = :p"),
                {"p": world.passport.id},
            ).scalars()
        )
    # Every write answered 201 is there; a 503 may or may not have landed (its commit may
    # have been cut after the server received it), which is what Idempotency-Key is for.
    assert acknowledged <= stored
    assert "Traceback" not in log


def _sqlite_outage(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    url = f"sqlite:///{folder / 'passeport.db'}"
    folder.mkdir()
    upgrade(url)
    app = create_app(make_settings(url), configure_logs=False)
    with TestClient(app) as client:
        world = make_world(app.state.engine)
        path = f"/api/v1/passports/{world.passport.id}/validations"
        headers = world.headers["mediator_of_structure"]
        assert client.post(path, json=_body(world), headers=headers).status_code == 201
        # The disk goes away: pooled connections are dropped, new ones cannot open the file.
        app.state.engine.dispose()
        folder.rename(tmp_path / "away")
        try:
            _unavailable(client.post(path, json=_body(world), headers=headers))
            _unavailable(client.get("/readyz"))
        finally:
            (tmp_path / "away").rename(folder)
        assert client.post(path, json=_body(world), headers=headers).status_code == 201
        assert client.get("/readyz").status_code == 200
    app.state.engine.dispose()


def test_a_database_outage_is_a_503_and_the_app_recovers(
    database_url: str, engine: sa.Engine, tmp_path: Path
) -> None:
    if engine.dialect.name == "postgresql":
        _postgresql_outage(database_url, engine, tmp_path)
    else:
        _sqlite_outage(tmp_path)
