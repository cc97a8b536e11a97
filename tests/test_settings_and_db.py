"""Settings refuse unsafe values; the SQLite engine runs in WAL mode with foreign keys on."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from pydantic import ValidationError
from sqlmodel import col, select

from app.core import db
from app.core.db import check_database, create_db_engine, normalise_url, transaction
from app.core.settings import (
    DEFAULT_KEY_ENCRYPTION_KEY,
    DEFAULT_SECRET_KEY,
    ConfigurationError,
    Environment,
    Settings,
)
from app.territory.models import Territory
from tests.conftest import _admin_conninfo, free_port, make_settings, run_async


def test_default_secrets_are_fine_in_development_only() -> None:
    Settings(_env_file=None, env=Environment.DEVELOPMENT).check_secrets()
    for env in (Environment.TEST, Environment.PRODUCTION):
        with pytest.raises(ConfigurationError, match="PASSEPORT_SECRET_KEY"):
            Settings(_env_file=None, env=env).check_secrets()
        with pytest.raises(ConfigurationError, match="PASSEPORT_KEY_ENCRYPTION_KEY"):
            Settings(_env_file=None, env=env, secret_key="s" * 40).check_secrets()
        with pytest.raises(ConfigurationError, match="at least 32"):
            Settings(
                _env_file=None, env=env, secret_key="short", key_encryption_key="k" * 40
            ).check_secrets()


def test_secrets_never_show_in_repr_or_dump() -> None:
    settings = make_settings("sqlite:///x.db")
    text = repr(settings) + str(settings.model_dump())
    assert DEFAULT_SECRET_KEY not in text and "test-secret" not in text
    assert DEFAULT_KEY_ENCRYPTION_KEY not in text


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PASSEPORT_PUBLIC_URL", "https://passeport.example.fr/")
    monkeypatch.setenv("PASSEPORT_DATABASE_URL", "postgresql://u@h/db")
    settings = Settings(_env_file=None)
    assert settings.public_url == "https://passeport.example.fr"
    assert normalise_url(settings.database_url).drivername == "postgresql+psycopg"
    monkeypatch.setenv("PASSEPORT_PUBLIC_URL", "passeport.example.fr")
    with pytest.raises(ValidationError):
        Settings(_env_file=None)


def test_unsupported_or_malformed_urls() -> None:
    for url in ("mysql://root@h/db", "::::", "postgresql://u@h:port/db"):
        with pytest.raises(ConfigurationError, match="PASSEPORT_DATABASE_URL"):
            normalise_url(url)


def test_unreachable_database_is_one_line_without_password() -> None:
    settings = make_settings(f"postgresql+psycopg://user:hunter2@127.0.0.1:{free_port()}/db")
    engine = create_db_engine(settings)
    with pytest.raises(ConfigurationError) as caught:
        check_database(engine)
    message = str(caught.value)
    assert "\n" not in message and "hunter2" not in message
    assert message.startswith("cannot reach the database at postgresql+psycopg://user:***@")


def test_sqlite_runs_in_wal_with_foreign_keys(tmp_path: Path) -> None:
    # Whatever backend the suite runs on, the embedded default must be configured this way.
    engine = create_db_engine(make_settings(f"sqlite:///{tmp_path}/pragmas.db"))
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_default_sqlite_file_lives_under_var(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings(_env_file=None)
    assert settings.database_url == "sqlite:///./var/passeport.db"
    engine = create_db_engine(settings)
    check_database(engine)
    engine.dispose()
    assert (tmp_path / "var" / "passeport.db").exists()


def test_foreign_keys_are_enforced(engine: sa.Engine) -> None:
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO skill (code, framework_code, number, label_fr, label_en, keywords,"
                " position) VALUES ('x:1', 'nope', '1', 'x', 'x', '[]', 0)"
            )
        )


def test_transaction_rolls_back_on_error(engine: sa.Engine) -> None:
    with pytest.raises(RuntimeError), transaction(engine) as session:
        session.add(Territory(code="rollback", name="R", issuer_url="https://r.example/t/r"))
        session.flush()
        raise RuntimeError("fail after the write")
    with transaction(engine, write=False) as session:
        assert (
            session.exec(select(Territory).where(col(Territory.code) == "rollback")).first() is None
        )


def test_env_example_documents_every_setting_and_parses() -> None:
    example = Path(__file__).resolve().parents[1] / ".env.example"
    names = {
        line.split("=", 1)[0]
        for line in example.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    }
    assert names == {f"PASSEPORT_{field.upper()}" for field in Settings.model_fields}
    assert Settings(_env_file=str(example)).is_development


def test_a_pooled_postgresql_connection_is_pinged_only_after_idling(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL: a connection given back a moment ago is handed out again without a ping
    round trip; one that idled is pinged and, dead (a restart, a failover), replaced before the
    request sees it. One that died within the window fails its request once, and the pool then
    connects afresh (tests/test_outage.py: that request is a 503)."""
    if engine.dialect.name != "postgresql":
        return  # SQLite: a file, no connection to lose
    pg = create_db_engine(
        make_settings(
            engine.url.render_as_string(hide_password=False), db_pool_size=1, db_max_overflow=0
        )
    )
    pings: list[int] = []
    real_ping = pg.dialect.do_ping

    def counting_ping(dbapi_connection: Any) -> bool:
        pings.append(1)
        return real_ping(dbapi_connection)

    monkeypatch.setattr(pg.dialect, "do_ping", counting_ping)

    def backend() -> int:
        with pg.connect() as conn:
            return int(conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())

    def kill(pid: int) -> None:
        with psycopg.connect(_admin_conninfo(), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            for _ in range(100):  # bounded: the backend exits asynchronously
                gone = admin.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,)
                ).fetchone()
                if gone == (0,):
                    return
                time.sleep(0.05)
        raise AssertionError(f"backend {pid} still there")

    try:
        first = backend()  # a new connection: nothing to ping
        assert backend() == first and pings == []  # given back a moment ago: no ping
        monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)
        assert backend() == first and len(pings) == 1  # idled: pinged, alive, kept
        kill(first)
        second = backend()  # idled and dead: pinged, replaced, the caller never knew
        assert second != first and len(pings) == 2
        monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 3600.0)
        kill(second)
        with pytest.raises(sa.exc.OperationalError) as failed:
            backend()  # died within the window: not pinged, fails once
        assert failed.value.connection_invalidated
        assert backend() not in (first, second)  # ...and the pool connects afresh
    finally:
        pg.dispose()


