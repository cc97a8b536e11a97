"""Signing keys per territory: made on first use, encrypted at rest, rotated, retired.

Each territory signs its credentials and status lists with one **active** P-256 key. A key's life:

- *active*: ``rotated_at`` and ``retired_at`` are null; new credentials are signed with it. At most
  one per territory, enforced by a partial unique index, so that two requests making the first key
  at once cannot both succeed.
- *rotated*: ``passeport keys rotate`` made a new active key; this one stays published until
  ``publish_until`` (rotation + ``credential_max_days``), when everything it signed has expired.
- *retired*: compromised. Never published nor trusted again, whatever its other dates say.

The private key is stored only as AES-256-GCM ciphertext under a key derived from
``PASSEPORT_KEY_ENCRYPTION_KEY``; the associated data binds it to its ``kid`` and territory, so a
ciphertext copied to another row does not decrypt. Nothing in this module logs, returns or puts in
an error message any private material. See docs/keys.md.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from joserfc.jwk import ECKey
from pydantic import SecretStr
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select

from app.audit import service as audit
from app.core.errors import AppError, Conflict, NotFound
from app.core.settings import Settings
from app.core.time import aware, utcnow
from app.credentials.format import ALG, key_id, public_jwk
from app.territory.models import Territory

logger = logging.getLogger(__name__)

#: HKDF parameters: changing either makes every stored key undecryptable, hence the version.
KEK_INFO: Final = b"passeport signing keys v1"
# A fixed salt is fine here: the input is a high-entropy secret (checked to be 32+ characters
# outside development), and HKDF only needs the salt to separate this use from others.
KEK_SALT: Final = b"passeport-numerique/signing-key-kek/2026"
#: First byte of every ciphertext: the format (nonce || AES-GCM output), so that a later change
#: of scheme can tell old rows from new ones.
CIPHERTEXT_VERSION: Final = b"\x01"
NONCE_BYTES: Final = 12
CURVE: Final = "P-256"
#: The only members a published key may carry.
PUBLIC_MEMBERS: Final = frozenset({"kty", "crv", "x", "y", "kid", "alg", "use"})


class SigningKey(SQLModel, table=True):
    __tablename__ = "signing_key"
    # At most one active key per territory: the race of two first uses ends in an IntegrityError
    # for the second, which then reads the winner's key. Partial indexes exist on both backends.
    __table_args__ = (
        sa.Index(
            "uq_signing_key_active_territory",
            "territory_id",
            unique=True,
            sqlite_where=sa.text("rotated_at IS NULL AND retired_at IS NULL"),
            postgresql_where=sa.text("rotated_at IS NULL AND retired_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    territory_id: int = Field(foreign_key="territory.id", index=True)
    # RFC 7638 thumbprint of the public key: what credentials carry in their header.
    kid: str = Field(max_length=64, unique=True)
    public_jwk: dict[str, Any] = Field(sa_type=sa.JSON)
    # CIPHERTEXT_VERSION || 96-bit nonce || AES-256-GCM(private JWK JSON) with its tag.
    private_encrypted: bytes = Field(sa_type=sa.LargeBinary)
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))
    activated_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))
    rotated_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    publish_until: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    retired_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))

    def state(self, now: datetime) -> str:
        """active, rotated (still published), expired (rotated, no longer published) or retired."""
        if self.retired_at is not None:
            return "retired"
        if self.rotated_at is None:
            return "active"
        if self.publish_until is not None and aware(self.publish_until) > now:
            return "rotated"
        return "expired"


class KeyDecryptionFailed(AppError):
    """The stored private key does not decrypt: another KEK, or a ciphertext not of this row."""

    status, code, title = 500, "key_decryption_failed", "Signing key unavailable"


# --- Encryption at rest ---------------------------------------------------------------------


def _kek(secret: SecretStr) -> AESGCM:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=KEK_SALT, info=KEK_INFO).derive(
        secret.get_secret_value().encode("utf-8")
    )
    return AESGCM(derived)


def _associated_data(kid: str, territory_code: str) -> bytes:
    # Binds the ciphertext to its row: the same blob under another kid or territory fails.
    return f"{kid}\x00{territory_code}".encode()


def encrypt_private_key(key: ECKey, *, kid: str, territory_code: str, secret: SecretStr) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    plaintext = json.dumps(key.as_dict(private=True), separators=(",", ":")).encode()
    sealed = _kek(secret).encrypt(nonce, plaintext, _associated_data(kid, territory_code))
    return CIPHERTEXT_VERSION + nonce + sealed


def decrypt_private_key(blob: bytes, *, kid: str, territory_code: str, secret: SecretStr) -> ECKey:
    """The private key, or KeyDecryptionFailed (whose message names the kid, nothing secret)."""
    failure = KeyDecryptionFailed(
        f"The signing key {kid} of territory {territory_code!r} cannot be decrypted: "
        "PASSEPORT_KEY_ENCRYPTION_KEY is not the one it was encrypted with, or the stored key "
        "was altered or moved.",
    )
    blob = bytes(blob)
    if not blob.startswith(CIPHERTEXT_VERSION) or len(blob) <= 1 + NONCE_BYTES:
        raise failure
    nonce, sealed = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
    try:
        plaintext = _kek(secret).decrypt(nonce, sealed, _associated_data(kid, territory_code))
    except InvalidTag:
        raise failure from None
    key = ECKey.import_key(json.loads(plaintext))
    if not key.is_private or key_id(key) != kid:
        # Authenticated, so only a bug could get here; still never sign with a mismatched key.
        raise failure
    return key


# --- Service --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What may be shown about a key: no private material."""

    kid: str
    territory_code: str
    state: str
    created_at: datetime
    rotated_at: datetime | None
    publish_until: datetime | None
    retired_at: datetime | None


