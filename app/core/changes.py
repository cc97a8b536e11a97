"""What changed in the database, learnt without a query per request.

Verification (the trust snapshot and the revocation bits) and the bearer-token cache keep what
they need in memory per process. They ask :meth:`ChangeFeed.version` for their topic before using
it, and rebuild when the number moved. Triggers of migration 0020 tell every process of every
replica, whoever wrote (an API request, ``passeport keys retire``, a psql session):

- **PostgreSQL**: ``NOTIFY passeport_changes, '<topic>'`` at commit; each process LISTENs on one
  connection of its own, in a thread, and bumps its local number for the topic. While that
  connection is down (or not yet up) the feed reads the ``change_counter`` table instead, which
  the same triggers do not write on PostgreSQL: every call then reports a change, so callers
  rebuild rather than trust a stale copy.
- **SQLite**: the triggers add one to the topic's row of ``change_counter``. ``PRAGMA
  data_version`` on a connection of the feed's own moves when any other connection committed;
  only then are the counters read. In steady state, a call is one pragma (no I/O).

Topics: ``trust`` (territories, signing keys, trusted issuers, the held trust list, skills),
``status`` (the revocation bits of the lists kept here), ``account`` (API tokens' revocation and
expiry, accounts' role and activity, structure memberships), ``credential`` (a credential's QR
text and code: what a typed code names).
"""

from __future__ import annotations

import itertools
import logging
import sqlite3
import threading
import weakref
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine, event
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction
from sqlmodel import Field, SQLModel

logger = logging.getLogger("app.changes")

CHANNEL = "passeport_changes"
TOPICS = ("trust", "status", "account", "credential")
TRUST, STATUS, ACCOUNT, CREDENTIAL = TOPICS
# How long a first request waits for the listener to be up before reporting "changed".
LISTEN_READY_SECONDS = 2.0
# The listener wakes up this often to see whether it should stop.
LISTEN_POLL_SECONDS = 1.0


# The tables each topic watches (migration 0020 has the same list, for its triggers).
WATCHED: Mapping[str, str] = {
    "territory": TRUST,
    "signing_key": TRUST,
    "trusted_issuer": TRUST,
    "held_trust_list": TRUST,
    "skill": TRUST,
    "status_list": STATUS,
    "api_token": ACCOUNT,
    "account": ACCOUNT,
    "structure_membership": ACCOUNT,
    "credential": CREDENTIAL,
}
_FEEDS: weakref.WeakSet[ChangeFeed] = weakref.WeakSet()
_CHANGED = "passeport_changed_topics"


class ChangeCounter(SQLModel, table=True):
    """One row per topic, bumped by the SQLite triggers of migration 0020."""

    __tablename__ = "change_counter"

    topic: str = Field(primary_key=True, max_length=16)
    n: int = Field(sa_type=sa.BigInteger)


