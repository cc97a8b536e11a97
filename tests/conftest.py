"""Test fixtures: a real database per test worker, built by Alembic, and the real app.

The backend comes from PASSEPORT_TEST_DATABASE (``sqlite``, the default, or ``postgresql``);
PostgreSQL is reached at PASSEPORT_TEST_POSTGRES_URL (default: the local trust-auth server). Each
xdist worker gets its own database, made by ``alembic upgrade head``; data written by a test is
deleted after it, reference data (the frameworks) stays.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from app import models  # noqa: F401  (every table on the metadata)
from app.core.db import create_db_engine, metadata
from app.core.migrations import upgrade
from app.core.settings import Environment, Settings
from app.main import create_app
from app.passports.service import READS, VIEWS

BACKEND = os.environ.get("PASSEPORT_TEST_DATABASE", "sqlite")
POSTGRES_URL = os.environ.get(
    "PASSEPORT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
# Loaded by migrations and never written by tests, so never wiped between them.
# change_counter's rows (one per topic) are made by migration 0020 and only ever counted up.
REFERENCE_TABLES = {
    "framework",
    "framework_level",
    "framework_area",
    "skill",
    "skill_mapping",
    "change_counter",
}

TEST_SECRET = "test-secret-" + "x" * 32
TEST_KEK = "test-kek-" + "y" * 32


def _admin_conninfo() -> str:
    url = make_url(POSTGRES_URL)
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def create_database(name: str, tmp_dir: Path) -> str:
    """An empty database of the configured backend; returns its SQLAlchemy URL."""
    if BACKEND == "sqlite":
        path = tmp_dir / f"{name}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    if BACKEND != "postgresql":
        raise RuntimeError(f"PASSEPORT_TEST_DATABASE must be sqlite or postgresql, not {BACKEND}")
    with psycopg.connect(_admin_conninfo(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)


def drop_database(name: str) -> None:
    if BACKEND == "postgresql":
        with psycopg.connect(_admin_conninfo(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, Any] = {
        "env": Environment.TEST,
        "database_url": database_url,
        "secret_key": TEST_SECRET,
        "key_encryption_key": TEST_KEK,
        "framework_recheck_seconds": 0,
        "log_level": "WARNING",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


T = TypeVar("T")


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` in a thread of its own.

    Playwright keeps an event loop running in the main thread of a worker that ran a browser
    test, and ``asyncio.run`` refuses to start beside it; which tests share a worker is xdist's
    choice, so every test that needs a loop of its own goes through here.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


_handed_out: set[int] = set()


def free_port() -> int:
    """A port for a test server, below the kernel's ephemeral range.

    A port the kernel hands out for port 0 comes from the same range as the local ports of
    outgoing connections: between our check and the server's bind, a client connection (of this
    run, or of any other process) could take it, and the server failed with "address already in
    use". Ports below that range are never taken that way; each one is checked, and never handed
    out twice by this process.
    """
    low, _ = _ephemeral_range()
    top = low if low > 12000 else 65000
    for _ in range(200):
        port = 10000 + secrets.randbelow(top - 10000)
        if port in _handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError("no free port found for a test server")


@pytest.fixture(scope="session")
def worker_id_safe() -> str:
    # Set by pytest-xdist in each worker; absent when the suite runs in one process.
    return os.environ.get("PYTEST_XDIST_WORKER", "main").replace("-", "_")


@pytest.fixture(scope="session")
def scratch_database(
    tmp_path_factory: pytest.TempPathFactory, worker_id_safe: str
) -> Iterator[object]:
    """Factory for extra empty databases (migration tests); all dropped at the end."""
    made: list[str] = []
    tmp_dir = tmp_path_factory.mktemp("scratch")

    def make(label: str) -> str:
        name = f"passeport_test_{worker_id_safe}_{label}_{secrets.token_hex(3)}"
        made.append(name)
        return create_database(name, tmp_dir)

    yield make
    for name in made:
        drop_database(name)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory, worker_id_safe: str) -> Iterator[str]:
    # The process id keeps two runs on one PostgreSQL server (a developer's and CI's, say) from
    # dropping each other's databases.
    name = f"passeport_test_{worker_id_safe}_{os.getpid()}"
    url = create_database(name, tmp_path_factory.mktemp("db"))
    upgrade(url)
    yield url
    drop_database(name)


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture(scope="session")
def engine(settings: Settings) -> Iterator[sa.Engine]:
    engine = create_db_engine(settings)
    yield engine
    engine.dispose()


@pytest.fixture(autouse=True)
def _clean_tables(request: pytest.FixtureRequest) -> Iterator[None]:
    """Delete what a test wrote, children first, so tests never see each other's rows."""
    if "database_url" not in request.fixturenames:
        yield
        return
    engine: sa.Engine = request.getfixturevalue("engine")
    yield
    # Ids are reused once tables are emptied: forget the readings of the previous test.
    READS.clear()
    VIEWS.clear()
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            if table.name not in REFERENCE_TABLES:
                conn.execute(table.delete())


@pytest.fixture(scope="session")
def app(settings: Settings) -> Iterator[FastAPI]:
    application = create_app(settings, configure_logs=False)
    yield application
    application.state.engine.dispose()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client
