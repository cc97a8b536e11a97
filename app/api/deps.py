"""Dependencies shared by every router, as ``Annotated`` aliases."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine
from sqlmodel import Session

from app.core.db import SQLITE_BUSY_SECONDS, WriteLockBusy, run_on_loop, transaction
from app.core.errors import DatabaseUnavailable
from app.core.settings import Settings
from app.credentials.verifier import Verifier

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

T = TypeVar("T")


# The three getters are async: they do no I/O, and a plain ``def`` dependency costs a threadpool
# hop per request (measured: about a tenth of a verification's CPU).
async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


async def get_verifier(request: Request) -> Verifier:
    verifier: Verifier = request.app.state.verifier
    return verifier


def _session(engine: Engine, *, write: bool) -> Iterator[Session]:
    with transaction(engine, write=write) as session:
        yield session


async def _gates(request: Request, write: bool) -> AsyncIterator[None]:
    # A request holds its transaction, and its pooled connection, across two threadpool hops:
    # the route, then this dependency's commit. Were requests to wait for a connection (or for
    # SQLite's write lock) inside threads, they could take every thread and starve the requests
    # that hold connections of a thread to commit in (measured: 50 parallel writes, 14 failed
    # after 10 s on SQLite, after 30 s on PostgreSQL). So they queue here, on the event loop,
    # holding no thread: for a connection (fewer slots than the pool has, leaving room for the
    # short transactions of authentication), and on SQLite for the one writer's place.
    # Each wait is bounded: a request that cannot get its place in time is answered 503
    # database_unavailable (nothing done), rather than queueing behind every request before it
    # (measured: behind a writer outside the app, the N-th recording answered after N times 10 s).
    state = request.app.state
    async with _bounded(state.session_slots, SLOT_WAIT_SECONDS):
        if write and state.write_gate is not None:
            async with _bounded(state.write_gate, WRITE_GATE_WAIT_SECONDS):
                yield
        else:
            yield


#: How long a request waits for a connection slot: SQLAlchemy's own pool timeout.
SLOT_WAIT_SECONDS = 30.0
#: How long a writing request waits for SQLite's one writer's place: as long as SQLite itself
#: would wait for another process's write lock.
WRITE_GATE_WAIT_SECONDS = float(SQLITE_BUSY_SECONDS)


@asynccontextmanager
async def _bounded(gate: asyncio.Lock | asyncio.Semaphore, seconds: float) -> AsyncIterator[None]:
    if not gate.locked():
        await gate.acquire()  # free: taken at once (no await suspends), no timer to set up
    else:
        try:
            # asyncio.timeout, not wait_for: no task made per wait (a contended gate is the
            # common case under load, and wait_for's task was 8 % of a cached view's CPU).
            async with asyncio.timeout(seconds):
                await gate.acquire()
        except TimeoutError:
            raise DatabaseUnavailable() from None
    try:
        yield
    finally:
        gate.release()


async def method_gate(request: Request) -> AsyncIterator[None]:
    async for _ in _gates(request, request.method not in SAFE_METHODS):
        yield


async def always_gate(request: Request) -> AsyncIterator[None]:
    async for _ in _gates(request, True):
        yield


def get_session(
    request: Request, _gate: Annotated[None, Depends(method_gate, scope="function")]
) -> Iterator[Session]:
    """The request's one transaction: committed when the route returns, rolled back if it raises.

    Declared with scope="function" so the commit happens before the response is sent: a commit
    that fails becomes an error response, never a 200 for data that was not kept.
    """
    yield from _session(request.app.state.engine, write=request.method not in SAFE_METHODS)


def get_write_session(
    request: Request, _gate: Annotated[None, Depends(always_gate, scope="function")]
) -> Iterator[Session]:
    """Like get_session, for a GET that writes (a read that is journaled): on SQLite it takes the
    write lock up front instead of upgrading a read transaction, which can fail under load."""
    yield from _session(request.app.state.engine, write=True)


def _in_session(
    engine: Engine,
    work: Callable[[Session], T],
    write: bool,
    *,
    nowait: bool = False,
) -> T:
    with transaction(engine, write=write, nowait=nowait) as session:
        return work(session)


async def in_transaction(
    request: Request,
    work: Callable[[Session], T],
    *,
    write: bool,
    on_loop: bool = False,
    autocommit: bool = False,
) -> T:
    """Run ``work`` in the request's one transaction, opened, used and committed in a single
    threadpool hop (rolled back if it raises), behind the same gates as :func:`get_session`.

    For the hot routes (a passport's view, recording a validation): ``SessionDep`` costs three
    hops (open, route, commit), each a wait for a thread while the transaction is open, and on
    SQLite while the one writer's place is held (measured: half of a recording's time).

    ``on_loop``: no hop at all: the work runs on the event loop, for a short
    transaction of a few statements (a recording: the hop's wake-ups were a fifth of its CPU; a
    cached passport view: the hop and the threads' contention for the GIL were most of it).
    SQLite reads a local file, no network round trip. A read never waits: in WAL mode readers
    and writers do not block each other. A write never waits for a writer outside the write
    gate (another worker process, a background flush, a command) either: if the write lock is
    taken, the transaction gives up before its first statement (``WriteLockBusy``) and runs in
    the threadpool, where it waits as any other; this process's writers queue on the gate
    first. On PostgreSQL, no hop either: the work runs through the event loop's engine
    (:func:`app.core.db.run_on_loop`), each round trip, a row lock's wait included, awaited
    there while the loop serves other requests.

    ``autocommit``: a read whose statements need not share a snapshot, with ``on_loop``: on
    PostgreSQL without the BEGIN and COMMIT round trips (``LoopEngine.autocommit``); SQLite
    keeps its transaction, no round trip to save.
    """
    engine: Engine = request.app.state.engine
    async with asynccontextmanager(_gates)(request, write):
        if on_loop:
            loop_engine = request.app.state.loop_engine
            if loop_engine is not None:
                return await run_on_loop(loop_engine, work, write=write, autocommit=autocommit)
            try:
                return _in_session(engine, work, write, nowait=write)
            except WriteLockBusy:
                pass  # held outside this process's gate: wait for it off the loop
        return await run_in_threadpool(_in_session, engine, work, write)


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
VerifierDep = Annotated[Verifier, Depends(get_verifier)]
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
WriteSessionDep = Annotated[Session, Depends(get_write_session, scope="function")]
