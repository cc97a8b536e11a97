"""The trust store: issuers of other instances trusted here, pinned by an admin or imported from
the federation's signed trust list. Every change is journaled (``trust.*``), refusals included.

Services know nothing of HTTP (see app/federation/router.py).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import Engine
from sqlmodel import Session, col, delete, select

from app.accounts.principal import Principal
from app.audit import service as audit
from app.core.db import transaction
from app.core.errors import AppError, Conflict, InvalidInput, NotFound
from app.core.schemas import from_entity
from app.core.settings import ConfigurationError, Settings
from app.core.time import aware, utcnow
from app.credentials.verifier import status_uri
from app.federation import documents, fetch
from app.federation.models import (
    MANUAL,
    TRUST_LIST,
    HeldTrustList,
    StatusListCache,
    TrustedIssuer,
)
from app.federation.schemas import TrustListState
from app.territory.models import Territory

logger = logging.getLogger(__name__)

TRUST_LIST_PATH: Final = "/api/v1/federation/trust-list"


class IssuerUnreachable(AppError):
    """The issuer's key set could not be fetched: the other server is down, slow or refusing."""

    status, code, title = 502, "issuer_unreachable", "Issuer unreachable"


def normalise_iss(iss: str) -> str:
    iss = iss.strip().rstrip("/")
    try:
        fetch.check_url(iss)
    except fetch.FetchError as exc:
        raise InvalidInput(str(exc), code="invalid_issuer_url") from None
    return iss


@dataclass(frozen=True)
class Preview:
    iss: str
    jwks_uri: str
    jwks: dict[str, Any]
    fingerprints: tuple[str, ...]
    status_uris: tuple[str, ...]


def _key_set(settings: Settings, iss: str) -> tuple[dict[str, Any], tuple[str, ...]]:
    uri = fetch.jwks_uri(iss)
    try:
        obj = fetch.fetch_json(
            uri, max_bytes=fetch.MAX_JWKS_BYTES, timeout=settings.federation_fetch_timeout_seconds
        )
    except fetch.FetchError as exc:
        if exc.unreachable:
            raise IssuerUnreachable(str(exc)) from None
        raise InvalidInput(str(exc), code="bad_key_set") from None
    try:
        return documents.parse_jwks(obj, f"the key set of {iss}")
    except documents.DocumentError as exc:
        raise InvalidInput(str(exc), code="bad_key_set") from None


def preview(settings: Settings, iss: str) -> Preview:
    """Fetch ``{iss}/.well-known/jwks.json`` and show its fingerprints (RFC 7638 thumbprints);
    nothing is stored."""
    iss = normalise_iss(iss)
    jwks, fingerprints = _key_set(settings, iss)
    if not fingerprints:
        raise InvalidInput(f"{iss} publishes no key yet.", code="bad_key_set")
    return Preview(iss, fetch.jwks_uri(iss), jwks, fingerprints, (status_uri(iss),))


def _refused(
    engine: Engine, action: str, exc: AppError, principal: Principal | None, **details: Any
) -> None:
    audit.record_now(
        engine,
        action,
        outcome="failure",
        actor_account_id=principal.account_id if principal else None,
        territory_id=principal.territory_id if principal else None,
        target_type="issuer",
        reason=exc.code,
        detail=exc.detail,
        **details,
    )


def _is_local(session: Session, iss: str) -> bool:
    return session.exec(select(Territory.id).where(Territory.issuer_url == iss)).first() is not None


def add(
    session: Session,
    engine: Engine,
    settings: Settings,
    principal: Principal,
    iss: str,
    fingerprints: Sequence[str],
    name: str | None = None,
) -> TrustedIssuer:
    """Pin an issuer's keys, if the key set fetched now still has the fingerprints confirmed.

    Checked before the request's session is first used: a refusal is journaled in a transaction
    of its own, which on SQLite must not wait behind this request's write lock.
    """
    try:
        iss = normalise_iss(iss)
        with transaction(engine, write=False) as reading:
            local = _is_local(reading, iss)
        if local:
            raise Conflict(f"{iss} is a territory of this instance.", code="issuer_is_local")
        seen = preview(settings, iss)
        if sorted(set(fingerprints)) != sorted(seen.fingerprints):
            raise InvalidInput(
                f"The key set of {iss} no longer has the fingerprints you confirmed: preview "
                "it again and check them with the issuer.",
                code="fingerprint_mismatch",
                fingerprints=list(seen.fingerprints),
            )
    except AppError as exc:
        _refused(engine, "trust.issuer_add_refused", exc, principal, iss=iss[:300])
        raise
    now = utcnow()
    row = session.exec(select(TrustedIssuer).where(TrustedIssuer.iss == iss)).first()
    repinned = row is not None and row.source == MANUAL
    action = "trust.issuer_repinned" if repinned else "trust.issuer_added"
    if row is None:
        row = TrustedIssuer(iss=iss, name="", jwks={}, source=MANUAL, added_at=now)
    row.name = (name or "").strip()[:200] or iss
    row.jwks = seen.jwks
    row.fingerprints = list(seen.fingerprints)
    row.status_uris = list(seen.status_uris)
    # A manual pin outlives the trust list: the issuer stays when the list drops it.
    row.source = MANUAL
    row.added_by_account_id = principal.account_id
    row.updated_at = now
    session.add(row)
    session.flush()
    audit.record_on(
        session,
        action,
        row,
        principal,
        target_type="issuer",
        iss=iss,
        fingerprints=list(seen.fingerprints),
    )
    return row


