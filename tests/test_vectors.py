"""The stored test vectors of tests/vectors/ (see its README.md), checked without regenerating.

ES256 signatures are randomised, so the vectors are never rebuilt and compared byte for byte:
every stored case is verified as it is, each of its stages is checked against the next, every QR
image is read back by zxing-cpp, and PyJWT and jwcrypto must agree with the reference verifier on
every signature the manifest makes a claim about.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import zlib
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jwt
import pytest
from joserfc.jwk import ECKey
from jwcrypto import jwk as jc_jwk
from jwcrypto import jws as jc_jws
from PIL import Image

from app.credentials.format import (
    MAX_INFLATED_BYTES,
    MAX_QR_TEXT,
    TARGET_QR_VERSION,
    Result,
    b64url_decode,
    key_id,
    make_qr,
    qr_text_to_jws,
    verify,
)
from app.credentials.statuslist import StatusListError, verify_status_list_jwt
from tests.qr import decode_qr

VECTORS = Path(__file__).resolve().parent / "vectors"
MANIFEST: dict[str, Any] = json.loads((VECTORS / "manifest.json").read_text(encoding="utf-8"))
CASES: list[dict[str, Any]] = MANIFEST["cases"]
IDS = [case["id"] for case in CASES]
#: Verdicts that verify() only reaches once the signature has held (it then returns the claims).
AFTER_SIGNATURE = {
    Result.VALID,
    Result.NOT_YET_VALID,
    Result.EXPIRED,
    Result.REVOKED,
    Result.STATUS_UNAVAILABLE,
}


@cache
def trust() -> dict[str, dict[str, ECKey]]:
    """trust.json as verify() wants it; every kid must be its key's RFC 7638 thumbprint."""
    data = json.loads((VECTORS / MANIFEST["trust"]).read_text(encoding="utf-8"))
    out: dict[str, dict[str, ECKey]] = {}
    for iss, entry in data["issuers"].items():
        keys = {jwk["kid"]: ECKey.import_key(jwk) for jwk in entry["jwks"]["keys"]}
        assert all(key_id(key) == kid for kid, key in keys.items()), iss
        assert all(not key.is_private for key in keys.values()), "trust.json holds public keys"
        out[iss] = keys
    return out


def status_check(now: int) -> Callable[[str, int], bool | None]:
    """The revocation check the README prescribes, over the stored Status List Tokens."""

    def check(uri: str, idx: int) -> bool | None:
        name = MANIFEST["status_lists"].get(uri)
        # Only a list under a trusted issuer's URL, checked with that issuer's keys.
        issuer = next((iss for iss in trust() if uri.startswith(iss + "/")), None)
        if name is None or issuer is None:
            return None
        token = (VECTORS / name).read_text(encoding="ascii").strip()
        try:
            status_list = verify_status_list_jwt(token, trust()[issuer], uri=uri, now=now)
        except StatusListError:
            return None
        if not 0 <= idx < status_list.size:
            return None
        return status_list.get(idx) != 0

    return check


def stored_files() -> list[Path]:
    """Every file of tests/vectors, not Python's bytecode cache (ignored by git)."""
    return [p for p in VECTORS.rglob("*") if p.is_file() and "__pycache__" not in p.parts]


def stage(case: Mapping[str, Any], name: str) -> bytes | None:
    path = case["files"].get(name)
    return (VECTORS / path).read_bytes() if path is not None else None


def qr_text(case: Mapping[str, Any]) -> str:
    data = stage(case, "qr")
    assert data is not None, f"{case['id']} has no qr.txt"
    return data.decode("utf-8")


# --- (a) every case gives its verdict -------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_verdict(case: dict[str, Any]) -> None:
    verdict = verify(qr_text(case), keys=trust(), now=case["now"], status=status_check(case["now"]))
    assert verdict.result == case["expected"], verdict.reason
    # Claims come with a verdict exactly when the signature held and the claims are valid.
    assert (verdict.claims is not None) == (verdict.result in AFTER_SIGNATURE)
    if verdict.claims is not None:
        # The parsed claims are the stored ones, less the unknown member a verifier ignores.
        assert verdict.claims.to_json() == {
            k: v for k, v in json.loads(stage(case, "claims") or b"{}").items() if k != "zz"
        }


# --- (b) the stages agree -----------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_stages_are_consistent(case: dict[str, Any]) -> None:
    text = qr_text(case)
    token, payload, claims = stage(case, "jws"), stage(case, "payload"), stage(case, "claims")
    assert not text.endswith("\n"), "qr.txt is exactly the scanned text"
    if token is not None:
        jws_text = token.decode("ascii").strip()
        assert qr_text_to_jws(text) == jws_text
        if payload is not None:
            assert b64url_decode(jws_text.split(".")[1]) == payload
    if payload is not None and claims is not None:
        assert zlib.decompress(payload, wbits=-15) == claims


def test_inflate_bomb_is_small_but_inflates_past_the_cap() -> None:
    case = CASES[IDS.index("inflate-bomb")]
    payload = stage(case, "payload")
    assert payload is not None and len(payload) < 2048
    assert len(qr_text(case)) <= MAX_QR_TEXT
    assert len(zlib.decompress(payload, wbits=-15)) > 50 * MAX_INFLATED_BYTES


