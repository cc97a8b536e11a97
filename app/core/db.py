"""Database engine, metadata naming convention and the session that bounds each transaction.

SQLite (a file under ./var/) is the embedded default; PostgreSQL through psycopg 3 is the production
database. Both are always reached through SQLAlchemy, and the schema is made by Alembic only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

import sqlalchemy as sa
from sqlalchemy import Engine, MetaData, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.pool import ConnectionPoolEntry
from sqlmodel import Field, Session, SQLModel

from app.core.settings import ConfigurationError, Settings
from app.core.time import utcnow

# Named constraints so that migrations can drop and alter them on every backend (and SQLite's batch
# mode can find them again).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION
metadata: MetaData = SQLModel.metadata

WRITE_OPTION = "passeport_write"
NOWAIT_OPTION = "passeport_write_nowait"

T = TypeVar("T")


class HashedSecret(SQLModel):
    """The columns of a row that stands for a secret handed out once and for a while (a session
    cookie, an API token, an invitation or a one-time link): only the secret's SHA-256 is kept."""

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))
    expires_at: datetime = Field(sa_type=sa.DateTime(timezone=True))


class _Row(Protocol):
    @property
    def id(self) -> int | None: ...


def pk(row: _Row) -> int:
    """The primary key of a stored row.

    The tables declare ``id: int | None`` (None until the row is flushed); once it is in the
    database the id is set, and this says so to the type checker in one place instead of an
    ``assert row.id is not None`` at each use.
    """
    if row.id is None:
        raise ValueError(f"{type(row).__name__} has no id yet: add and flush it first")
    return row.id


def normalise_url(raw: str) -> URL:
    """Parse the configured URL, mapping plain ``postgresql://`` to the psycopg 3 driver."""
    try:
        url = make_url(raw)
    except (ArgumentError, ValueError) as exc:
        raise ConfigurationError(f"PASSEPORT_DATABASE_URL is malformed: {exc}") from None
    if url.drivername in {"postgres", "postgresql"}:
        url = url.set(drivername="postgresql+psycopg")
    if url.drivername not in {"sqlite", "sqlite+pysqlite", "postgresql+psycopg"}:
        raise ConfigurationError(
            f"PASSEPORT_DATABASE_URL uses an unsupported driver {url.drivername!r}; "
            "use sqlite:///path or postgresql+psycopg://user@host/db"
        )
    return url


def is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def _sqlite_pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # WAL lets readers go on while one writer writes; NORMAL is durable at every checkpoint and
    # doubles insert throughput; busy_timeout turns lock contention into waiting, not errors.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
    cursor.close()


SQLITE_BUSY_SECONDS = 10


def _sqlite_begin(conn: Any) -> None:
    # pysqlite runs in autocommit mode (isolation_level=None) and we emit BEGIN ourselves: a
    # DEFERRED transaction that reads then writes cannot upgrade its lock while another writer
    # holds it, and fails at once. Writing units of work begin IMMEDIATE, which takes the write
    # lock up front; reads stay DEFERRED and run beside them (WAL). Requests that write also
    # queue on the app's write gate first (app.api.deps), so busy_timeout is left for other
    # processes.
    options = conn.get_execution_options()
    if options.get(NOWAIT_OPTION):
        _begin_immediate_or_give_up(conn)
    elif options.get(WRITE_OPTION):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("BEGIN")


class WriteLockBusy(Exception):
    """SQLite's write lock is held by another connection, and the caller asked not to wait."""


def _begin_immediate_or_give_up(conn: Any) -> None:
    # For a transaction run on the event loop (app.api.deps.in_transaction): take the write lock
    # only if it is free. busy_timeout 0 for this one BEGIN (on the driver's connection: no
    # statement of the transaction), then back, whatever happened.
    raw = conn.connection.dbapi_connection
    raw.execute("PRAGMA busy_timeout=0")
    try:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    except sa.exc.OperationalError as exc:
        if "locked" in str(exc.orig) or "busy" in str(exc.orig):
            raise WriteLockBusy from exc
        raise
    finally:
        raw.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")


def create_db_engine(settings: Settings) -> Engine:
    url = normalise_url(settings.database_url)
    if is_sqlite(url):
        database = url.database or ""
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 10, "isolation_level": None},
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    engine = create_engine(url, **_postgresql_options(settings))
    _ping_when_idle(engine)
    return engine


def _postgresql_options(settings: Settings) -> dict[str, Any]:
    return {
        "pool_size": settings.db_pool_size,
        "max_overflow": settings.db_max_overflow,
        "connect_args": {"connect_timeout": 5, "application_name": "passeport"},
    }


def _ping_when_idle(engine: Engine) -> None:
    event.listen(engine.pool, "checkin", _checked_in)
    event.listen(engine.pool, "checkout", _pinger(engine.dialect))


@dataclass(frozen=True)
class LoopEngine:
    """PostgreSQL on psycopg's asyncio connections (:func:`run_on_loop`), and the same pool
    in autocommit, made once (``execution_options`` costs more than a statement)."""

    engine: AsyncEngine
    autocommit: AsyncEngine

    async def dispose(self) -> None:
        await self.engine.dispose()