def _drop_caches(session: Session, uris: Sequence[str]) -> None:
    if uris:
        session.exec(delete(StatusListCache).where(col(StatusListCache.uri).in_(list(uris))))


def remove(session: Session, principal: Principal | None, issuer_id: int) -> TrustedIssuer:
    """Stop trusting an issuer, at the next verification. One that came with the trust list
    comes back with the next newer list, unless the hub drops it."""
    row = session.get(TrustedIssuer, issuer_id)
    if row is None:
        raise NotFound("No such issuer in the trust store.", code="unknown_issuer")
    _drop_caches(session, row.status_uris)
    session.delete(row)
    session.flush()
    audit.record_on(
        session,
        "trust.issuer_removed",
        row,
        principal,
        target_type="issuer",
        iss=row.iss,
        source=row.source,
    )
    return row


def prune_manual(engine: Engine, settings: Settings) -> list[str]:
    """Unpin the keys that manually pinned issuers no longer publish (retired, or rotated long
    ago), so that a compromised key stops verifying here too; the issuers whose pins changed.

    Never adds a key: a new key is pinned only when an admin confirms its fingerprint. An issuer
    that cannot be reached keeps its pin.
    """
    with transaction(engine, write=False) as session:
        pinned = [
            (row.id, row.iss, list(row.fingerprints))
            for row in session.exec(select(TrustedIssuer).where(TrustedIssuer.source == MANUAL))
        ]
    changed: list[str] = []
    for issuer_id, iss, fingerprints in pinned:
        try:
            _, published = _key_set(settings, iss)
        except AppError as exc:
            logger.warning("pinned key set not checked", extra={"iss": iss, "why": exc.detail})
            continue
        dropped = [f for f in fingerprints if f not in published]
        if not dropped:
            continue
        with transaction(engine) as session:
            row = session.get(TrustedIssuer, issuer_id)
            if row is None or row.fingerprints != fingerprints:
                continue  # changed meanwhile; the next round looks again
            row.fingerprints = [f for f in fingerprints if f not in dropped]
            row.jwks = {"keys": [k for k in row.jwks.get("keys", []) if k["kid"] not in dropped]}
            row.updated_at = utcnow()
            session.add(row)
            audit.record_on(
                session,
                "trust.issuer_keys_unpinned",
                row,
                target_type="issuer",
                iss=iss,
                unpinned=dropped,
            )
        changed.append(iss)
    return changed


def list_issuers(session: Session) -> Sequence[TrustedIssuer]:
    return session.exec(select(TrustedIssuer).order_by(col(TrustedIssuer.iss))).all()


def held_list(session: Session) -> HeldTrustList | None:
    return session.get(HeldTrustList, 1)


def held_state(session: Session) -> TrustListState | None:
    """The trust list held here as the API shows it (None when none was imported)."""
    held = held_list(session)
    if held is None:
        return None
    return from_entity(TrustListState, held, stale=aware(held.fresh_until) <= utcnow())


# --- Importing the federation trust list ---------------------------------------------------


@dataclass
class ImportReport:
    outcome: str  # imported | unchanged
    sequence: int
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


class TrustListRefused(AppError):
    status, code, title = 422, "trust_list_refused", "Trust list refused"


def trust_list_url(hub: str) -> str:
    return f"{hub.rstrip('/')}{TRUST_LIST_PATH}"


