"""The wallet, tested against an independent implementation: a Node process made of third-party
npm libraries (tests/wallet/, @openid4vc/openid4vci and @sd-jwt/*), driving a real `passeport
serve` over HTTP. The wallet resolves the offer, redeems it with the PIN, proves possession of its
key, receives the SD-JWT VC, verifies it with the issuer's published keys, reads its status, and
presents some of its skills with a key-binding JWT to our verifier.

Each refusal the issue lists is one test, checked on what the wallet got back (the OAuth error of
the issuer, the verdict of the verifier). Expiry is reached by moving the row's time back in the
database, as the other tests do, never by sleeping. The federation case (issued by territory A,
verified at instance B through the trust list) is in test_wallet_federation.py.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import sqlalchemy as sa

from app.core.db import create_db_engine
from app.core.migrations import upgrade
from app.core.time import utcnow
from tests.conftest import create_database, drop_database, free_port, make_settings
from tests.factories import ACCESS_CODE, World, make_passport, make_world
from tests.servers import Server, passeport_env, running_server
from tests.wallet import driver

# Five skills validated on the passport: three of the Passeport's own framework, two of the
# CRCN (with levels). The full flow offers all five and presents two.
SKILLS = {"pp:PP-06": None, "pp:PP-01": None, "pp:PP-12": None, "crcn:1.1": 2, "crcn:4.1": 3}
SHOWN = ["pp:PP-06", "crcn:4.1"]
# Wrong PINs allowed per offer before the token endpoint says 429 (login_max_failures).
MAX_FAILURES = 3


@dataclass
class Instance:
    server: Server
    world: World
    engine: sa.Engine
    tmp: Path
    # The level of each recorded skill, as the server stored it.
    levels: dict[str, int]

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def mediator(self) -> dict[str, str]:
        return self.world.headers["mediator_of_structure"]

    def offer(
        self, skills: list[str] | None = None, *, include_name: bool = False
    ) -> dict[str, Any]:
        """A credential offer made by the mediator, as the UI makes it."""
        made = httpx.post(
            f"{self.url}/api/v1/passports/{self.world.passport.id}/wallet-offers",
            json={"skills": skills or list(SKILLS), "include_name": include_name},
            headers=self.mediator,
            timeout=30,
        )
        assert made.status_code == 201, made.text
        return dict(made.json())

    def state(self, name: str) -> str:
        return str(self.tmp / f"{name}.json")

    def receive(self, name: str, offer: dict[str, Any], *extra: str) -> dict[str, Any]:
        return driver.ok(
            "receive", "--offer", offer["offer_uri"], "--pin", offer["tx_code"],
            "--out", self.state(name), *extra,
        )  # fmt: skip

    def verifier_nonce(self) -> dict[str, Any]:
        answer = httpx.get(f"{self.url}/api/v1/verify/nonce", timeout=10)
        assert answer.status_code == 200, answer.text
        assert answer.headers.get("cache-control", "").startswith("no-store"), answer.headers
        return dict(answer.json())

    def present(self, name: str, skills: list[str], *extra: str, **kb: str) -> dict[str, Any]:
        """A presentation of these skills for this verifier, with a fresh nonce of its own
        unless told (nonce=, aud=)."""
        issued = self.verifier_nonce()
        return driver.ok(
            "present", "--state", self.state(name), "--disclose", ",".join(skills),
            f"--nonce={kb.get('nonce', issued['nonce'])}",
            f"--aud={kb.get('aud', issued['audience'])}",
            *extra,
        )  # fmt: skip

    def verify(self, presentation: str) -> dict[str, Any]:
        answer = httpx.post(
            f"{self.url}/api/v1/verify", json={"presentation": presentation}, timeout=30
        )
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def sql(self, statement: str, **params: Any) -> int:
        with self.engine.begin() as conn:
            return int(conn.execute(sa.text(statement), params).rowcount)


def _record(url: str, world: World, code: str, level: int | None) -> int:
    """Records a validation; returns its level (the Premiers pas have one level of their own)."""
    recorded = httpx.post(
        f"{url}/api/v1/passports/{world.passport.id}/validations",
        json={
            "skill_code": code,
            "method": "observation",
            "observed_on": date.today().isoformat(),
            "structure_id": world.a1.id,
            **({"level": level} if level is not None else {}),
        },
        headers=world.headers["mediator_of_structure"],
        timeout=30,
    )
    assert recorded.status_code == 201, recorded.text
    return int(recorded.json()["level"])


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory, worker_id_safe: str) -> Iterator[Instance]:
    """One real server for the module, its passport holding the five skills; each test makes its
    own offers (they are single use)."""
    tmp = tmp_path_factory.mktemp("wallet")
    name = f"passeport_test_{worker_id_safe}_{os.getpid()}_wallet"
    url = create_database(name, tmp)
    try:
        upgrade(url)
        engine = create_db_engine(make_settings(url))
        world = make_world(engine)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        # The QR issuer this server answers for: the wallet issuer {base}/wallet/ta stands for it.
        with engine.begin() as conn:
            conn.execute(
                sa.text("UPDATE territory SET issuer_url = :u WHERE code = 'ta'"),
                {"u": f"{base}/t/ta"},
            )
        env = passeport_env(
            url, PASSEPORT_PUBLIC_URL=base, PASSEPORT_LOGIN_MAX_FAILURES=str(MAX_FAILURES)
        )
        with running_server(env, port, tmp / "server.log", timeout=90) as server:
            levels = {code: _record(server.url, world, code, lv) for code, lv in SKILLS.items()}
            yield Instance(server, world, engine, tmp, levels)
        engine.dispose()
    finally:
        drop_database(name)


PRE_AUTHORIZED = "urn:ietf:params:oauth:grant-type:pre-authorized_code"


def _offer_object(offer_uri: str) -> dict[str, Any]:
    """The credential offer a QR holds by value (openid-credential-offer://?credential_offer=)."""
    (value,) = parse_qs(urlsplit(offer_uri).query)["credential_offer"]
    return dict(json.loads(value))


def _b64json(part: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


# --- The flow ---------------------------------------------------------------------------------


def test_wallet_receives_verifies_and_presents_two_of_five(instance: Instance) -> None:
    offer = instance.offer()
    assert offer["offer_uri"].startswith("openid-credential-offer://?credential_offer=")
    assert offer["tx_code"].isdigit() and len(offer["tx_code"]) == 6
    # The PIN is shown apart: it is not in the offer the QR holds.
    assert offer["tx_code"] not in offer["offer_uri"]

    got = instance.receive("full", offer)
    issuer = f"{instance.url}/wallet/ta"
    assert got["credentialIssuer"] == issuer and got["iss"] == issuer
    assert got["format"] == "dc+sd-jwt"
    assert got["txCode"]["input_mode"] == "numeric" and got["txCode"]["length"] == 6
    assert got["header"]["typ"] == "dc+sd-jwt" and got["header"]["alg"] == "ES256"
    # Verified by the libraries with the keys of /.well-known/jwt-vc-issuer/wallet/ta, which are
    # the territory's JWKS; the status read from the territory's status list.
    assert got["jwtVcIssuerMetadata"] == f"{instance.url}/.well-known/jwt-vc-issuer/wallet/ta"
    jwks = httpx.get(f"{instance.url}/t/ta/.well-known/jwks.json", timeout=10).json()
    published = httpx.get(got["jwtVcIssuerMetadata"], timeout=10).json()
    assert published["issuer"] == issuer and published["jwks"]["keys"] == jwks["keys"]
    assert got["kid"] in {k["kid"] for k in jwks["keys"]}
    assert got["status"] == "valid"
    assert got["statusList"]["uri"] == f"{instance.url}/t/ta/status/1"
    # Holder binding: the key the wallet made and proved.
    assert got["payload"]["cnf"]["jwk"] == got["holderJwk"]
    # The type metadata the vct names was fetched and read by the library.
    assert got["payload"]["vct"] == f"{instance.url}/wallet/vct/competences-numeriques"
    locales = {d.get("locale") or d.get("lang") for d in got["typeMetadata"]["display"]}
    assert {"fr", "en"} <= locales

    # French and English for the wallet to show: the issuer, the credential, each claim's label.
    assert {d["locale"] for d in got["issuerDisplay"]} >= {"fr", "en"}
    assert {d["locale"] for d in got["credentialDisplay"]} >= {"fr", "en"}
    assert got["authorizationServer"] == issuer
    for claim in got["typeMetadata"]["claims"]:
        labels = {d.get("locale") or d.get("lang") for d in claim.get("display", [])}
        assert {"fr", "en"} <= labels, claim
    assert got["payload"]["exp"] > got["payload"]["iat"]

    claims = got["claims"]
    assert sorted(s["code"] for s in claims["competences"]) == sorted(SKILLS)
    for skill in claims["competences"]:
        assert set(skill) == {"code", "libelle", "niveau", "date", "lieu"}, skill
        assert skill["niveau"] == instance.levels[skill["code"]], skill
        assert skill["date"] == date.today().isoformat(), skill
    assert claims["territoire"]["code"] == "ta"
    # Each skill is its own disclosure; no name was chosen, and no passport number anywhere.
    assert got["disclosureCount"] == len(SKILLS)
    assert "given_name" not in claims and "family_name" not in claims
    credential = got["credential"]
    decoded = json.dumps([_b64json(p) for p in credential.split("~")[0].split(".")[:2]])
    decoded += json.dumps([_b64json(d) for d in credential.split("~")[1:] if d])
    assert instance.world.passport.number not in decoded
    assert "Lucie" not in decoded and "Martin" not in decoded

    shown = instance.present("full", SHOWN)
    # The wallet's own library accepted what it built before our verifier sees it.
    assert sorted(shown["selfCheck"]["disclosed"]) == sorted(SHOWN)
    verdict = instance.verify(shown["presentation"])
    assert verdict["result"] == "valid", verdict
    assert sorted(s["code"] for s in verdict["skills"]) == sorted(SHOWN)
    assert verdict["issuer"] == issuer and verdict["holder_name"] is None
    levels = {s["code"]: s["level"] for s in verdict["skills"]}
    assert levels == {code: instance.levels[code] for code in SHOWN}


def test_the_name_is_disclosable_only_when_chosen(instance: Instance) -> None:
    got = instance.receive("named", instance.offer(["pp:PP-06", "crcn:1.1"], include_name=True))
    assert got["claims"]["given_name"] == "Lucie" and got["claims"]["family_name"] == "Martin"
    assert got["disclosureCount"] == 4  # two skills, two names, each its own disclosure

    without = instance.verify(instance.present("named", ["crcn:1.1"])["presentation"])
    assert without["result"] == "valid" and without["holder_name"] is None, without
    assert [s["code"] for s in without["skills"]] == ["crcn:1.1"]
    named = instance.verify(instance.present("named", ["crcn:1.1"], "--name")["presentation"])
    assert named["result"] == "valid" and named["holder_name"] == "Lucie Martin", named


def test_the_citizen_adds_the_skills_to_their_wallet(instance: Instance) -> None:
    """The offer made by the citizen from their page, with their name if they choose it."""
    with httpx.Client(base_url=instance.url, timeout=30) as citizen:
        login = citizen.post(
            "/api/v1/citizen/login",
            json={"number": instance.world.passport.number, "code": ACCESS_CODE},
        )
        assert login.status_code == 200, login.text
        made = citizen.post(
            "/api/v1/citizen/wallet-offers",
            json={"skills": ["crcn:1.1", "pp:PP-12"], "include_name": True},
            headers={"X-CSRF-Token": login.json()["csrf_token"]},
        )
        assert made.status_code == 201, made.text
    got = instance.receive("citizen", made.json())
    assert sorted(s["code"] for s in got["claims"]["competences"]) == ["crcn:1.1", "pp:PP-12"]
    assert got["claims"]["family_name"] == "Martin"
    verdict = instance.verify(instance.present("citizen", ["pp:PP-12"], "--name")["presentation"])
    assert verdict["result"] == "valid" and verdict["holder_name"] == "Lucie Martin", verdict
    assert [s["code"] for s in verdict["skills"]] == ["pp:PP-12"]


def test_nonces_are_not_cached(instance: Instance) -> None:
    """OpenID4VCI 1.0 §7.2: the nonce response is Cache-Control no-store; so is the verifier's."""
    first = httpx.post(f"{instance.url}/wallet/ta/nonce", timeout=10)
    second = httpx.post(f"{instance.url}/wallet/ta/nonce", timeout=10)
    assert first.status_code == 200 and "no-store" in first.headers["cache-control"]
    assert first.json()["c_nonce"] != second.json()["c_nonce"]
    assert instance.verifier_nonce()["nonce"] != instance.verifier_nonce()["nonce"]


# --- Refused at the issuer --------------------------------------------------------------------


def _token_refusal(answer: dict[str, Any]) -> tuple[int, str]:
    """The HTTP status and OAuth error of a refused token request (RFC 6749 §5.2: JSON)."""
    assert answer["stage"] == "token", answer
    assert answer["contentType"].startswith("application/json"), answer
    return answer["status"], answer["error"]["error"]


def test_wrong_pin_is_refused_and_counted_until_the_offer_is_locked(instance: Instance) -> None:
    offer = instance.offer()
    right = offer["tx_code"]
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    args = ("receive", "--offer", offer["offer_uri"], "--out", instance.state("pin"))
    for _ in range(MAX_FAILURES):
        answer = driver.refused(*args, "--pin", wrong)
        assert _token_refusal(answer) == (400, "invalid_grant"), answer
    # Past the limit the offer's PIN cannot be tried any more, not even the right one.
    locked = driver.refused(*args, "--pin", right)
    assert locked["stage"] == "token" and locked["status"] == 429, locked
    # The library refuses to redeem without the PIN the offer asks for; sent anyway, the server
    # refuses it as a wrong one.
    other = instance.offer()
    bare = driver.refused("receive", "--offer", other["offer_uri"], "--out", instance.state("p"))
    assert bare["stage"] == "token" and "tx_code" in bare["message"], bare
    grant = _offer_object(other["offer_uri"])["grants"][PRE_AUTHORIZED]
    missing = httpx.post(
        f"{instance.url}/wallet/ta/token",
        data={"grant_type": PRE_AUTHORIZED, "pre-authorized_code": grant["pre-authorized_code"]},
        timeout=10,
    )
    assert missing.status_code == 400, missing.text
    assert missing.headers["content-type"].startswith("application/json"), missing.headers
    assert missing.json()["error"] == "invalid_grant", missing.text
    # The failures are journaled for the territory's coordinators.
    with instance.engine.connect() as conn:
        refusals = conn.execute(
            sa.text("SELECT count(*) FROM audit_event WHERE action = 'wallet.pin_refused'")
        ).scalar_one()
    assert refusals >= MAX_FAILURES


def test_an_offer_and_its_pin_are_good_once(instance: Instance) -> None:
    offer = instance.offer()
    instance.receive("once", offer)
    again = driver.refused(
        "receive", "--offer", offer["offer_uri"], "--pin", offer["tx_code"],
        "--out", instance.state("twice"),
    )  # fmt: skip
    assert _token_refusal(again) == (400, "invalid_grant"), again
    assert again["error"].get("code") == "wallet_offer_used", again


def test_two_wallets_redeeming_one_offer_at_once_get_one_credential(instance: Instance) -> None:
    """The same offer and PIN sent by two wallet processes at the same moment: one credential."""
    offer = instance.offer(["pp:PP-06"])

    def redeem(name: str) -> dict[str, Any]:
        args = ["--offer", offer["offer_uri"], "--pin", offer["tx_code"]]
        return driver.run("receive", *args, "--out", instance.state(name))[1]

    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(redeem, ["race-1", "race-2"]))
    assert sorted(a["ok"] for a in answers) == [False, True], answers
    (lost,) = [a for a in answers if not a["ok"]]
    assert _token_refusal(lost) == (400, "invalid_grant"), lost


def test_one_proof_nonce_for_two_credentials_at_once_serves_one(instance: Instance) -> None:
    """Two offers redeemed at the same moment with proofs on the same c_nonce: it is spent once."""
    offers = [instance.offer(["pp:PP-06"]) for _ in range(2)]
    shared = driver.ok("nonce", "--offer", offers[0]["offer_uri"])["c_nonce"]

    def redeem(n: int) -> dict[str, Any]:
        args = ["--offer", offers[n]["offer_uri"], "--pin", offers[n]["tx_code"]]
        out = instance.state(f"nonce-race-{n}")
        return driver.run("receive", *args, "--out", out, f"--proof-nonce={shared}")[1]

    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(redeem, [0, 1]))
    assert sorted(a["ok"] for a in answers) == [False, True], answers
    (lost,) = [a for a in answers if not a["ok"]]
    assert _credential_refusal(lost) == "invalid_nonce", lost


