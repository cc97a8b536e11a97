"""Verification of an SD-JWT VC presentation, for ``POST /api/v1/verify``.

Trust is the QR credentials' (app/credentials/verifier.py): the same snapshot of this instance's
territories and trust store, the same revocation bits and remote status lists. A wallet issuer
stands for a territory (:class:`WalletIssuers`), trusted on that territory's keys (its
jwt-vc-issuer metadata publishes its JWKS). The key-binding
JWT's nonce must be one this instance handed out (``GET /api/v1/verify/nonce``), spent here once,
in a transaction of its own, whatever the verdict.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from joserfc.jwk import ECKey
from sqlalchemy import Engine
from sqlmodel import select

from app.core.db import transaction
from app.core.settings import Settings
from app.core.time import utcnow
from app.credentials.verifier import STALE_TRUST_LIST, Issuer, Snapshot, Verifier
from app.territory.models import Territory
from app.wallet import sdjwt
from app.wallet import service as wallet


class WalletIssuers:
    """Wallet issuer identifier -> the trusted issuer it stands for, per trust snapshot.

    A territory hosted here is found by its code (its issuer URL may be any URL); another
    instance's by the rule ``{base}/wallet/{code}`` -> ``{base}/t/{code}``, the issuer URL a
    territory gets by default (docs/wallet.md, "Trust").
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: tuple[Snapshot, dict[str, str]] | None = None

    def local(self, engine: Engine, settings: Settings, snapshot: Snapshot) -> dict[str, str]:
        seen = self._seen
        if seen is not None and seen[0] is snapshot:
            return seen[1]
        with self._lock, transaction(engine, write=False) as session:
            rows = session.exec(select(Territory.code, Territory.issuer_url)).all()
        mapping = {wallet.issuer_id(settings.public_url, code): url for code, url in rows}
        self._seen = (snapshot, mapping)
        return mapping


WALLET_ISSUERS = WalletIssuers()


def _issuer(snapshot: Snapshot, local: Mapping[str, str], iss: str) -> Issuer | None:
    mapped = local.get(iss) or wallet.qr_issuer_for(iss)
    return snapshot.issuers.get(mapped) if mapped is not None else None


def verify(
    engine: Engine, settings: Settings, verifier: Verifier, presentation: str
) -> dict[str, Any]:
    """The verdict on a presentation, described like a QR credential's (blocking: run in a
    thread)."""
    snapshot = verifier.trusted.current()
    bits = verifier.local_status.current()
    local = WALLET_ISSUERS.local(engine, settings, snapshot)

    def keys_for(iss: str) -> Mapping[str, ECKey] | None:
        issuer = _issuer(snapshot, local, iss)
        return issuer.keys if issuer is not None else None

    def spend(nonce: str) -> bool:
        with transaction(engine) as session:
            return wallet.spend_nonce(session, nonce, wallet.PRESENTATION)

    def revoked(uri: str, idx: int) -> bool | None:
        found = verifier.revoked(snapshot, bits, uri, idx)
        # A list fetched on the way is kept now that the connection is back in the pool.
        verifier.status_cache.store_pending()
        return found

    verdict = sdjwt.verify_presentation(
        presentation,
        keys=keys_for,
        now=int(time.time()),
        audience=settings.public_url,
        spend_nonce=spend,
        status=revoked,
    )
    return describe(verdict, snapshot, local)


def describe(
    verdict: sdjwt.Verdict, snapshot: Snapshot, local: Mapping[str, str]
) -> dict[str, Any]:
    """The QR credentials' verdict shape, with only the disclosed skills (and name)."""
    out: dict[str, Any] = {
        "result": verdict.result,
        "reason": verdict.reason,
        "format": sdjwt.TYP,
    }
    payload = verdict.payload
    if payload is None:
        return out
    iss = str(payload.get("iss"))
    issuer = _issuer(snapshot, local, iss)
    if verdict.valid and issuer is not None:
        stale = snapshot.stale_since(issuer.iss, utcnow())
        if stale is not None:
            out.update(
                result=STALE_TRUST_LIST,
                reason="signed and not revoked, but the federation trust list vouching for "
                f"this issuer is stale since {stale.isoformat(timespec='seconds')}",
            )
    name = " ".join(verdict.names[k] for k in ("given_name", "family_name") if k in verdict.names)
    shown = verdict.result not in (sdjwt.REVOKED, sdjwt.INVALID_PRESENTATION)
    out.update(
        issuer=iss,
        territory=issuer.name if issuer else None,
        # As for QR credentials: a revoked credential names nobody, and a presentation whose key
        # binding fails shows nothing the holder chose to disclose.
        holder_name=(name or None) if shown else None,
        issued_at=payload.get("iat"),
        expires_at=payload.get("exp"),
        skills=[
            {
                "code": s["code"],
                "label_fr": snapshot.labels.get(s["code"], (s.get("libelle"), None))[0],
                "label_en": snapshot.labels.get(s["code"], (None, None))[1],
                "level": s["niveau"],
                "date": s.get("date"),
                "structure": s.get("lieu"),
            }
            for s in verdict.skills
        ]
        if shown
        else [],
    )
    return out