def _when(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def import_trust_list(
    engine: Engine, settings: Settings, document: str | None = None
) -> ImportReport:
    """Fetch (unless given), verify and apply the hub's trust list.

    Refused, journaled, and the store left as it was: a list not signed by the pinned anchor,
    malformed (a duplicate issuer, a key set not matching its fingerprints…), from another hub,
    or not newer than the one held. The same list fetched again is ``unchanged``, not refused.
    """
    hub = settings.federation_hub_url.rstrip("/")
    if not hub:
        raise ConfigurationError("PASSEPORT_FEDERATION_HUB_URL is not set: no hub to follow")
    anchor = documents.load_anchor_public(settings.federation_anchor_public_key)
    try:
        if document is None:
            try:
                body = fetch.fetch(
                    trust_list_url(hub),
                    max_bytes=fetch.MAX_TRUST_LIST_BYTES,
                    timeout=settings.federation_fetch_timeout_seconds,
                )
                document = body.decode("ascii").strip()
            except UnicodeDecodeError:
                raise TrustListRefused("The hub's answer is not a signed trust list.") from None
            except fetch.FetchError as exc:
                raise TrustListRefused(str(exc), code="hub_unreachable") from None
        try:
            trust_list = documents.verify_trust_list(document, anchor)
        except documents.DocumentError as exc:
            raise TrustListRefused(str(exc)) from None
        if trust_list.hub.rstrip("/") != hub:
            raise TrustListRefused(f"The list is from {trust_list.hub}, not the hub {hub}.")
        with transaction(engine) as session:
            held = session.get(HeldTrustList, 1, with_for_update=True)
            if held is not None and trust_list.sequence <= held.sequence:
                if trust_list.sequence == held.sequence and document == held.document:
                    return ImportReport("unchanged", held.sequence)
                raise TrustListRefused(
                    f"The list's sequence {trust_list.sequence} is not newer than the "
                    f"{held.sequence} held here.",
                    code="trust_list_not_newer",
                )
            report = _apply(session, trust_list)
            if held is None:
                held = HeldTrustList(
                    id=1,
                    hub=hub,
                    sequence=0,
                    issued_at=utcnow(),
                    fresh_until=utcnow(),
                    document="",
                )
            held.hub = hub
            held.sequence = trust_list.sequence
            held.issued_at = _when(trust_list.issued_at)
            held.fresh_until = _when(trust_list.fresh_until)
            held.document = document
            held.imported_at = utcnow()
            session.add(held)
            audit.record(
                session,
                "trust.list_imported",
                target_type="trust_list",
                target_id=trust_list.sequence,
                hub=hub,
                fresh_until=held.fresh_until.isoformat(),
                added=report.added,
                updated=report.updated,
                removed=report.removed,
            )
            return report
    except TrustListRefused as exc:
        audit.record_now(
            engine,
            "trust.list_refused",
            outcome="failure",
            target_type="trust_list",
            reason=exc.code,
            detail=exc.detail,
            hub=hub,
        )
        logger.warning("trust list refused", extra={"hub": hub, "why": exc.detail})
        raise


def _apply(session: Session, trust_list: documents.TrustList) -> ImportReport:
    report = ImportReport("imported", trust_list.sequence)
    local = set(session.exec(select(Territory.issuer_url)).all())
    rows = {row.iss: row for row in session.exec(select(TrustedIssuer)).all()}
    listed = {entry.iss for entry in trust_list.issuers}
    now = utcnow()
    for entry in trust_list.issuers:
        if entry.iss in local:
            continue
        row = rows.get(entry.iss)
        if row is not None and row.source == MANUAL:
            continue  # pinned here by an admin: the admin's pin decides
        if row is None:
            row = TrustedIssuer(iss=entry.iss, name=entry.name, jwks={}, source=TRUST_LIST)
            report.added.append(entry.iss)
        elif (row.jwks, row.status_uris, row.name) != (
            entry.jwks,
            list(entry.status_uris),
            entry.name,
        ):
            report.updated.append(entry.iss)
            # Status lists cached from a URI the issuer no longer lists stop counting.
            _drop_caches(session, [u for u in row.status_uris if u not in entry.status_uris])
        else:
            continue
        row.name = entry.name
        row.jwks = entry.jwks
        row.fingerprints = list(entry.fingerprints)
        row.status_uris = list(entry.status_uris)
        row.updated_at = now
        session.add(row)
    for iss, row in rows.items():
        if row.source == TRUST_LIST and iss not in listed:
            _drop_caches(session, row.status_uris)
            session.delete(row)
            report.removed.append(iss)
    session.flush()
    return report