def test_an_expired_offer_is_refused(instance: Instance) -> None:
    offer = instance.offer()
    # Ten minutes later: the offer's expiry moved into the past.
    moved = instance.sql(
        "UPDATE wallet_offer SET expires_at = :t WHERE redeemed_at IS NULL",
        t=utcnow() - timedelta(seconds=1),
    )
    assert moved >= 1
    late = driver.refused(
        "receive", "--offer", offer["offer_uri"], "--pin", offer["tx_code"],
        "--out", instance.state("late"),
    )  # fmt: skip
    assert _token_refusal(late) == (400, "invalid_grant"), late
    assert late["error"].get("code") == "wallet_offer_expired", late


def _credential_refusal(answer: dict[str, Any]) -> str:
    """The OAuth error code of a refused credential request, as the wallet's library read it (it
    reads an error response only when it is application/json, as OpenID4VCI 1.0 says)."""
    assert answer["stage"] == "credential" and answer["status"] == 400, answer
    assert answer["contentType"].startswith("application/json"), answer
    return str(answer["error"]["error"])


def test_a_proof_with_a_used_nonce_is_refused(instance: Instance) -> None:
    first = instance.receive("nonce1", instance.offer())
    offer = instance.offer()
    stale = driver.refused(
        "receive", "--offer", offer["offer_uri"], "--pin", offer["tx_code"],
        "--out", instance.state("nonce2"), f"--proof-nonce={first['proofNonce']}",
    )  # fmt: skip
    assert _credential_refusal(stale) == "invalid_nonce", stale


