"""The federation's documents: issuer key sets, and the trust list signed by the anchor key.

A trust list is a compact JWS, header ``{"alg":"ES256","kid":<anchor thumbprint>,"typ":TYP}``
over UTF-8 JSON::

    {"hub": "https://hub.example", "sequence": 7, "issued_at": 1795000000,
     "fresh_until": 1795259200,
     "issuers": [{"iss": "https://a.example/t/973", "name": "Guyane",
                  "jwks": {"keys": [...]}, "fingerprints": ["<kid>", ...],
                  "status_uris": ["https://a.example/t/973/status/1"]}]}

Pure functions: no HTTP, no database (docs/federation.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey
from joserfc.jws import JWSRegistry
from pydantic import SecretStr

from app.core.settings import ConfigurationError
from app.credentials import format as fmt
from app.credentials import keys

TYP: Final = "pn-trust-list+jws"
HEADER_KEYS: Final = frozenset({"alg", "kid", "typ"})
MAX_KEYS_PER_ISSUER: Final = 16
MAX_ISSUERS: Final = 1000
MAX_STATUS_URIS: Final = 4
MAX_DOCUMENT_CHARS: Final = 4_000_000
REGISTRY: Final = JWSRegistry(algorithms=[fmt.ALG])


class DocumentError(ValueError):
    """A key set or trust list that cannot be used; the message says why, for people."""


class MemberDocumentError(DocumentError):
    """A member's signed document refused; ``reason`` is a stable code for the journal."""

    def __init__(self, message: str, reason: str = "malformed") -> None:
        super().__init__(message)
        self.reason = reason


def verify_member_document(
    document: str,
    iss: str,
    jwks: dict[str, Any],
    *,
    typ: str,
    schema: str,
    max_bytes: int,
    error: type[MemberDocumentError],
) -> tuple[str, dict[str, Any]]:
    """(kid, body) of a document a member signed (its figures, its places) with one of the keys
    held for it: a compact JWS of exactly ``alg``, ``kid``, ``typ``, a strict JSON body naming
    the member as ``iss``, ``schema``, ``iat`` and its ``territory``. The caller checks the rest
    of the body; every refusal is ``error`` with a reason for the journal."""
    if len(document) > max_bytes:
        raise error("the document is too large", reason="too_large")
    token = document.strip()
    parts = token.split(".")
    if len(parts) != 3:
        raise error("the document is not a compact JWS")
    try:
        header = fmt.loads_strict(fmt.b64url_decode(parts[0]))
    except fmt.FormatError as exc:
        raise error(f"header: {exc}") from None
    if not isinstance(header, dict) or set(header) != HEADER_KEYS:
        raise error("the header must be exactly alg, kid, typ")
    if header["alg"] != fmt.ALG or header["typ"] != typ:
        raise error(f"the header must say alg {fmt.ALG} and typ {typ}")
    try:
        held = keys.trust_keys(jwks)
    except (ValueError, TypeError, KeyError, JoseError):
        raise error("the key set held for the member is unusable", reason="no_key_set") from None
    kid = header["kid"]
    key = held.get(kid) if isinstance(kid, str) else None
    if key is None:
        raise error(
            f"signed with key {str(kid)[:60]!r}, not in the key set held for {iss} "
            "(a key made since needs `passeport federation publish` first)",
            reason="unknown_key",
        )
    try:
        signed = jws.deserialize_compact(token, key, registry=REGISTRY)
    except JoseError:
        raise error(
            "bad signature: the document does not verify with the member's key",
            reason="bad_signature",
        ) from None
    try:
        body = fmt.loads_strict(signed.payload)
    except fmt.FormatError as exc:
        raise error(f"body: {exc}") from None
    if not isinstance(body, dict):
        raise error("the body must be an object")
    if body.get("iss") != iss:
        raise error(
            f"issued by {str(body.get('iss'))[:200]!r}, not by the member {iss}",
            reason="wrong_issuer",
        )
    if body.get("schema") != schema:
        raise error(f"schema must be {schema}")
    if type(body.get("iat")) is not int or not 0 <= body["iat"] <= fmt.MAX_TIME:
        raise error("iat must be a non-negative integer")
    territory = body.get("territory")
    if not (
        isinstance(territory, dict)
        and all(
            isinstance(territory.get(k), str) and 0 < len(territory[k]) <= 200
            for k in ("code", "name")
        )
    ):
        raise error("territory must have a code and a name")
    return kid, body


