"""The credential format: claims, compressed JWS, QR text and image, and every verdict.

Every credential that verifies here is also checked by two other JOSE implementations (PyJWT and
jwcrypto), and QR images are read back with zxing-cpp.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import re
import zlib
from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from joserfc.jwk import ECKey
from jwcrypto import jwk as jc_jwk
from jwcrypto import jws as jc_jws
from PIL import Image

from app.credentials import format as fmt
from app.credentials.format import (
    MAX_INFLATED_BYTES,
    MAX_QR_DIGITS,
    PREFIX,
    ClaimsError,
    QRTextError,
    Result,
    SkillClaim,
    b64url_encode,
    build_claims,
    encode_payload,
    issue,
    jws_to_qr_text,
    key_id,
    make_qr,
    parse_claims,
    qr_png,
    qr_svg,
    qr_text_to_jws,
    sign,
    verify,
)
from app.credentials.statuslist import StatusList, status_checker, verify_status_list_jwt
from tests.qr import decode_qr

ISS = "https://passeport.nouvelle-caledonie.example"
OTHER_ISS = "https://passeport.occitanie.example"
STATUS_URI = ISS + "/api/v1/status/1"
IAT = 1_795_012_345  # 2026-11-18
EXP = IAT + 365 * 86400
NOW = IAT + 3600
FV = {"crcn": "2019", "pp": "1"}
DOC = Path(__file__).resolve().parents[1] / "docs" / "credential-format.md"


def _key(d: int) -> ECKey:
    """Fixed P-256 test keys, so that kids (and the documented example) are reproducible."""
    return ECKey.import_key(ec.derive_private_key(d, ec.SECP256R1()))


KEY_1 = _key(0x5EED_0001)  # the issuer's first key
KEY_2 = _key(0x5EED_0002)  # the issuer's key after rotation
KEY_OTHER = _key(0x5EED_0003)  # another issuer's key
KEY_STRAY = _key(0x5EED_0004)  # a key nobody published


def _public(key: ECKey) -> ECKey:
    return ECKey.import_key(key.as_dict(private=False))


TRUST: dict[str, dict[str, ECKey]] = {
    ISS: {key_id(KEY_1): _public(KEY_1), key_id(KEY_2): _public(KEY_2)},
}
SKILL_CODES = [
    "pp:PP-01", "pp:PP-02", "pp:PP-04", "pp:PP-05", "pp:PP-06", "pp:PP-10", "pp:PP-12",
    "crcn:1.1", "crcn:2.1", "crcn:4.1", "crcn:2.4", "crcn:5.2", "pp:PP-16", "pp:PP-19",
    "crcn:3.1", "pp:PP-07", "pp:PP-08", "pp:PP-09", "pp:PP-11", "crcn:1.2",
]  # fmt: skip
STRUCTURES = ["Médiathèque de Dumbéa", "France Services de Koné"]


def skills(n: int) -> list[SkillClaim]:
    """n skills as a mediator records them: two per session, a session a fortnight, two places."""
    return [
        SkillClaim(
            code=SKILL_CODES[i],
            level=2 if i % 4 == 3 else 1,
            date=date(2026, 1 + i // 4, 5 + 7 * ((i // 2) % 2)),
            structure=STRUCTURES[(i // 4) % 2],
        )
        for i in range(n)
    ]


def claims(n: int = 12, **over: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "iss": ISS,
        "sub": "q3Yk1n2wT8mZx0aL",
        "jti": "Zk3mP0x9Qa2L",
        "iat": IAT,
        "exp": EXP,
        "skills": skills(n),
        "fv": FV,
        "status_uri": STATUS_URI,
        "status_idx": 4711,
        "name": "Marie Dupont",
    }
    args.update(over)
    return build_claims(**args)


NOT_REVOKED: Callable[[str, int], bool | None] = lambda uri, idx: False  # noqa: E731


def check(text: str, **kw: Any) -> fmt.Outcome:
    args: dict[str, Any] = {"keys": TRUST, "now": NOW, "status": NOT_REVOKED}
    args.update(kw)
    return verify(text, **args)


# --- independent JOSE implementations -------------------------------------------------------


def interop_payload(token: str, key: ECKey) -> Any:
    """Verify the ES256 signature with PyJWT and jwcrypto; inflate the raw payload ourselves."""
    pub = _public(key)
    by_pyjwt = jwt.PyJWS().decode(token, pub.public_key, algorithms=["ES256"])
    jc = jc_jws.JWS()
    jc.deserialize(token)
    jc.verify(jc_jwk.JWK(**pub.as_dict()), alg="ES256")
    assert by_pyjwt == jc.payload
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.PyJWS().decode(token, _public(KEY_STRAY).public_key, algorithms=["ES256"])
    return json.loads(zlib.decompress(by_pyjwt, wbits=-15))


def assert_valid(text: str, key: ECKey, **kw: Any) -> fmt.Outcome:
    verdict = check(text, **kw)
    assert verdict.result is Result.VALID, verdict.reason
    assert verdict.claims is not None and verdict.kid == key_id(key)
    assert interop_payload(qr_text_to_jws(text), key) == verdict.claims.to_json()
    return verdict


# --- crafting hostile input ---------------------------------------------------------------


def es256(signing_input: bytes, key: ECKey) -> str:
    der = key.private_key.sign(signing_input, ec.ECDSA(hashes.SHA256()))  # type: ignore[union-attr]
    r, s = decode_dss_signature(der)
    return b64url_encode(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def raw_jws(header: bytes | Mapping[str, Any], payload: bytes, key: ECKey | None) -> str:
    """A compact JWS with any header bytes and payload bytes, ES256-signed when a key is given."""
    if not isinstance(header, bytes):
        header = json.dumps(header, separators=(",", ":")).encode()
    signing_input = f"{b64url_encode(header)}.{b64url_encode(payload)}".encode()
    signature = es256(signing_input, key) if key is not None else ""
    return f"{signing_input.decode()}.{signature}"


def deflate(data: bytes) -> bytes:
    c = zlib.compressobj(9, wbits=-15)
    return c.compress(data) + c.flush()


def header(key: ECKey = KEY_1, **over: Any) -> dict[str, Any]:
    return {**fmt.header_for(key), **over}


def signed(payload: bytes, key: ECKey = KEY_1, **hdr: Any) -> str:
    return jws_to_qr_text(raw_jws(header(key, **hdr), payload, key))


# --- round trips and shape ---------------------------------------------------------------


def test_payload_is_compact_json_raw_deflate_and_deterministic() -> None:
    c = claims()
    data = encode_payload(c)
    assert data == encode_payload(c)
    text = zlib.decompress(data, wbits=-15).decode()
    assert text == json.dumps(c, separators=(",", ":"), ensure_ascii=False)
    assert list(c) == ["iss", "iat", "nbf", "exp", "jti", "sub", "n", "fv", "st", "sk", "status"]


def test_claims_round_trip_and_types() -> None:
    c = claims(3)
    parsed = parse_claims(c)
    assert parsed.to_json() == c
    assert parsed.skills[0] == SkillClaim("pp:PP-01", 1, date(2026, 1, 5), "Médiathèque de Dumbéa")
    assert c["sk"][0] == ["pp:PP-01", 1, (date(2026, 1, 5) - date(1970, 1, 1)).days, 0]
    assert c["st"] == ["Médiathèque de Dumbéa"]
    assert c["nbf"] == IAT and parsed.name == "Marie Dupont"
    assert c["status"] == {"status_list": {"idx": 4711, "uri": STATUS_URI}}
    assert "n" not in claims(name=None)


def test_build_claims_cuts_long_structure_names_and_refuses_bad_input() -> None:
    long = SkillClaim("crcn:4.1", 3, date(2026, 2, 1), "Association " + "très " * 20 + "longue")
    c = claims(skills=[long])
    assert len(c["st"][0]) == 60 and c["st"][0].endswith("…")
    with pytest.raises(ClaimsError, match="fv"):
        claims(skills=[SkillClaim("digcomp:2.5", 3, date(2026, 2, 1), "X")])
    with pytest.raises(ClaimsError, match="exp"):
        claims(exp=IAT)
    with pytest.raises(ClaimsError, match="level"):
        claims(skills=[SkillClaim("crcn:4.1", 9, date(2026, 2, 1), "X")])


def test_sign_header_and_kid() -> None:
    token = sign(claims(), KEY_1)
    hdr = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert hdr == {"alg": "ES256", "kid": key_id(KEY_1), "typ": "pnc+jws", "zip": "DEF"}
    # RFC 7638: SHA-256 over the required members in lexicographic order, no whitespace.
    jwk = KEY_1.as_dict(private=False)
    canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"))
    assert key_id(KEY_1) == b64url_encode(hashlib.sha256(canonical.encode()).digest())
    assert fmt.public_jwk(KEY_1) == {**jwk, "kid": key_id(KEY_1), "alg": "ES256", "use": "sig"}
    with pytest.raises(ValueError):
        sign(claims(), _public(KEY_1))


def test_qr_text_round_trip_and_encoding() -> None:
    token = sign(claims(), KEY_1)
    text = jws_to_qr_text(token)
    assert text.startswith("PN1:") and text[4:].isdigit() and len(text) == 4 + 2 * len(token)
    assert text[4:6] == f"{ord(token[0]) - 45:02d}"
    assert qr_text_to_jws(text) == token
    assert jws_to_qr_text("-.z") == "PN1:000177"
    for bad in (
        "PN1:",
        "PN2:0001",
        "pn1:0001",
        "PN1:001",
        "PN1:00a1",
        "PN1:0078",
        "PN1:\u0660\u0660",
    ):
        with pytest.raises(QRTextError):
            qr_text_to_jws(bad)
    with pytest.raises(QRTextError):
        qr_text_to_jws(PREFIX + "00" * (MAX_QR_DIGITS // 2 + 1))
    with pytest.raises(QRTextError):
        jws_to_qr_text("a b")


def _qr_version(n: int) -> tuple[int, int, int, int]:
    c = claims(n)
    text = issue(c, KEY_1)
    qr = make_qr(text)
    raw = json.dumps(c, separators=(",", ":"), ensure_ascii=False).encode()
    return len(raw), len(encode_payload(c)), len(qr_text_to_jws(text)), qr.version


def test_qr_versions(capsys: pytest.CaptureFixture[str]) -> None:
    """The contract: 12 skills fit in version 22 at Q. The figures go into the docs."""
    figures = {n: _qr_version(n) for n in (1, 6, 12, 20)}
    with capsys.disabled():
        for n, (raw, deflated, chars, version) in figures.items():
            print(f"\n{n:2} skills: JSON {raw} B, deflated {deflated} B, JWS {chars}, v{version}")
    assert figures[12][3] <= 22
    assert figures[1][3] <= figures[6][3] <= figures[12][3] <= figures[20][3]


def test_qr_segments_and_error_correction() -> None:
    import qrcode.constants
    import qrcode.util

    qr = make_qr(issue(claims(), KEY_1))
    assert qr.error_correction == qrcode.constants.ERROR_CORRECT_Q
    modes = [segment.mode for segment in qr.data_list]
    assert modes == [qrcode.util.MODE_ALPHA_NUM, qrcode.util.MODE_NUMBER]
    with pytest.raises(QRTextError):
        make_qr("PN1:12x")


@pytest.mark.parametrize("n", [1, 12, 20])
def test_png_reads_back_with_zxing(n: int) -> None:
    text = issue(claims(n), KEY_1)
    image = Image.open(io.BytesIO(qr_png(text)))
    assert decode_qr(image) == [text]
    assert_valid(decode_qr(image)[0], KEY_1)


def test_svg() -> None:
    svg = qr_svg(issue(claims(1), KEY_1))
    assert svg.lstrip().startswith("<?xml") or "<svg" in svg[:200]
    assert "<path" in svg


# --- verdicts --------------------------------------------------------------------------------


def test_valid_with_interop() -> None:
    text = issue(claims(), KEY_1)
    verdict = assert_valid(text, KEY_1)
    assert verdict.valid and verdict.claims is not None
    assert [s.code for s in verdict.claims.skills] == SKILL_CODES[:12]


def test_rotated_key_still_valid_and_retired_key_unknown() -> None:
    old = issue(claims(), KEY_1)
    new = issue(claims(), KEY_2)
    assert_valid(old, KEY_1)
    assert_valid(new, KEY_2)
    after_retirement = {ISS: {key_id(KEY_2): _public(KEY_2)}}
    assert check(old, keys=after_retirement).result is Result.UNKNOWN_KEY
    assert_valid(new, KEY_2, keys=after_retirement)


def test_trust_store_as_a_function() -> None:
    calls: list[str] = []

    def lookup(iss: str) -> Mapping[str, ECKey] | None:
        calls.append(iss)
        return TRUST.get(iss)

    assert check(issue(claims(), KEY_2), keys=lookup).result is Result.VALID
    assert check(issue(claims(iss=OTHER_ISS), KEY_OTHER), keys=lookup).result is (
        Result.UNTRUSTED_ISSUER
    )
    assert calls == [ISS, OTHER_ISS]


def test_untrusted_issuer_even_when_perfectly_signed() -> None:
    text = issue(claims(iss=OTHER_ISS, status_uri=OTHER_ISS + "/s/1"), KEY_OTHER)
    assert check(text).result is Result.UNTRUSTED_ISSUER
    interop_payload(qr_text_to_jws(text), KEY_OTHER)
    both = {**TRUST, OTHER_ISS: {key_id(KEY_OTHER): _public(KEY_OTHER)}}
    assert_valid(text, KEY_OTHER, keys=both)


def test_unknown_key_and_wrong_kid() -> None:
    stray = issue(claims(), KEY_STRAY)
    assert check(stray).result is Result.UNKNOWN_KEY
    # Signed by KEY_1 but naming KEY_2's kid: the key looked up is KEY_2, so the signature fails.
    lying = signed(encode_payload(claims()), KEY_1, kid=key_id(KEY_2))
    assert check(lying).result is Result.BAD_SIGNATURE
    other_issuer_key = signed(encode_payload(claims()), KEY_OTHER)
    assert check(other_issuer_key).result is Result.UNKNOWN_KEY


def test_bad_signature_tampered_payload_and_header() -> None:
    token = sign(claims(), KEY_1)
    h, p, s = token.split(".")
    forged = claims()
    forged["sk"][0][1] = 8
    tampered = f"{h}.{b64url_encode(encode_payload(forged))}.{s}"
    verdict = check(jws_to_qr_text(tampered))
    assert verdict.result is Result.BAD_SIGNATURE and verdict.claims is None
    # Same header members, other bytes (spaces): still our format, no longer what was signed.
    spaced = json.dumps(header(), separators=(", ", ": ")).encode()
    assert check(jws_to_qr_text(f"{b64url_encode(spaced)}.{p}.{s}")).result is (
        Result.BAD_SIGNATURE
    )
    # A signature one character short, or of another message.
    assert check(jws_to_qr_text(f"{h}.{p}.{s[:-1]}")).result is Result.BAD_SIGNATURE
    other = sign(claims(jti="other"), KEY_1).split(".")[2]
    assert check(jws_to_qr_text(f"{h}.{p}.{other}")).result is Result.BAD_SIGNATURE


def test_alg_none_and_hs256_with_the_public_key_are_unsupported() -> None:
    payload = encode_payload(claims())
    none = jws_to_qr_text(raw_jws(header(alg="none"), payload, None))
    assert check(none).result is Result.UNSUPPORTED_FORMAT
    secret = KEY_1.public_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    signing_input = (
        f"{b64url_encode(json.dumps(header(alg='HS256')).encode())}.{b64url_encode(payload)}"
    )
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    hs = jws_to_qr_text(f"{signing_input}.{b64url_encode(mac)}")
    verdict = check(hs)
    assert verdict.result is Result.UNSUPPORTED_FORMAT and "ES256" in verdict.reason
    for alg in ("ES384", "es256", "RS256", None):
        assert check(signed(payload, alg=alg)).result is Result.UNSUPPORTED_FORMAT


@pytest.mark.parametrize(
    "over",
    [{"typ": "JWT"}, {"typ": None}, {"zip": "GZIP"}, {"zip": None}, {"jku": ISS + "/k"},
     {"jwk": {"kty": "EC"}}, {"crit": ["exp"]}, {"x5u": ISS}],
)  # fmt: skip
def test_other_headers_are_unsupported(over: dict[str, Any]) -> None:
    hdr = {k: v for k, v in header(**over).items() if v is not None}
    text = jws_to_qr_text(raw_jws(hdr, encode_payload(claims()), KEY_1))
    assert check(text).result is Result.UNSUPPORTED_FORMAT


@pytest.mark.parametrize(
    "text",
    [
        "",
        "PN1:",
        "HC1:0001",
        "shc:/567629",
        "PN1:12345",  # odd
        "PN1:12a4",  # not a digit
        "PN1:1²34",  # a Unicode digit
        "PN1:7878",  # pair above 77
        "PN1:" + "56" * 2001,  # oversize: checked before decoding
        "PN1:565656",  # one segment
        "PN1:56015601560156",  # five segments
        "PN1:" + "56" * 10 + "01" + "56" * 10 + "01",  # empty signature, garbage header
    ],
)
def test_malformed_text(text: str) -> None:
    verdict = check(text)
    assert verdict.result is Result.MALFORMED and verdict.claims is None


def test_truncated_is_malformed() -> None:
    text = issue(claims(), KEY_1)
    half = text[: len(PREFIX) + (len(text) - len(PREFIX)) // 4 * 2]
    assert check(half).result is Result.MALFORMED


def test_header_and_segment_garbage_is_malformed() -> None:
    token = sign(claims(), KEY_1)
    h, p, s = token.split(".")
    for bad in (
        f"{b64url_encode(b'not json')}.{p}.{s}",
        f"{b64url_encode(b'[1]')}.{p}.{s}",
        f"{b64url_encode(b'{}' * 200)}.{p}.{s}",  # header too long
        f"{h}.{p[:-2]}@@.{s}",  # not base64url
        f"{h}.{p}.{s}=",
    ):
        assert check(jws_to_qr_text(bad)).result is Result.MALFORMED, bad
    dup = b'{"alg":"ES256","alg":"ES256","kid":"k","typ":"pnc+jws","zip":"DEF"}'
    assert check(jws_to_qr_text(f"{b64url_encode(dup)}.{p}.{s}")).result is Result.MALFORMED


def test_inflate_bomb_is_malformed_before_any_key_lookup() -> None:
    bomb = json.dumps({"iss": ISS, "x": "A" * (50 * MAX_INFLATED_BYTES)}).encode()
    text = signed(deflate(bomb))
    assert len(text) <= fmt.MAX_QR_TEXT  # a bomb fits in a QR code of legal size

    def keys(iss: str) -> None:
        raise AssertionError("no key lookup for a bomb")

    verdict = check(text, keys=keys)
    assert verdict.result is Result.MALFORMED and "exceeds" in verdict.reason


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b'{"iss": "' + ISS.encode() + b'", ',  # truncated JSON
        b"[1, 2]",
        b'{"iss": 7}',
        b'{"iss": NaN}',
        b"\xff\xfe",
        b"[" * 5000 + b"]" * 5000,
    ],
)
def test_invalid_json_is_malformed(payload: bytes) -> None:
    assert check(signed(deflate(payload))).result is Result.MALFORMED


def test_broken_deflate_is_malformed() -> None:
    good = encode_payload(claims())
    for bad in (good[:-5], good + b"\x00", b"\xff" * 40, zlib.compress(b'{"iss":"x"}')):
        assert check(signed(bad)).result is Result.MALFORMED


def _without(key: str) -> dict[str, Any]:
    c = claims()
    del c[key]
    return c


def _with(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    c = claims()
    target: Any = c
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return c


BAD_CLAIMS = {
    **{f"missing {k}": _without(k) for k in ("iat", "nbf", "exp", "jti", "sub", "fv", "sk", "st")},
    "missing status": _without("status"),
    "iat as string": _with(("iat",), str(IAT)),
    "exp as float": _with(("exp",), float(EXP)),
    "exp as bool": _with(("exp",), True),
    "exp before nbf": _with(("exp",), IAT - 1),
    "negative nbf": _with(("nbf",), -1),
    "jti empty": _with(("jti",), ""),
    "sub as number": _with(("sub",), 12),
    "name as list": _with(("n",), ["Marie"]),
    "fv as string": _with(("fv",), "2019"),
    "fv version as int": _with(("fv", "crcn"), 2019),
    "sk empty": _with(("sk",), []),
    "sk as object": _with(("sk",), {"crcn:4.1": 2}),
    "skill as object": _with(("sk", 0), {"c": "pp:PP-01", "l": 1}),
    "skill short": _with(("sk", 0), ["pp:PP-01", 1, 20458]),
    "level as bool": _with(("sk", 0, 1), True),
    "level 0": _with(("sk", 0, 1), 0),
    "level 9": _with(("sk", 0, 1), 9),
    "day as ISO string": _with(("sk", 0, 2), "2026-01-05"),
    "code without framework": _with(("sk", 0, 0), "PP-01"),
    "code of a framework not in fv": _with(("sk", 0, 0), "digcomp:2.5"),
    "structure index out of range": _with(("sk", 0, 3), 5),
    "structure name too long": _with(("st", 0), "x" * 61),
    "st empty": _with(("st",), []),
    "status without status_list": _with(("status",), {"idx": 1, "uri": STATUS_URI}),
    "idx negative": _with(("status", "status_list", "idx"), -1),
    "idx as string": _with(("status", "status_list", "idx"), "1"),
    "uri not http": _with(("status", "status_list", "uri"), "ftp://x/y"),
    "iss not a URL": _with(("iss",), "passeport.nouvelle-caledonie.example"),
}


@pytest.mark.parametrize("name", list(BAD_CLAIMS))
def test_bad_claims_are_malformed_even_when_signed(name: str) -> None:
    c = BAD_CLAIMS[name]
    with pytest.raises(ClaimsError):
        parse_claims(c)
    keys = {c["iss"]: TRUST[ISS]} if name == "iss not a URL" else TRUST
    verdict = check(signed(encode_payload(c)), keys=keys)
    assert verdict.result is Result.MALFORMED and verdict.claims is None, verdict.reason


def test_missing_iss_is_malformed() -> None:
    assert check(signed(encode_payload(_without("iss")))).result is Result.MALFORMED


def test_unknown_claims_are_ignored() -> None:
    c = {**claims(), "zz": {"future": True}}
    assert check(signed(encode_payload(c))).result is Result.VALID


def test_time_checks_with_leeway() -> None:
    text = issue(claims(nbf=IAT), KEY_1)
    leeway = fmt.LEEWAY_SECONDS
    assert check(text, now=IAT - leeway).result is Result.VALID
    early = check(text, now=IAT - leeway - 1)
    assert early.result is Result.NOT_YET_VALID and early.claims is not None
    assert check(text, now=EXP + leeway - 1).result is Result.VALID
    late = check(text, now=EXP + leeway)
    assert late.result is Result.EXPIRED and late.claims is not None


def test_revoked_and_status_unavailable() -> None:
    text = issue(claims(), KEY_1)
    sl = StatusList(8192)
    sl.set(4711, 1)
    revoked = check(text, status=status_checker({STATUS_URI: sl}))
    assert revoked.result is Result.REVOKED and revoked.claims is not None
    sl.set(4711, 0)
    assert check(text, status=status_checker({STATUS_URI: sl})).result is Result.VALID
    assert check(text, status=status_checker({})).result is Result.STATUS_UNAVAILABLE
    assert check(text, status=None).result is Result.STATUS_UNAVAILABLE
    # An expired credential is expired, whatever its status.
    assert check(text, now=EXP + 86400, status=lambda u, i: True).result is Result.EXPIRED


def test_every_verdict_is_reachable() -> None:
    seen = {
        check(issue(claims(), KEY_1)).result,
        check("PN1:1").result,
        check(jws_to_qr_text(raw_jws(header(alg="none"), b"", None))).result,
        check(issue(claims(iss=OTHER_ISS), KEY_OTHER)).result,
        check(issue(claims(), KEY_STRAY)).result,
        check(signed(encode_payload(claims()), KEY_1, kid=key_id(KEY_2))).result,
        check(issue(claims(), KEY_1), now=IAT - 86400).result,
        check(issue(claims(), KEY_1), now=EXP + 86400).result,
        check(issue(claims(), KEY_1), status=lambda u, i: True).result,
        check(issue(claims(), KEY_1), status=lambda u, i: None).result,
    }
    assert seen == set(Result)


# --- the documented example -------------------------------------------------------------------


def _doc_block(title: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(rf"<!-- {title} -->\s*```[a-z]*\n(.*?)\n```", text, re.S)
    assert match, f"no block {title} in {DOC.name}"
    return match.group(1).strip()


def test_documented_example_verifies() -> None:
    """docs/credential-format.md carries a real credential; it must keep verifying."""
    jwk = json.loads(_doc_block("example-jwks"))["keys"][0]
    text = "".join(_doc_block("example-qr-text").split())
    claims_doc = json.loads(_doc_block("example-claims"))
    key = ECKey.import_key(jwk)
    assert jwk["kid"] == key_id(key) == key_id(KEY_1)
    now = claims_doc["iat"] + 60
    verdict = verify(text, keys={claims_doc["iss"]: {jwk["kid"]: key}}, now=now, status=NOT_REVOKED)
    assert verdict.result is Result.VALID, verdict.reason
    assert verdict.claims is not None and verdict.claims.to_json() == claims_doc
    assert interop_payload(qr_text_to_jws(text), KEY_1) == claims_doc
    assert qr_text_to_jws(text) == "".join(_doc_block("example-jws").split())


def test_documented_status_list_revokes_the_example() -> None:
    jwk = json.loads(_doc_block("example-jwks"))["keys"][0]
    key = ECKey.import_key(jwk)
    token = "".join(_doc_block("example-status-list").split())
    claims_doc = json.loads(_doc_block("example-claims"))
    ref = claims_doc["status"]["status_list"]
    sl = verify_status_list_jwt(token, {jwk["kid"]: key}, uri=ref["uri"], now=claims_doc["iat"])
    assert sl.get(ref["idx"]) == 1 and sl.get(ref["idx"] - 1) == 0
    text = "".join(_doc_block("example-qr-text").split())
    verdict = verify(
        text,
        keys={claims_doc["iss"]: {jwk["kid"]: key}},
        now=claims_doc["iat"],
        status=status_checker({ref["uri"]: sl}),
    )
    assert verdict.result is Result.REVOKED
