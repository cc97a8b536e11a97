"""Generate (or check) the credential test vectors of tests/vectors/.

    .venv/bin/python tests/vectors/generate.py          # rewrite every vector
    .venv/bin/python tests/vectors/generate.py --check  # re-verify the stored files, write nothing

The layout is described in tests/vectors/README.md. The private keys in keys/ are TEST KEYS,
made once (the first run writes them) and then reused, so that kids, the trust store and every
non-signature byte come out the same on every run. ES256 signatures are randomised (ECDSA), so a
rerun rewrites jws.txt, qr.txt and qr.png with other, equally valid, bytes: the suite therefore
never regenerates and compares; it verifies what is stored.

This script builds its hostile inputs itself (raw JWS with any header, raw ES256, HMAC): it does
not import the test suite, so the vectors do not depend on test helpers.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import shutil
import sys
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
# Run as a plain script from anywhere: the reference implementation lives in the repository root.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature  # noqa: E402
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat  # noqa: E402
from joserfc.jwk import ECKey  # noqa: E402

from app.credentials import format as fmt  # noqa: E402
from app.credentials.format import (  # noqa: E402
    MAX_QR_TEXT,
    PREFIX,
    Result,
    SkillClaim,
    b64url_decode,
    b64url_encode,
    build_claims,
    jws_to_qr_text,
    key_id,
    public_jwk,
    qr_png,
    qr_text_to_jws,
    verify,
)
from app.credentials.statuslist import (  # noqa: E402
    StatusList,
    StatusListError,
    status_list_jwt,
    verify_status_list_jwt,
)

# --- Fixed inputs: everything except the signatures is a pure function of these -------------------

#: The verification time of every case unless a case says otherwise (2027-01-15T08:00:00Z).
NOW = 1_800_000_000
DAY = 86_400
ISS_A = "https://passeport.territoire-a.example"
ISS_B = "https://passeport.territoire-b.example"
STATUS_1 = ISS_A + "/api/v1/status/1"  # published, fresh
STATUS_2 = ISS_A + "/api/v1/status/2"  # published, but the token has expired at NOW
STATUS_9 = ISS_A + "/api/v1/status/9"  # never published
STATUS_B = ISS_B + "/api/v1/status/1"
LIST_SIZE = 1024
REVOKED_IDX = (7, 100, 513)  # bits set in list 1
IAT = NOW - 30 * DAY
EXP = IAT + 365 * DAY
FV = {"crcn": "2019", "pp": "1"}
CODES = [
    "pp:PP-01",
    "pp:PP-02",
    "pp:PP-04",
    "crcn:1.1",
    "crcn:2.1",
    "crcn:4.1",
    "pp:PP-05",
    "pp:PP-06",
    "crcn:2.4",
    "crcn:5.2",
    "pp:PP-12",
    "crcn:3.1",
]
STRUCTURES = ["Médiathèque de Dumbéa", "France Services de Koné"]

#: role -> file under keys/. The names say TEST KEY: nobody may take them for a real issuer's.
KEY_FILES = {
    "a_previous": "TEST-KEY-issuer-a-previous.private.jwk.json",
    "a_current": "TEST-KEY-issuer-a-current.private.jwk.json",
    "a_retired": "TEST-KEY-issuer-a-retired.private.jwk.json",
    "b": "TEST-KEY-issuer-b.private.jwk.json",
}
CASES_MARK = ("<!-- cases:begin -->", "<!-- cases:end -->")
#: Verdicts after which verify() has checked the signature and returns the claims.
SIGNED_VERDICTS = frozenset(
    {Result.VALID, Result.NOT_YET_VALID, Result.EXPIRED, Result.REVOKED, Result.STATUS_UNAVAILABLE}
)


def load_keys(write: bool) -> dict[str, ECKey]:
    """The four TEST KEYS; when generating, a missing key file is created (once) at random."""
    keys: dict[str, ECKey] = {}
    for name, filename in KEY_FILES.items():
        path = HERE / "keys" / filename
        if path.exists():
            keys[name] = ECKey.import_key(json.loads(path.read_text(encoding="utf-8")))
        elif write:
            key = ECKey.generate_key("P-256", private=True)
            path.parent.mkdir(exist_ok=True)
            jwk = {**key.as_dict(private=True), "kid": key_id(key), "alg": "ES256", "use": "sig"}
            path.write_text(json.dumps(jwk, indent=2) + "\n", encoding="utf-8")
            keys[name] = key
        else:
            raise SystemExit(f"missing test key {path}")
    return keys


def public(key: ECKey) -> ECKey:
    return ECKey.import_key(key.as_dict(private=False))


# --- Crafting: JWS with any header and payload bytes ----------------------------------------------


def deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, wbits=-15)
    return compressor.compress(data) + compressor.flush()


def compact(obj: Any, separators: tuple[str, str] = (",", ":")) -> bytes:
    return json.dumps(obj, separators=separators, ensure_ascii=False).encode("utf-8")


def es256(signing_input: bytes, key: ECKey) -> str:
    """Raw ES256 (R || S, 64 bytes) so that any header bytes can be signed, not just ours."""
    der = key.private_key.sign(signing_input, ec.ECDSA(hashes.SHA256()))  # type: ignore[union-attr]
    r, s = decode_dss_signature(der)
    return b64url_encode(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def raw_jws(header: bytes | Mapping[str, Any], payload: bytes, key: ECKey | None) -> str:
    header_bytes = header if isinstance(header, bytes) else compact(header)
    signing_input = f"{b64url_encode(header_bytes)}.{b64url_encode(payload)}"
    signature = es256(signing_input.encode("ascii"), key) if key is not None else ""
    return f"{signing_input}.{signature}"


def header(key: ECKey, **over: Any) -> dict[str, Any]:
    """Our header for ``key``; ``over`` replaces members, and None removes one."""
    out: dict[str, Any] = {**fmt.header_for(key), **over}
    return {k: v for k, v in out.items() if v is not None}


def claims(n: int = 3, **over: Any) -> dict[str, Any]:
    """Valid claims of issuer A, n skills, two per session, over two structures."""
    args: dict[str, Any] = {
        "iss": ISS_A,
        "sub": "h0ld3rPseud0nym1",
        "jti": "cred-0000001",
        "iat": IAT,
        "exp": EXP,
        "skills": [
            SkillClaim(
                code=CODES[i],
                level=1 + i % 3,
                date=date(2026, 9 + i // 6, 1 + 7 * ((i // 2) % 3)),
                structure=STRUCTURES[(i // 4) % 2],
            )
            for i in range(n)
        ],
        "fv": FV,
        "status_uri": STATUS_1,
        "status_idx": 1,
        "name": "Marie Dupont",
    }
    args.update(over)
    return build_claims(**args)


#: Marks a member that altered() deletes instead of replacing.
DELETE = object()


def altered(base: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """A deep copy of ``base`` with one member replaced (or deleted when value is DELETE)."""
    out: dict[str, Any] = json.loads(json.dumps(base))
    target = out
    for step in path[:-1]:
        target = target[step]
    if value is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return out


# --- Cases ----------------------------------------------------------------------------------------


@dataclass
class Case:
    """One vector: the stages that exist for it, and what a verifier must answer."""

    id: str
    description: str
    expected: Result
    qr: str
    jws: str | None = None
    payload: bytes | None = None
    claims: bytes | None = None
    now: int = NOW
    #: Whether the ES256 signature verifies with the key the header names (None: not asserted).
    signature: bool | None = None


def from_payload(
    cid: str,
    description: str,
    expected: Result,
    claims_bytes: bytes | None,
    *,
    key: ECKey | None,
    hdr: bytes | Mapping[str, Any],
    payload: bytes | None = None,
    **kw: Any,
) -> Case:
    """A case with every stage: claims bytes -> raw DEFLATE -> JWS -> QR text."""
    if payload is None:
        assert claims_bytes is not None
        payload = deflate(claims_bytes)
    token = raw_jws(hdr, payload, key)
    return Case(
        cid, description, expected, jws_to_qr_text(token), token, payload, claims_bytes, **kw
    )


def build_cases(keys: dict[str, ECKey]) -> list[Case]:
    a1, a2, a0, kb = keys["a_previous"], keys["a_current"], keys["a_retired"], keys["b"]
    v = Result
    cases: list[Case] = []

    def signed(cid: str, desc: str, expected: Result, obj: Any, key: ECKey = a2, **kw: Any) -> Case:
        hdr = kw.pop("hdr", header(key))
        case = from_payload(cid, desc, expected, compact(obj), key=key, hdr=hdr, **kw)
        cases.append(case)
        return case

    base = claims()
    # The reference token every QR-level case starts from.
    good = signed(
        "valid",
        "Three skills with the display name, current key of A",
        v.VALID,
        base,
        signature=True,
    )
    signed(
        "valid-12-skills",
        "Twelve skills, no display name: QR version 22 or lower",
        v.VALID,
        claims(12, name=None, jti="cred-0000002", status_idx=2),
        signature=True,
    )
    signed(
        "valid-rotated-key",
        "Signed with A's previous key, still published after rotation",
        v.VALID,
        claims(jti="cred-0000003", status_idx=3),
        a1,
        signature=True,
    )
    signed(
        "valid-unknown-claim-ignored",
        "An extra claim a verifier must ignore",
        v.VALID,
        {**claims(jti="cred-0000004", status_idx=4), "zz": {"future": True}},
        signature=True,
    )
    signed(
        "valid-at-nbf-minus-leeway",
        "now = nbf - 300 s: inside the clock leeway",
        v.VALID,
        claims(jti="cred-0000005", status_idx=5, iat=NOW + 300, exp=NOW + 300 + 365 * DAY),
        signature=True,
    )
    signed(
        "valid-at-exp-plus-leeway",
        "now = exp + 299 s: inside the clock leeway",
        v.VALID,
        claims(jti="cred-0000006", status_idx=6, iat=NOW - 365 * DAY, exp=NOW - 299),
        signature=True,
    )

    # --- QR text: refused before any decoding -----------------------------------------------------
    digits = good.qr[len(PREFIX) :]

    def text_only(cid: str, desc: str, text: str) -> None:
        cases.append(Case(cid, desc, v.MALFORMED, text))

    text_only("qr-empty", "Empty text", "")
    text_only("qr-prefix-only", "The prefix and nothing after it", PREFIX)
    text_only(
        "qr-wrong-prefix", "A valid credential behind the EU DCC prefix HC1:", "HC1:" + digits
    )
    text_only(
        "qr-lowercase-prefix", "The prefix is matched exactly: pn1: is refused", "pn1:" + digits
    )
    middle = len(digits) // 2
    text_only(
        "qr-non-digit",
        "One digit replaced by the letter a",
        PREFIX + digits[:middle] + "a" + digits[middle + 1 :],
    )
    text_only(
        "qr-unicode-digit",
        "An Arabic-Indic digit, a digit to Unicode but not ASCII",
        PREFIX + digits[:middle] + "\u0663" + digits[middle + 1 :],
    )
    text_only("qr-odd-digits", "The last digit removed: an odd number of digits", good.qr[:-1])
    text_only(
        "qr-pair-above-77",
        "A digit pair 78, which maps to no JWS character",
        PREFIX + "78" + digits[2:],
    )
    text_only(
        "qr-oversize",
        "4,002 digits after the prefix: refused by length, before decoding",
        PREFIX + (digits * 4)[:4002],
    )
    text_only(
        "qr-truncated",
        "A valid credential cut after half its characters",
        PREFIX + digits[: middle - middle % 2],
    )
    assert len(cases[-2].qr) == MAX_QR_TEXT + 2

    # --- JWS structure and header -----------------------------------------------------------------
    h, p, s = good.jws.split(".") if good.jws else ("", "", "")

    def token_only(cid: str, desc: str, expected: Result, token: str) -> None:
        cases.append(Case(cid, desc, expected, jws_to_qr_text(token), token))

    token_only("jws-two-segments", "A JWS without its signature segment", v.MALFORMED, f"{h}.{p}")
    token_only(
        "jws-header-not-json",
        "The header segment is base64url of plain text",
        v.MALFORMED,
        f"{b64url_encode(b'not json')}.{p}.{s}",
    )
    dup = b'{"alg":"ES256","alg":"ES256","kid":"k","typ":"pnc+jws","zip":"DEF"}'
    token_only(
        "jws-header-duplicate-member",
        "The header repeats alg: strict JSON refuses it",
        v.MALFORMED,
        f"{b64url_encode(dup)}.{p}.{s}",
    )
    signed("jws-kid-not-string", "kid is a number", v.MALFORMED, base, hdr=header(a2, kid=7))

    # Every one of these is refused at the algorithm/header check, before any key is touched.
    payload = deflate(compact(base))
    cases.append(
        from_payload(
            "alg-none",
            "alg none with an empty signature",
            v.UNSUPPORTED_FORMAT,
            compact(base),
            key=None,
            hdr=header(a2, alg="none"),
            signature=False,
        )
    )
    # The key-confusion attack: HMAC-SHA256 keyed with the issuer's public key (PEM SPKI bytes),
    # which a verifier that lets the token choose the algorithm would accept.
    secret = a2.public_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    signing_input = f"{b64url_encode(compact(header(a2, alg='HS256')))}.{b64url_encode(payload)}"
    mac = hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest()
    hs = f"{signing_input}.{b64url_encode(mac)}"
    cases.append(
        Case(
            "alg-hs256-public-key-secret",
            "HS256 keyed with A's public key (PEM) as the HMAC secret",
            v.UNSUPPORTED_FORMAT,
            jws_to_qr_text(hs),
            hs,
            payload,
            compact(base),
            signature=False,
        )
    )
    signed(
        "alg-es384",
        "alg ES384 claimed on an ES256 signature",
        v.UNSUPPORTED_FORMAT,
        base,
        hdr=header(a2, alg="ES384"),
        signature=False,
    )
    signed(
        "typ-jwt",
        "typ JWT instead of pnc+jws",
        v.UNSUPPORTED_FORMAT,
        base,
        hdr=header(a2, typ="JWT"),
    )
    # The payload is the JSON itself, so there is no claims.json stage to inflate to.
    cases.append(
        from_payload(
            "zip-missing",
            "No zip header, payload is plain JSON",
            v.UNSUPPORTED_FORMAT,
            None,
            key=a2,
            hdr=header(a2, zip=None),
            payload=compact(base),
        )
    )
    signed(
        "header-jku",
        "An extra jku header pointing at a key set",
        v.UNSUPPORTED_FORMAT,
        base,
        hdr=header(a2, jku=ISS_B + "/.well-known/jwks.json"),
    )

    # --- Payload: inflate, JSON, claims -----------------------------------------------------------
    bomb = compact({"iss": ISS_A, "x": " " * (1 << 20)})  # 1 MiB of spaces inside a JSON string
    bomb_case = from_payload(
        "inflate-bomb",
        "1 MiB of spaces deflated to about 1 KiB: over the 16 KiB inflation cap",
        v.MALFORMED,
        None,
        key=a2,
        hdr=header(a2),
        payload=deflate(bomb),
    )
    assert len(bomb_case.qr) <= MAX_QR_TEXT, "the bomb must fit the QR size limit"
    cases.append(bomb_case)
    cases.append(
        from_payload(
            "deflate-truncated",
            "The DEFLATE stream cut short",
            v.MALFORMED,
            None,
            key=a2,
            hdr=header(a2),
            payload=payload[:-5],
        )
    )
    cases.append(
        from_payload(
            "payload-zlib-not-raw",
            "ZLIB (RFC 1950) instead of raw DEFLATE",
            v.MALFORMED,
            None,
            key=a2,
            hdr=header(a2),
            payload=zlib.compress(compact(base), 9),
        )
    )
    cases.append(
        from_payload(
            "payload-invalid-json",
            "Inflates to JSON cut in the middle",
            v.MALFORMED,
            compact(base)[:-40],
            key=a2,
            hdr=header(a2),
        )
    )
    signed("payload-not-object", "Inflates to a JSON array", v.MALFORMED, [ISS_A])
    signed(
        "claims-missing-iss",
        "No iss: no issuer to pick keys from",
        v.MALFORMED,
        altered(base, ("iss",), DELETE),
    )
    signed(
        "claims-missing-exp",
        "Correctly signed, but exp is missing",
        v.MALFORMED,
        altered(base, ("exp",), DELETE),
    )
    signed(
        "claims-missing-status",
        "Correctly signed, but status is missing",
        v.MALFORMED,
        altered(base, ("status",), DELETE),
    )
    signed("claims-iat-string", "iat is a string", v.MALFORMED, altered(base, ("iat",), str(IAT)))
    signed("claims-exp-float", "exp is a float", v.MALFORMED, altered(base, ("exp",), EXP + 0.5))
    signed(
        "claims-level-bool",
        "A skill level is true, not an integer",
        v.MALFORMED,
        altered(base, ("sk", 0, 1), True),
    )
    signed(
        "claims-day-iso-string",
        "A validation day as an ISO date string",
        v.MALFORMED,
        altered(base, ("sk", 0, 2), "2026-09-01"),
    )
    signed("claims-exp-before-nbf", "exp before nbf", v.MALFORMED, altered(base, ("exp",), IAT - 1))

    # --- Issuer and key ---------------------------------------------------------------------------
    signed(
        "untrusted-issuer",
        "Perfectly signed by issuer B, which is not in trust.json",
        v.UNTRUSTED_ISSUER,
        claims(iss=ISS_B, status_uri=STATUS_B),
        kb,
    )
    signed(
        "retired-key",
        "Signed with A's retired key, removed from A's key set",
        v.UNKNOWN_KEY,
        claims(jti="cred-0000007", status_idx=7),
        a0,
    )
    signed(
        "key-of-other-issuer",
        "iss is A but signed (and kid named) with B's key",
        v.UNKNOWN_KEY,
        base,
        kb,
    )

    # --- Signature --------------------------------------------------------------------------------
    forged = altered(base, ("sk", 0, 1), 8)
    fp = deflate(compact(forged))
    tampered = f"{h}.{b64url_encode(fp)}.{s}"
    cases.append(
        Case(
            "tampered-payload",
            "A skill level raised to 8 after signing",
            v.BAD_SIGNATURE,
            jws_to_qr_text(tampered),
            tampered,
            fp,
            compact(forged),
            signature=False,
        )
    )
    spaced = b64url_encode(compact(header(a2), separators=(", ", ": ")))
    tampered_h = f"{spaced}.{p}.{s}"
    cases.append(
        Case(
            "tampered-header",
            "Same header members re-serialised with spaces",
            v.BAD_SIGNATURE,
            jws_to_qr_text(tampered_h),
            tampered_h,
            b64url_decode(p),
            compact(base),
            signature=False,
        )
    )
    signed(
        "wrong-kid",
        "Signed with A's current key, kid names A's previous key",
        v.BAD_SIGNATURE,
        base,
        a2,
        hdr=header(a1),
        signature=False,
    )
    short = f"{h}.{p}.{s[:-2]}"
    cases.append(
        Case(
            "signature-truncated",
            "The signature's last two characters removed",
            v.BAD_SIGNATURE,
            jws_to_qr_text(short),
            short,
            b64url_decode(p),
            compact(base),
            signature=False,
        )
    )

    # --- Time -------------------------------------------------------------------------------------
    signed(
        "not-yet-valid",
        "nbf one day after now",
        v.NOT_YET_VALID,
        claims(jti="cred-0000008", status_idx=8, iat=NOW + DAY, exp=NOW + 366 * DAY),
        signature=True,
    )
    signed(
        "not-yet-valid-past-leeway",
        "now = nbf - 301 s: just outside the leeway",
        v.NOT_YET_VALID,
        claims(jti="cred-0000009", status_idx=9, iat=NOW + 301, exp=NOW + 366 * DAY),
        signature=True,
    )
    signed(
        "expired",
        "exp one day before now",
        v.EXPIRED,
        claims(jti="cred-0000010", status_idx=10, iat=NOW - 366 * DAY, exp=NOW - DAY),
        signature=True,
    )
    # The manifest's "now" is per case: the very credential of "valid", a year and a day later.
    cases.append(
        Case(
            "expired-a-year-later",
            "The credential of case valid, verified one day after its exp",
            v.EXPIRED,
            good.qr,
            good.jws,
            good.payload,
            good.claims,
            now=EXP + DAY,
            signature=True,
        )
    )
    signed(
        "expired-at-leeway",
        "now = exp + 300 s: just outside the leeway",
        v.EXPIRED,
        claims(jti="cred-0000011", status_idx=11, iat=NOW - 365 * DAY, exp=NOW - 300),
        signature=True,
    )
    signed(
        "expired-and-revoked",
        "Expired and revoked: expiry is checked first",
        v.EXPIRED,
        claims(jti="cred-0000012", status_idx=REVOKED_IDX[0], iat=NOW - 366 * DAY, exp=NOW - DAY),
        signature=True,
    )

    # --- Status -----------------------------------------------------------------------------------
    signed(
        "revoked",
        "Its bit is set in A's status list 1",
        v.REVOKED,
        claims(jti="cred-0000013", status_idx=REVOKED_IDX[1]),
        signature=True,
    )
    signed(
        "revoked-rotated-key",
        "Signed with A's previous key and revoked",
        v.REVOKED,
        claims(jti="cred-0000014", status_idx=REVOKED_IDX[2]),
        a1,
        signature=True,
    )
    signed(
        "status-idx-beyond-list",
        f"idx {LIST_SIZE + 5} is past the end of list 1",
        v.STATUS_UNAVAILABLE,
        claims(jti="cred-0000015", status_idx=LIST_SIZE + 5),
        signature=True,
    )
    signed(
        "status-list-unpublished",
        "Its status list URI serves nothing",
        v.STATUS_UNAVAILABLE,
        claims(jti="cred-0000016", status_uri=STATUS_9),
        signature=True,
    )
    signed(
        "status-list-token-expired",
        "Its status list token's exp has passed",
        v.STATUS_UNAVAILABLE,
        claims(jti="cred-0000017", status_uri=STATUS_2),
        signature=True,
    )
    return cases


# --- Trust store and status lists -----------------------------------------------------------------


def status_tokens(keys: dict[str, ECKey]) -> dict[str, tuple[str, str]]:
    """uri -> (file under status/, Status List Token)."""
    one = StatusList(LIST_SIZE)
    for idx in REVOKED_IDX:
        one.set(idx, 1)
    fresh = status_list_jwt(
        one,
        key=keys["a_current"],
        uri=STATUS_1,
        iat=NOW - 3600,
        exp=NOW + 30 * DAY,
        ttl=3600,
        iss=ISS_A,
    )
    # A list whose token expired before NOW: a verifier may not use it, whatever its bits say.
    stale = status_list_jwt(
        StatusList(LIST_SIZE),
        key=keys["a_current"],
        uri=STATUS_2,
        iat=NOW - 10 * DAY,
        exp=NOW - DAY,
        ttl=3600,
        iss=ISS_A,
    )
    return {STATUS_1: ("status/a-1.jwt", fresh), STATUS_2: ("status/a-2.jwt", stale)}


def trust_json(keys: dict[str, ECKey]) -> dict[str, Any]:
    # The current key first, then the previous one kept after rotation; the retired key and
    # issuer B are deliberately absent.
    return {
        "issuers": {
            ISS_A: {
                "name": "Territoire A (test)",
                "jwks": {"keys": [public_jwk(keys["a_current"]), public_jwk(keys["a_previous"])]},
            }
        }
    }


def load_trust(data: Mapping[str, Any]) -> dict[str, dict[str, ECKey]]:
    """trust.json -> issuer -> {kid -> key}, checking that each kid is its key's thumbprint."""
    out: dict[str, dict[str, ECKey]] = {}
    for iss, entry in data["issuers"].items():
        out[iss] = {}
        for jwk in entry["jwks"]["keys"]:
            key = ECKey.import_key(jwk)
            if key_id(key) != jwk["kid"]:
                raise ValueError(f"kid {jwk['kid']} is not its key's thumbprint")
            out[iss][jwk["kid"]] = key
    return out


