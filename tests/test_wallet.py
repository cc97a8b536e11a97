"""The wallet (issue 15): OpenID4VCI issuance of an SD-JWT VC and verification of presentations.

The holder's side is played with libraries independent of the server's: jwcrypto for the holder
key and the key proofs, and the OpenWallet Foundation's reference SD-JWT implementation
(``sd-jwt`` on PyPI) to check the issued credential and to build presentations. The independent
Node wallet of the npm libraries is driven by tests/test_wallet_interop.py (p15w).
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from datetime import date, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from jwcrypto import jwk, jws
from sd_jwt.holder import SDJWTHolder
from sd_jwt.verifier import SDJWTVerifier
from sqlmodel import Session, select

from app.audit.models import AuditEvent
from app.core.settings import Settings
from app.core.time import utcnow
from app.credentials.models import Credential
from app.passports.models import AccessLog
from app.wallet.models import WalletOffer
from tests.factories import World, make_passport, make_world

PROBLEM = "application/problem+json"
GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
SKILLS = ["pp:PP-06", "pp:PP-12", "crcn:4.1", "pp:PP-04", "pp:PP-10"]


@pytest.fixture
def world(engine: sa.Engine) -> World:
    return make_world(engine)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _validate(client: TestClient, world: World, codes: list[str]) -> None:
    for code in codes:
        response = client.post(
            f"/api/v1/passports/{world.passport.id}/validations",
            json={
                "skill_code": code,
                "level": 3 if code.startswith("crcn:") else None,
                "method": "observation",
                "observed_on": date.today().isoformat(),
                "structure_id": world.a1.id,
            },
            headers=world.headers["mediator_of_structure"],
        )
        assert response.status_code == 201, response.text


def _offer(client: TestClient, world: World, **body: Any) -> dict[str, Any]:
    response = client.post(
        f"/api/v1/passports/{world.passport.id}/wallet-offers",
        json={"skills": SKILLS, **body},
        headers=world.headers["mediator_of_structure"],
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def _credential_offer(offer_uri: str) -> dict[str, Any]:
    assert offer_uri.startswith("openid-credential-offer://?")
    query = parse_qs(urlsplit(offer_uri).query)
    return dict(json.loads(query["credential_offer"][0]))


def _path(url: str) -> str:
    return urlsplit(url).path


class Holder:
    """A wallet's key, kept by jwcrypto (not the server's JOSE library)."""

    def __init__(self) -> None:
        self.key = jwk.JWK.generate(kty="EC", crv="P-256")

    def public(self) -> dict[str, Any]:
        return dict(json.loads(self.key.export_public()))

    def sign(self, header: dict[str, Any], payload: dict[str, Any], key: Any = None) -> str:
        token = jws.JWS(json.dumps(payload).encode())
        token.add_signature(key or self.key, alg="ES256", protected=json.dumps(header))
        return str(token.serialize(compact=True))

    def proof(self, issuer: str, nonce: str, *, key: Any = None, **extra: Any) -> str:
        header = {"typ": "openid4vci-proof+jwt", "alg": "ES256", "jwk": self.public()}
        payload = {"aud": issuer, "iat": int(time.time()), "nonce": nonce, **extra}
        return self.sign(header, payload, key)


def _token(client: TestClient, offer: dict[str, Any], pin: str | None = None) -> Any:
    grant = offer["credential_offer"]["grants"][GRANT]
    issuer = offer["credential_offer"]["credential_issuer"]
    return client.post(
        _path(f"{issuer}/token"),
        data={
            "grant_type": GRANT,
            "pre-authorized_code": grant["pre-authorized_code"],
            "tx_code": offer["tx_code"] if pin is None else pin,
        },
    )


def _c_nonce(client: TestClient, issuer: str) -> str:
    response = client.post(_path(f"{issuer}/nonce"))
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    return str(response.json()["c_nonce"])


def _receive(client: TestClient, offer: dict[str, Any], holder: Holder) -> str:
    """The whole flow as a wallet runs it; the issued SD-JWT."""
    issuer = offer["credential_offer"]["credential_issuer"]
    metadata = client.get(_path(f"{issuer}/.well-known/openid-credential-issuer"))
    assert metadata.status_code == 200
    token = _token(client, offer)
    assert token.status_code == 200, token.text
    access = token.json()["access_token"]
    response = client.post(
        _path(metadata.json()["credential_endpoint"]),
        json={
            "credential_configuration_id": "passeport_numerique_competences",
            "proofs": {"jwt": [holder.proof(issuer, _c_nonce(client, issuer))]},
        },
        headers={"Authorization": f"Bearer {access}"},
    )
    assert response.status_code == 200, response.text
    return str(response.json()["credentials"][0]["credential"])


def _issuer_key(client: TestClient, iss: str) -> Any:
    split = urlsplit(iss)
    metadata = client.get(f"/.well-known/jwt-vc-issuer{split.path}").json()
    assert metadata["issuer"] == iss
    keys = {k["kid"]: k for k in metadata["jwks"]["keys"]}
    return lambda _iss, header: jwk.JWK(**keys[header["kid"]])


def _nonce(client: TestClient) -> dict[str, Any]:
    response = client.get("/api/v1/verify/nonce")
    assert response.status_code == 200, response.text
    return dict(response.json())


def _present(
    client: TestClient,
    issued: str,
    holder: Holder,
    disclose: list[bool],
    *,
    nonce: str | None = None,
    aud: str | None = None,
    names: bool = False,
) -> str:
    fresh = _nonce(client)
    presenting = SDJWTHolder(issued)
    claims: dict[str, Any] = {"competences": disclose}
    if names:
        claims.update(given_name=True, family_name=True)
    presenting.create_presentation(
        claims,
        nonce=nonce or fresh["nonce"],
        aud=aud or fresh["audience"],
        holder_key=holder.key,
        sign_alg="ES256",
    )
    return str(presenting.sd_jwt_presentation)


def _verify(client: TestClient, presentation: str) -> dict[str, Any]:
    response = client.post("/api/v1/verify", json={"presentation": presentation})
    assert response.status_code == 200, response.text
    return dict(response.json())


def _problem(response: Any, status: int, code: str, error: str | None = None) -> dict[str, Any]:
    """A refusal: problem+json, or for a wallet's OAuth requests (``error`` given) the same
    members as application/json, which OAuth clients read (RFC 6749 5.2)."""
    assert response.status_code == status, response.text
    media = PROBLEM if error is None else "application/json"
    assert response.headers["content-type"] == media
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    if error is not None:
        assert body["error"] == error, body
    return body


# --- Issuance ---------------------------------------------------------------------------------


def test_metadata_documents(client: TestClient, world: World, settings: Settings) -> None:
    base = settings.public_url
    issuer = f"{base}/wallet/ta"
    credential_issuer = client.get("/.well-known/openid-credential-issuer/wallet/ta")
    assert credential_issuer.status_code == 200
    body = credential_issuer.json()
    assert body["credential_issuer"] == issuer
    assert body["nonce_endpoint"] == f"{issuer}/nonce"
    assert {d["locale"] for d in body["display"]} == {"fr", "en"}
    configuration = body["credential_configurations_supported"]["passeport_numerique_competences"]
    assert configuration["format"] == "dc+sd-jwt"
    assert configuration["vct"] == f"{base}/wallet/vct/competences-numeriques"
    server = client.get("/.well-known/oauth-authorization-server/wallet/ta").json()
    assert server["issuer"] == issuer and server["token_endpoint"] == f"{issuer}/token"
    assert server["pre-authorized_grant_anonymous_access_supported"] is True
    vct = client.get("/wallet/vct/competences-numeriques").json()
    assert vct["vct"] == configuration["vct"]
    labels = {tuple(c["path"]): {d["locale"] for d in c["display"]} for c in vct["claims"]}
    assert labels[("competences", None, "libelle")] == {"fr", "en"}
    assert client.get("/.well-known/openid-credential-issuer/wallet/nowhere").status_code == 404


def test_issued_credential_checks_with_the_reference_library(
    client: TestClient, world: World, engine: sa.Engine, settings: Settings
) -> None:
    _validate(client, world, SKILLS)
    offer = _offer(client, world, include_name=True)
    assert len(offer["tx_code"]) == 6 and offer["tx_code"].isdigit()
    assert _credential_offer(offer["offer_uri"]) == offer["credential_offer"]
    tx = offer["credential_offer"]["grants"][GRANT]["tx_code"]
    assert tx["input_mode"] == "numeric" and tx["length"] == 6
    # The offer names no PIN and no passport.
    assert offer["tx_code"] not in offer["offer_uri"]
    holder = Holder()
    issued = _receive(client, offer, holder)
    assert issued.endswith("~")
    header = json.loads(base64.urlsafe_b64decode(issued.split(".")[0] + "=="))
    assert header["typ"] == "dc+sd-jwt" and header["alg"] == "ES256"
    iss = f"{settings.public_url}/wallet/ta"
    verifier = SDJWTVerifier(issued, _issuer_key(client, iss))
    payload = verifier.get_verified_payload()
    assert payload["iss"] == iss
    assert payload["vct"] == f"{settings.public_url}/wallet/vct/competences-numeriques"
    assert payload["cnf"]["jwk"]["x"] == holder.public()["x"]
    assert payload["territoire"]["code"] == "ta"
    assert payload["status"]["status_list"]["uri"] == "https://issuer.test/t/ta/status/1"
    assert [c["code"] for c in payload["competences"]] == SKILLS
    assert {"code", "libelle", "niveau", "date", "lieu"} == set(payload["competences"][0])
    assert payload["given_name"] == world.passport.first_name
    assert payload["exp"] - payload["iat"] == settings.wallet_credential_days * 86400
    raw = json.loads(base64.urlsafe_b64decode(issued.split(".")[1] + "=="))
    assert "competences" in raw and all(set(e) == {"..."} for e in raw["competences"])
    assert world.passport.number not in json.dumps(payload)
    assert "given_name" not in raw and len(raw["_sd"]) == 2
    # The wallet's copy is a credential of the passport: listed and revocable like a QR.
    with Session(engine) as session:
        row = session.exec(select(Credential).where(Credential.format == "dc+sd-jwt")).one()
        assert row.status_index == payload["status"]["status_list"]["idx"]
        assert row.qr_text is None
        actions = set(session.exec(select(AccessLog.action)).all())
        assert {"wallet.offer_created", "wallet.credential_issued"} <= actions
        audited = set(session.exec(select(AuditEvent.action)).all())
        assert {"wallet.offer_created", "wallet.credential_issued"} <= audited


def test_name_left_out_unless_chosen(client: TestClient, world: World) -> None:
    _validate(client, world, SKILLS[:1])
    issued = _receive(client, _offer(client, world, skills=SKILLS[:1]), Holder())
    raw = json.loads(base64.urlsafe_b64decode(issued.split(".")[1] + "=="))
    assert "_sd" not in raw
    assert issued.count("~") == 2  # one disclosure: the skill


def test_offer_needs_validated_skills_and_the_holding_territory(
    client: TestClient, world: World
) -> None:
    response = client.post(
        f"/api/v1/passports/{world.passport.id}/wallet-offers",
        json={"skills": ["pp:PP-06"]},
        headers=world.headers["mediator_of_structure"],
    )
    _problem(response, 422, "skill_not_validated")
    _validate(client, world, ["pp:PP-06"])
    response = client.post(
        f"/api/v1/passports/{world.passport.id}/wallet-offers",
        json={"skills": ["pp:PP-06"]},
        headers=world.headers["mediator_other_territory"],
    )
    assert response.status_code == 404


def test_citizen_makes_an_offer(client: TestClient, world: World) -> None:
    _validate(client, world, SKILLS[:2])
    login = client.post(
        "/api/v1/citizen/login",
        json={"number": world.passport.number, "code": "BCDF2345"},
    )
    assert login.status_code == 200, login.text
    response = client.post(
        "/api/v1/citizen/wallet-offers",
        json={"skills": SKILLS[:2]},
        headers={"X-CSRF-Token": login.json()["csrf_token"]},
    )
    assert response.status_code == 201, response.text
    assert _receive(client, response.json(), Holder())


def test_wrong_pin_is_refused_counted_and_limited(
    client: TestClient, world: World, engine: sa.Engine, settings: Settings
) -> None:
    _validate(client, world, SKILLS[:1])
    offer = _offer(client, world, skills=SKILLS[:1])
    wrong = f"{(int(offer['tx_code']) + 1) % 10**6:06d}"
    for _ in range(settings.login_max_failures):
        _problem(_token(client, offer, wrong), 400, "wallet_wrong_pin", "invalid_grant")
    # Past the limit, even the right PIN waits: guesses cannot go on.
    _problem(_token(client, offer), 429, "rate_limited", "invalid_grant")
    with Session(engine) as session:
        refused = session.exec(
            select(AuditEvent).where(AuditEvent.action == "wallet.pin_refused")
        ).all()
        assert len(refused) == settings.login_max_failures


def test_offer_is_single_use_and_expires(
    client: TestClient, world: World, engine: sa.Engine
) -> None:
    _validate(client, world, SKILLS[:1])
    offer = _offer(client, world, skills=SKILLS[:1])
    assert _token(client, offer).status_code == 200
    _problem(_token(client, offer), 400, "wallet_offer_used", "invalid_grant")
    late = _offer(client, world, skills=SKILLS[:1])
    with Session(engine) as session:
        for row in session.exec(select(WalletOffer)).all():
            row.expires_at = utcnow() - timedelta(seconds=1)
            session.add(row)
        session.commit()
    _problem(_token(client, late), 400, "wallet_offer_expired", "invalid_grant")
    unknown = {**late, "credential_offer": json.loads(json.dumps(late["credential_offer"]))}
    unknown["credential_offer"]["grants"][GRANT]["pre-authorized_code"] = "nope"
    _problem(_token(client, unknown), 400, "wallet_offer_unknown", "invalid_grant")


def test_a_credential_request_of_the_wrong_shape_is_an_oauth_refusal(
    client: TestClient, world: World
) -> None:
    response = client.post(
        "/wallet/ta/credential",
        json={"proofs": {"jwt": "not-a-list"}},
        headers={"Authorization": "Bearer x"},
    )
    body = _problem(response, 400, "wallet_invalid_request", "invalid_credential_request")
    assert "proofs.jwt" in body["detail"] and "not-a-list" not in response.text
    response = client.post(
        "/wallet/ta/credential", content=b"{", headers={"Content-Type": "application/json"}
    )
    _problem(response, 400, "wallet_invalid_request", "invalid_credential_request")


def test_token_request_shape(client: TestClient, world: World) -> None:
    response = client.post("/wallet/ta/token", json={"grant_type": GRANT})
    _problem(response, 400, "wallet_invalid_request", "invalid_request")
    response = client.post("/wallet/ta/token", data={"grant_type": "password"})
    _problem(response, 400, "wallet_unsupported_grant", "unsupported_grant_type")


def _access(client: TestClient, world: World) -> tuple[dict[str, Any], str, str]:
    _validate(client, world, SKILLS[:1])
    offer = _offer(client, world, skills=SKILLS[:1])
    issuer = offer["credential_offer"]["credential_issuer"]
    token = _token(client, offer)
    assert token.status_code == 200, token.text
    return offer, issuer, str(token.json()["access_token"])


def _ask(client: TestClient, access: str, proof: str) -> Any:
    return client.post(
        "/wallet/ta/credential",
        json={"proofs": {"jwt": [proof]}},
        headers={"Authorization": f"Bearer {access}"},
    )


def test_proof_refusals(client: TestClient, world: World) -> None:
    _offer_made, issuer, access = _access(client, world)
    holder = Holder()
    # A nonce we never gave, then one already spent.
    _problem(
        _ask(client, access, holder.proof(issuer, "made-up")),
        400,
        "wallet_invalid_nonce",
        "invalid_nonce",
    )
    nonce = _c_nonce(client, issuer)
    other = jwk.JWK.generate(kty="EC", crv="P-256")
    # Signed by another key than the one it shows.
    _problem(
        _ask(client, access, holder.proof(issuer, nonce, key=other)),
        400,
        "wallet_invalid_proof",
        "invalid_proof",
    )
    # For another issuer.
    _problem(
        _ask(client, access, holder.proof("https://elsewhere.test", nonce)),
        400,
        "wallet_invalid_proof",
        "invalid_proof",
    )
    assert _ask(client, access, holder.proof(issuer, nonce)).status_code == 200
    # The access token served once; the nonce too.
    _problem(
        _ask(client, access, holder.proof(issuer, nonce)),
        401,
        "wallet_invalid_token",
        "invalid_token",
    )


def test_stale_nonce_is_refused(client: TestClient, world: World) -> None:
    _offer_made, issuer, access = _access(client, world)
    holder = Holder()
    nonce = _c_nonce(client, issuer)
    # Spent by a first (failed) request's success path elsewhere: a second use is refused.
    first_offer, _, first_access = _access(client, world)
    assert _ask(client, first_access, holder.proof(issuer, nonce)).status_code == 200
    _problem(
        _ask(client, access, holder.proof(issuer, nonce)),
        400,
        "wallet_invalid_nonce",
        "invalid_nonce",
    )
    assert first_offer


# --- Verification -----------------------------------------------------------------------------


def _issued(client: TestClient, world: World) -> tuple[str, Holder]:
    _validate(client, world, SKILLS)
    holder = Holder()
    return _receive(client, _offer(client, world, include_name=True), holder), holder


def test_presentation_of_two_of_five_skills(client: TestClient, world: World) -> None:
    issued, holder = _issued(client, world)
    presentation = _present(client, issued, holder, [False, True, False, True, False])
    verdict = _verify(client, presentation)
    assert verdict["result"] == "valid", verdict
    assert verdict["format"] == "dc+sd-jwt"
    assert verdict["territory"] == "Territoire ta"
    assert [s["code"] for s in verdict["skills"]] == [SKILLS[1], SKILLS[3]]
    assert verdict["skills"][0]["label_fr"]
    assert verdict["holder_name"] is None
    # Replayed: the nonce was spent.
    assert _verify(client, presentation)["result"] == "invalid_presentation"
    named = _verify(client, _present(client, issued, holder, [True], names=True))
    assert named["result"] == "valid"
    assert named["holder_name"] == f"{world.passport.first_name} {world.passport.last_name}"


def test_presentation_refusals(client: TestClient, world: World, settings: Settings) -> None:
    issued, holder = _issued(client, world)
    disclose = [True, True, False, False, False]
    # Wrong nonce, wrong audience.
    bad = _verify(client, _present(client, issued, holder, disclose, nonce="not-ours"))
    assert bad["result"] == "invalid_presentation" and bad["skills"] == []
    bad = _verify(client, _present(client, issued, holder, disclose, aud="https://other.test"))
    assert bad["result"] == "invalid_presentation"
    # No key binding at all.
    unbound = SDJWTHolder(issued)
    unbound.create_presentation({"competences": disclose})
    assert _verify(client, unbound.sd_jwt_presentation)["result"] == "invalid_presentation"
    # Signed by another key than the credential's.
    thief = Holder()
    stolen = _verify(client, _present(client, issued, thief, disclose))
    assert stolen["result"] == "invalid_presentation"
    # A tampered disclosure (level raised), and one added that the issuer never signed.
    good = _present(client, issued, holder, disclose)
    parts = good.split("~")
    value = json.loads(base64.urlsafe_b64decode(parts[1] + "=="))
    value[1]["niveau"] = 8
    tampered = _b64(json.dumps(value).encode())
    assert _verify(client, "~".join([parts[0], tampered, *parts[2:]]))["result"] == (
        "bad_signature"
    )
    added = _b64(json.dumps(["salt", {"code": "crcn:3.4", "niveau": 8}]).encode())
    forged = "~".join([parts[0], *parts[1:-1], added, ""])
    # The key binding is remade over the forged set: only the disclosure check can catch it.
    nonce = _nonce(client)
    sd_hash = _b64(hashlib.sha256(forged.encode()).digest())
    kb = holder.sign(
        {"typ": "kb+jwt", "alg": "ES256"},
        {
            "iat": int(time.time()),
            "aud": nonce["audience"],
            "nonce": nonce["nonce"],
            "sd_hash": sd_hash,
        },
    )
    assert _verify(client, forged + kb)["result"] == "bad_signature"
    assert settings.public_url == nonce["audience"]


def test_revoked_in_the_ui_is_revoked_in_the_wallet(client: TestClient, world: World) -> None:
    issued, holder = _issued(client, world)
    listed = client.get(
        f"/api/v1/passports/{world.passport.id}/credentials",
        headers=world.headers["mediator_of_structure"],
    ).json()
    copy = next(c for c in listed if c["format"] == "dc+sd-jwt")
    revoked = client.post(
        f"/api/v1/passports/{world.passport.id}/credentials/{copy['id']}/revoke",
        json={"reason": "holder_request"},
        headers=world.headers["mediator_of_structure"],
    )
    assert revoked.status_code == 200, revoked.text
    verdict = _verify(client, _present(client, issued, holder, [True] * 5, names=True))
    assert verdict["result"] == "revoked"
    assert verdict["holder_name"] is None and verdict["skills"] == []


def test_untrusted_issuer(client: TestClient, world: World) -> None:
    issued, holder = _issued(client, world)
    _header, payload, _sig = issued.split("~")[0].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["iss"] = "https://stranger.test/wallet/x"
    rogue = jwk.JWK.generate(kty="EC", crv="P-256")
    token = jws.JWS(json.dumps(claims).encode())
    token.add_signature(
        rogue, alg="ES256", protected=json.dumps({"alg": "ES256", "typ": "dc+sd-jwt", "kid": "k"})
    )
    forged = "~".join([token.serialize(compact=True), *issued.split("~")[1:]])
    verdict = _verify(client, _present(client, forged, holder, [True]))
    assert verdict["result"] == "untrusted_issuer"


def test_erasure_forgets_offers(client: TestClient, world: World, engine: sa.Engine) -> None:
    _validate(client, world, SKILLS[:1])
    _offer(client, world, skills=SKILLS[:1])
    response = client.post(
        f"/api/v1/passports/{world.passport.id}/erasure",
        json={"reason": "request"},
        headers=world.headers["territory_admin"],
    )
    assert response.status_code == 200, response.text
    with Session(engine) as session:
        assert session.exec(select(WalletOffer)).all() == []


# --- Refusals found by an outside test (hostile review, 2026-12-06) ------------------------------


def test_refused_before_the_wallet_code_runs_still_an_oauth_refusal(
    client: TestClient, world: World
) -> None:
    """A body the server cannot read (invalid UTF-8) or too large for it is refused by layers
    before the wallet's routes: the wallet still reads `error` in application/json."""
    unreadable = client.post(
        "/wallet/ta/credential",
        content=b'{"proofs": {"jwt": ["\xff"]}}',
        headers={"Content-Type": "application/json", "Authorization": "Bearer x"},
    )
    assert unreadable.status_code == 400, unreadable.text
    assert unreadable.headers["content-type"] == "application/json"
    assert unreadable.json()["error"] == "invalid_credential_request"
    large = client.post(
        "/wallet/ta/token",
        content=b"x" * (3 * 1024 * 1024),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert large.status_code == 413, large.text
    assert large.headers["content-type"] == "application/json"
    assert large.json()["error"] == "invalid_request"
    # Elsewhere the API keeps problem+json.
    elsewhere = client.post(
        "/api/v1/verify",
        content=b'{"code": "\xff"}',
        headers={"Content-Type": "application/json"},
    )
    assert elsewhere.headers["content-type"] == PROBLEM


def test_a_skill_withdrawn_since_the_offer_is_a_400_for_the_wallet(
    client: TestClient, world: World
) -> None:
    _offer_made, issuer, access = _access(client, world)
    view = client.get(
        f"/api/v1/passports/{world.passport.id}", headers=world.headers["mediator_of_structure"]
    ).json()
    for validation in view["validations"]:
        withdrawn = client.post(
            f"/api/v1/passports/{world.passport.id}/validations/{validation['id']}/withdraw",
            json={"reason": "Erreur de saisie"},
            headers=world.headers["mediator_of_structure"],
        )
        assert withdrawn.status_code == 200, withdrawn.text
    holder = Holder()
    response = _ask(client, access, holder.proof(issuer, _c_nonce(client, issuer)))
    _problem(response, 400, "skill_not_validated", "invalid_credential_request")


def test_an_offer_whose_passport_was_merged_gets_no_token(
    client: TestClient, world: World, engine: sa.Engine
) -> None:
    _validate(client, world, SKILLS[:1])
    offer = _offer(client, world, skills=SKILLS[:1])
    other = make_passport(engine, world.a, world.a1, last_name="Autre")
    merged = client.post(
        f"/api/v1/passports/{other.id}/merge",
        json={"absorb_id": world.passport.id},
        headers=world.headers["territory_admin"],
    )
    assert merged.status_code == 200, merged.text
    _problem(_token(client, offer), 400, "wallet_offer_unknown", "invalid_grant")


def test_an_offer_request_is_read_strictly(client: TestClient, world: World) -> None:
    _validate(client, world, SKILLS[:1])
    url = f"/api/v1/passports/{world.passport.id}/wallet-offers"
    headers = world.headers["mediator_of_structure"]
    for body in (
        {"skills": SKILLS[:1], "include_name": "yes"},
        {"skills": SKILLS[:1], "passport_id": 4},
    ):
        response = client.post(url, json=body, headers=headers)
        _problem(response, 422, "validation_error")
