"""Verification on this instance: who is trusted, with which keys, and the revocation bits.

``POST /api/v1/verify`` is the one public route that anyone may call as often as they like, so
what it needs is kept in memory per process and, in steady state, a request costs the pipeline of
app/credentials/format.py and no SQL at all:

- the trust snapshot (:class:`TrustedIssuers`: territories, their published keys, the trust
  store, the skills' labels) and the revocation bits of the lists kept here (:class:`LocalStatus`)
  are rebuilt when the change feed (app/core/changes.py) says that their tables changed, in any
  process or replica: PostgreSQL's LISTEN/NOTIFY, SQLite's ``PRAGMA data_version``, both fed by
  the triggers of migration 0020. A key rotated or retired (``passeport keys retire``) or a
  credential revoked through another process counts at the next request once the change is known;
  on SQLite that is exact (the pragma reads the file's change counter), on PostgreSQL it is as
  soon as the notification arrives (well under a millisecond on one host);
- a periodic rebuild (every 60 s, and when a rotated key stops being published) is kept as a
  safety net.

The trust set is this instance's own territories plus the trust store (issuers of other
instances pinned by an admin or imported from the federation's trust list, docs/federation.md),
whose revision joins the same statement. A remote issuer's revocation bits come from its signed
status list, fetched from a URI registered for it and kept within its ttl
(app/federation/status_cache.py): no network call while the cached list is fresh.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from joserfc.jwk import ECKey
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.core.changes import CREDENTIAL, STATUS, TRUST, ChangeFeed
from app.core.settings import Settings
from app.core.time import aware, utcnow
from app.credentials import format as fmt
from app.credentials import keys
from app.credentials.models import LIST_ID, LIST_SIZE
from app.federation.models import TRUST_LIST, HeldTrustList, TrustedIssuer
from app.federation.status_cache import StatusCache
from app.framework.models import Skill
from app.territory.models import Territory


@dataclass(frozen=True)
class Issuer:
    iss: str
    name: str
    # Set for a territory hosted here: its revocation bits are read from this database.
    territory_id: int | None
    keys: Mapping[str, ECKey]
    jwks: list[dict[str, Any]]
    status_uris: tuple[str, ...]
    # local (a territory hosted here), manual (pinned by an admin) or trust_list.
    source: str = "local"


#: What a verifier answers for a credential that would be valid but whose issuer is trusted
#: only through a federation trust list past its freshness period. Not a verdict of the format's
#: pipeline (which knows nothing of trust lists): it is decided here, after it.
STALE_TRUST_LIST = "stale_trust_list"


@dataclass(frozen=True)
class Snapshot:
    # The change feed's trust version it was built at.
    revision: Any
    issuers: Mapping[str, Issuer]
    labels: Mapping[str, tuple[str, str]]
    # The first moment a published key stops being published by the passage of time alone
    # (a rotated key's publish_until): the snapshot is rebuilt then, even with no change.
    expires_at: datetime | None
    # The held federation trust list, if any: its end of freshness, sequence and hub.
    trust_list: HeldTrustList | None = None
    loaded_at: float = field(default_factory=time.monotonic)

    def stale_since(self, iss: str, now: datetime) -> datetime | None:
        """When the trust list vouching for this issuer went stale; None if it is not stale
        (or the issuer does not depend on it)."""
        issuer = self.issuers.get(iss)
        if issuer is None or issuer.source != TRUST_LIST or self.trust_list is None:
            return None
        until = aware(self.trust_list.fresh_until)
        return until if until <= now else None


def status_uri(issuer_url: str) -> str:
    return f"{issuer_url}/status/{LIST_ID}"


_LOCAL_BITS = sa.text("SELECT territory_id, bits FROM status_list WHERE list_id = :list")


class NeedsIO(Exception):
    """Raised by :meth:`Verifier.verify` with ``allow_io=False`` when the memory is not enough
    (a snapshot to rebuild, a remote issuer's status list to read or fetch): call it again where
    blocking is allowed."""


class TrustedIssuers:
    """The issuers this process accepts, rebuilt when the change feed's ``trust`` topic moves.

    A territory's name is refreshed at least every ``max_age`` seconds (a safety net too: the
    whole snapshot is rebuilt then, feed or not).
    """

    def __init__(self, engine: Engine, feed: ChangeFeed, max_age: float = 60.0) -> None:
        self._engine = engine
        self._feed = feed
        self._max_age = max_age
        self._snapshot: Snapshot | None = None
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        self._snapshot = None

    def peek(self) -> Snapshot | None:
        """The snapshot if it is still good, without any I/O; None when it must be rebuilt."""
        snapshot = self._snapshot
        if snapshot is not None and self._fresh(snapshot, self._feed.version(TRUST)):
            return snapshot
        return None

    def current(self, connection: sa.Connection | None = None) -> Snapshot:
        """The snapshot, rebuilt first if needed (on ``connection``, or on one of its own)."""
        revision = self._feed.version(TRUST)
        snapshot = self._snapshot
        if snapshot is not None and self._fresh(snapshot, revision):
            return snapshot
        with self._lock:
            snapshot = self._snapshot
            if snapshot is None or not self._fresh(snapshot, revision):
                if connection is not None:
                    snapshot = self._load(connection, revision)
                else:
                    with self._engine.connect() as own:
                        snapshot = self._load(own, revision)
                        own.rollback()
                self._snapshot = snapshot
            return snapshot

    def _fresh(self, snapshot: Snapshot, revision: Any) -> bool:
        return (
            snapshot.revision == revision
            and time.monotonic() - snapshot.loaded_at < self._max_age
            and (snapshot.expires_at is None or utcnow() < snapshot.expires_at)
        )

    def _load(self, connection: sa.Connection, revision: Any) -> Snapshot:
        now = utcnow()
        issuers: dict[str, Issuer] = {}
        expires_at: datetime | None = None
        # On the caller's connection: a loader that waited for a second one while the requests
        # queued behind its lock held the whole pool would wait forever (measured: 32 parallel
        # verifications against a pool of 20 hung until the pool's 30 s timeout).
        with Session(bind=connection) as session:
            for territory in session.exec(select(Territory)).all():
                rows = keys.publishable(session, territory, now)
                jwks = [keys.published_jwk(row) for row in rows]
                for row in rows:
                    if row.publish_until is not None:
                        until = aware(row.publish_until)
                        expires_at = until if expires_at is None else min(expires_at, until)
                issuers[territory.issuer_url] = Issuer(
                    iss=territory.issuer_url,
                    name=territory.name,
                    territory_id=territory.id,
                    keys=keys.trust_keys({"keys": jwks}),
                    jwks=jwks,
                    status_uris=(status_uri(territory.issuer_url),),
                )
            local = set(issuers)
            for trusted in session.exec(select(TrustedIssuer)).all():
                if trusted.iss in local:
                    continue  # a territory hosted here is trusted on this database's own keys
                jwks = list(trusted.jwks.get("keys", []))
                issuers[trusted.iss] = Issuer(
                    iss=trusted.iss,
                    name=trusted.name,
                    territory_id=None,
                    keys=keys.trust_keys({"keys": jwks}),
                    jwks=jwks,
                    status_uris=tuple(trusted.status_uris),
                    source=trusted.source,
                )
            held = session.get(HeldTrustList, 1)
            if held is not None:
                session.expunge(held)
            labels = {
                code: (fr, en)
                for code, fr, en in session.exec(
                    select(col(Skill.code), col(Skill.label_fr), col(Skill.label_en))
                ).all()
            }
        return Snapshot(revision, issuers, labels, expires_at, held)


class LocalStatus:
    """The revocation bits of the lists kept in this database, in memory, per territory.

    Reloaded (one statement, 16 KiB a territory) when the change feed's ``status`` topic moves,
    so a revocation committed by any process counts at the next verification.
    """

    def __init__(self, engine: Engine, feed: ChangeFeed, max_age: float = 60.0) -> None:
        self._engine = engine
        self._feed = feed
        self._max_age = max_age
        self._bits: Mapping[int, bytes] | None = None
        self._revision: Any = None
        self._loaded_at = 0.0
        self._lock = threading.Lock()

    def peek(self) -> Mapping[int, bytes] | None:
        revision = self._feed.version(STATUS)
        if (
            self._bits is not None
            and revision == self._revision
            and time.monotonic() - self._loaded_at < self._max_age
        ):
            return self._bits
        return None

    def current(self) -> Mapping[int, bytes]:
        bits = self.peek()
        if bits is not None:
            return bits
        with self._lock:
            bits = self.peek()
            if bits is None:
                # The version is read before the rows: a change committed in between is seen
                # again at the next call, never lost.
                revision = self._feed.version(STATUS)
                with self._engine.connect() as connection:
                    rows = connection.execute(_LOCAL_BITS, {"list": LIST_ID}).all()
                    connection.rollback()
                bits = {int(territory): bytes(data) for territory, data in rows}
                self._bits, self._revision = bits, revision
                self._loaded_at = time.monotonic()
            return bits


def local_revoked(bits: Mapping[int, bytes], issuer: Issuer, uri: str, idx: int) -> bool | None:
    """The bit of a list kept in this database, or None when the list is not one of ours."""
    if issuer.territory_id is None or uri not in issuer.status_uris:
        return None
    data = bits.get(issuer.territory_id)
    if data is None:
        # No credential was ever revoked: the list row is made on first issuance.
        return False
    if idx // 8 >= len(data):
        return None  # past the end of the list: not an index we handed out
    return bool(data[idx // 8] >> (idx % 8) & 1)


class TypedCodes:
    """What typed codes name (the credential's QR text), remembered per process.

    Forgotten whenever the change feed's ``credential`` topic moves (an erasure blanks a QR
    text); bounded, and emptied when full. Only found codes are kept.
    """

    def __init__(self, feed: ChangeFeed, size: int = 4096) -> None:
        self._feed = feed
        self._size = size
        self._texts: dict[str, str] = {}
        self._revision: Any = None

    def get(self, code: str) -> str | None:
        revision = self._feed.version(CREDENTIAL)
        if revision != self._revision:
            self._texts, self._revision = {}, revision
            return None
        return self._texts.get(code)

    def put(self, code: str, qr_text: str, revision: Any) -> None:
        if revision != self._revision:
            return  # learnt before a change: not kept
        if len(self._texts) >= self._size:
            self._texts = {}
        self._texts[code] = qr_text

    def revision(self) -> Any:
        return self._feed.version(CREDENTIAL)


class Verifier:
    """Verify QR texts for this instance and describe the verdict for people."""

    def __init__(
        self, engine: Engine, settings: Settings | None = None, feed: ChangeFeed | None = None
    ) -> None:
        settings = settings or Settings(_env_file=None)
        self._engine = engine
        self.feed = feed or ChangeFeed(engine)
        self.trusted = TrustedIssuers(engine, self.feed)
        self.local_status = LocalStatus(engine, self.feed)
        self.typed_codes = TypedCodes(self.feed)
        self.status_cache = StatusCache(
            engine,
            timeout=settings.federation_fetch_timeout_seconds,
            max_stale=settings.status_max_stale_seconds,
        )
        self._seen: Snapshot | None = None

    def verify(self, qr_text: str, *, allow_io: bool = True) -> tuple[fmt.Outcome, Snapshot]:
        """The verdict, from memory in steady state (no SQL, no network).

        With ``allow_io=False`` (the event loop's own thread), raises :class:`NeedsIO` instead of
        reading the database or the network; the caller then runs it in a thread.
        """
        if allow_io:
            snapshot = self.trusted.current()
            bits = self.local_status.current()
        else:
            peeked, bits_peeked = self.trusted.peek(), self.local_status.peek()
            if peeked is None or bits_peeked is None:
                raise NeedsIO
            snapshot, bits = peeked, bits_peeked
        if snapshot is not self._seen:
            self._seen = snapshot
            self.status_cache.retain(
                {
                    u
                    for i in snapshot.issuers.values()
                    if i.territory_id is None
                    for u in i.status_uris
                }
            )

        def issuer_keys(iss: str) -> Mapping[str, ECKey] | None:
            issuer = snapshot.issuers.get(iss)
            return issuer.keys if issuer is not None else None

        def revoked(uri: str, idx: int) -> bool | None:
            # Only reached once the signature held, so claims.iss is the signer.
            return self.revoked(snapshot, bits, uri, idx, allow_io=allow_io)

        verdict = fmt.verify(qr_text, keys=issuer_keys, now=int(time.time()), status=revoked)
        if allow_io:
            # Lists fetched on the way are kept once the connection is back in the pool.
            self.status_cache.store_pending()
        return verdict, snapshot

    def revoked(
        self,
        snapshot: Snapshot,
        bits: Mapping[int, bytes],
        uri: str,
        idx: int,
        *,
        allow_io: bool = True,
    ) -> bool | None:
        """Whether entry ``idx`` of the status list at ``uri`` says revoked; None when it cannot
        be known (no trusted issuer publishes that list, an index out of it, no usable list).

        A list kept in this database is read from ``bits``; another issuer's from the status
        cache. A list fetched on the way waits in the cache until the caller calls
        ``status_cache.store_pending()``, once its connection is back in the pool.
        """
        issuer = next((i for i in snapshot.issuers.values() if uri in i.status_uris), None)
        if issuer is None or not 0 <= idx < LIST_SIZE:
            return None
        if issuer.territory_id is not None:
            return local_revoked(bits, issuer, uri, idx)
        found = self.status_cache.peek(issuer.iss, issuer.keys, uri)
        if found is None:
            if not allow_io:
                raise NeedsIO
            with self._engine.connect() as connection:
                found = self.status_cache.lookup(issuer.iss, issuer.keys, uri, connection)
                connection.rollback()
        if found is None or idx >= found.size:
            return None
        return found.get(idx) != 0


def describe(verdict: fmt.Outcome, snapshot: Snapshot | None) -> dict[str, Any]:
    """The verdict with the issuing territory's name and the skills' labels when signed."""
    out: dict[str, Any] = {"result": verdict.result.value, "reason": verdict.reason}
    claims = verdict.claims
    if claims is None or snapshot is None:
        return out
    stale = snapshot.stale_since(claims.iss, utcnow()) if verdict.valid else None
    if stale is not None:
        out.update(
            result=STALE_TRUST_LIST,
            reason="signed and not revoked, but the federation trust list vouching for this "
            f"issuer is stale since {stale.isoformat(timespec='seconds')}",
        )
    issuer = snapshot.issuers.get(claims.iss)
    out.update(
        issuer=claims.iss,
        territory=issuer.name if issuer else None,
        # A revoked credential names nobody: it may have been revoked because its holder's data
        # was erased, and the verdict would otherwise still show whose it was.
        holder_name=None if verdict.result is fmt.Result.REVOKED else claims.name,
        issued_at=claims.iat,
        expires_at=claims.exp,
        skills=[
            {
                "code": k.code,
                "label_fr": snapshot.labels.get(k.code, (None, None))[0],
                "label_en": snapshot.labels.get(k.code, (None, None))[1],
                "level": k.level,
                "date": k.date.isoformat(),
                "structure": k.structure,
            }
            for k in claims.skills
        ],
    )
    return out
