"""The hub: member issuers, and the trust list it signs with the federation anchor key.

Any instance whose settings hold PASSEPORT_FEDERATION_ANCHOR_KEY can act as the hub. Publishing
refetches every member's key set, so that a rotation (new key) or a retirement (key gone) reaches
the members at their next refresh. One member whose key set cannot be read stops the whole
publication: the members keep the previous list rather than get one missing an issuer.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.audit import service as audit
from app.core.db import transaction
from app.core.errors import AppError, Conflict, InvalidInput, NotFound
from app.core.settings import Settings
from app.core.time import utcnow
from app.credentials.verifier import status_uri
from app.federation import documents, fetch
from app.federation.models import FederationMember, PublishedTrustList
from app.federation.store import normalise_iss


class PublishRefused(AppError):
    status, code, title = 422, "publish_refused", "Trust list not published"


def add_member(
    session: Session, iss: str, *, name: str | None = None, status_uris: Sequence[str] = ()
) -> FederationMember:
    iss = normalise_iss(iss)
    if session.exec(select(FederationMember).where(FederationMember.iss == iss)).first():
        raise Conflict(f"{iss} is already a member.", code="already_member")
    uris = [normalise_iss(u) for u in status_uris] or [status_uri(iss)]
    if len(uris) > documents.MAX_STATUS_URIS:
        raise InvalidInput(f"At most {documents.MAX_STATUS_URIS} status list URIs.")
    member = FederationMember(iss=iss, name=(name or iss)[:200], status_uris=uris)
    session.add(member)
    session.flush()
    audit.record(
        session, "federation.member_added", target_type="issuer", target_id=member.id, iss=iss
    )
    return member


def remove_member(session: Session, iss: str) -> None:
    iss = iss.strip().rstrip("/")
    member = session.exec(select(FederationMember).where(FederationMember.iss == iss)).first()
    if member is None:
        raise NotFound(f"{iss} is not a member.", code="unknown_member")
    session.delete(member)
    audit.record(
        session, "federation.member_removed", target_type="issuer", target_id=member.id, iss=iss
    )


def members(session: Session) -> Sequence[FederationMember]:
    return session.exec(select(FederationMember).order_by(col(FederationMember.iss))).all()


def latest(session: Session) -> PublishedTrustList | None:
    return session.exec(
        select(PublishedTrustList).order_by(col(PublishedTrustList.sequence).desc()).limit(1)
    ).first()


def _entry(settings: Settings, member: FederationMember) -> documents.IssuerEntry:
    try:
        obj = fetch.fetch_json(
            fetch.jwks_uri(member.iss),
            max_bytes=fetch.MAX_JWKS_BYTES,
            timeout=settings.federation_fetch_timeout_seconds,
        )
        jwks, fingerprints = documents.parse_jwks(obj, f"the key set of {member.iss}")
    except (fetch.FetchError, documents.DocumentError) as exc:
        raise PublishRefused(f"member {member.iss}: {exc}") from None
    return documents.IssuerEntry(
        member.iss, member.name, jwks, fingerprints, tuple(member.status_uris)
    )


def publish(engine: Engine, settings: Settings) -> PublishedTrustList:
    """Sign and keep a new trust list with the next sequence number; journaled either way."""
    anchor = documents.load_anchor_private(settings.federation_anchor_key)
    try:
        with transaction(engine, write=False) as session:
            current = list(members(session))
        entries = tuple(_entry(settings, m) for m in current)
    except PublishRefused as exc:
        audit.record_now(
            engine,
            "federation.publish_refused",
            outcome="failure",
            target_type="trust_list",
            reason=exc.code,
            detail=exc.detail,
        )
        raise
    with transaction(engine) as session:
        previous = latest(session)
        sequence = (previous.sequence if previous else 0) + 1
        now = utcnow().replace(microsecond=0)
        fresh_until = now + timedelta(seconds=settings.federation_fresh_seconds)
        document = documents.sign_trust_list(
            documents.TrustList(
                hub=settings.public_url,
                sequence=sequence,
                issued_at=int(now.timestamp()),
                fresh_until=int(fresh_until.timestamp()),
                issuers=entries,
            ),
            anchor,
        )
        row = PublishedTrustList(
            sequence=sequence, issued_at=now, fresh_until=fresh_until, document=document
        )
        session.add(row)
        audit.record(
            session,
            "federation.published",
            target_type="trust_list",
            target_id=sequence,
            issuers=[e.iss for e in entries],
            fresh_until=fresh_until.isoformat(),
        )
    return row
