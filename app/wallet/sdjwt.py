"""The SD-JWT VC format (RFC 9901, SD-JWT-based Verifiable Credentials): pure, bounded, no I/O.

What we issue (docs/wallet.md, "The credential"):

- the issuer-signed JWT, header ``{alg: ES256, typ: dc+sd-jwt, kid}``, whose payload carries
  ``iss``, ``iat``, ``exp``, ``vct``, ``cnf.jwk`` (the holder's key), ``status.status_list``,
  ``territoire`` (always disclosed), ``competences``: an array of ``{"...": digest}`` elements,
  one per skill, each a disclosure ``[salt, {code, libelle, niveau, date, lieu}]``, and the
  digests of ``given_name`` / ``family_name`` in ``_sd`` when the holder chose to show a name;
- then ``~`` and each disclosure, base64url of the JSON array, and a final ``~``.

A presentation is ``<jwt>~<the disclosures chosen>~<kb-jwt>``: the key-binding JWT
(``typ: kb+jwt``) is signed by the holder's key with ``iat``, ``aud``, ``nonce`` and ``sd_hash``,
the base64url SHA-256 of everything before it.

:func:`verify_presentation` checks one in a fixed order and answers a :class:`Verdict` whose
results are those of the QR credentials (app/credentials/format.py) plus
``invalid_presentation`` (the key binding does not hold: missing, wrong nonce or audience,
replayed, ``sd_hash`` not matching).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey

from app.credentials.format import b64url_decode, b64url_encode

ALG: Final = "ES256"
TYP: Final = "dc+sd-jwt"
KB_TYP: Final = "kb+jwt"
PROOF_TYP: Final = "openid4vci-proof+jwt"
SD_ALG: Final = "sha-256"
ELLIPSIS: Final = "..."

# Bounded work whatever is sent.
MAX_PRESENTATION_CHARS: Final = 32_000
MAX_DISCLOSURES: Final = 64
MAX_DISCLOSURE_CHARS: Final = 2_000
MAX_JWT_CHARS: Final = 16_000
LEEWAY_SECONDS: Final = 60
# A key-binding JWT (and a key proof) older than this is refused, even with a fresh nonce.
MAX_PROOF_AGE_SECONDS: Final = 300

_B64URL = re.compile(r"[A-Za-z0-9_-]+")
_REGISTRY = jws.JWSRegistry(algorithms=[ALG])


# --- Encoding -------------------------------------------------------------------------------------


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def digest(text: str) -> str:
    """The base64url SHA-256 of an ASCII text (a disclosure, or the presentation for sd_hash)."""
    return b64url_encode(hashlib.sha256(text.encode("ascii")).digest())


def salt() -> str:
    return b64url_encode(secrets.token_bytes(16))


def disclosure(*parts: Any) -> str:
    """``[salt, name, value]`` for an object property, ``[salt, value]`` for an array element."""
    return b64url_encode(_json([salt(), *parts]))


def sign_jwt(header: Mapping[str, Any], payload: Mapping[str, Any], key: ECKey) -> str:
    return jws.serialize_compact(dict(header), _json(payload), key, registry=_REGISTRY)


def issue(
    claims: Mapping[str, Any],
    *,
    skills: Sequence[Mapping[str, Any]],
    names: Mapping[str, str],
    key: ECKey,
    kid: str,
) -> str:
    """The issued SD-JWT: each skill an array element disclosure, each name a property one."""
    disclosures: list[str] = []
    elements = []
    for skill in skills:
        encoded = disclosure(dict(skill))
        disclosures.append(encoded)
        elements.append({ELLIPSIS: digest(encoded)})
    sd = []
    for name, value in names.items():
        encoded = disclosure(name, value)
        disclosures.append(encoded)
        sd.append(digest(encoded))
    payload = {**claims, "competences": elements, "_sd_alg": SD_ALG}
    if sd:
        payload["_sd"] = sorted(sd)  # sorted: the order says nothing of which name is which
    token = sign_jwt({"alg": ALG, "typ": TYP, "kid": kid}, payload, key)
    return "~".join([token, *disclosures]) + "~"


# --- Reading --------------------------------------------------------------------------------------


class FormatError(ValueError):
    pass


def _segments(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The unverified header and payload of a compact JWS."""
    if len(token) > MAX_JWT_CHARS:
        raise FormatError("JWT too long")
    parts = token.split(".")
    if len(parts) != 3 or any(_B64URL.fullmatch(p) is None for p in parts):
        raise FormatError("a compact JWS has three base64url segments")
    try:
        header = json.loads(b64url_decode(parts[0]))
        payload = json.loads(b64url_decode(parts[1]))
    except (ValueError, UnicodeDecodeError):
        raise FormatError("JWS header or payload is not JSON") from None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise FormatError("JWS header and payload must be JSON objects")
    return header, payload