@dataclass(frozen=True)
class IssuerEntry:
    iss: str
    name: str
    jwks: dict[str, Any]
    fingerprints: tuple[str, ...]
    status_uris: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "iss": self.iss,
            "name": self.name,
            "jwks": self.jwks,
            "fingerprints": list(self.fingerprints),
            "status_uris": list(self.status_uris),
        }


@dataclass(frozen=True)
class TrustList:
    hub: str
    sequence: int
    issued_at: int
    fresh_until: int
    issuers: tuple[IssuerEntry, ...]


def _url(value: Any, where: str) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= fmt.MAX_URL_CHARS:
        raise DocumentError(f"{where} must be a URL of at most {fmt.MAX_URL_CHARS} characters")
    if not value.startswith(("http://", "https://")) or any(c.isspace() for c in value):
        raise DocumentError(f"{where} must be an http(s) URL")
    return value.rstrip("/")


def parse_jwks(obj: Any, where: str = "key set") -> tuple[dict[str, Any], tuple[str, ...]]:
    """A published JWK Set, checked key by key: ``({"keys": [...]}, fingerprints)``.

    Every key is a P-256 public key whose ``kid`` is its RFC 7638 thumbprint (the fingerprint
    shown to people); nothing private is accepted.
    """
    if not isinstance(obj, dict) or not isinstance(obj.get("keys"), list):
        raise DocumentError(f'{where} is not a JWK Set ({{"keys": [...]}})')
    entries = obj["keys"]
    if len(entries) > MAX_KEYS_PER_ISSUER:
        raise DocumentError(f"{where} has more than {MAX_KEYS_PER_ISSUER} keys")
    published: list[dict[str, Any]] = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise DocumentError(f"{where}: key {i} is not an object")
        if entry.get("kty") != "EC" or entry.get("crv") != "P-256":
            raise DocumentError(f"{where}: key {i} is not a P-256 EC key")
        if "d" in entry:
            raise DocumentError(f"{where}: key {i} carries private material")
        try:
            keys.trust_keys({"keys": [entry]})
        except (ValueError, TypeError, KeyError, JoseError) as exc:
            raise DocumentError(f"{where}: key {i}: {exc}") from None
        published.append({k: entry[k] for k in sorted(entry) if k in keys.PUBLIC_MEMBERS})
    fingerprints = tuple(str(e["kid"]) for e in published)
    if len(set(fingerprints)) != len(fingerprints):
        raise DocumentError(f"{where} lists a key twice")
    return {"keys": published}, fingerprints


def parse_entry(obj: Any, where: str) -> IssuerEntry:
    if not isinstance(obj, dict):
        raise DocumentError(f"{where} is not an object")
    iss = _url(obj.get("iss"), f"{where}.iss")
    name = obj.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= 200:
        raise DocumentError(f"{where}.name must be 1 to 200 characters")
    jwks, found = parse_jwks(obj.get("jwks"), f"key set of {iss}")
    claimed = obj.get("fingerprints")
    if not isinstance(claimed, list) or not all(isinstance(f, str) for f in claimed):
        raise DocumentError(f"{where}.fingerprints must be a list of strings")
    if sorted(claimed) != sorted(found):
        raise DocumentError(f"the key set of {iss} does not match its fingerprints")
    uris = obj.get("status_uris")
    if not isinstance(uris, list) or len(uris) > MAX_STATUS_URIS:
        raise DocumentError(f"{where}.status_uris must be a list of at most {MAX_STATUS_URIS}")
    status_uris = tuple(_url(u, f"{where}.status_uris") for u in uris)
    return IssuerEntry(iss, name, jwks, tuple(found), status_uris)


def _anchor_text(value: str) -> str:
    text = value.strip()
    if text.startswith("{"):
        return text
    try:
        return Path(text).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read the federation anchor key file: {exc.strerror}"
        ) from None


def load_anchor_private(secret: SecretStr) -> ECKey:
    """The hub's anchor key from its setting (a JWK, or a file path); never shown anywhere."""
    value = secret.get_secret_value()
    if not value:
        raise ConfigurationError("PASSEPORT_FEDERATION_ANCHOR_KEY is not set: this is no hub")
    try:
        key = ECKey.import_key(json.loads(_anchor_text(value)))
    except (ValueError, TypeError, KeyError, JoseError):
        # Not the exception's text: it could quote the key.
        raise ConfigurationError(
            "PASSEPORT_FEDERATION_ANCHOR_KEY is not a P-256 private JWK"
        ) from None
    if key.get("crv") != "P-256" or not key.is_private:
        raise ConfigurationError("PASSEPORT_FEDERATION_ANCHOR_KEY is not a P-256 private JWK")
    return key