def test_a_proof_with_an_expired_nonce_is_refused(instance: Instance) -> None:
    offer = instance.offer()
    fresh = driver.ok("nonce", "--offer", offer["offer_uri"])
    # The nonce's lifetime is over (every unused proof nonce of the server, moved back).
    assert instance.sql(
        "UPDATE wallet_nonce SET expires_at = :t WHERE purpose = 'proof' AND used_at IS NULL",
        t=utcnow() - timedelta(seconds=1),
    )
    stale = driver.refused(
        "receive", "--offer", offer["offer_uri"], "--pin", offer["tx_code"],
        "--out", instance.state("expired-nonce"), f"--proof-nonce={fresh['c_nonce']}",
    )  # fmt: skip
    assert _credential_refusal(stale) == "invalid_nonce", stale


def test_a_nonce_the_issuer_never_gave_is_refused(instance: Instance) -> None:
    offer = instance.offer()
    made_up = driver.refused(
        "receive", "--offer", offer["offer_uri"], "--pin", offer["tx_code"],
        "--out", instance.state("made-up"), "--proof-nonce", "bm90LWEtbm9uY2UtZnJvbS11cw",
    )  # fmt: skip
    assert _credential_refusal(made_up) == "invalid_nonce", made_up


def test_a_proof_signed_by_another_key_than_its_header_names_is_refused(
    instance: Instance,
) -> None:
    offer = instance.offer()
    forged = driver.refused(
        "receive", "--offer", offer["offer_uri"], "--pin", offer["tx_code"],
        "--out", instance.state("other-key"), "--proof-key-mismatch",
    )  # fmt: skip
    assert _credential_refusal(forged) == "invalid_proof", forged


