"""The browser's verifier (frontend/static/js/verifier.js) against every stored test vector.

The module is loaded by the verifier page served by the real server, and each case of
tests/vectors/ goes through ``verifyQrText`` at the case's own ``now``, with the trust data in
the shape of ``GET /api/v1/trust/bundle`` built from trust.json and the stored Status List
Tokens. Like the reference implementation (tests/test_vectors.py), a status list is offered only
under the issuer whose URL it lives under, and checked with that issuer's keys.

The browser must give the manifest's verdict for every case, and, exactly when the signature
held and the claims are valid, the same normalised claims as the server's ``Claims.to_json()``
(the stored claims less the unknown member a verifier ignores). No case depends on server-only
behaviour: the verdicts are a function of the QR text, the trust data and the time.
"""

from __future__ import annotations

import json
import random
import zlib
from pathlib import Path
from typing import Any

from joserfc import jws
from joserfc.jwk import ECKey
from playwright.sync_api import Page

from app.credentials import format as fmt
from tests.test_vectors import status_check, trust

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
MANIFEST: dict[str, Any] = json.loads((VECTORS / "manifest.json").read_text(encoding="utf-8"))
AFTER_SIGNATURE = {"valid", "not_yet_valid", "expired", "revoked", "status_unavailable"}


def vector_bundle() -> dict[str, Any]:
    """trust.json and the stored status lists as a trust bundle."""
    trust = json.loads((VECTORS / MANIFEST["trust"]).read_text(encoding="utf-8"))
    issuers = []
    for iss, entry in trust["issuers"].items():
        lists = [
            {"uri": uri, "token": (VECTORS / name).read_text(encoding="ascii").strip()}
            for uri, name in MANIFEST["status_lists"].items()
            if uri.startswith(iss + "/")
        ]
        issuers.append(
            {"iss": iss, "name": entry["name"], "jwks": entry["jwks"], "status_lists": lists}
        )
    return {
        "generated_at": MANIFEST["now"],
        "max_age": 86400,
        "trust_list": None,
        "issuers": issuers,
    }


def vector_cases() -> list[dict[str, Any]]:
    cases = []
    for case in MANIFEST["cases"]:
        claims = case["files"].get("claims")
        cases.append(
            {
                "id": case["id"],
                "expected": case["expected"],
                "now": case["now"],
                "qr": (VECTORS / case["files"]["qr"]).read_text(encoding="utf-8"),
                "claims": (VECTORS / claims).read_text(encoding="utf-8") if claims else None,
            }
        )
    return cases


RUN_ALL = """
async ([bundle, cases]) => {
  const { verifyQrText } = await import("/static/js/verifier.js");
  const out = [];
  for (const c of cases) {
    const v = await verifyQrText(c.qr, bundle, c.now);
    out.push({ id: c.id, result: v.result, reason: v.reason, claims: v.claims });
  }
  return out;
}
"""


def test_the_browser_agrees_with_the_server_on_every_vector(page: Page) -> None:
    cases = vector_cases()
    assert len(cases) == 57
    page.goto("/verify")
    answers = page.evaluate(RUN_ALL, [vector_bundle(), cases])
    assert [a["id"] for a in answers] == [c["id"] for c in cases]
    wrong = []
    for case, answer in zip(cases, answers, strict=True):
        if answer["result"] != case["expected"]:
            wrong.append(f"{case['id']}: {answer['result']} ({answer['reason']})")
            continue
        if case["expected"] in AFTER_SIGNATURE:
            stored = {k: v for k, v in json.loads(case["claims"]).items() if k != "zz"}
            if answer["claims"] != stored:
                wrong.append(f"{case['id']}: claims {answer['claims']} != {stored}")
        elif answer["claims"] is not None:
            wrong.append(f"{case['id']}: claims given with {answer['result']}")
    assert not wrong, "\n".join(wrong)
    # Every verdict the format has is exercised through the browser.
    assert {a["result"] for a in answers} == {
        "valid",
        "malformed",
        "unsupported_format",
        "untrusted_issuer",
        "unknown_key",
        "bad_signature",
        "not_yet_valid",
        "expired",
        "revoked",
        "status_unavailable",
    }


