"""Token Status List (IETF draft-ietf-oauth-status-list): the revocation bits of credentials.

A list of ``size`` statuses of ``bits`` bits each (1, 2, 4 or 8) is packed into bytes, the first
status in the least significant bits of the first byte; the bytes are compressed with DEFLATE in
the ZLIB format (RFC 1950, highest level) and written base64url without padding: the ``lst``.
The list is served as a JWT with ``typ: statuslist+jwt``, signed ES256 by the issuer, whose
claims are ``{"sub": uri, "iat", "exp", "ttl", "status_list": {"bits", "lst"}}``.

Status values: 0 valid, 1 invalid (revoked), 2 suspended (unused here); any non-zero value makes a
credential ``revoked``.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Mapping
from typing import Any, Final

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey
from joserfc.jws import JWSRegistry

from app.credentials.format import (
    ALG,
    FormatError,
    b64url_decode,
    b64url_encode,
    key_id,
    loads_strict,
)

TYP: Final = "statuslist+jwt"
VALID: Final = 0
INVALID: Final = 1
SUSPENDED: Final = 2
ALLOWED_BITS: Final = (1, 2, 4, 8)
#: Largest token accepted by :func:`verify_status_list_jwt`, before any decoding.
MAX_TOKEN_CHARS: Final = 1_000_000
#: Cap on the inflated list: 1 MiB, that is 8,388,608 one-bit statuses.
MAX_LIST_BYTES: Final = 1 << 20
HEADER_KEYS: Final = frozenset({"alg", "kid", "typ"})

REGISTRY: Final = JWSRegistry(algorithms=[ALG])


class StatusListError(FormatError):
    """A status list or status list token that cannot be used."""


class StatusList:
    """A fixed-size array of ``bits``-bit statuses, all 0 (valid) at first."""

    __slots__ = ("_data", "bits", "size")

    def __init__(self, size: int, bits: int = 1) -> None:
        if bits not in ALLOWED_BITS:
            raise StatusListError(f"bits must be one of {ALLOWED_BITS}")
        if not 0 < size <= MAX_LIST_BYTES * 8 // bits:
            raise StatusListError("size out of range")
        self.size = size
        self.bits = bits
        self._data = bytearray((size * bits + 7) // 8)

    def _where(self, idx: int) -> tuple[int, int]:
        if type(idx) is not int or not 0 <= idx < self.size:
            raise IndexError(f"status index {idx!r} outside 0..{self.size - 1}")
        bit = idx * self.bits
        return bit // 8, bit % 8

    def get(self, idx: int) -> int:
        byte, shift = self._where(idx)
        return (self._data[byte] >> shift) & ((1 << self.bits) - 1)

    def set(self, idx: int, value: int) -> None:
        mask = (1 << self.bits) - 1
        if type(value) is not int or not 0 <= value <= mask:
            raise ValueError(f"status value must be 0..{mask}")
        byte, shift = self._where(idx)
        self._data[byte] = (self._data[byte] & ~(mask << shift) & 0xFF) | (value << shift)

    def to_bytes(self) -> bytes:
        return bytes(self._data)

    @classmethod
    def from_bytes(cls, data: bytes, bits: int = 1) -> StatusList:
        """A list of every status the bytes hold (``len(data) * 8 // bits``)."""
        if not data:
            raise StatusListError("empty status list")
        out = cls(len(data) * 8 // bits, bits)
        out._data[:] = data
        return out

    def encode(self) -> str:
        """The ``lst``: ZLIB (RFC 1950) at level 9, then base64url without padding."""
        return b64url_encode(zlib.compress(self.to_bytes(), 9))

    @classmethod
    def decode(cls, lst: str, bits: int = 1, *, cap: int = MAX_LIST_BYTES) -> StatusList:
        """Read an ``lst``, inflating at most ``cap`` bytes; a bigger or broken list is refused."""
        if bits not in ALLOWED_BITS:
            raise StatusListError(f"bits must be one of {ALLOWED_BITS}")
        try:
            compressed = b64url_decode(lst)
        except FormatError as exc:
            raise StatusListError("lst is not base64url") from exc
        inflater = zlib.decompressobj(wbits=15)
        try:
            data = inflater.decompress(compressed, cap)
        except zlib.error as exc:
            raise StatusListError(f"lst is not ZLIB data: {exc}") from exc
        if inflater.unconsumed_tail:
            raise StatusListError(f"status list larger than {cap} bytes")
        if not inflater.eof or inflater.unused_data:
            raise StatusListError("lst is truncated or has trailing bytes")
        return cls.from_bytes(data, bits)

    def to_json(self) -> dict[str, Any]:
        return {"bits": self.bits, "lst": self.encode()}


def status_list_jwt(
    status_list: StatusList,
    *,
    key: ECKey,
    uri: str,
    iat: int,
    exp: int,
    ttl: int,
    iss: str | None = None,
) -> str:
    """The Status List Token: a JWT whose ``sub`` is the list's URI (the credential's ``uri``)."""
    if not 0 <= iat < exp or ttl <= 0:
        raise ValueError("need iat < exp and a positive ttl")
    claims: dict[str, Any] = {"sub": uri, "iat": iat, "exp": exp, "ttl": ttl}
    if iss is not None:
        claims["iss"] = iss
    claims["status_list"] = status_list.to_json()
    header = {"alg": ALG, "kid": key_id(key), "typ": TYP}
    body = json.dumps(claims, separators=(",", ":")).encode("utf-8")
    return jws.serialize_compact(header, body, key, registry=REGISTRY)


def verify_status_list_jwt(
    token: str,
    key: ECKey | Mapping[str, ECKey],
    *,
    uri: str | None = None,
    now: int | None = None,
    cap: int = MAX_LIST_BYTES,
) -> StatusList:
    """Check a Status List Token and return its list.

    ``key`` is the issuer's key, or its keys by ``kid`` (its trust-store entry, so that
    a list signed before or after a rotation verifies). Checks, in order: the size, the header
    (``alg`` ES256, ``typ`` statuslist+jwt, ``kid`` a known key's thumbprint, nothing else), the
    signature, the claims' types, ``sub`` equal to ``uri``
    when given, ``exp`` not passed when ``now`` is given, then inflates the list under ``cap``.
    """
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        raise StatusListError("status list token too large")
    parts = token.split(".")
    if len(parts) != 3:
        raise StatusListError("not a compact JWS")
    try:
        header = loads_strict(b64url_decode(parts[0]))
    except FormatError as exc:
        raise StatusListError(f"header: {exc}") from exc
    if not isinstance(header, dict) or set(header) != HEADER_KEYS:
        raise StatusListError("header must be exactly alg, kid, typ")
    if header["alg"] != ALG or header["typ"] != TYP:
        raise StatusListError(f"header must say alg {ALG} and typ {TYP}")
    kid = header["kid"]
    if isinstance(key, Mapping):
        found = key.get(kid) if isinstance(kid, str) else None
    else:
        found = key if kid == key_id(key) else None
    if found is None:
        raise StatusListError("token not signed with this key")
    try:
        obj = jws.deserialize_compact(token, found, registry=REGISTRY)
    except JoseError as exc:
        raise StatusListError(f"signature does not verify: {exc.error}") from exc
    try:
        claims = loads_strict(obj.payload)
    except FormatError as exc:
        raise StatusListError(f"claims: {exc}") from exc
    if not isinstance(claims, dict):
        raise StatusListError("claims must be an object")
    for name in ("iat", "exp", "ttl"):
        if type(claims.get(name)) is not int:
            raise StatusListError(f"{name} must be an integer")
    if not isinstance(claims.get("sub"), str):
        raise StatusListError("sub must be the list's URI")
    if uri is not None and claims["sub"] != uri:
        raise StatusListError("sub is not the URI the list was fetched for")
    if now is not None and claims["exp"] <= now:
        raise StatusListError("status list token expired")
    body = claims.get("status_list")
    if not isinstance(body, dict):
        raise StatusListError("status_list must be an object")
    bits, lst = body.get("bits"), body.get("lst")
    if type(bits) is not int or not isinstance(lst, str):
        raise StatusListError("status_list needs integer bits and string lst")
    return StatusList.decode(lst, bits, cap=cap)


def status_checker(lists: Mapping[str, StatusList]) -> Callable[[str, int], bool | None]:
    """A ``status`` callback for :func:`app.credentials.format.verify` over lists already fetched.

    True when the credential's status is not 0; None when the list is missing or too short.
    """

    def check(uri: str, idx: int) -> bool | None:
        status_list = lists.get(uri)
        if status_list is None or not 0 <= idx < status_list.size:
            return None
        return status_list.get(idx) != VALID

    return check