@pytest.mark.parametrize(
    "forgery",
    [
        ("--no-proof-nonce",),  # §8.3.1.2: a key proof without the c_nonce is invalid_proof
        ("--proof-iat-offset=-3600",),  # made an hour ago
        ("--proof-typ", "JWT"),  # Appendix F.1: typ must be openid4vci-proof+jwt
        ("--proof-jwk-private",),  # RFC 7515 §4.1.3: jwk is the public key, never a private one
    ],
    ids=["no-nonce", "old", "wrong-typ", "private-jwk"],
)
def test_a_proof_without_nonce_old_or_mistyped_is_refused(
    instance: Instance, forgery: tuple[str, ...]
) -> None:
    offer = instance.offer()
    answer = driver.refused(
        "receive", "--offer", offer["offer_uri"], "--pin", offer["tx_code"],
        "--out", instance.state("forged-proof"), *forgery,
    )  # fmt: skip
    assert _credential_refusal(answer) == "invalid_proof", answer


def test_a_proof_for_another_issuer_is_refused(instance: Instance) -> None:
    offer = instance.offer()
    elsewhere = driver.refused(
        "receive", "--offer", offer["offer_uri"], "--pin", offer["tx_code"],
        "--out", instance.state("other-aud"), "--proof-aud", "https://issuer.example/wallet/ta",
    )  # fmt: skip
    assert _credential_refusal(elsewhere) == "invalid_proof", elsewhere