class ChangeFeed:
    """A number per topic that moves whenever the topic's tables changed, in any process."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._url = engine.url.render_as_string(hide_password=True)
        _FEEDS.add(self)
        self._lock = threading.Lock()
        self._postgres = engine.dialect.name == "postgresql"
        # Every value this feed hands out is unique: a fallback never repeats an old number.
        self._ticket = itertools.count(1)
        self._versions: dict[str, int] = {topic: next(self._ticket) for topic in TOPICS}
        # SQLite
        self._sqlite: sqlite3.Connection | None = None
        self._data_version: int | None = None
        self._counts: dict[str, int] = {}
        # PostgreSQL
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._live = threading.Event()

    # -- the one call of the hot paths ----------------------------------------------------------

    def version(self, topic: str) -> int:
        if self._postgres:
            return self._postgres_version(topic)
        return self._sqlite_version(topic)

    def versions(self) -> Mapping[str, int]:
        return {topic: self.version(topic) for topic in TOPICS}

    def bump(self, topic: str) -> None:
        """Count a change this process made itself (tests, or a write not seen by triggers)."""
        with self._lock:
            self._versions[topic] = next(self._ticket)

    # -- PostgreSQL -----------------------------------------------------------------------------

    def start(self) -> None:
        """Start listening now (the app's startup), waiting a moment for the first connection,
        rather than on the first request."""
        if self._postgres:
            self._ensure_listener()
            self._live.wait(LISTEN_READY_SECONDS)

    def _postgres_version(self, topic: str) -> int:
        if not self._live.is_set():
            self._ensure_listener()
            # Blind: report a change every time, so nothing stale is served meanwhile. Never
            # waits here: this runs on the event loop too.
            return next(self._ticket)
        return self._versions[topic]

    def _ensure_listener(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._listen, name="passeport-change-feed", daemon=True
            )
            self._thread.start()

    def _listen(self) -> None:
        import psycopg

        conninfo = self._engine.url.set(drivername="postgresql").render_as_string(
            hide_password=False
        )
        while not self._stop.is_set():
            try:
                with psycopg.connect(
                    conninfo, autocommit=True, connect_timeout=5, application_name="passeport-feed"
                ) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    # Whatever happened while nobody listened counts as a change.
                    with self._lock:
                        for topic in TOPICS:
                            self._versions[topic] = next(self._ticket)
                    self._live.set()
                    while not self._stop.is_set():
                        for notice in conn.notifies(timeout=LISTEN_POLL_SECONDS):
                            topic = notice.payload
                            with self._lock:
                                for name in TOPICS if topic not in TOPICS else (topic,):
                                    self._versions[name] = next(self._ticket)
            except Exception as exc:
                logger.warning("change feed listener down", extra={"error": type(exc).__name__})
            finally:
                self._live.clear()
            self._stop.wait(LISTEN_POLL_SECONDS)

    # -- SQLite ---------------------------------------------------------------------------------

    def _sqlite_version(self, topic: str) -> int:
        with self._lock:
            try:
                conn = self._sqlite_connection()
                data_version = conn.execute("PRAGMA data_version").fetchone()[0]
                if data_version != self._data_version:
                    counts = dict(conn.execute("SELECT topic, n FROM change_counter").fetchall())
                    for name in TOPICS:
                        if counts.get(name) != self._counts.get(name):
                            self._versions[name] = next(self._ticket)
                    self._counts = counts
                    self._data_version = data_version
            except sqlite3.Error as exc:
                logger.warning("change feed unreadable", extra={"error": type(exc).__name__})
                self._close_sqlite()
                return next(self._ticket)
            return self._versions[topic]

    def _sqlite_connection(self) -> sqlite3.Connection:
        if self._sqlite is None:
            database = self._engine.url.database or ""
            if not database or database == ":memory:":
                raise sqlite3.OperationalError("an in-memory database has no shared feed")
            self._sqlite = sqlite3.connect(
                database, check_same_thread=False, isolation_level=None, timeout=10
            )
            self._data_version = None
        return self._sqlite

    def _close_sqlite(self) -> None:
        if self._sqlite is not None:
            self._sqlite.close()
            self._sqlite = None
            self._data_version = None

    # -- lifecycle ------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop listening and close the feed's connection; a later call starts them again."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=LISTEN_POLL_SECONDS * 3)
        with self._lock:
            self._close_sqlite()


# -- this process's own writes --------------------------------------------------------------------
# A write made by this process counts at once for its own next request, without waiting for the
# notification to come back (PostgreSQL) : the ORM session says which tables its flushes touched,
# and its commit bumps the topics. Other processes learn through the triggers.


def _note(session: Session, tables: set[str]) -> None:
    topics = {WATCHED[t] for t in tables if t in WATCHED}
    if topics:
        session.info.setdefault(_CHANGED, set()).update(topics)


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _flush: UOWTransaction) -> None:
    tables: set[str] = set()
    for instance in (*session.new, *session.dirty, *session.deleted):
        table = getattr(type(instance), "__tablename__", None)
        if isinstance(table, str):
            tables.add(table)
    _note(session, tables)


@event.listens_for(Session, "do_orm_execute")
def _orm_execute(state: ORMExecuteState) -> None:
    if state.is_update or state.is_delete or state.is_insert:
        table = getattr(state.statement, "table", None)
        name = getattr(table, "name", None)
        if isinstance(name, str):
            _note(state.session, {name})


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    topics = session.info.pop(_CHANGED, None)
    if not topics:
        return
    bind: Any = session.get_bind()
    url = getattr(bind, "engine", bind).url.render_as_string(hide_password=True)
    for feed in list(_FEEDS):
        if feed._url == url:
            for topic in topics:
                feed.bump(topic)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_CHANGED, None)
