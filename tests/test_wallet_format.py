"""The SD-JWT VC format module (app/wallet/sdjwt.py) on its own: each refusal of a presentation,
in the documented order, with bounded work whatever is sent."""

from __future__ import annotations

import json
import time
from typing import Any

from joserfc.jwk import ECKey

from app.credentials.format import b64url_encode
from app.wallet import sdjwt

ISS = "https://a.test/wallet/ta"
AUD = "https://verifier.test"
NOW = int(time.time())
SKILL = {"code": "pp:PP-06", "libelle": "E-mail", "niveau": 2, "date": "2026-12-01", "lieu": "X"}


def _keys() -> tuple[ECKey, ECKey]:
    return ECKey.generate_key("P-256"), ECKey.generate_key("P-256")


def _issued(issuer: ECKey, holder: ECKey, **claims: Any) -> str:
    base = {
        "iss": ISS,
        "iat": NOW,
        "exp": NOW + 3600,
        "vct": "https://a.test/wallet/vct/competences-numeriques",
        "cnf": {"jwk": holder.as_dict(private=False)},
        "status": {"status_list": {"idx": 3, "uri": "https://a.test/t/ta/status/1"}},
        **claims,
    }
    return sdjwt.issue(
        base,
        skills=[SKILL, {**SKILL, "code": "pp:PP-12"}],
        names={"given_name": "Awa"},
        key=issuer,
        kid="k1",
    )


def _present(issued: str, holder: ECKey, keep: list[int], nonce: str = "n1") -> str:
    parts = issued.split("~")[:-1]
    chosen = "~".join([parts[0], *[parts[1 + i] for i in keep]]) + "~"
    kb = sdjwt.sign_jwt(
        {"typ": "kb+jwt", "alg": "ES256"},
        {"iat": NOW, "aud": AUD, "nonce": nonce, "sd_hash": sdjwt.digest(chosen)},
        holder,
    )
    return chosen + kb


def _verify(text: str, issuer: ECKey, *, revoked: bool | None = False) -> sdjwt.Verdict:
    spent: set[str] = set()

    def spend(nonce: str) -> bool:
        if nonce in spent or nonce.startswith("bad"):
            return False
        spent.add(nonce)
        return True

    return sdjwt.verify_presentation(
        text,
        keys=lambda iss: {"k1": issuer} if iss == ISS else None,
        now=NOW,
        audience=AUD,
        spend_nonce=spend,
        status=lambda uri, idx: revoked,
    )


def test_a_presentation_shows_exactly_what_was_chosen() -> None:
    issuer, holder = _keys()
    issued = _issued(issuer, holder)
    verdict = _verify(_present(issued, holder, [1]), issuer)
    assert verdict.result == "valid", verdict.reason
    assert [s["code"] for s in verdict.skills] == ["pp:PP-12"] and verdict.names == {}
    named = _verify(_present(issued, holder, [0, 2]), issuer)
    assert named.valid and named.names == {"given_name": "Awa"}


def test_refusals_in_order() -> None:
    issuer, holder = _keys()
    issued = _issued(issuer, holder)
    good = _present(issued, holder, [0])
    assert _verify("x" * (sdjwt.MAX_PRESENTATION_CHARS + 1), issuer).result == "malformed"
    assert _verify("no-tilde", issuer).result == "malformed"
    assert _verify("a.b.c~" * 70, issuer).result == "malformed"
    stranger = _issued(ECKey.generate_key("P-256"), holder, iss="https://b.test/wallet/x")
    assert _verify(_present(stranger, holder, [0]), issuer).result == "untrusted_issuer"
    forged = _issued(ECKey.generate_key("P-256"), holder)
    assert _verify(_present(forged, holder, [0]), issuer).result == "bad_signature"
    # The same disclosure twice.
    parts = good.split("~")
    twice = "~".join([parts[0], parts[1], parts[1], ""])
    assert _verify(twice, issuer).result == "bad_signature"
    # An unknown claim name disclosed as a property is not in _sd: refused as unsigned.
    extra = b64url_encode(json.dumps(["s", "birthdate", "1960"]).encode())
    assert _verify("~".join([parts[0], extra, ""]), issuer).result == "bad_signature"
    # Key binding: wrong nonce, replay, a KB-JWT over another set of disclosures.
    assert _verify(_present(issued, holder, [0], nonce="bad"), issuer).result == (
        "invalid_presentation"
    )
    other = _present(issued, holder, [1])
    spliced = "~".join([*good.split("~")[:-1], other.split("~")[-1]])
    assert _verify(spliced, issuer).result == "invalid_presentation"
    assert _verify(good, issuer, revoked=True).result == "revoked"
    assert _verify(good, issuer, revoked=None).result == "status_unavailable"


def test_time_and_odd_claims() -> None:
    issuer, holder = _keys()
    expired = _issued(issuer, holder, iat=NOW - 7200, exp=NOW - 3600)
    assert _verify(_present(expired, holder, [0]), issuer).result == "expired"
    early = _issued(issuer, holder, nbf=NOW + 3600)
    assert _verify(_present(early, holder, [0]), issuer).result == "not_yet_valid"
    odd_status = _issued(issuer, holder, status="revoked?")
    assert _verify(_present(odd_status, holder, [0]), issuer).result == "status_unavailable"
    bad_typ = sdjwt.sign_jwt({"alg": "ES256", "typ": "JWT", "kid": "k1"}, {"iss": ISS}, issuer)
    assert _verify(bad_typ + "~", issuer).result == "unsupported_format"


def test_key_proof_checks() -> None:
    issuer, holder = _keys()
    header = {"typ": sdjwt.PROOF_TYP, "alg": "ES256", "jwk": holder.as_dict(private=False)}
    proof = sdjwt.sign_jwt(header, {"aud": ISS, "iat": NOW, "nonce": "c1"}, holder)
    checked = sdjwt.check_proof(proof, audience=ISS, now=NOW)
    assert checked.nonce == "c1" and checked.jwk["x"] == holder.as_dict(private=False)["x"]
    for bad_header, payload, key in [
        ({**header, "typ": "JWT"}, {"aud": ISS, "iat": NOW, "nonce": "c1"}, holder),
        (header, {"aud": "https://other.test", "iat": NOW, "nonce": "c1"}, holder),
        (header, {"aud": ISS, "iat": NOW - 3600, "nonce": "c1"}, holder),
        (header, {"aud": ISS, "iat": NOW}, holder),
        (header, {"aud": ISS, "iat": NOW, "nonce": "c1"}, issuer),  # signed by another key
        (
            {**header, "jwk": {**holder.as_dict(private=True)}},
            {"aud": ISS, "iat": NOW, "nonce": "c1"},
            holder,
        ),
    ]:
        token = sdjwt.sign_jwt(bad_header, payload, key)
        try:
            sdjwt.check_proof(token, audience=ISS, now=NOW)
        except sdjwt.FormatError:
            continue
        raise AssertionError(f"accepted: {bad_header} {payload}")