def signature_holds(token: str, key: ECKey) -> bool:
    try:
        jws.deserialize_compact(token, key, registry=_REGISTRY)
    except (JoseError, ValueError):
        return False
    return True


def holder_key(jwk: Any) -> ECKey:
    """A holder's public P-256 key from a JWK; FormatError otherwise."""
    if not isinstance(jwk, dict) or jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise FormatError("the key must be an EC P-256 JWK")
    if "d" in jwk:
        raise FormatError("a private key was sent")
    try:
        return ECKey.import_key({k: jwk[k] for k in ("kty", "crv", "x", "y") if k in jwk})
    except (JoseError, ValueError, TypeError):
        raise FormatError("the key is not a valid EC P-256 JWK") from None


@dataclass(frozen=True)
class Proof:
    """A checked key proof: the holder's key and the nonce it names (still to be spent)."""

    key: ECKey
    jwk: dict[str, Any]
    nonce: str


def check_proof(token: str, *, audience: str, now: int) -> Proof:
    """An OpenID4VCI ``jwt`` key proof: typ, alg, the holder's key in ``jwk``, signed by it,
    ``aud`` the issuer, a recent ``iat`` and a ``nonce``. FormatError says what is wrong."""
    header, payload = _segments(token)
    if header.get("typ") != PROOF_TYP:
        raise FormatError(f"the proof's typ must be {PROOF_TYP}")
    if header.get("alg") != ALG:
        raise FormatError(f"the proof's alg must be {ALG}")
    if "x5c" in header or "kid" in header:
        raise FormatError("the proof must carry its key in jwk (no kid, no x5c)")
    key = holder_key(header.get("jwk"))
    if not signature_holds(token, key):
        raise FormatError("the proof is not signed by the key it carries")
    if payload.get("aud") != audience:
        raise FormatError("the proof's aud is not this credential issuer")
    iat = payload.get("iat")
    if not isinstance(iat, int) or not now - MAX_PROOF_AGE_SECONDS <= iat <= now + LEEWAY_SECONDS:
        raise FormatError("the proof's iat is missing or not recent")
    nonce = payload.get("nonce")
    if not isinstance(nonce, str) or not 1 <= len(nonce) <= 200:
        raise FormatError("the proof has no nonce")
    return Proof(key, key.as_dict(private=False), nonce)


# --- Verification of a presentation ---------------------------------------------------------------

VALID: Final = "valid"
MALFORMED: Final = "malformed"
UNSUPPORTED_FORMAT: Final = "unsupported_format"
UNTRUSTED_ISSUER: Final = "untrusted_issuer"
UNKNOWN_KEY: Final = "unknown_key"
BAD_SIGNATURE: Final = "bad_signature"
NOT_YET_VALID: Final = "not_yet_valid"
EXPIRED: Final = "expired"
REVOKED: Final = "revoked"
STATUS_UNAVAILABLE: Final = "status_unavailable"
INVALID_PRESENTATION: Final = "invalid_presentation"


@dataclass(frozen=True)
class Verdict:
    result: str
    reason: str
    # Set once the issuer's signature holds: the signed payload and what was disclosed.
    payload: dict[str, Any] | None = None
    skills: list[dict[str, Any]] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return self.result == VALID


#: ``keys(iss)``: the trusted keys of an issuer by kid, or None when it is not trusted.
KeysFor = Callable[[str], Mapping[str, ECKey] | None]
#: ``status(uri, idx)``: True revoked, False not, None unknown.
StatusFor = Callable[[str, int], bool | None]
#: ``spend(nonce)``: True when the nonce was ours, fresh and unused (and is now spent).
SpendNonce = Callable[[str], bool]