def _active(session: Session, territory_id: int) -> SigningKey | None:
    return session.exec(
        select(SigningKey).where(
            SigningKey.territory_id == territory_id,
            col(SigningKey.rotated_at).is_(None),
            col(SigningKey.retired_at).is_(None),
        )
    ).first()


def _territory_id(territory: Territory) -> int:
    if territory.id is None:
        raise ValueError("the territory must be saved first")
    return territory.id


def _create(
    session: Session, territory: Territory, settings: Settings, *, reason: str
) -> SigningKey | None:
    """Insert a new active key; None when another transaction made one first."""
    private = ECKey.generate_key(CURVE, private=True)
    kid = key_id(private)
    now = utcnow()
    row = SigningKey(
        territory_id=_territory_id(territory),
        kid=kid,
        public_jwk=public_jwk(private),
        private_encrypted=encrypt_private_key(
            private, kid=kid, territory_code=territory.code, secret=settings.key_encryption_key
        ),
        created_at=now,
        activated_at=now,
    )
    # A savepoint, so that losing the race leaves the caller's transaction usable.
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return None
    audit.record(
        session,
        "key.created",
        territory_id=row.territory_id,
        target_type="signing_key",
        target_id=kid,
        reason=reason,
    )
    logger.info("signing key created", extra={"territory": territory.code, "kid": kid})
    return row


def _unlocked(row: SigningKey, territory: Territory, settings: Settings) -> tuple[str, ECKey]:
    """(kid, private key) of a stored key, decrypted with the settings' key-encryption key."""
    key = decrypt_private_key(
        row.private_encrypted,
        kid=row.kid,
        territory_code=territory.code,
        secret=settings.key_encryption_key,
    )
    return row.kid, key


def signing_key(session: Session, territory: Territory, settings: Settings) -> tuple[str, ECKey]:
    """The territory's active key (kid, private key), made on first use.

    Call it in a writing transaction: the first call inserts the key.
    """
    territory_id = _territory_id(territory)
    row = _active(session, territory_id)
    if row is None:
        row = _create(session, territory, settings, reason="first_use") or _active(
            session, territory_id
        )
    if row is None:  # pragma: no cover - the winner of the race committed a key we must see
        raise RuntimeError("no active signing key after creating one")
    return _unlocked(row, territory, settings)


def existing_signing_key(
    session: Session, territory: Territory, settings: Settings
) -> tuple[str, ECKey] | None:
    """The active key if the territory has one; never creates one (for read-only callers)."""
    row = _active(session, _territory_id(territory))
    if row is None:
        return None
    return _unlocked(row, territory, settings)