def load_anchor_public(value: str) -> ECKey:
    """The anchor's public key a member pins (a JWK, or a file path)."""
    if not value:
        raise ConfigurationError("PASSEPORT_FEDERATION_ANCHOR_PUBLIC_KEY is not set")
    try:
        obj = json.loads(_anchor_text(value))
        key = ECKey.import_key({k: obj[k] for k in ("kty", "crv", "x", "y")})
    except (ValueError, TypeError, KeyError, JoseError):
        raise ConfigurationError(
            "PASSEPORT_FEDERATION_ANCHOR_PUBLIC_KEY is not a P-256 public JWK"
        ) from None
    if key.get("crv") != "P-256":
        raise ConfigurationError("PASSEPORT_FEDERATION_ANCHOR_PUBLIC_KEY is not a P-256 key")
    return key


def sign_trust_list(trust_list: TrustList, anchor: ECKey) -> str:
    body = {
        "hub": trust_list.hub,
        "sequence": trust_list.sequence,
        "issued_at": trust_list.issued_at,
        "fresh_until": trust_list.fresh_until,
        "issuers": [entry.to_json() for entry in trust_list.issuers],
    }
    header = {"alg": fmt.ALG, "kid": fmt.key_id(anchor), "typ": TYP}
    payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return jws.serialize_compact(header, payload, anchor, registry=REGISTRY)


def _int(value: Any, where: str) -> int:
    if type(value) is not int or not 0 <= value <= fmt.MAX_TIME:
        raise DocumentError(f"{where} must be a non-negative integer")
    return value


def verify_trust_list(document: str, anchor: ECKey) -> TrustList:
    """The trust list, if signed by the anchor and well formed; DocumentError otherwise."""
    if not isinstance(document, str) or len(document) > MAX_DOCUMENT_CHARS:
        raise DocumentError("the trust list is too large")
    parts = document.strip().split(".")
    if len(parts) != 3:
        raise DocumentError("the trust list is not a compact JWS")
    try:
        header = fmt.loads_strict(fmt.b64url_decode(parts[0]))
    except fmt.FormatError as exc:
        raise DocumentError(f"trust list header: {exc}") from None
    if not isinstance(header, dict) or set(header) != HEADER_KEYS:
        raise DocumentError("trust list header must be exactly alg, kid, typ")
    if header["alg"] != fmt.ALG or header["typ"] != TYP:
        raise DocumentError(f"trust list header must say alg {fmt.ALG} and typ {TYP}")
    if header["kid"] != fmt.key_id(anchor):
        raise DocumentError("the trust list is not signed by the pinned anchor key")
    try:
        signed = jws.deserialize_compact(document.strip(), anchor, registry=REGISTRY)
    except JoseError:
        raise DocumentError(
            "bad signature: the trust list does not verify with the anchor key"
        ) from None
    try:
        body = fmt.loads_strict(signed.payload)
    except fmt.FormatError as exc:
        raise DocumentError(f"trust list body: {exc}") from None
    if not isinstance(body, dict):
        raise DocumentError("trust list body must be an object")
    hub = _url(body.get("hub"), "hub")
    sequence = _int(body.get("sequence"), "sequence")
    issued_at = _int(body.get("issued_at"), "issued_at")
    fresh_until = _int(body.get("fresh_until"), "fresh_until")
    if fresh_until <= issued_at:
        raise DocumentError("fresh_until must be after issued_at")
    raw = body.get("issuers")
    if not isinstance(raw, list) or len(raw) > MAX_ISSUERS:
        raise DocumentError(f"issuers must be a list of at most {MAX_ISSUERS}")
    entries: list[IssuerEntry] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        entry = parse_entry(item, f"issuers[{i}]")
        if entry.iss in seen:
            raise DocumentError(f"duplicate issuer {entry.iss} in the trust list")
        seen.add(entry.iss)
        entries.append(entry)
    return TrustList(hub, sequence, issued_at, fresh_until, tuple(entries))