def _decode_disclosure(encoded: str) -> list[Any]:
    if len(encoded) > MAX_DISCLOSURE_CHARS or _B64URL.fullmatch(encoded) is None:
        raise FormatError("a disclosure is not base64url or too long")
    try:
        value = json.loads(b64url_decode(encoded))
    except (ValueError, UnicodeDecodeError):
        raise FormatError("a disclosure is not JSON") from None
    if not isinstance(value, list) or len(value) not in (2, 3) or not isinstance(value[0], str):
        raise FormatError("a disclosure must be [salt, value] or [salt, name, value]")
    if len(value) == 3 and not isinstance(value[1], str):
        raise FormatError("a disclosure's name must be a string")
    return value


def _skill(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    code, level = value.get("code"), value.get("niveau")
    if not isinstance(code, str) or not isinstance(level, int) or isinstance(level, bool):
        return None
    text = {k: value.get(k) for k in ("libelle", "date", "lieu")}
    if any(v is not None and not isinstance(v, str) for v in text.values()):
        return None
    return {"code": code, "niveau": level, **text}


def verify_presentation(
    text: str,
    *,
    keys: KeysFor,
    now: int,
    audience: str,
    spend_nonce: SpendNonce,
    status: StatusFor,
) -> Verdict:
    """Check an SD-JWT VC presentation in the documented order (docs/wallet.md, "Verification")."""
    if not isinstance(text, str) or len(text) > MAX_PRESENTATION_CHARS:
        return Verdict(MALFORMED, "a presentation is a string of bounded length")
    parts = text.split("~")
    if len(parts) < 2:
        return Verdict(MALFORMED, "an SD-JWT has at least a JWT and a ~")
    issuer_jwt, disclosed, kb_jwt = parts[0], parts[1:-1], parts[-1]
    if len(disclosed) > MAX_DISCLOSURES:
        return Verdict(MALFORMED, f"more than {MAX_DISCLOSURES} disclosures")
    # 1. The issuer-signed JWT, its header first.
    try:
        header, payload = _segments(issuer_jwt)
    except FormatError as exc:
        return Verdict(MALFORMED, f"issuer JWT: {exc}")
    if header.get("alg") != ALG:
        return Verdict(UNSUPPORTED_FORMAT, f"alg must be {ALG}")
    if header.get("typ") not in (TYP, "vc+sd-jwt"):
        return Verdict(UNSUPPORTED_FORMAT, f"typ must be {TYP}")
    if payload.get("_sd_alg", SD_ALG) != SD_ALG:
        return Verdict(UNSUPPORTED_FORMAT, f"_sd_alg must be {SD_ALG}")
    iss, kid = payload.get("iss"), header.get("kid")
    if not isinstance(iss, str) or not 1 <= len(iss) <= 300:
        return Verdict(MALFORMED, "payload has no usable iss")
    if not isinstance(kid, str) or not 1 <= len(kid) <= 100:
        return Verdict(MALFORMED, "header has no usable kid")
    # 2. Trust, from the caller's store only.
    trusted = keys(iss)
    if trusted is None:
        return Verdict(UNTRUSTED_ISSUER, f"issuer {iss!r} is not trusted")
    key = trusted.get(kid)
    if key is None:
        return Verdict(UNKNOWN_KEY, f"issuer {iss!r} has no key {kid!r}")
    if not signature_holds(issuer_jwt, key):
        return Verdict(BAD_SIGNATURE, "the issuer's signature does not verify")
    # 3. Each disclosure must be one the issuer signed a digest of, and only once.
    property_digests = payload.get("_sd", [])
    elements = payload.get("competences", [])
    if not isinstance(property_digests, list) or not isinstance(elements, list):
        return Verdict(MALFORMED, "_sd and competences must be arrays")
    element_digests = [
        e.get(ELLIPSIS) for e in elements if isinstance(e, dict) and set(e) == {ELLIPSIS}
    ]
    seen: set[str] = set()
    skills: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    for encoded in disclosed:
        try:
            value = _decode_disclosure(encoded)
        except FormatError as exc:
            return Verdict(BAD_SIGNATURE, f"{exc}: not one the issuer signed", payload)
        hashed = digest(encoded)
        if hashed in seen:
            return Verdict(BAD_SIGNATURE, "a disclosure is sent twice", payload)
        seen.add(hashed)
        if len(value) == 2:
            if hashed not in element_digests:
                return Verdict(BAD_SIGNATURE, "a disclosure is not in the signed credential")
            skill = _skill(value[1])
            if skill is None:
                return Verdict(MALFORMED, "a disclosed skill is not {code, niveau, …}", payload)
            skills.append(skill)
        else:
            if hashed not in property_digests:
                return Verdict(BAD_SIGNATURE, "a disclosure is not in the signed credential")
            name, claim = value[1], value[2]
            if name not in ("given_name", "family_name") or not isinstance(claim, str):
                return Verdict(MALFORMED, f"unexpected disclosed claim {name!r}", payload)
            names[name] = claim
    # 4. The key binding: signed by the key in cnf, fresh, for us, over exactly what was sent.
    bound = Verdict(INVALID_PRESENTATION, "", payload, skills, names)
    if not kb_jwt:
        return _with(bound, "no key-binding JWT: a presentation must prove the holder's key")
    try:
        kb_header, kb = _segments(kb_jwt)
        holder = holder_key((payload.get("cnf") or {}).get("jwk"))
    except (FormatError, AttributeError) as exc:
        return _with(bound, f"key binding: {exc}")
    if kb_header.get("typ") != KB_TYP or kb_header.get("alg") != ALG:
        return _with(bound, f"the key-binding JWT's typ must be {KB_TYP}, alg {ALG}")
    if not signature_holds(kb_jwt, holder):
        return _with(bound, "the key-binding JWT is not signed by the credential's holder key")
    if kb.get("sd_hash") != digest(text[: len(text) - len(kb_jwt)]):
        return _with(bound, "sd_hash does not match the presentation")
    if kb.get("aud") != audience:
        return _with(bound, "the key-binding JWT's aud is not this verifier")
    iat = kb.get("iat")
    if not isinstance(iat, int) or not now - MAX_PROOF_AGE_SECONDS <= iat <= now + LEEWAY_SECONDS:
        return _with(bound, "the key-binding JWT's iat is missing or not recent")
    nonce = kb.get("nonce")
    if not isinstance(nonce, str) or not 1 <= len(nonce) <= 200 or not spend_nonce(nonce):
        return _with(bound, "the nonce is not one this verifier gave, or it was already used")
    # 5. Time, then revocation.
    iat_c, exp = payload.get("iat"), payload.get("exp")
    if not isinstance(iat_c, int) or not isinstance(exp, int):
        return Verdict(MALFORMED, "iat and exp must be integers", payload, skills, names)
    if iat_c > now + LEEWAY_SECONDS or payload.get("nbf", 0) > now + LEEWAY_SECONDS:
        return Verdict(NOT_YET_VALID, "not valid yet", payload, skills, names)
    if exp <= now - LEEWAY_SECONDS:
        return Verdict(EXPIRED, "expired", payload, skills, names)
    status_claim = payload.get("status")
    ref = status_claim.get("status_list") if isinstance(status_claim, dict) else None
    uri = ref.get("uri") if isinstance(ref, dict) else None
    idx = ref.get("idx") if isinstance(ref, dict) else None
    if not isinstance(uri, str) or not isinstance(idx, int) or isinstance(idx, bool):
        return Verdict(STATUS_UNAVAILABLE, "no status list reference", payload, skills, names)
    revoked = status(uri, idx)
    if revoked is None:
        return Verdict(STATUS_UNAVAILABLE, "status list unavailable", payload, skills, names)
    if revoked:
        return Verdict(REVOKED, "revoked by its issuer", payload, skills, names)
    return Verdict(VALID, "valid", payload, skills, names)


def _with(verdict: Verdict, reason: str) -> Verdict:
    return Verdict(verdict.result, reason, verdict.payload, verdict.skills, verdict.names)