def test_twelve_skills_fit_the_target_qr_version() -> None:
    case = CASES[IDS.index("valid-12-skills")]
    assert len(json.loads(stage(case, "claims") or b"{}")["sk"]) == 12
    assert make_qr(qr_text(case)).version <= TARGET_QR_VERSION


# --- (c) every QR image reads back --------------------------------------------------------------


@pytest.mark.parametrize("case", [c for c in CASES if "png" in c["files"]], ids=str)
def test_png_reads_back_with_zxing(case: dict[str, Any]) -> None:
    image = Image.open(VECTORS / case["files"]["png"])
    assert decode_qr(image) == [qr_text(case)]


# --- (d) three JOSE implementations agree on the signatures -----------------------------------


def _key_for(token: str, payload: bytes) -> ECKey:
    """The trusted key the header's kid names, for the issuer the payload names."""
    header = json.loads(b64url_decode(token.split(".")[0]))
    iss = json.loads(zlib.decompress(payload, wbits=-15))["iss"]
    return trust()[iss][header["kid"]]


def _pyjwt_accepts(token: str, key: ECKey) -> bool:
    try:
        jwt.PyJWS().decode(token, key.public_key, algorithms=["ES256"])
    except jwt.PyJWTError:
        return False
    return True


def _jwcrypto_accepts(token: str, key: ECKey) -> bool:
    obj = jc_jws.JWS()
    try:
        obj.deserialize(token)
        obj.verify(jc_jwk.JWK(**key.as_dict(private=False)), alg="ES256")
    except (jc_jws.InvalidJWSObject, jc_jws.InvalidJWSSignature, jc_jws.InvalidJWSOperation):
        return False
    return True


SIGNATURE_CASES = [c for c in CASES if "signature" in c]


@pytest.mark.parametrize("case", SIGNATURE_CASES, ids=[c["id"] for c in SIGNATURE_CASES])
def test_three_jose_implementations_agree(case: dict[str, Any]) -> None:
    token_bytes, payload = stage(case, "jws"), stage(case, "payload")
    assert token_bytes is not None and payload is not None
    token = token_bytes.decode("ascii").strip()
    key = _key_for(token, payload)
    verdict = verify(qr_text(case), keys=trust(), now=case["now"], status=status_check(case["now"]))
    ours = verdict.result in AFTER_SIGNATURE
    assert verdict.result in AFTER_SIGNATURE | {Result.BAD_SIGNATURE, Result.UNSUPPORTED_FORMAT}
    assert (ours, _pyjwt_accepts(token, key), _jwcrypto_accepts(token, key)) == (
        case["signature"],
    ) * 3


def test_signature_cases_cover_both_answers() -> None:
    assert {c["signature"] for c in SIGNATURE_CASES} == {True, False}
    assert {"valid", "bad_signature", "unsupported_format"} <= {
        c["expected"] for c in SIGNATURE_CASES
    }
    # Every valid and bad_signature case makes a claim about its signature.
    assert all("signature" in c for c in CASES if c["expected"] in {"valid", "bad_signature"})


# --- (e) coverage -------------------------------------------------------------------------------


REQUIRED_CASES = {
    "tampered-payload", "tampered-header", "alg-none", "alg-hs256-public-key-secret", "wrong-kid",
    "qr-truncated", "qr-wrong-prefix", "qr-non-digit", "qr-odd-digits", "qr-oversize",
    "inflate-bomb", "payload-invalid-json", "claims-missing-exp", "claims-iat-string", "revoked",
    "expired", "not-yet-valid", "untrusted-issuer", "valid-rotated-key", "retired-key",
}  # fmt: skip


def test_manifest_covers_every_verdict_and_case() -> None:
    assert len(CASES) >= 30
    assert len(set(IDS)) == len(IDS)
    assert {c["expected"] for c in CASES} == {str(r) for r in Result}
    assert set(REQUIRED_CASES) <= set(IDS)
    for case in CASES:
        assert set(case) >= {"id", "description", "expected", "now", "files"}
        assert "qr" in case["files"]
        assert set(case["files"]) <= {"claims", "payload", "jws", "qr", "png"}
        assert all((VECTORS / path).is_file() for path in case["files"].values())


def test_vectors_stay_small() -> None:
    total = sum(p.stat().st_size for p in stored_files())
    assert total < 1_000_000


def test_only_test_keys_are_stored() -> None:
    keys = sorted(p.name for p in (VECTORS / "keys").iterdir())
    assert keys and all(name.startswith("TEST-KEY-") for name in keys)
    published = {kid for issuer in trust().values() for kid in issuer}
    retired = ECKey.import_key(
        json.loads((VECTORS / "keys" / "TEST-KEY-issuer-a-retired.private.jwk.json").read_text())
    )
    assert key_id(retired) not in published


# --- (f) the generator's own self-check -----------------------------------------------------------


def test_generator_check_passes_without_writing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = {p: p.stat().st_mtime_ns for p in stored_files()}
    spec = importlib.util.spec_from_file_location("vectors_generate", VECTORS / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Registered while it runs: its dataclasses resolve their annotations through sys.modules.
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    assert module.main(["--check"]) == 0, capsys.readouterr().err
    after = {p: p.stat().st_mtime_ns for p in stored_files()}
    assert after == before
