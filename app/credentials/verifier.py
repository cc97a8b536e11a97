"""Verification on this instance: who is trusted, with which keys, and the revocation bits.

``POST /api/v1/verify`` is the one public route that anyone may call as often as they like, so
what it needs is kept in memory per process (:class:`TrustedIssuers`) and each request costs the
pipeline of app/credentials/format.py plus two small SQL statements on one connection:

- a *revision* of the trust data (counts, latest ids and extreme kids of territories and signing
  keys, all read from indexes), so that a key rotated or retired by another process or replica
  (``passeport keys retire``) counts at the very next request, not after a cache delay;
- the one status byte the credential points into, read with ``substr`` from the stored list rather
  than loading and decoding the 16 KiB list.

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
    revision: tuple[Any, ...]
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


_REVISION = sa.text(
    "SELECT (SELECT count(*) FROM territory), (SELECT coalesce(max(id), 0) FROM territory),"
    " (SELECT count(*) FROM signing_key), (SELECT coalesce(max(id), 0) FROM signing_key),"
    " (SELECT count(rotated_at) FROM signing_key), (SELECT count(retired_at) FROM signing_key),"
    " (SELECT min(kid) FROM signing_key), (SELECT max(kid) FROM signing_key),"
    " (SELECT count(*) FROM skill),"
    " (SELECT count(*) FROM trusted_issuer), (SELECT coalesce(max(id), 0) FROM trusted_issuer),"
    " (SELECT max(updated_at) FROM trusted_issuer), (SELECT max(sequence) FROM held_trust_list)"
)
_STATUS_BYTE = sa.text(
    "SELECT substr(bits, :pos, 1) FROM status_list"
    " WHERE territory_id = :territory AND list_id = :list"
)


class TrustedIssuers:
    """The issuers this process accepts, rebuilt when the trust data's revision changes.

    A territory's name is refreshed at least every ``max_age`` seconds: a rename is not in the
    revision, and a name a few seconds old on a verdict harms nobody.
    """

    def __init__(self, engine: Engine, max_age: float = 60.0) -> None:
        self._engine = engine
        self._max_age = max_age
        self._snapshot: Snapshot | None = None
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        self._snapshot = None

    def current(self, connection: sa.Connection) -> Snapshot:
        revision = tuple(connection.execute(_REVISION).one())
        snapshot = self._snapshot
        if snapshot is not None and self._fresh(snapshot, revision):
            return snapshot
        with self._lock:
            snapshot = self._snapshot
            if snapshot is None or not self._fresh(snapshot, revision):
                snapshot = self._load(connection, revision)
                self._snapshot = snapshot
            return snapshot

    def _fresh(self, snapshot: Snapshot, revision: tuple[Any, ...]) -> bool:
        return (
            snapshot.revision == revision
            and time.monotonic() - snapshot.loaded_at < self._max_age
            and (snapshot.expires_at is None or utcnow() < snapshot.expires_at)
        )

    def _load(self, connection: sa.Connection, revision: tuple[Any, ...]) -> Snapshot:
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


def local_revoked(connection: sa.Connection, issuer: Issuer, uri: str, idx: int) -> bool | None:
    """The bit of a list kept in this database, or None when the list is not one of ours."""
    if issuer.territory_id is None or uri not in issuer.status_uris:
        return None
    byte = connection.execute(
        _STATUS_BYTE, {"pos": idx // 8 + 1, "territory": issuer.territory_id, "list": LIST_ID}
    ).scalar_one_or_none()
    if byte is None:
        # No credential was ever revoked: the list row is made on first issuance.
        return False
    if len(byte) != 1:
        return None  # past the end of the list: not an index we handed out
    return bool(byte[0] >> (idx % 8) & 1)


class Verifier:
    """Verify QR texts for this instance and describe the verdict for people."""

    def __init__(self, engine: Engine, settings: Settings | None = None) -> None:
        settings = settings or Settings(_env_file=None)
        self._engine = engine
        self.trusted = TrustedIssuers(engine)
        self.status_cache = StatusCache(
            engine,
            timeout=settings.federation_fetch_timeout_seconds,
            max_stale=settings.status_max_stale_seconds,
        )
        self._seen: Snapshot | None = None

    def verify(self, qr_text: str) -> tuple[fmt.Verdict, Snapshot]:
        with self._engine.connect() as connection:
            snapshot = self.trusted.current(connection)
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
                issuer = next((i for i in snapshot.issuers.values() if uri in i.status_uris), None)
                if issuer is None or not 0 <= idx < LIST_SIZE:
                    return None
                if issuer.territory_id is not None:
                    return local_revoked(connection, issuer, uri, idx)
                found = self.status_cache.lookup(issuer.iss, issuer.keys, uri, connection)
                if found is None or idx >= found.size:
                    return None
                return found.get(idx) != 0

            verdict = fmt.verify(qr_text, keys=issuer_keys, now=int(time.time()), status=revoked)
            connection.rollback()
        # Lists fetched on the way are kept once this request's connection is back in the pool.
        self.status_cache.store_pending()
        return verdict, snapshot


def describe(verdict: fmt.Verdict, snapshot: Snapshot | None) -> dict[str, Any]:
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
