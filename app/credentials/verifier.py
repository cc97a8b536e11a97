"""Verification on this instance: who is trusted, with which keys, and the revocation bits.

``POST /api/v1/verify`` is the one public route that anyone may call as often as they like, so
what it needs is kept in memory per process (:class:`TrustedIssuers`) and each request costs the
pipeline of app/credentials/format.py plus two small SQL statements on one connection:

- a *revision* of the trust data (counts, latest ids and extreme kids of territories and signing
  keys, all read from indexes), so that a key rotated or retired by another process or replica
  (``passeport keys retire``) counts at the very next request, not after a cache delay;
- the one status byte the credential points into, read with ``substr`` from the stored list rather
  than loading and decoding the 16 KiB list.

The trust set here is this instance's own territories; other instances' issuers come from the
federation's trust store (see docs/federation.md when it lands) through the same snapshot.
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

from app.core.time import aware, utcnow
from app.credentials import format as fmt
from app.credentials import keys
from app.credentials.models import LIST_ID, LIST_SIZE
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


@dataclass(frozen=True)
class Snapshot:
    revision: tuple[Any, ...]
    issuers: Mapping[str, Issuer]
    labels: Mapping[str, tuple[str, str]]
    # The first moment a published key stops being published by the passage of time alone
    # (a rotated key's publish_until): the snapshot is rebuilt then, even with no change.
    expires_at: datetime | None
    loaded_at: float = field(default_factory=time.monotonic)


def status_uri(issuer_url: str) -> str:
    return f"{issuer_url}/status/{LIST_ID}"


_REVISION = sa.text(
    "SELECT (SELECT count(*) FROM territory), (SELECT coalesce(max(id), 0) FROM territory),"
    " (SELECT count(*) FROM signing_key), (SELECT coalesce(max(id), 0) FROM signing_key),"
    " (SELECT count(rotated_at) FROM signing_key), (SELECT count(retired_at) FROM signing_key),"
    " (SELECT min(kid) FROM signing_key), (SELECT max(kid) FROM signing_key),"
    " (SELECT count(*) FROM skill)"
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
                snapshot = self._load(revision)
                self._snapshot = snapshot
            return snapshot

    def _fresh(self, snapshot: Snapshot, revision: tuple[Any, ...]) -> bool:
        return (
            snapshot.revision == revision
            and time.monotonic() - snapshot.loaded_at < self._max_age
            and (snapshot.expires_at is None or utcnow() < snapshot.expires_at)
        )

    def _load(self, revision: tuple[Any, ...]) -> Snapshot:
        now = utcnow()
        issuers: dict[str, Issuer] = {}
        expires_at: datetime | None = None
        with Session(self._engine) as session:
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
            labels = {
                code: (fr, en)
                for code, fr, en in session.exec(
                    select(col(Skill.code), col(Skill.label_fr), col(Skill.label_en))
                ).all()
            }
        return Snapshot(revision, issuers, labels, expires_at)


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

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.trusted = TrustedIssuers(engine)

    def verify(self, qr_text: str) -> tuple[fmt.Verdict, Snapshot]:
        with self._engine.connect() as connection:
            snapshot = self.trusted.current(connection)

            def issuer_keys(iss: str) -> Mapping[str, ECKey] | None:
                issuer = snapshot.issuers.get(iss)
                return issuer.keys if issuer is not None else None

            def revoked(uri: str, idx: int) -> bool | None:
                # Only reached once the signature held, so claims.iss is the signer.
                issuer = next((i for i in snapshot.issuers.values() if uri in i.status_uris), None)
                if issuer is None or not 0 <= idx < LIST_SIZE:
                    return None
                return local_revoked(connection, issuer, uri, idx)

            verdict = fmt.verify(qr_text, keys=issuer_keys, now=int(time.time()), status=revoked)
            connection.rollback()
        return verdict, snapshot


def describe(verdict: fmt.Verdict, snapshot: Snapshot | None) -> dict[str, Any]:
    """The verdict with the issuing territory's name and the skills' labels when signed."""
    out: dict[str, Any] = {"result": verdict.result.value, "reason": verdict.reason}
    claims = verdict.claims
    if claims is None or snapshot is None:
        return out
    issuer = snapshot.issuers.get(claims.iss)
    out.update(
        issuer=claims.iss,
        territory=issuer.name if issuer else None,
        holder_name=claims.name,
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
