"""The national directory: each member's public places, signed by the member, gathered by the hub.

Member side, every territory serves ``{iss}/places.jws``: a compact JWS, header
``{"alg":"ES256","kid":<thumbprint>,"typ":TYP}``, over ``{"schema", "iss", "iat", "territory",
"places": [...]}``, its places as the public directory shows them (open data: no mediator's
name, no count).

Hub side, ``passeport federation places collect`` (and the refresher, on a hub) fetches each
member's document, bounded, and checks it as the figures are checked (app/federation/stats.py):
against the key set in the last trust list the hub signed, the issuer, the schema, each place's
fields; a document older than the one held is a replay. A refused document changes nothing: the
previous one stays. The hub serves the documents as received (``GET /api/v1/federation/places``),
so that each member checks every signature itself, with the keys of its own trust store, before
showing a neighbour's places (``receive``, run by the member's refresher).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

import sqlalchemy as sa
from joserfc import jws
from joserfc.jwk import ECKey
from sqlalchemy import Engine
from sqlmodel import Field, Session, SQLModel, col, select

from app.audit import service as audit
from app.core.db import transaction
from app.core.settings import Settings
from app.core.time import aware, utcnow
from app.credentials import format as fmt
from app.federation import documents, fetch, hub
from app.federation.models import TZ, TrustedIssuer
from app.federation.stats import Outcome, held_key_sets

TYP: Final = "pn-places+jws"
SCHEMA: Final = "passeport-numerique/places/1"
MAX_PLACES: Final = 20_000
#: Some 400 bytes a place: 20,000 places fit.
MAX_PLACES_BYTES: Final = 10_000_000

#: Each place's fields and their types (None allowed for the optional ones).
FIELDS: Final[dict[str, tuple[type, ...]]] = {
    "id": (int,),
    "nom": (str,),
    "adresse": (str,),
    "commune": (str,),
    "code_postal": (str,),
    "department": (str, type(None)),
    "latitude": (float, int, type(None)),
    "longitude": (float, int, type(None)),
    "services": (list,),
    "free": (bool,),
    "accessible": (bool,),
    "horaires": (str, type(None)),
}


class FederatedPlaces(SQLModel, table=True):
    """Another territory's public places, as signed by it: collected by a hub from its members,
    or received by a member from its hub. One document per issuer."""

    __tablename__ = "federated_places"

    iss: str = Field(primary_key=True, max_length=300)
    territory_code: str = Field(max_length=40)
    territory_name: str = Field(max_length=200)
    kid: str = Field(max_length=100)
    # The compact JWS as fetched: anyone can check it against the member's key.
    document: str = Field(sa_type=sa.Text)
    places: list[dict[str, Any]] = Field(sa_type=sa.JSON)
    signed_at: datetime = Field(sa_type=TZ)
    fetched_at: datetime = Field(default_factory=utcnow, sa_type=TZ)


class PlacesError(documents.MemberDocumentError):
    """A member's places refused; ``reason`` is a stable code for the journal."""


def places_uri(iss: str) -> str:
    return f"{iss.rstrip('/')}/places.jws"


def sign_places(body: dict[str, Any], *, iss: str, kid: str, key: ECKey, now: datetime) -> str:
    payload = {**body, "schema": SCHEMA, "iss": iss, "iat": int(now.timestamp())}
    header = {"alg": fmt.ALG, "kid": kid, "typ": TYP}
    data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return jws.serialize_compact(header, data, key, registry=documents.REGISTRY)


def _check_places(places: Any) -> None:
    if not isinstance(places, list):
        raise PlacesError("places must be a list")
    if len(places) > MAX_PLACES:
        raise PlacesError(f"more than {MAX_PLACES} places", reason="too_large")
    for i, place in enumerate(places):
        if not isinstance(place, dict) or set(place) != set(FIELDS):
            raise PlacesError(f"place {i} must have exactly the fields {', '.join(FIELDS)}")
        for name, types in FIELDS.items():
            value = place[name]
            if type(value) not in types:
                raise PlacesError(f"place {i}: {name} has the wrong type")
            if isinstance(value, str) and len(value) > 500:
                raise PlacesError(f"place {i}: {name} is too long")
        if not all(isinstance(s, str) and len(s) <= 200 for s in place["services"]):
            raise PlacesError(f"place {i}: services must be short texts")