# --- Refused at the verifier ------------------------------------------------------------------


@pytest.fixture(scope="module")
def holder(instance: Instance) -> str:
    """A wallet holding a valid credential of the five skills, for the verifier's refusals."""
    instance.receive("holder", instance.offer())
    return "holder"


def test_a_tampered_disclosure_is_refused(instance: Instance, holder: str) -> None:
    tampered = instance.present(holder, SHOWN, "--tamper-disclosure")
    verdict = instance.verify(tampered["presentation"])
    assert verdict["result"] == "bad_signature", verdict
    assert verdict.get("skills", []) == [], verdict


def test_an_added_disclosure_is_refused(instance: Instance, holder: str) -> None:
    forged = instance.present(holder, SHOWN, "--add-disclosure")
    assert forged["disclosures"] == len(SHOWN) + 1
    verdict = instance.verify(forged["presentation"])
    assert verdict["result"] == "bad_signature", verdict
    assert verdict.get("skills", []) == [], verdict


def test_a_disclosure_sent_twice_is_refused(instance: Instance, holder: str) -> None:
    twice = instance.present(holder, SHOWN, "--duplicate-disclosure")
    assert twice["disclosures"] == len(SHOWN) + 1
    verdict = instance.verify(twice["presentation"])
    assert verdict["result"] == "bad_signature", verdict
    assert verdict.get("skills", []) == [], verdict


