"""Remote issuers' status lists: fetched from their registered URIs, verified, kept within ttl.

Kept in memory per process, and in the ``status_list_cache`` table so that other processes and
restarts start from what was fetched. A list is used while ``fetched_at + ttl`` is ahead; after
that it is refetched (on the request path with a short timeout, or ahead of time by the
background refresher). When it cannot be refetched, it still counts up to
``PASSEPORT_STATUS_MAX_STALE_SECONDS`` after it was fetched, and the verdict is otherwise
``status_unavailable``: never ``valid`` on a guess.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

import sqlalchemy as sa
from joserfc.jwk import ECKey
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col

from app.core.db import transaction
from app.credentials import format as fmt
from app.credentials.statuslist import StatusList, StatusListError, verify_status_list_jwt
from app.federation import fetch
from app.federation.models import StatusListCache

logger = logging.getLogger(__name__)

#: After a failed fetch, requests answer from what is held for this long before trying again:
#: an issuer that is down must not cost every verification a timeout.
RETRY_AFTER_SECONDS: Final = 10.0
#: Bounds on the ttl an issuer announces: below, it would be fetched at every request; above, a
#: revocation could go unseen for more than a day.
MIN_TTL: Final = 1
MAX_TTL: Final = 86400


@dataclass(frozen=True)
class Cached:
    iss: str
    kid: str
    token: str
    status_list: StatusList
    fetched_at: float
    fresh_until: float


def _claims(token: str) -> tuple[str, int]:
    """kid and ttl of a token already verified."""
    header = fmt.loads_strict(fmt.b64url_decode(token.split(".")[0]))
    claims = fmt.loads_strict(fmt.b64url_decode(token.split(".")[1]))
    return str(header["kid"]), min(max(int(claims["ttl"]), MIN_TTL), MAX_TTL)


def check_token(
    token: str, iss: str, keys: Mapping[str, ECKey], uri: str, fetched_at: float
) -> Cached:
    """A status list token verified with the issuer's keys, for the URI it was fetched from."""
    status_list = verify_status_list_jwt(token, dict(keys), uri=uri, now=int(fetched_at))
    kid, ttl = _claims(token)
    return Cached(iss, kid, token, status_list, fetched_at, fetched_at + ttl)


