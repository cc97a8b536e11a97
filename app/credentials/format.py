"""The credential format: claims, compressed ES256 JWS, QR text and the verification pipeline.

This is the public contract of ``docs/credential-format.md``; change one, change the other.

- Claims are compact JSON with short names (:func:`build_claims`, :func:`parse_claims`).
- The JSON is compressed as raw DEFLATE (RFC 1951) and signed as a compact JWS with the header
  ``{"alg":"ES256","kid":<RFC 7638 thumbprint>,"typ":"pnc+jws","zip":"DEF"}``.
- The QR text is ``PN1:`` followed by the JWS written as digits, two per character
  (``ord(c) - 45``), as SMART Health Cards do; the QR code holds the prefix in alphanumeric mode and
  the digits in numeric mode, error correction Q.
- :func:`verify` takes the QR text through bounded steps and answers a :class:`Outcome`. It never
  fetches anything: the trust store and the status check are the caller's.

Pure functions only: no HTTP, no database, no clock (``now`` is always passed in).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from io import BytesIO
from typing import Any, Final

import qrcode
import qrcode.constants
import qrcode.image.svg
import qrcode.util
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey
from joserfc.jws import JWSRegistry
from joserfc.registry import HeaderParameter, in_choices

# --- The contract's constants ------------------------------------------------------------------

#: QR text prefix: QR-alphanumeric characters only; the ``1`` is the format version.
PREFIX: Final = "PN1:"
#: JWS ``typ`` header of a credential.
TYP: Final = "pnc+jws"
#: The only signature algorithm accepted.
ALG: Final = "ES256"
#: JWS ``zip`` header: the payload is raw DEFLATE (RFC 1951), as in SMART Health Cards.
ZIP: Final = "DEF"
#: The exact set of header parameters a credential carries; anything else is refused.
HEADER_KEYS: Final = frozenset({"alg", "kid", "typ", "zip"})

#: The QR version the format is sized for: a typical 12-skill credential fits (see the docs);
#: issuers check ``qr_version(text)`` against it and warn when over.
TARGET_QR_VERSION: Final = 22
#: The largest QR an issuer here signs: 117 modules a side, still read by phone cameras from a
#: printed A4 attestation; a bigger one is refused and the holder drops skills or the name.
MAX_QR_VERSION: Final = 25
#: Most digits after the prefix (so a JWS of at most 2,000 characters); checked before decoding.
MAX_QR_DIGITS: Final = 4000
MAX_QR_TEXT: Final = len(PREFIX) + MAX_QR_DIGITS
#: Largest encoded (base64url) protected header accepted.
MAX_HEADER_B64: Final = 256
#: Cap on the inflated payload: inflating stops there, and a longer payload is malformed.
MAX_INFLATED_BYTES: Final = 16384
#: Clock leeway for ``nbf`` and ``exp``, in seconds.
LEEWAY_SECONDS: Final = 300

MAX_SKILLS: Final = 64
MAX_STRUCTURE_CHARS: Final = 60
MAX_NAME_CHARS: Final = 80
MAX_URL_CHARS: Final = 200
MAX_ID_CHARS: Final = 64
MAX_CODE_CHARS: Final = 64
MAX_KID_CHARS: Final = 64
MAX_LEVEL: Final = 8
MAX_STATUS_IDX: Final = 2**31 - 1
#: NumericDate bound (year 36812): keeps integers small and comparable everywhere.
MAX_TIME: Final = 2**40
#: Dates in ``sk`` are whole days since 1970-01-01 (UTC); this bound is the year 2243.
MAX_DAY: Final = 100_000
EPOCH: Final = date(1970, 1, 1)

_TENS: Final = bytes((i - 48) * 10 if 48 <= i <= 57 else 0 for i in range(256))
_UNITS: Final = bytes(i - 3 if 48 <= i <= 57 else 0 for i in range(256))
_URL = re.compile(r"https?://\S+")
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_CODE = re.compile(r"[a-z][a-z0-9-]{0,15}:[A-Za-z0-9._-]+")
_FV_KEY = re.compile(r"[a-z][a-z0-9-]{0,15}")

# joserfc only knows ``zip`` for JWE; register it for our JWS, with the one value we use.
REGISTRY: Final = JWSRegistry(
    header_registry={"zip": HeaderParameter("Compression algorithm", in_choices([ZIP]))},
    algorithms=[ALG],
)


# --- Errors -----------------------------------------------------------------------------------


class FormatError(ValueError):
    """Input that does not follow the format (bad QR text, bad encoding, bad claims)."""


class QRTextError(FormatError):
    """The QR text is not ``PN1:`` followed by an even number of valid digit pairs."""


class ClaimsError(FormatError):
    """The claims are not the documented object (missing claim, wrong type, out of range)."""


# --- Small strict codecs, shared with the status list ------------------------------------------


def b64url_encode(data: bytes) -> str:
    """Base64url without padding (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict base64url without padding: only ``A-Z a-z 0-9 - _``, no ``=``, no whitespace."""
    if _B64URL.fullmatch(text) is None or len(text) % 4 == 1:
        raise FormatError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:  # pragma: no cover - the regex catches these
        raise FormatError("not base64url") from exc


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise FormatError(f"duplicate member {key!r}")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise FormatError(f"{name} is not JSON")


def loads_strict(data: bytes) -> Any:
    """Parse UTF-8 JSON refusing duplicate members, NaN/Infinity, and bottomless nesting."""
    try:
        text = data.decode("utf-8")
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except FormatError:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise FormatError(f"invalid JSON: {type(exc).__name__}") from exc


def inflate_raw(data: bytes, cap: int = MAX_INFLATED_BYTES) -> bytes:
    """Inflate raw DEFLATE into at most ``cap`` bytes; a longer or broken stream is refused."""
    inflater = zlib.decompressobj(wbits=-15)
    try:
        out = inflater.decompress(data, cap)
    except zlib.error as exc:
        raise FormatError(f"invalid DEFLATE data: {exc}") from exc
    if inflater.unconsumed_tail:
        raise FormatError(f"inflated payload exceeds {cap} bytes")
    if not inflater.eof:
        raise FormatError("truncated DEFLATE stream")
    if inflater.unused_data:
        raise FormatError("bytes after the end of the DEFLATE stream")
    return out


def encode_payload(claims: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON (no spaces, key order as given), compressed as raw DEFLATE, level 9."""
    text = json.dumps(claims, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    compressor = zlib.compressobj(level=9, wbits=-15)
    return compressor.compress(text.encode("utf-8")) + compressor.flush()


def decode_payload(data: bytes) -> Any:
    """The inverse of :func:`encode_payload`, with the inflation cap."""
    return loads_strict(inflate_raw(data))


# --- Claims -----------------------------------------------------------------------------------


def day_number(day: date) -> int:
    """Days since 1970-01-01: how ``sk`` carries a validation date."""
    return (day - EPOCH).days


def day_from_number(number: int) -> date:
    return EPOCH + timedelta(days=number)


@dataclass(frozen=True, slots=True)
class SkillClaim:
    """One validated skill as a credential claims it. In JSON: ``[code, level, day, structure
    index into st]``. Not ``app.framework.models.Skill``, the framework's row that ``code`` names
    (its labels, its competence): the format knows codes only."""

    code: str
    level: int
    date: date
    structure: str


@dataclass(frozen=True, slots=True)
class StatusRef:
    """Where the credential's revocation bit lives: ``{"status_list": {"idx": …, "uri": …}}``."""

    idx: int
    uri: str


@dataclass(frozen=True, slots=True)
class Claims:
    iss: str
    iat: int
    nbf: int
    exp: int
    jti: str
    sub: str
    fv: dict[str, str]
    skills: tuple[SkillClaim, ...]
    status: StatusRef
    name: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "iss": self.iss,
            "iat": self.iat,
            "nbf": self.nbf,
            "exp": self.exp,
            "jti": self.jti,
            "sub": self.sub,
        }
        if self.name is not None:
            out["n"] = self.name
        out["fv"] = dict(self.fv)
        # Each structure name once, in order of first use; skills point at it by index.
        names = list(dict.fromkeys(skill.structure for skill in self.skills))
        out["st"] = names
        out["sk"] = [
            [s.code, s.level, day_number(s.date), names.index(s.structure)] for s in self.skills
        ]
        out["status"] = {"status_list": {"idx": self.status.idx, "uri": self.status.uri}}
        return out


def _int(value: Any, where: str, low: int, high: int) -> int:
    # bool is an int in Python, never in this format.
    if type(value) is not int:
        raise ClaimsError(f"{where} must be an integer")
    if not low <= value <= high:
        raise ClaimsError(f"{where} must be between {low} and {high}")
    return value


def _str(value: Any, where: str, max_chars: int) -> str:
    if not isinstance(value, str):
        raise ClaimsError(f"{where} must be a string")
    if not 1 <= len(value) <= max_chars:
        raise ClaimsError(f"{where} must be 1 to {max_chars} characters")
    return value


def _url(value: Any, where: str) -> str:
    text = _str(value, where, MAX_URL_CHARS)
    if _URL.fullmatch(text) is None:
        raise ClaimsError(f"{where} must be an http(s) URL")
    return text


def _skill(value: Any, where: str, structures: list[str]) -> SkillClaim:
    if not isinstance(value, list) or len(value) != 4:
        raise ClaimsError(f"{where} must be an array [code, level, day, structure index]")
    code = _str(value[0], f"{where}[0] (code)", MAX_CODE_CHARS)
    if _CODE.fullmatch(code) is None:
        raise ClaimsError(f"{where}[0] (code) must look like 'crcn:4.1' or 'pp:PP-12'")
    level = _int(value[1], f"{where}[1] (level)", 1, MAX_LEVEL)
    day = _int(value[2], f"{where}[2] (day)", 0, MAX_DAY)
    index = _int(value[3], f"{where}[3] (structure index)", 0, len(structures) - 1)
    return SkillClaim(
        code=code, level=level, date=day_from_number(day), structure=structures[index]
    )


def parse_claims(obj: Any) -> Claims:
    """Validate the claims object strictly (types, ranges, required members) and type it.

    Unknown members are ignored, so that a later minor version can add optional claims; a change
    that a verifier must understand changes ``typ`` and the QR prefix instead.
    """
    if not isinstance(obj, dict):
        raise ClaimsError("claims must be a JSON object")
    missing = [
        k
        for k in ("iss", "iat", "nbf", "exp", "jti", "sub", "fv", "st", "sk", "status")
        if k not in obj
    ]
    if missing:
        raise ClaimsError(f"missing claims: {', '.join(missing)}")
    iss = _url(obj["iss"], "iss")
    iat = _int(obj["iat"], "iat", 0, MAX_TIME)
    nbf = _int(obj["nbf"], "nbf", 0, MAX_TIME)
    exp = _int(obj["exp"], "exp", 0, MAX_TIME)
    if exp <= nbf:
        raise ClaimsError("exp must be after nbf")
    jti = _str(obj["jti"], "jti", MAX_ID_CHARS)
    sub = _str(obj["sub"], "sub", MAX_ID_CHARS)
    name = _str(obj["n"], "n", MAX_NAME_CHARS) if "n" in obj else None

    fv_raw = obj["fv"]
    if not isinstance(fv_raw, dict) or not fv_raw:
        raise ClaimsError("fv must be a non-empty object")
    fv: dict[str, str] = {}
    for key, version in fv_raw.items():
        if _FV_KEY.fullmatch(key) is None:
            raise ClaimsError(f"fv key {key[:20]!r} is not a framework code")
        fv[key] = _str(version, f"fv.{key}", 16)

    st = obj["st"]
    if not isinstance(st, list) or not 1 <= len(st) <= MAX_SKILLS:
        raise ClaimsError(f"st must be an array of 1 to {MAX_SKILLS} structure names")
    structures = [_str(item, f"st[{i}]", MAX_STRUCTURE_CHARS) for i, item in enumerate(st)]
    sk = obj["sk"]
    if not isinstance(sk, list) or not 1 <= len(sk) <= MAX_SKILLS:
        raise ClaimsError(f"sk must be an array of 1 to {MAX_SKILLS} skills")
    skills = tuple(_skill(item, f"sk[{i}]", structures) for i, item in enumerate(sk))
    for i, skill in enumerate(skills):
        if skill.code.split(":", 1)[0] not in fv:
            raise ClaimsError(f"sk[{i}]: no version in fv for framework of {skill.code!r}")

    status = obj["status"]
    ref = status.get("status_list") if isinstance(status, dict) else None
    if not isinstance(ref, dict) or "idx" not in ref or "uri" not in ref:
        raise ClaimsError('status must be {"status_list": {"idx": N, "uri": "…"}}')
    status_ref = StatusRef(
        idx=_int(ref["idx"], "status.status_list.idx", 0, MAX_STATUS_IDX),
        uri=_url(ref["uri"], "status.status_list.uri"),
    )
    return Claims(
        iss=iss,
        iat=iat,
        nbf=nbf,
        exp=exp,
        jti=jti,
        sub=sub,
        fv=fv,
        skills=skills,
        status=status_ref,
        name=name,
    )


def build_claims(
    *,
    iss: str,
    sub: str,
    jti: str,
    iat: int,
    exp: int,
    skills: Sequence[SkillClaim],
    fv: Mapping[str, str],
    status_uri: str,
    status_idx: int,
    nbf: int | None = None,
    name: str | None = None,
    structure_chars: int = MAX_STRUCTURE_CHARS,
) -> dict[str, Any]:
    """The claims object, in the documented member order, checked by :func:`parse_claims`.

    Structure names longer than ``structure_chars`` (at most 60) are cut with a trailing ``…``;
    a display name is included only when given. Raises :class:`ClaimsError` for anything a
    verifier would refuse.
    """
    limit = min(structure_chars, MAX_STRUCTURE_CHARS)
    cut = [
        SkillClaim(
            code=s.code,
            level=s.level,
            date=s.date,
            structure=s.structure
            if len(s.structure) <= limit
            else s.structure[: limit - 1].rstrip() + "…",
        )
        for s in skills
    ]
    claims = Claims(
        iss=iss,
        iat=iat,
        nbf=iat if nbf is None else nbf,
        exp=exp,
        jti=jti,
        sub=sub,
        fv=dict(fv),
        skills=tuple(cut),
        status=StatusRef(idx=status_idx, uri=status_uri),
        name=name,
    ).to_json()
    parse_claims(claims)
    return claims


# --- Signing ------------------------------------------------------------------------------------


def key_id(key: ECKey) -> str:
    """The ``kid``: the RFC 7638 thumbprint (SHA-256, base64url) of the public key."""
    return key.thumbprint()


def public_jwk(key: ECKey) -> dict[str, Any]:
    """The entry of the issuer's ``/.well-known/jwks.json`` for this key."""
    return {**key.as_dict(private=False), "kid": key_id(key), "alg": ALG, "use": "sig"}


def header_for(key: ECKey, *, typ: str = TYP) -> dict[str, str]:
    return {"alg": ALG, "kid": key_id(key), "typ": typ, "zip": ZIP}


def sign(claims: Mapping[str, Any], private_key: ECKey, *, typ: str = TYP) -> str:
    """Compact JWS over the deflated claims, signed ES256 with a P-256 private key."""
    if private_key.get("crv") != "P-256" or not private_key.is_private:
        raise ValueError("credentials are signed with a P-256 private key")
    return jws.serialize_compact(
        header_for(private_key, typ=typ), encode_payload(claims), private_key, registry=REGISTRY
    )


# --- QR text ------------------------------------------------------------------------------------


def jws_to_qr_text(token: str) -> str:
    """``PN1:`` + two digits per character (``ord(c) - 45``), the SMART Health Card encoding."""
    if any(not 45 <= ord(c) <= 122 for c in token):
        raise QRTextError("a JWS has only characters between '-' and 'z'")
    text = PREFIX + "".join(f"{ord(c) - 45:02d}" for c in token)
    if len(text) > MAX_QR_TEXT:
        raise QRTextError(f"more than {MAX_QR_DIGITS} digits")
    return text


def qr_text_to_jws(text: str) -> str:
    """The inverse of :func:`jws_to_qr_text`, validating prefix, length and every digit pair."""
    if len(text) > MAX_QR_TEXT:
        raise QRTextError(f"QR text longer than {MAX_QR_TEXT} characters")
    if not text.startswith(PREFIX):
        raise QRTextError(f"QR text does not start with {PREFIX!r}")
    digits = text[len(PREFIX) :]
    if not digits:
        raise QRTextError("no digits after the prefix")
    if not (digits.isascii() and digits.isdigit()):
        raise QRTextError("only digits 0-9 may follow the prefix")
    if len(digits) % 2:
        raise QRTextError("odd number of digits")
    # Every pair "ab" is the character 10a + b + 45, computed for all pairs at once: the tens as
    # one big integer with a byte 10a each, the units as another with b + 45 each, added (no byte
    # exceeds 90 + 54, so no carry crosses a byte), then read back as bytes. A pair above 77
    # makes a byte above 122 ('z').
    raw = digits.encode("ascii")
    tens = int.from_bytes(raw[0::2].translate(_TENS), "big")
    units = int.from_bytes(raw[1::2].translate(_UNITS), "big")
    token = (tens + units).to_bytes(len(raw) // 2, "big")
    if max(token) > 122:
        raise QRTextError("a digit pair is above 77")
    return token.decode("ascii")


def _segments(text: str, *, box_size: int = 4, border: int = 4) -> qrcode.QRCode:
    qr_text_to_jws(text)
    qr = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_Q, box_size=box_size, border=border
    )
    qr.add_data(qrcode.util.QRData(PREFIX, mode=qrcode.util.MODE_ALPHA_NUM))
    qr.add_data(qrcode.util.QRData(text[len(PREFIX) :], mode=qrcode.util.MODE_NUMBER))
    return qr


def make_qr(text: str, *, box_size: int = 4, border: int = 4) -> qrcode.QRCode:
    """The QR code: error correction Q, the prefix in alphanumeric mode, the digits numeric."""
    qr = _segments(text, box_size=box_size, border=border)
    qr.make(fit=True)
    return qr


def qr_version(text: str) -> int:
    """The QR version the text needs, from the segments' lengths alone: building the matrix
    (mask evaluation) to read it cost 160 ms for a 12-skill credential here."""
    version: int = _segments(text).best_fit()
    return version


def qr_png(text: str, *, box_size: int = 4, border: int = 4) -> bytes:
    buf = BytesIO()
    make_qr(text, box_size=box_size, border=border).make_image().save(buf)
    return buf.getvalue()


def qr_svg(text: str, *, box_size: int = 4, border: int = 4) -> str:
    image = make_qr(text, box_size=box_size, border=border).make_image(
        image_factory=qrcode.image.svg.SvgPathImage
    )
    svg: bytes = image.to_string(encoding="utf-8")
    return svg.decode("utf-8")


def issue(claims: Mapping[str, Any], private_key: ECKey) -> str:
    """Sign and encode: the QR text of a credential."""
    return jws_to_qr_text(sign(claims, private_key))


# --- Verification ---------------------------------------------------------------------------


class Result(StrEnum):
    VALID = "valid"
    MALFORMED = "malformed"
    UNSUPPORTED_FORMAT = "unsupported_format"
    UNTRUSTED_ISSUER = "untrusted_issuer"
    UNKNOWN_KEY = "unknown_key"
    BAD_SIGNATURE = "bad_signature"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    REVOKED = "revoked"
    STATUS_UNAVAILABLE = "status_unavailable"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What :func:`verify` answers: ``claims`` is set exactly when the signature holds and the
    claims are valid. The API publishes it as ``app.credentials.schemas.Verdict``."""

    result: Result
    reason: str
    claims: Claims | None = field(default=None)
    kid: str | None = None

    @property
    def valid(self) -> bool:
        return self.result is Result.VALID


#: A trust store: issuer URL -> {kid -> public key}, or a function answering an issuer's keys
#: (``None`` when the issuer is not trusted). Never built from the credential itself.
TrustStore = Mapping[str, Mapping[str, ECKey]] | Callable[[str], Mapping[str, ECKey] | None]
#: ``status(uri, idx)``: True when the bit says revoked, False when not, None when unknown.
StatusCheck = Callable[[str, int], bool | None]


def _issuer_keys(keys: TrustStore, iss: str) -> Mapping[str, ECKey] | None:
    if isinstance(keys, Mapping):
        return keys.get(iss)
    return keys(iss)


def _es256_refusal(signing_input: bytes, signature_b64: str, key: ECKey) -> str | None:
    """Why an ES256 signature (RFC 7518 section 3.4: R and S, 32 bytes each) does not hold
    for this key; None when it holds.

    With cryptography directly, as joserfc's ``deserialize_compact`` does underneath, without
    parsing the header and payload a second time (the pipeline has checked them already): that
    took a third of the signature step.
    """
    try:
        signature = b64url_decode(signature_b64)
        public = key.get_op_key("verify")
    except (FormatError, JoseError) as exc:
        return str(exc)
    if not isinstance(public, ec.EllipticCurvePublicKey) or public.curve.name != "secp256r1":
        return "not a P-256 key"
    if len(signature) != 64:
        return "an ES256 signature is 64 bytes"
    der = encode_dss_signature(
        int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    )
    try:
        public.verify(der, signing_input, _ECDSA_SHA256)
    except InvalidSignature:
        return "bad_signature"
    return None


_ECDSA_SHA256: Final = ec.ECDSA(hashes.SHA256())


def verify(
    qr_text: str,
    *,
    keys: TrustStore,
    now: int,
    status: StatusCheck | None = None,
    leeway: int = LEEWAY_SECONDS,
) -> Outcome:
    """Check a credential's QR text, in the documented order, with bounded work at each step."""
    bad = Result.MALFORMED
    # 1. Size, then the digit encoding.
    if not isinstance(qr_text, str):
        return Outcome(bad, "QR text must be a string")
    try:
        token = qr_text_to_jws(qr_text)
    except QRTextError as exc:
        return Outcome(bad, str(exc))
    # 2. Three base64url segments.
    parts = token.split(".")
    if len(parts) != 3:
        return Outcome(bad, "a compact JWS has three segments")
    header_b64, payload_b64, _signature = parts
    if any(_B64URL.fullmatch(p) is None for p in parts):
        return Outcome(bad, "JWS segments must be base64url")
    if len(header_b64) > MAX_HEADER_B64:
        return Outcome(bad, f"JWS header longer than {MAX_HEADER_B64} characters")
    # 3. The header, before anything else is looked at.
    try:
        header = loads_strict(b64url_decode(header_b64))
    except FormatError as exc:
        return Outcome(bad, f"JWS header: {exc}")
    if not isinstance(header, dict):
        return Outcome(bad, "JWS header must be a JSON object")
    unsupported = Result.UNSUPPORTED_FORMAT
    if header.get("alg") != ALG:
        return Outcome(unsupported, f"alg must be {ALG}, not {str(header.get('alg'))[:16]!r}")
    if header.get("typ") != TYP:
        return Outcome(unsupported, f"typ must be {TYP!r}")
    if header.get("zip") != ZIP:
        return Outcome(unsupported, f"zip must be {ZIP!r}")
    if set(header) != HEADER_KEYS:
        extra = sorted(set(header) - HEADER_KEYS)[:4]
        return Outcome(unsupported, f"header must be exactly alg, kid, typ, zip (extra: {extra})")
    kid = header["kid"]
    if not isinstance(kid, str) or not 1 <= len(kid) <= MAX_KID_CHARS:
        return Outcome(bad, "kid must be a short string")
    # 4. Inflate (capped) and parse the still unverified payload, only to read iss.
    try:
        payload = decode_payload(b64url_decode(payload_b64))
    except FormatError as exc:
        return Outcome(bad, f"payload: {exc}", kid=kid)
    iss = payload.get("iss") if isinstance(payload, dict) else None
    if not isinstance(iss, str) or not 1 <= len(iss) <= MAX_URL_CHARS:
        return Outcome(bad, "payload has no usable iss", kid=kid)
    # 5. The key, from the caller's trust store only.
    issuer_keys = _issuer_keys(keys, iss)
    if issuer_keys is None:
        return Outcome(Result.UNTRUSTED_ISSUER, f"issuer {iss!r} is not trusted", kid=kid)
    key = issuer_keys.get(kid)
    if key is None:
        return Outcome(Result.UNKNOWN_KEY, f"issuer {iss!r} has no key {kid!r}", kid=kid)
    # 6. The signature.
    reason = _es256_refusal(f"{header_b64}.{payload_b64}".encode("ascii"), _signature, key)
    if reason is not None:
        return Outcome(Result.BAD_SIGNATURE, f"signature does not verify: {reason}", kid=kid)
    # 7. The claims, strictly.
    try:
        claims = parse_claims(payload)
    except ClaimsError as exc:
        return Outcome(bad, f"claims: {exc}", kid=kid)
    # 8. Time, with leeway.
    if claims.nbf > now + leeway:
        return Outcome(Result.NOT_YET_VALID, "not valid before nbf", claims, kid)
    if claims.exp <= now - leeway:
        return Outcome(Result.EXPIRED, "expired", claims, kid)
    # 9. Revocation.
    ref = claims.status
    revoked = status(ref.uri, ref.idx) if status is not None else None
    if revoked is None:
        return Outcome(Result.STATUS_UNAVAILABLE, "status list unavailable", claims, kid)
    if revoked:
        return Outcome(Result.REVOKED, "revoked by its issuer", claims, kid)
    return Outcome(Result.VALID, "valid", claims, kid)