def test_a_key_whose_kid_is_not_its_thumbprint_is_not_trusted(page: Page) -> None:
    """A trust bundle entry with a wrong kid is left out: its credentials are unknown_key."""
    bundle = vector_bundle()
    keys = bundle["issuers"][0]["jwks"]["keys"]
    # Swap the kids of A's two keys: each kid now names the other key.
    keys[0]["kid"], keys[1]["kid"] = keys[1]["kid"], keys[0]["kid"]
    valid = next(c for c in vector_cases() if c["id"] == "valid")
    page.goto("/verify")
    answer = page.evaluate(
        """async ([bundle, c]) => {
          const { verifyQrText } = await import("/static/js/verifier.js");
          return (await verifyQrText(c.qr, bundle, c.now)).result;
        }""",
        [bundle, valid],
    )
    assert answer == "unknown_key"


# --- Differential: beyond the stored vectors, the browser against the reference verifier --------

KEY_A = VECTORS / "keys" / "TEST-KEY-issuer-a-current.private.jwk.json"
VALID_CLAIMS = (VECTORS / "cases" / "valid" / "claims.json").read_text(encoding="utf-8")


def _signed(payload_json: bytes, header: dict[str, str] | None = None) -> str:
    """The QR text of raw claims bytes, signed with issuer A's current TEST key."""
    key = ECKey.import_key(json.loads(KEY_A.read_text(encoding="utf-8")))
    compressor = zlib.compressobj(level=9, wbits=-15)
    payload = compressor.compress(payload_json) + compressor.flush()
    token = jws.serialize_compact(
        header or fmt.header_for(key), payload, key, registry=fmt.REGISTRY
    )
    return fmt.jws_to_qr_text(token)


def _claims_variants() -> dict[str, bytes]:
    """Signed payloads on the edges of strict JSON and of the claims' types and lengths."""
    base = VALID_CLAIMS
    name = '"n":"Marie Dupont"'
    swaps = {
        "name-80-astral": (name, '"n":"' + "\U0001f600" * 80 + '"'),
        "name-81-astral": (name, '"n":"' + "\U0001f600" * 81 + '"'),
        "name-80-escaped-pairs": (name, '"n":"' + "\\ud83d\\ude00" * 80 + '"'),
        "name-lone-surrogate": (name, '"n":"\\ud800"'),
        "name-empty": (name, '"n":""'),
        "name-null": (name, '"n":null'),
        "duplicate-iat": ('"iat":1797408000,', '"iat":1797408000,"iat":1797408000,'),
        "iat-float": ('"iat":1797408000,', '"iat":1797408000.0,'),
        "iat-exponent": ('"iat":1797408000,', '"iat":1.797408E9,'),
        "iat-nan": ('"iat":1797408000,', '"iat":NaN,'),
        "iat-negative-zero": ('"iat":1797408000,', '"iat":-0,'),
        "iat-leading-zero": ('"iat":1797408000,', '"iat":01797408000,'),
        "idx-huge": ('"idx":1,', '"idx":1' + "0" * 30 + ","),
        "idx-negative-zero": ('"idx":1,', '"idx":-0,'),
        "level-true": ('["pp:PP-01",1,', '["pp:PP-01",true,'),
        "structure-index-out-of-range": ('["pp:PP-04",3,20704,0]', '["pp:PP-04",3,20704,1]'),
        "fv-missing-framework": ('"fv":{"crcn":"2019","pp":"1"}', '"fv":{"crcn":"2019"}'),
        "fv-empty": ('"fv":{"crcn":"2019","pp":"1"}', '"fv":{}'),
        "iss-with-space": (
            '"iss":"https://passeport.territoire-a.example"',
            '"iss":"https://passeport.territoire-a.example/ x"',
        ),
        "status-uri-nbsp": ("/api/v1/status/1", "/api/v1/status/1\u00a0"),
        "status-uri-ideographic-space": ("/api/v1/status/1", "/api/v1/status/1\u3000"),
        "status-uri-bom": ("/api/v1/status/1", "/api/v1/status/1\ufeff"),
        "unknown-nested-400": ("{", '{"zz":' + "[" * 400 + "]" * 400 + ","),
        "control-character": ('"jti":"cred-0000001"', '"jti":"cred\u0001"'),
        "escaped-control-character": ('"jti":"cred-0000001"', '"jti":"cred\\u0001"'),
        "unknown-member-proto": ("{", '{"__proto__":{"iss":"x"},'),
        "st-unused-entry": (
            '"st":["Médiathèque de Dumbéa"]',
            '"st":["Médiathèque de Dumbéa","Autre"]',
        ),
    }
    out: dict[str, bytes] = {}
    for label, (old, new) in swaps.items():
        assert old in base, label
        out[label] = base.replace(old, new, 1).encode("utf-8")
    out["bom"] = b"\xef\xbb\xbf" + base.encode("utf-8")
    out["surrounding-whitespace"] = b" \n\t" + base.encode("utf-8") + b"\r\n "
    out["nbsp-between-tokens"] = base.replace(",", ",\u00a0", 1).encode("utf-8")
    out["latin-1"] = base.encode("latin-1")
    out["trailing-garbage"] = base.encode("utf-8") + b"x"
    out["top-level-string"] = b'"https://passeport.territoire-a.example"'
    return out