def _epoch(value: datetime) -> float:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def _dt(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class StatusCache:
    def __init__(self, engine: Engine, *, timeout: float, max_stale: float) -> None:
        self._engine = engine
        self._timeout = timeout
        self._max_stale = max_stale
        self._memory: dict[str, Cached] = {}
        self._retry_at: dict[str, float] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._pending: dict[str, Cached] = {}

    def _lock(self, uri: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(uri, threading.Lock())

    def _usable(self, cached: Cached | None, iss: str, keys: Mapping[str, ECKey]) -> Cached | None:
        # A list signed with a key the issuer no longer publishes (retired) no longer counts.
        if cached is None or cached.iss != iss or cached.kid not in keys:
            return None
        return cached

    def peek(
        self, iss: str, keys: Mapping[str, ECKey], uri: str, now: float | None = None
    ) -> StatusList | None:
        """The issuer's list kept in memory while fresh, else None: no I/O at all."""
        now = time.time() if now is None else now
        cached = self._usable(self._memory.get(uri), iss, keys)
        return cached.status_list if cached is not None and now < cached.fresh_until else None

    def lookup(
        self,
        iss: str,
        keys: Mapping[str, ECKey],
        uri: str,
        connection: sa.Connection,
        now: float | None = None,
    ) -> StatusList | None:
        """The issuer's list at ``uri``, or None when it cannot be known well enough.

        Reads the kept list on the caller's ``connection`` (never a second one from the pool,
        which the requests queued behind this list's lock may hold entirely); a list fetched here
        is written by :meth:`store_pending` once the caller has released its connection.
        """
        now = time.time() if now is None else now
        cached = self._usable(self._memory.get(uri), iss, keys)
        if cached is not None and now < cached.fresh_until:
            return cached.status_list
        with self._lock(uri):
            cached = self._usable(self._memory.get(uri), iss, keys)
            if cached is None or now >= cached.fresh_until:
                # Another process (or the refresher) may have fetched it since.
                stored = self._usable(self._load(connection, iss, keys, uri), iss, keys)
                if stored is not None and (cached is None or stored.fetched_at > cached.fetched_at):
                    cached = stored
                    self._memory[uri] = stored
            if cached is not None and now < cached.fresh_until:
                return cached.status_list
            if now >= self._retry_at.get(uri, 0.0):
                try:
                    return self.refresh(iss, keys, uri, now, store=False).status_list
                except (fetch.FetchError, StatusListError) as exc:
                    self._retry_at[uri] = now + RETRY_AFTER_SECONDS
                    logger.warning("status list unavailable", extra={"uri": uri, "why": str(exc)})
            if cached is not None and now - cached.fetched_at <= self._max_stale:
                return cached.status_list
            return None

    def refresh(
        self,
        iss: str,
        keys: Mapping[str, ECKey],
        uri: str,
        now: float | None = None,
        *,
        store: bool = True,
    ) -> Cached:
        """Fetch, verify and keep the list; FetchError or StatusListError when it cannot."""
        now = time.time() if now is None else now
        body = fetch.fetch(uri, max_bytes=fetch.MAX_STATUS_BYTES, timeout=self._timeout)
        try:
            token = body.decode("ascii").strip()
        except UnicodeDecodeError:
            raise StatusListError("the status list is not a token") from None
        cached = check_token(token, iss, keys, uri, now)
        self._memory[uri] = cached
        self._retry_at.pop(uri, None)
        if store:
            self._store(cached, uri)
        else:
            with self._guard:
                self._pending[uri] = cached
        return cached

    def store_pending(self) -> None:
        if not self._pending:
            return
        with self._guard:
            pending, self._pending = self._pending, {}
        for uri, cached in pending.items():
            self._store(cached, uri)

    def held(self, uri: str) -> Cached | None:
        return self._memory.get(uri)

    def retain(self, uris: set[str]) -> None:
        """Drop what is held for URIs no longer registered (an issuer removed, a URI dropped)."""
        for uri in [u for u in self._memory if u not in uris]:
            self.forget([uri])

    def forget(self, uris: list[str]) -> None:
        for uri in uris:
            self._memory.pop(uri, None)
            self._retry_at.pop(uri, None)

    def _load(
        self, connection: sa.Connection, iss: str, keys: Mapping[str, ECKey], uri: str
    ) -> Cached | None:
        try:
            row = connection.execute(
                sa.select(col(StatusListCache.token), col(StatusListCache.fetched_at)).where(
                    col(StatusListCache.uri) == uri, col(StatusListCache.iss) == iss
                )
            ).first()
        except SQLAlchemyError:
            return None
        if row is None:
            return None
        token, fetched_at = str(row[0]), _epoch(row[1])
        try:
            # Checked again: the row may predate a key's retirement. Not against exp: a list
            # kept past its own exp is only used within the stale allowance anyway.
            status_list = verify_status_list_jwt(token, dict(keys), uri=uri)
            kid, ttl = _claims(token)
        except (StatusListError, ValueError, KeyError, json.JSONDecodeError):
            return None
        return Cached(iss, kid, token, status_list, fetched_at, fetched_at + ttl)

    def _store(self, cached: Cached, uri: str) -> None:
        # Best effort: the list is in memory already, and a busy database must not turn a
        # verification into an error.
        try:
            with transaction(self._engine) as session:
                row = session.get(StatusListCache, uri)
                if row is None:
                    row = StatusListCache(
                        uri=uri,
                        iss=cached.iss,
                        token=cached.token,
                        fetched_at=_dt(cached.fetched_at),
                        fresh_until=_dt(cached.fresh_until),
                    )
                else:
                    row.iss = cached.iss
                    row.token = cached.token
                    row.fetched_at = _dt(cached.fetched_at)
                    row.fresh_until = _dt(cached.fresh_until)
                session.add(row)
        except SQLAlchemyError as exc:
            logger.warning("status list not stored", extra={"uri": uri, "why": type(exc).__name__})