def test_a_key_binding_with_a_nonce_not_ours_is_refused(instance: Instance, holder: str) -> None:
    made_up = instance.present(holder, SHOWN, nonce="a-nonce-this-verifier-never-gave")
    verdict = instance.verify(made_up["presentation"])
    assert verdict["result"] == "invalid_presentation", verdict
    assert verdict["skills"] == [] and verdict["holder_name"] is None


def test_a_key_binding_for_another_audience_is_refused(instance: Instance, holder: str) -> None:
    elsewhere = instance.present(holder, SHOWN, aud="https://verifier.example")
    verdict = instance.verify(elsewhere["presentation"])
    assert verdict["result"] == "invalid_presentation", verdict
    assert verdict["skills"] == []


def test_a_replayed_presentation_is_refused(instance: Instance, holder: str) -> None:
    shown = instance.present(holder, SHOWN)
    assert instance.verify(shown["presentation"])["result"] == "valid"
    replayed = instance.verify(shown["presentation"])
    assert replayed["result"] == "invalid_presentation", replayed
    assert replayed["skills"] == []


def test_an_old_key_binding_is_refused(instance: Instance, holder: str) -> None:
    old = instance.present(holder, SHOWN, "--kb-iat-offset=-3600")
    verdict = instance.verify(old["presentation"])
    assert verdict["result"] == "invalid_presentation", verdict


def test_a_key_binding_signed_by_another_key_is_refused(instance: Instance, holder: str) -> None:
    stolen = instance.present(holder, SHOWN, "--kb-key-other")
    verdict = instance.verify(stolen["presentation"])
    assert verdict["result"] == "invalid_presentation", verdict


def test_a_presentation_without_key_binding_is_refused(instance: Instance, holder: str) -> None:
    bare = driver.ok(
        "present", "--state", instance.state(holder), "--disclose", ",".join(SHOWN), "--no-kb"
    )
    verdict = instance.verify(bare["presentation"])
    assert verdict["result"] == "invalid_presentation", verdict