def test_the_event_loop_engine_keeps_its_connections_and_pings_them_after_idling(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL's engine for the transactions run on the event loop (app.core.db.LoopEngine):
    a burst of transactions, then another, the second on the very connections the first
    opened (an overflow connection closed at check-in would be opened again at the next burst:
    a backend started each time); one that idled and died is replaced before the work sees it."""
    if engine.dialect.name != "postgresql":
        return  # SQLite: its transactions run on the loop through the plain engine
    settings = make_settings(
        engine.url.render_as_string(hide_password=False), db_pool_size=2, db_max_overflow=2
    )
    plain = create_db_engine(settings)
    loop = db.create_loop_engine(settings, plain)
    assert loop is not None

    def pid(session: Any) -> int:
        return int(session.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())

    async def burst() -> set[int]:
        # Four connections held at once (the gates' slots would allow as many).
        connections = [await loop.engine.connect() for _ in range(4)]
        try:
            return {
                int((await c.execute(sa.text("SELECT pg_backend_pid()"))).scalar_one())
                for c in connections
            }
        finally:
            for c in connections:
                await c.close()

    async def scenario() -> None:
        try:
            await steps()
        finally:
            await loop.dispose()

    async def steps() -> None:
        first = await burst()
        assert len(first) == 4
        assert await burst() == first  # kept, none closed and opened again
        used = await db.run_on_loop(loop, pid, write=False)
        assert used in first
        with psycopg.connect(_admin_conninfo(), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (used,))
            for _ in range(100):  # bounded: the backend exits asynchronously
                gone = "SELECT count(*) FROM pg_stat_activity WHERE pid = %s"
                if admin.execute(gone, (used,)).fetchone() == (0,):
                    break
                time.sleep(0.05)
        monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)
        for _ in range(4):  # every pooled connection handed out once: the dead one replaced
            assert await db.run_on_loop(loop, pid, write=True) != used

    try:
        run_async(scenario())  # a loop of its own: a browser test may have left one running
    finally:
        plain.dispose()