def status_callback(
    manifest: Mapping[str, Any], trust: Mapping[str, Mapping[str, ECKey]], now: int
) -> Callable[[str, int], bool | None]:
    """verify()'s status check, backed by the stored tokens: None when none can be used."""

    def check(uri: str, idx: int) -> bool | None:
        name = manifest["status_lists"].get(uri)
        # The list's keys are those of the trusted issuer whose URL the uri lives under.
        issuer = next((i for i in trust if uri.startswith(i + "/")), None)
        if name is None or issuer is None:
            return None
        token = (HERE / name).read_text(encoding="ascii").strip()
        try:
            sl = verify_status_list_jwt(token, trust[issuer], uri=uri, now=now)
        except StatusListError:
            return None
        if not 0 <= idx < sl.size:
            return None
        return sl.get(idx) != 0

    return check


# --- Writing --------------------------------------------------------------------------------------


def write_all() -> list[Case]:
    keys = load_keys(write=True)
    cases = build_cases(keys)
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    for sub in ("cases", "status"):
        shutil.rmtree(HERE / sub, ignore_errors=True)
        (HERE / sub).mkdir()
    trust = trust_json(keys)
    (HERE / "trust.json").write_text(json.dumps(trust, indent=2) + "\n", encoding="utf-8")
    status_lists = {}
    for uri, (name, token) in status_tokens(keys).items():
        (HERE / name).write_text(token + "\n", encoding="ascii")
        status_lists[uri] = name
    entries = []
    for case in cases:
        folder = HERE / "cases" / case.id
        folder.mkdir()
        files: dict[str, str] = {}

        def put(
            stage: str, name: str, data: bytes, files: dict[str, str] = files, folder: Path = folder
        ) -> None:
            (folder / name).write_bytes(data)
            files[stage] = f"cases/{folder.name}/{name}"

        if case.claims is not None:
            put("claims", "claims.json", case.claims)
        if case.payload is not None:
            put("payload", "payload.deflate", case.payload)
        if case.jws is not None:
            put("jws", "jws.txt", case.jws.encode("ascii") + b"\n")
        # No trailing newline: the QR text is exactly what a scanner returns.
        put("qr", "qr.txt", case.qr.encode("utf-8"))
        try:
            png = qr_png(case.qr, box_size=2)
        except fmt.FormatError:
            png = None  # not encodable in our numeric-mode QR: the text is the vector
        if png is not None:
            put("png", "qr.png", png)
        entry: dict[str, Any] = {
            "id": case.id,
            "description": case.description,
            "expected": str(case.expected),
            "now": case.now,
        }
        if case.signature is not None:
            entry["signature"] = case.signature
        entry["files"] = files
        entries.append(entry)
    manifest = {
        "format": "pnc+jws / PN1",
        "now": NOW,
        "trust": "trust.json",
        "status_lists": status_lists,
        "cases": entries,
    }
    (HERE / "manifest.json").write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    readme = HERE / "README.md"
    readme.write_text(with_case_table(readme.read_text(encoding="utf-8"), manifest), "utf-8")
    return cases