def test_a_credential_revoked_in_the_ui_is_revoked_in_the_wallet(instance: Instance) -> None:
    instance.receive("bystander", instance.offer(["pp:PP-06"]))
    instance.receive("revoked", instance.offer(["pp:PP-01", "pp:PP-12"]))
    before = instance.verify(instance.present("revoked", ["pp:PP-01"])["presentation"])
    assert before["result"] == "valid", before
    assert driver.ok("status", "--state", instance.state("revoked"))["status"] == "valid"

    # The mediator revokes it from the passport's list of credentials, as the UI does.
    listed = httpx.get(
        f"{instance.url}/api/v1/passports/{instance.world.passport.id}/credentials",
        headers=instance.mediator,
        timeout=10,
    )
    assert listed.status_code == 200, listed.text
    wallet_copies = [c for c in listed.json() if c.get("format") == "dc+sd-jwt"]
    newest = max(wallet_copies, key=lambda c: c["id"])
    revoked = httpx.post(
        f"{instance.url}/api/v1/passports/{instance.world.passport.id}"
        f"/credentials/{newest['id']}/revoke",
        json={},
        headers=instance.mediator,
        timeout=10,
    )
    assert revoked.status_code == 200, revoked.text

    # The wallet reads its bit in the status list through the library: invalid (revoked) ...
    status = driver.ok("status", "--state", instance.state("revoked"))
    assert (status["status"], status["value"]) == ("invalid", 1), status
    # (the status list token names itself: its sub is the uri the credential points to)
    assert status["sub"] == status["uri"], status
    # ... and the verifier says revoked, naming nobody and no skill.
    after = instance.verify(instance.present("revoked", ["pp:PP-01"])["presentation"])
    assert after["result"] == "revoked", after
    assert after["skills"] == [] and after["holder_name"] is None
    # Another wallet copy of the same passport is untouched.
    assert driver.ok("status", "--state", instance.state("bystander"))["status"] == "valid"


def test_erasure_revokes_the_wallet_copy_and_voids_open_offers(instance: Instance) -> None:
    """After the passport's erasure its wallet credential is revoked (nothing of it verifies any
    more) and an offer not yet redeemed cannot be: it named the person and their skills."""
    other = make_passport(instance.engine, instance.world.a, instance.world.a1, last_name="Durand")
    world = replace(instance.world, passport=other)
    _record(instance.url, world, "pp:PP-06", None)
    mediator = instance.mediator
    offers = [
        httpx.post(
            f"{instance.url}/api/v1/passports/{other.id}/wallet-offers",
            json={"skills": ["pp:PP-06"], "include_name": True},
            headers=mediator,
            timeout=30,
        ).json()
        for _ in range(2)
    ]
    instance.receive("erased", offers[0])
    assert instance.verify(instance.present("erased", ["pp:PP-06"])["presentation"])["result"] == (
        "valid"
    )

    erased = httpx.post(
        f"{instance.url}/api/v1/passports/{other.id}/erasure",
        json={"reason": "request"},
        headers=instance.world.headers["territory_admin"],
        timeout=30,
    )
    assert erased.status_code == 200, erased.text

    assert driver.ok("status", "--state", instance.state("erased"))["status"] == "invalid"
    verdict = instance.verify(instance.present("erased", ["pp:PP-06"], "--name")["presentation"])
    assert verdict["result"] == "revoked", verdict
    assert verdict["holder_name"] is None and verdict["skills"] == []
    late = driver.refused(
        "receive", "--offer", offers[1]["offer_uri"], "--pin", offers[1]["tx_code"],
        "--out", instance.state("erased-late"),
    )  # fmt: skip
    assert _token_refusal(late) == (400, "invalid_grant"), late


def test_sd_hash_binds_the_key_binding_to_the_disclosures(instance: Instance, holder: str) -> None:
    """A key-binding JWT moved onto other disclosures of the same credential is refused."""
    one = instance.present(holder, ["pp:PP-06"])["presentation"]
    two = instance.present(holder, SHOWN)["presentation"]
    kb_of_one = one.rsplit("~", 1)[1]
    swapped = two.rsplit("~", 1)[0] + "~" + kb_of_one
    verdict = instance.verify(swapped)
    assert verdict["result"] == "invalid_presentation", verdict