def _mutations(text: str, count: int) -> dict[str, str]:
    """Seeded random damage to a good QR text: changed digits and truncations."""
    # Seeded for the same cases on every run: reproducible damage, not secrets.
    rng = random.Random(20261128)  # noqa: S311
    prefix, digits = text[:4], text[4:]
    out: dict[str, str] = {}
    for i in range(count):
        chars = list(digits)
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(chars))
            chars[at] = str(rng.randrange(10))
        out[f"digits-{i}"] = prefix + "".join(chars)
    for i in range(count // 4):
        out[f"truncated-{i}"] = prefix + digits[: rng.randrange(len(digits))]
    return out


def test_the_browser_agrees_with_the_reference_on_crafted_and_damaged_credentials(
    page: Page,
) -> None:
    now = MANIFEST["now"]
    valid = next(c for c in vector_cases() if c["id"] == "valid")
    inputs = {f"claims-{k}": _signed(v) for k, v in _claims_variants().items()}
    inputs.update(_mutations(valid["qr"], 120))
    expected = {}
    for label, text in inputs.items():
        verdict = fmt.verify(text, keys=trust(), now=now, status=status_check(now))
        expected[label] = (
            str(verdict.result),
            verdict.claims.to_json() if verdict.claims is not None else None,
        )
    page.goto("/verify")
    answers = page.evaluate(
        """async ([bundle, inputs, now]) => {
          const { verifyQrText } = await import("/static/js/verifier.js");
          const out = {};
          for (const [label, text] of Object.entries(inputs)) {
            const v = await verifyQrText(text, bundle, now);
            out[label] = [v.result, v.claims];
          }
          return out;
        }""",
        [vector_bundle(), inputs, now],
    )
    wrong = []
    for label, want in expected.items():
        result, claims = answers[label]
        if (result, claims) != want:
            what = "claims differ" if result == want[0] else f"reference {want[0]}"
            wrong.append(f"{label}: browser {result} ({what})")
    assert not wrong, "\n".join(wrong)
    # The crafted set reaches both sides of the claims checks, not only one verdict.
    verdicts = {want[0] for label, want in expected.items() if label.startswith("claims-")}
    assert {"valid", "malformed"} <= verdicts


def test_a_stale_federation_list_turns_valid_into_stale_trust_list(page: Page) -> None:
    """As the server does (app/credentials/verifier.py): only for an issuer trusted through the
    trust list, only once the list is past fresh_until, and only a verdict that was valid."""
    now = MANIFEST["now"]
    by_id = {c["id"]: c for c in vector_cases()}

    def bundle(source: str, fresh_until: int) -> dict[str, Any]:
        out = vector_bundle()
        out["issuers"][0]["source"] = source
        out["trust_list"] = {"sequence": 7, "issued_at": now - 86400, "fresh_until": fresh_until}
        return out

    runs = [
        ("valid", bundle("trust_list", now), "stale_trust_list"),
        ("valid", bundle("trust_list", now + 1), "valid"),
        ("valid", bundle("manual", now - 1), "valid"),
        ("revoked", bundle("trust_list", now - 1), "revoked"),
        ("expired", bundle("trust_list", now - 1), "expired"),
    ]
    page.goto("/verify")
    answers = page.evaluate(
        """async (runs) => {
          const { verifyQrText } = await import("/static/js/verifier.js");
          const out = [];
          for (const [c, bundle] of runs) {
            out.push((await verifyQrText(c.qr, bundle, c.now)).result);
          }
          return out;
        }""",
        [[by_id[case], b] for case, b, _ in runs],
    )
    assert answers == [expected for _, _, expected in runs]