def case_table(manifest: Mapping[str, Any]) -> str:
    rows = ["| id | expected | stages | description |", "|---|---|---|---|"]
    for c in manifest["cases"]:
        stages = ", ".join(c["files"])
        now = "" if c["now"] == manifest["now"] else f" (now = {c['now']})"
        rows.append(f"| `{c['id']}` | `{c['expected']}` | {stages} | {c['description']}{now} |")
    return "\n".join(rows)


def with_case_table(readme: str, manifest: Mapping[str, Any]) -> str:
    begin, end = CASES_MARK
    head, _, rest = readme.partition(begin)
    _, _, tail = rest.partition(end)
    return f"{head}{begin}\n{case_table(manifest)}\n{end}{tail}"


# --- Checking -------------------------------------------------------------------------------------


def check_all() -> list[str]:
    """Re-verify the stored vectors without writing anything; the list of problems found."""
    manifest = json.loads((HERE / "manifest.json").read_text(encoding="utf-8"))
    trust = load_trust(json.loads((HERE / manifest["trust"]).read_text(encoding="utf-8")))
    problems: list[str] = []
    for case in manifest["cases"]:
        files = case["files"]
        qr = (HERE / files["qr"]).read_text(encoding="utf-8")
        status = status_callback(manifest, trust, case["now"])
        verdict = verify(qr, keys=trust, now=case["now"], status=status)
        if verdict.result != case["expected"]:
            problems.append(f"{case['id']}: {verdict.result} ({verdict.reason})")
        if "signature" in case and (verdict.result in SIGNED_VERDICTS) != case["signature"]:
            problems.append(f"{case['id']}: signature expectation does not hold")
        stages = {k: (HERE / v).read_bytes() for k, v in files.items() if k != "qr"}
        if "jws" in stages and qr_text_to_jws(qr) != stages["jws"].decode("ascii").strip():
            problems.append(f"{case['id']}: qr.txt does not decode to jws.txt")
        if "jws" in stages and "payload" in stages:
            segment = stages["jws"].decode("ascii").strip().split(".")[1]
            if b64url_decode(segment) != stages["payload"]:
                problems.append(f"{case['id']}: the JWS payload is not payload.deflate")
        inflatable = "payload" in stages and "claims" in stages
        if inflatable and zlib.decompress(stages["payload"], wbits=-15) != stages["claims"]:
            problems.append(f"{case['id']}: payload.deflate does not inflate to claims.json")
    seen = {c["expected"] for c in manifest["cases"]}
    missing = {str(r) for r in Result} - seen
    if missing:
        problems.append(f"verdicts without a case: {sorted(missing)}")
    readme = (HERE / "README.md").read_text(encoding="utf-8")
    if with_case_table(readme, manifest) != readme:
        problems.append("README.md's case table is not the manifest's")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify the stored files only")
    args = parser.parse_args(argv)
    if not args.check:
        cases = write_all()
        print(f"wrote {len(cases)} cases to {HERE}")
    problems = check_all()
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print("all vectors check")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