def rotate(
    session: Session,
    territory: Territory,
    settings: Settings,
    *,
    actor_account_id: int | None = None,
) -> str:
    """Make a new active key; the previous one stays published for credential_max_days."""
    territory_id = _territory_id(territory)
    now = utcnow()
    previous = _active(session, territory_id)
    if previous is not None:
        previous.rotated_at = now
        previous.publish_until = now + timedelta(days=settings.credential_max_days)
        session.add(previous)
        # The old key must stop being active before the new one is inserted (partial index).
        session.flush()
    row = _create(session, territory, settings, reason="rotation")
    if row is None:
        raise Conflict(
            "Another rotation of this territory's key ran at the same time; try again.",
            code="key_rotation_conflict",
        )
    audit.record(
        session,
        "key.rotated",
        actor_account_id=actor_account_id,
        territory_id=territory_id,
        target_type="signing_key",
        target_id=row.kid,
        previous_kid=previous.kid if previous else None,
        previous_published_until=(
            previous.publish_until.isoformat() if previous and previous.publish_until else None
        ),
    )
    return row.kid


def retire(
    session: Session,
    territory: Territory | None,
    kid: str,
    *,
    actor_account_id: int | None = None,
) -> SigningKey:
    """Mark a compromised key: unpublished at once, so what it signed fails (``unknown_key``).

    With a territory, the kid must be one of its keys. Retiring the active key leaves the
    territory without one; the next signature makes a new key (first use again).
    """
    query = select(SigningKey).where(SigningKey.kid == kid)
    if territory is not None:
        query = query.where(SigningKey.territory_id == _territory_id(territory))
    row = session.exec(query).first()
    if row is None:
        raise NotFound(f"No signing key has the kid {kid!r}.", code="unknown_key")
    if row.retired_at is not None:
        raise Conflict(f"The signing key {kid} is already retired.", code="key_already_retired")
    row.retired_at = utcnow()
    session.add(row)
    session.flush()
    audit.record(
        session,
        "key.retired",
        actor_account_id=actor_account_id,
        territory_id=row.territory_id,
        target_type="signing_key",
        target_id=kid,
        was_active=row.rotated_at is None,
    )
    logger.warning("signing key retired", extra={"kid": kid})
    return row


def _public_only(stored: dict[str, Any]) -> dict[str, Any]:
    # Rebuilt member by member rather than trusted as stored: even a corrupted row cannot put a
    # private member ("d") into the published set.
    return {
        "kty": stored["kty"],
        "crv": stored["crv"],
        "x": stored["x"],
        "y": stored["y"],
        "kid": stored["kid"],
        "alg": ALG,
        "use": "sig",
    }


def publishable(session: Session, territory: Territory, now: datetime) -> list[SigningKey]:
    """The keys a verifier may use: the active key, then rotated keys still within
    publish_until, newest first; never a retired key."""
    rows = session.exec(
        select(SigningKey)
        .where(
            SigningKey.territory_id == _territory_id(territory),
            col(SigningKey.retired_at).is_(None),
        )
        .order_by(col(SigningKey.activated_at).desc(), col(SigningKey.id).desc())
    ).all()
    # Dates compared in Python: SQLite keeps them as naive text.
    return [row for row in rows if row.state(now) in {"active", "rotated"}]


def published_jwk(row: SigningKey) -> dict[str, Any]:
    return _public_only(row.public_jwk)


def published_keys(session: Session, territory: Territory, now: datetime) -> list[dict[str, Any]]:
    """The JWKs of ``{iss}/.well-known/jwks.json``."""
    return [published_jwk(row) for row in publishable(session, territory, now)]


def list_keys(session: Session, territory: Territory, now: datetime) -> list[KeyInfo]:
    rows = session.exec(
        select(SigningKey)
        .where(SigningKey.territory_id == _territory_id(territory))
        .order_by(col(SigningKey.activated_at).desc(), col(SigningKey.id).desc())
    ).all()
    return [
        KeyInfo(
            kid=row.kid,
            territory_code=territory.code,
            state=row.state(now),
            created_at=aware(row.created_at),
            rotated_at=aware(row.rotated_at) if row.rotated_at else None,
            publish_until=aware(row.publish_until) if row.publish_until else None,
            retired_at=aware(row.retired_at) if row.retired_at else None,
        )
        for row in rows
    ]


def trust_keys(jwks: dict[str, Any]) -> dict[str, ECKey]:
    """kid -> public key from a JWK Set, refusing entries whose kid is not their thumbprint."""
    out: dict[str, ECKey] = {}
    for entry in jwks.get("keys", []):
        if set(entry) - PUBLIC_MEMBERS:
            raise ValueError("a published key carries members other than public ones")
        key = ECKey.import_key({k: entry[k] for k in ("kty", "crv", "x", "y")})
        if key_id(key) != entry.get("kid"):
            raise ValueError("a published kid is not the thumbprint of its key")
        out[entry["kid"]] = key
    return out