def verify_places(document: str, iss: str, jwks: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(kid, body) of a member's places signed by one of its held keys; PlacesError otherwise."""
    kid, body = documents.verify_member_document(
        document, iss, jwks, typ=TYP, schema=SCHEMA, max_bytes=MAX_PLACES_BYTES, error=PlacesError
    )
    _check_places(body.get("places"))
    return kid, body


def _keep(session: Session, iss: str, token: str, kid: str, body: dict[str, Any]) -> None:
    signed_at = datetime.fromtimestamp(body["iat"], tz=UTC)
    row = session.get(FederatedPlaces, iss)
    if row is not None and aware(row.signed_at) > signed_at:
        raise PlacesError("signed before the document held (a replay?)", "older_than_held")
    if row is None:
        row = FederatedPlaces(
            iss=iss,
            territory_code="",
            territory_name="",
            kid=kid,
            document="",
            places=[],
            signed_at=signed_at,
        )
    row.territory_code = body["territory"]["code"][:40]
    row.territory_name = body["territory"]["name"][:200]
    row.kid, row.document, row.places = kid, token, body["places"]
    row.signed_at, row.fetched_at = signed_at, utcnow()
    session.add(row)


def _refused(engine: Engine, action: str, iss: str, exc: PlacesError) -> Outcome:
    audit.record_now(
        engine,
        action,
        outcome="failure",
        target_type="issuer",
        iss=iss,
        reason=exc.reason,
        detail=str(exc),
    )
    return Outcome(iss, False, str(exc), exc.reason)


def collect(engine: Engine, settings: Settings) -> list[Outcome]:
    """Hub side: fetch, check and keep each member's places; a refusal keeps the previous ones."""
    with transaction(engine, write=False) as session:
        members = [m.iss for m in hub.members(session)]
        held = held_key_sets(session, settings)
    outcomes = []
    for iss in members:
        try:
            jwks = held.get(iss)
            if jwks is None:
                raise PlacesError("the hub holds no key set for it yet", reason="no_key_set")
            try:
                raw = fetch.fetch(
                    places_uri(iss),
                    max_bytes=MAX_PLACES_BYTES,
                    timeout=max(settings.federation_fetch_timeout_seconds, 10.0),
                )
            except fetch.FetchError as exc:
                reason = "unreachable" if exc.unreachable else "too_large"
                raise PlacesError(str(exc), reason=reason) from None
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise PlacesError("the document is not UTF-8 text") from None
            kid, body = verify_places(text, iss, jwks)
            with transaction(engine) as session:
                _keep(session, iss, text.strip(), kid, body)
                audit.record(
                    session,
                    "federation.places_collected",
                    target_type="issuer",
                    iss=iss,
                    kid=kid,
                    places=len(body["places"]),
                )
        except PlacesError as exc:
            outcomes.append(_refused(engine, "federation.places_refused", iss, exc))
            continue
        outcomes.append(Outcome(iss, True, f"{len(body['places'])} places"))
    return outcomes


def held(session: Session) -> Sequence[FederatedPlaces]:
    return session.exec(select(FederatedPlaces).order_by(col(FederatedPlaces.iss))).all()


def national(session: Session) -> dict[str, Any]:
    """What the hub serves: each member's document as received, for members to check."""
    return {
        "schema": "passeport-numerique/national-places/1",
        "members": [
            {
                "iss": row.iss,
                "territory": {"code": row.territory_code, "name": row.territory_name},
                "signed_at": aware(row.signed_at).isoformat(),
                "places": len(row.places),
                "document": row.document,
            }
            for row in held(session)
        ],
    }


def national_url(hub_url: str) -> str:
    return f"{hub_url.rstrip('/')}/api/v1/federation/places"


def receive(engine: Engine, settings: Settings) -> list[Outcome]:
    """Member side: the hub's collection, each document checked with this instance's own trust
    store (the issuers it trusts, with their pinned keys); a document of an issuer it does not
    trust, or that fails, is left out and the one held before stays."""
    if not settings.federation_hub_url:
        return []
    try:
        raw = fetch.fetch(
            national_url(settings.federation_hub_url),
            max_bytes=MAX_PLACES_BYTES * 4,
            timeout=max(settings.federation_fetch_timeout_seconds, 10.0),
        )
        collection = json.loads(raw)
        members = collection["members"]
        if not isinstance(members, list):
            raise TypeError
    except (fetch.FetchError, ValueError, KeyError, TypeError):
        return [Outcome(settings.federation_hub_url, False, "hub unreachable", "unreachable")]
    with transaction(engine, write=False) as session:
        trusted = {t.iss: t.jwks for t in session.exec(select(TrustedIssuer)).all()}
        held_documents = {row.iss: row.document for row in held(session)}
    outcomes = []
    for member in members[:1000]:
        iss = member.get("iss") if isinstance(member, dict) else None
        if not isinstance(iss, str) or iss not in trusted:
            continue
        try:
            document = member.get("document")
            if not isinstance(document, str):
                raise PlacesError("no document")
            if document.strip() == held_documents.get(iss):
                continue  # already held: no write at each refresh
            kid, body = verify_places(document, iss, trusted[iss])
            with transaction(engine) as session:
                _keep(session, iss, document.strip(), kid, body)
        except PlacesError as exc:
            outcomes.append(_refused(engine, "federation.places_refused", iss, exc))
            continue
        outcomes.append(Outcome(iss, True, f"{len(body['places'])} places"))
    return outcomes