def create_loop_engine(settings: Settings, engine: Engine) -> LoopEngine | None:
    """PostgreSQL: an engine on psycopg's asyncio connections, for the few short transactions
    run on the event loop (:func:`run_on_loop`); None on SQLite (its transactions run on the
    loop through the plain engine, a local file has no round trip to wait for)."""
    if engine.dialect.name != "postgresql":
        return None
    # Every connection it may open is kept when given back (no overflow): the loop's
    # transactions come and go in bursts under load, and an overflow connection closed at
    # check-in was opened again a moment later (a backend started per burst, measured: 4 % of
    # a recording's CPU). It opens them only as needed, up to the request gates' slots.
    options = _postgresql_options(settings)
    options.update(pool_size=settings.db_pool_size + settings.db_max_overflow, max_overflow=0)
    loop_engine = create_async_engine(engine.url, **options)
    _ping_when_idle(loop_engine.sync_engine)
    return LoopEngine(loop_engine, loop_engine.execution_options(isolation_level="AUTOCOMMIT"))


async def run_on_loop(
    engine: LoopEngine, work: Callable[[Session], T], *, write: bool, autocommit: bool = False
) -> T:
    """:func:`transaction` on the event loop: ``work`` is the same synchronous code, run in a
    greenlet by SQLAlchemy's asyncio extension, each statement's round trip awaited by the loop
    (no threadpool hop, no thread contending for the GIL with the loop)."""
    bind = engine.autocommit if autocommit and not write else engine.engine
    async with AsyncSession(bind, sync_session_class=Session, expire_on_commit=False) as session:
        return await session.run_sync(_unit_of_work, work)


def _unit_of_work(session: OrmSession, work: Callable[[Session], T], /) -> T:
    # ``session`` is of AsyncSession's sync_session_class: SQLModel's.
    with _committed(session):
        return work(cast(Session, session))


#: A pooled PostgreSQL connection given back less than this long ago is handed out without a
#: ping (HikariCP's ``aliveBypassWindowMs``, 500 ms by default there): under load every request
#: would otherwise spend a round trip proving a connection used a moment before is alive. One
#: idle longer is pinged, and replaced if dead (after a restart, a failover, an idle timeout).
#: A connection that died inside the window fails its request with a disconnect (a 503), and
#: SQLAlchemy then discards the whole pool: the next requests connect afresh.
PING_AFTER_IDLE_SECONDS = 0.5
_CHECKED_IN_AT = "passeport_checked_in_at"


def _checked_in(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    record.info[_CHECKED_IN_AT] = time.monotonic()


def _pinger(dialect: sa.Dialect) -> Any:
    def ping_if_idle(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        # Set at each check-in; absent for a connection just made (no ping needed).
        checked_in_at = record.info.pop(_CHECKED_IN_AT, None)
        if checked_in_at is None or time.monotonic() - checked_in_at < PING_AFTER_IDLE_SECONDS:
            return
        try:
            dialect.do_ping(dbapi_connection)  # what pool_pre_ping runs (autocommit, ";")
        except Exception as exc:  # whatever the driver raised, this connection is unusable
            # The pool discards it and tries another (a new one), up to three times.
            raise sa.exc.DisconnectionError(type(exc).__name__) from exc

    return ping_if_idle


def check_database(engine: Engine) -> None:
    """Raise a one-line ConfigurationError when the database cannot be reached."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        original = getattr(exc, "orig", None) or exc
        reason = (str(original).strip().splitlines() or [type(original).__name__])[0]
        safe_url = engine.url.render_as_string(hide_password=True)
        raise ConfigurationError(f"cannot reach the database at {safe_url}: {reason}") from None


def open_session(engine: Engine, *, write: bool, nowait: bool = False) -> Session:
    """A session whose transaction is marked as writing (see _sqlite_begin) or reading.

    ``nowait`` (SQLite, writing): the first statement raises :class:`WriteLockBusy` at once,
    before anything is done, instead of waiting for another connection's write lock.
    """
    options: dict[str, Any] = {WRITE_OPTION: True, NOWAIT_OPTION: nowait} if write else {}
    bind = engine.execution_options(**options) if options else engine
    return Session(bind, expire_on_commit=False)


@contextmanager
def transaction(engine: Engine, *, write: bool = True, nowait: bool = False) -> Iterator[Session]:
    """One unit of work: commit when the block ends normally, roll back on any exception.

    With :func:`run_on_loop`, the only places that open a transaction (both through
    :func:`_committed`): the request dependency (app.api.deps), the CLI and scripts all open
    theirs here.
    """
    with open_session(engine, write=write, nowait=nowait) as session, _committed(session):
        yield session


@contextmanager
def _committed(session: OrmSession) -> Iterator[None]:
    """Commit when the block ends normally, roll back on any exception: the one rule."""
    try:
        yield
        session.commit()
    except BaseException:
        session.rollback()
        raise
