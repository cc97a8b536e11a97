"""Issuing, verifying and revoking credentials through the API; checked by other JOSE libraries."""

from __future__ import annotations

import base64
import io
import json
import zlib
from datetime import date
from typing import Any

import jwcrypto.jwk
import jwcrypto.jws
import jwt as pyjwt
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from fastapi.testclient import TestClient
from joserfc.jwk import ECKey
from PIL import Image
from sqlmodel import Session, select

from app.accounts.models import Role
from app.api.deps import get_verifier
from app.audit.models import AuditEvent
from app.core.settings import Settings
from app.credentials import format as fmt
from app.credentials.models import Credential
from app.credentials.statuslist import verify_status_list_jwt
from app.main import create_app
from app.observatory.tally import TALLY
from tests.factories import (
    ACCESS_CODE,
    World,
    bearer,
    make_account,
    make_passport,
    make_structure,
    make_world,
)
from tests.qr import decode_qr

PROBLEM = "application/problem+json"


@pytest.fixture
def world(engine: sa.Engine) -> World:
    return make_world(engine)


def _problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body


def _validate(client: TestClient, world: World, code: str, level: int | None = None) -> None:
    response = client.post(
        f"/api/v1/passports/{world.passport.id}/validations",
        json={
            "skill_code": code,
            "level": level,
            "method": "observation",
            "observed_on": date.today().isoformat(),
            "structure_id": world.a1.id,
        },
        headers=world.headers["mediator_of_structure"],
    )
    assert response.status_code == 201, response.text


def _issue(client: TestClient, world: World, **body: Any) -> dict[str, Any]:
    response = client.post(
        f"/api/v1/passports/{world.passport.id}/credentials",
        json={"skills": ["pp:PP-06", "crcn:4.1"], **body},
        headers=world.headers["mediator_of_structure"],
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def _verify(client: TestClient, qr_text: str) -> dict[str, Any]:
    response = client.post("/api/v1/verify", json={"qr_text": qr_text})
    assert response.status_code == 200, response.text
    return dict(response.json())


def _public_keys(client: TestClient, code: str = "ta") -> dict[str, Any]:
    response = client.get(f"/t/{code}/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    return dict(response.json())


def test_issue_verify_and_read_back_everywhere(client: TestClient, world: World) -> None:
    _validate(client, world, "pp:PP-06")
    _validate(client, world, "crcn:4.1", 3)
    issued = _issue(client, world, include_name=True)
    qr_text = issued["qr_text"]
    assert qr_text.startswith(fmt.PREFIX) and issued["qr_version"] <= fmt.TARGET_QR_VERSION
    # Read from the segments' lengths at issuance; the built matrix must agree.
    assert issued["qr_version"] == fmt.make_qr(qr_text).version

    verdict = _verify(client, qr_text)
    assert verdict["result"] == "valid", verdict
    assert verdict["territory"] == "Territoire ta"
    assert verdict["holder_name"] == "Lucie Martin"
    assert {(s["code"], s["level"]) for s in verdict["skills"]} == {
        ("pp:PP-06", 2),
        ("crcn:4.1", 3),
    }
    assert all(s["label_fr"] and s["structure"] for s in verdict["skills"])

    # Two independent JOSE implementations accept the signature with the published key.
    jwk = _public_keys(client)["keys"][0]
    assert "d" not in jwk and jwk["use"] == "sig" and jwk["alg"] == "ES256"
    token = fmt.qr_text_to_jws(qr_text)
    public_key = pyjwt.algorithms.ECAlgorithm.from_jwk(json.dumps(jwk))
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    payload = pyjwt.api_jws.PyJWS().decode(token, key=public_key, algorithms=["ES256"])
    claims = json.loads(zlib.decompress(payload, wbits=-15))
    assert claims["iss"].endswith("/t/ta") and claims["n"] == "Lucie Martin"
    signed = jwcrypto.jws.JWS()
    signed.deserialize(token)
    signed.verify(jwcrypto.jwk.JWK(**jwk))
    # The holder is pseudonymous: the passport number is nowhere in the credential.
    assert world.passport.number not in json.dumps(claims)

    # A real decoder reads the QR image back to the same text.
    image = Image.open(io.BytesIO(fmt.qr_png(qr_text)))
    assert decode_qr(image) == [qr_text]


def test_only_validated_skills_and_nothing_else(client: TestClient, world: World) -> None:
    _validate(client, world, "pp:PP-06")
    _problem(
        client.post(
            f"/api/v1/passports/{world.passport.id}/credentials",
            json={"skills": ["pp:PP-06", "crcn:5.2"]},
            headers=world.headers["mediator_of_structure"],
        ),
        422,
        "skill_not_validated",
    )
    _problem(
        client.post(
            f"/api/v1/passports/{world.passport.id}/credentials",
            json={"skills": []},
            headers=world.headers["mediator_of_structure"],
        ),
        422,
        "validation_error",
    )
    issued = _issue(client, world, skills=["pp:PP-06"])
    claims = json.loads(
        zlib.decompress(
            base64.urlsafe_b64decode(fmt.qr_text_to_jws(issued["qr_text"]).split(".")[1] + "=="),
            wbits=-15,
        )
    )
    assert [s[0] for s in claims["sk"]] == ["pp:PP-06"]
    assert "n" not in claims  # no name unless the holder chose it


def test_revocation_shows_in_the_status_list_and_the_verdict(
    client: TestClient, world: World
) -> None:
    _validate(client, world, "pp:PP-06")
    _validate(client, world, "crcn:4.1", 2)
    issued = _issue(client, world)
    revoked = client.post(
        f"/api/v1/passports/{world.passport.id}/credentials/{issued['id']}/revoke",
        json={"reason": "holder_request"},
        headers=world.headers["mediator_of_structure"],
    )
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert _verify(client, issued["qr_text"])["result"] == "revoked"
    _problem(
        client.post(
            f"/api/v1/passports/{world.passport.id}/credentials/{issued['id']}/revoke",
            json={},
            headers=world.headers["mediator_of_structure"],
        ),
        409,
        "already_revoked",
    )
    # The published list says so too, signed by the issuer's published key.
    listed = client.get("/t/ta/status/1")
    assert listed.status_code == 200
    assert listed.headers["content-type"].startswith("application/statuslist+jwt")
    assert "max-age=" in listed.headers["cache-control"]
    keys = {k["kid"]: ECKey.import_key(k) for k in _public_keys(client)["keys"]}
    claims = fmt.parse_claims(
        json.loads(
            zlib.decompress(
                base64.urlsafe_b64decode(
                    fmt.qr_text_to_jws(issued["qr_text"]).split(".")[1] + "=="
                ),
                wbits=-15,
            )
        )
    )
    bits = verify_status_list_jwt(listed.text, keys, uri=claims.status.uri)
    assert bits.get(claims.status.idx) == 1


def test_a_status_list_is_cached_no_longer_than_its_own_ttl(
    settings: Settings, world: World
) -> None:
    # PASSEPORT_STATUS_TTL_SECONDS sets both the signed token's ttl and the HTTP cache's max-age:
    # a cache must not keep a list after a verifier would have asked for it again.
    app = create_app(settings.model_copy(update={"status_ttl_seconds": 42}), configure_logs=False)
    try:
        with TestClient(app) as client:
            listed = client.get("/t/ta/status/1")
    finally:
        app.state.engine.dispose()
    assert listed.status_code == 200, listed.text
    assert listed.headers["cache-control"] == "public, max-age=42"
    claims = pyjwt.decode(listed.text, options={"verify_signature": False})
    assert claims["ttl"] == 42


def test_the_citizen_issues_lists_and_revokes(client: TestClient, world: World) -> None:
    _validate(client, world, "pp:PP-12")
    citizen = TestClient(client.app)
    login = citizen.post(
        "/api/v1/citizen/login", json={"number": world.passport.number, "code": ACCESS_CODE}
    ).json()
    csrf = {"X-CSRF-Token": login["csrf_token"]}
    mine = citizen.post("/api/v1/citizen/credentials", json={"skills": ["pp:PP-12"]}, headers=csrf)
    assert mine.status_code == 201, mine.text
    listed = citizen.get("/api/v1/citizen/credentials").json()
    assert [c["id"] for c in listed] == [mine.json()["id"]]
    gone = citizen.post(
        f"/api/v1/citizen/credentials/{mine.json()['id']}/revoke", json={}, headers=csrf
    )
    assert gone.status_code == 200
    assert _verify(client, mine.json()["qr_text"])["result"] == "revoked"
    # The coordinator's journal says who revoked it: the person, not "the system".
    journal = client.get(
        "/api/v1/territories/ta/audit?action=credential.revoked",
        headers=world.headers["territory_admin"],
    ).json()
    assert [(e["actor_account_id"], e["details"]["by"]) for e in journal] == [(None, "citizen")]


def test_erasure_revokes_every_credential(
    client: TestClient, world: World, engine: sa.Engine
) -> None:
    _validate(client, world, "pp:PP-06")
    issued = _issue(client, world, skills=["pp:PP-06"], include_name=True)
    erased = client.post(
        f"/api/v1/passports/{world.passport.id}/erasure",
        json={"reason": "request"},
        headers=world.headers["territory_admin"],
    )
    assert erased.status_code == 200, erased.text
    # The paper QR still says revoked, and no longer whose it was.
    verdict = _verify(client, issued["qr_text"])
    assert verdict["result"] == "revoked" and verdict["holder_name"] is None
    assert verdict["skills"][0]["code"] == "pp:PP-06"
    # The code typed from the paper finds nothing, as a code never issued.
    _problem(client.post("/api/v1/verify", json={"code": issued["code"]}), 404, "unknown_code")
    with engine.connect() as conn:
        kept = conn.execute(
            sa.text("SELECT id, qr_text, revoked_at, code, jti FROM credential")
        ).one()
    assert kept.qr_text is None and kept.revoked_at is not None
    assert kept.code == f"X{kept.id:09X}" and kept.jti not in (issued["jti"], None)


def test_a_revoked_credential_shows_no_name(client: TestClient, world: World) -> None:
    _validate(client, world, "pp:PP-06")
    issued = _issue(client, world, skills=["pp:PP-06"], include_name=True)
    assert _verify(client, issued["qr_text"])["holder_name"] == "Lucie Martin"
    revoked = client.post(
        f"/api/v1/passports/{world.passport.id}/credentials/{issued['id']}/revoke",
        json={},
        headers=world.headers["mediator_of_structure"],
    )
    assert revoked.status_code == 200, revoked.text
    verdict = _verify(client, issued["qr_text"])
    assert verdict["result"] == "revoked" and verdict["holder_name"] is None


def test_foreign_and_garbage_credentials(client: TestClient, world: World) -> None:
    stranger = ECKey.generate_key("P-256", private=True)
    claims = fmt.build_claims(
        iss="https://elsewhere.test/t/x",
        sub="abc",
        jti="j1",
        iat=1_700_000_000,
        exp=4_000_000_000,
        skills=[fmt.SkillClaim(code="crcn:4.1", level=2, date=date.today(), structure="Ailleurs")],
        fv={"crcn": "2019"},
        status_uri="https://elsewhere.test/t/x/status/1",
        status_idx=1,
    )
    foreign = fmt.jws_to_qr_text(fmt.sign(claims, stranger))
    assert _verify(client, foreign)["result"] == "untrusted_issuer"
    for garbage, result in (("PN1:123", "malformed"), ("HC1:0000", "malformed"), ("", "malformed")):
        assert _verify(client, garbage)["result"] == result
    _problem(client.post("/api/v1/verify", json={"qr_text": "9" * 5000}), 422, "validation_error")


def test_typed_code_and_qr_images(client: TestClient, world: World) -> None:
    _validate(client, world, "pp:PP-06")
    issued = _issue(client, world, skills=["pp:PP-06"])
    code = issued["code"]
    assert code.startswith("V-") and len(code) == 10
    # People type it as they read it: lower case, spaces, no dash.
    typed = _verify_code(client, code.lower().replace("-", " "))
    assert typed["result"] == "valid" and typed["skills"][0]["code"] == "pp:PP-06"
    typo = _verify_code(client, "V-" + "B" * 8)  # a wrong check character: a typing mistake
    assert typo["result"] == "malformed" and "typing mistake" in typo["reason"]
    short = _verify_code(client, code[:-1])
    assert (
        short["result"] == "malformed" and "8 characters after its prefix, not 7" in short["reason"]
    )
    unknown = client.post("/api/v1/verify", json={"code": "V-2345678" + _check("2345678")})
    _problem(unknown, 404, "unknown_code")
    _problem(client.post("/api/v1/verify", json={}), 422, "validation_error")
    _problem(
        client.post("/api/v1/verify", json={"qr_text": "PN1:00", "code": code}),
        422,
        "validation_error",
    )

    base = f"/api/v1/passports/{world.passport.id}/credentials/{issued['id']}"
    png = client.get(f"{base}/qr.png", headers=world.headers["mediator_of_structure"])
    assert png.headers["content-type"] == "image/png"
    assert png.headers["cache-control"] == "private, no-store"
    assert decode_qr(Image.open(io.BytesIO(png.content))) == [issued["qr_text"]]
    svg = client.get(f"{base}/qr.svg", headers=world.headers["mediator_of_structure"])
    assert svg.headers["content-type"].startswith("image/svg+xml") and b"<svg" in svg.content
    _problem(
        client.get(f"{base}/qr.gif", headers=world.headers["mediator_of_structure"]),
        422,
        "validation_error",
    )

    # After erasure the typed code finds nothing: it would lead back to the person (issue 12).
    client.post(
        f"/api/v1/passports/{world.passport.id}/erasure",
        json={"reason": "request"},
        headers=world.headers["territory_admin"],
    )
    _problem(client.post("/api/v1/verify", json={"code": code}), 404, "unknown_code")


def _verify_code(client: TestClient, code: str) -> dict[str, Any]:
    response = client.post("/api/v1/verify", json={"code": code})
    assert response.status_code == 200, response.text
    return dict(response.json())


def _check(body: str) -> str:
    from app.passports.numbers import check_character

    return check_character(body)


def test_printable_attestation(client: TestClient, world: World) -> None:
    _validate(client, world, "pp:PP-06")
    issued = _issue(client, world, skills=["pp:PP-06"], include_name=True)
    url = f"/api/v1/passports/{world.passport.id}/credentials/{issued['id']}/attestation.pdf"
    pdf = client.get(url, headers=world.headers["mediator_of_structure"])
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    assert issued["code"] in pdf.headers["content-disposition"]
    assert pdf.headers["cache-control"] == "no-store"
    _problem(
        client.get(url, headers=world.headers["mediator_other_territory"]), 404, "unknown_passport"
    )


def test_command_line_issues_every_file(
    world: World, database_url: str, client: TestClient, tmp_path: Any
) -> None:
    from tests.servers import passeport_env, run_cli

    _validate(client, world, "pp:PP-06")
    _validate(client, world, "crcn:4.1", 2)
    out = tmp_path / "out"
    result = run_cli(
        "credential",
        "issue",
        "--passport",
        world.passport.number,
        "--out",
        str(out),
        env=passeport_env(database_url),
    )
    assert result.returncode == 0, result.stderr
    assert "2 skill(s)" in result.stdout
    qr_text = (out / "credential.txt").read_text().strip()
    assert _verify(client, qr_text)["result"] == "valid"
    assert decode_qr(Image.open(out / "credential.png")) == [qr_text]
    assert (out / "credential.svg").read_text().startswith("<?xml") or b"<svg" in (
        out / "credential.svg"
    ).read_bytes()
    assert (out / "attestation.pdf").read_bytes().startswith(b"%PDF-")
    refused = run_cli(
        "credential",
        "issue",
        "--passport",
        "P-BBBBBBBB",
        "--out",
        str(out),
        env=passeport_env(database_url),
    )
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    # A check character that caught a typo is said to be a typo, not "not a number".
    assert "'P-BBBBBBBB': this passport number has a typing mistake" in refused.stderr


def test_command_line_names_the_passport_a_merged_one_went_into(
    world: World, database_url: str, client: TestClient, engine: sa.Engine, tmp_path: Any
) -> None:
    from tests.servers import passeport_env, run_cli

    dup = make_passport(engine, world.a, world.a1, last_name="Martin-Doublon")
    merged = client.post(
        f"/api/v1/passports/{world.passport.id}/merge",
        json={"absorb_id": dup.id},
        headers=world.headers["territory_admin"],
    )
    assert merged.status_code == 200, merged.text
    refused = run_cli(
        "credential",
        "issue",
        "--passport",
        dup.number,
        "--out",
        str(tmp_path / "out"),
        env=passeport_env(database_url),
    )
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert refused.stderr.strip() == (
        f"passeport: error: This passport was merged into {world.passport.number}."
    )
    assert not (tmp_path / "out").exists()


def test_a_credential_too_large_for_a_printed_qr_is_refused_and_leaves_nothing(
    client: TestClient, world: World, engine: sa.Engine
) -> None:
    premiers_pas = [f"pp:PP-{n:02d}" for n in range(1, 21)]
    crcn = [
        f"crcn:{d}.{c}"
        for d, n in ((1, 3), (2, 4), (3, 4), (4, 3), (5, 2))
        for c in range(1, n + 1)
    ]
    # Long, distinct structure names are what makes a credential big: each is carried once.
    places = [
        make_structure(engine, world.a, f"{town} — Espace France services et tiers-lieu numérique")
        for town in (
            "Saint-Laurent-du-Maroni",
            "Maripasoula",
            "Saint-Georges",
            "Apatou",
            "Iracoubo",
        )
    ]
    mediator = make_account(engine, Role.MEDIATOR, world.a, places)
    headers = bearer(engine, mediator)
    for n, code in enumerate(premiers_pas + crcn):
        response = client.post(
            f"/api/v1/passports/{world.passport.id}/validations",
            json={
                "skill_code": code,
                "level": None if code.startswith("pp:") else 1 + n % 8,
                "method": "observation",
                "observed_on": date.fromordinal(date.today().toordinal() - 17 * n).isoformat(),
                "structure_id": places[n % len(places)].id,
            },
            headers=headers,
        )
        assert response.status_code == 201, response.text
    # Twelve skills from two places fit the version the format is sized for: no warning.
    everything = premiers_pas + crcn
    twelve = _issue(client, world, skills=[c for n, c in enumerate(everything) if n % 5 < 2][:12])
    assert twelve["qr_version"] <= fmt.TARGET_QR_VERSION, twelve["qr_version"]
    assert twelve["warnings"] == []
    # ... because the structure names were shortened to fit, the skills left whole.
    payload = fmt.qr_text_to_jws(twelve["qr_text"]).split(".")[1]
    claims = json.loads(zlib.decompress(base64.urlsafe_b64decode(payload + "=="), wbits=-15))
    assert len(claims["sk"]) == 12
    assert all(name.endswith("…") and len(name) < 60 for name in claims["st"])
    # Twenty are above it but still printable: issued, with a warning.
    dense = _issue(client, world, skills=everything[:20])
    assert fmt.TARGET_QR_VERSION < dense["qr_version"] <= fmt.MAX_QR_VERSION, dense["qr_version"]
    assert dense["warnings"] == ["qr_dense"]
    with Session(engine) as session:
        before = len(session.exec(select(Credential)).all())
        journal = len(session.exec(select(AuditEvent)).all())
    refused = _problem(
        client.post(
            f"/api/v1/passports/{world.passport.id}/credentials",
            json={"skills": everything, "include_name": True},
            headers=world.headers["mediator_of_structure"],
        ),
        422,
        "credential_too_large",
    )
    assert refused["qr_version"] > fmt.MAX_QR_VERSION and "name" in refused["detail"]
    with Session(engine) as session:
        assert len(session.exec(select(Credential)).all()) == before
        assert len(session.exec(select(AuditEvent)).all()) == journal


def test_every_verification_is_counted_by_verdict_and_channel_only(
    client: TestClient, world: World
) -> None:
    from app.observatory.tally import TALLY

    _validate(client, world, "pp:PP-06")
    issued = _issue(client, world, skills=["pp:PP-06"])
    today = date.today()

    def count(result: str, channel: str) -> int:
        return TALLY.pending().get((today, result, channel), 0)

    before = (count("valid", "qr"), count("valid", "code"), count("malformed", "qr"))
    _verify(client, issued["qr_text"])
    _verify_code(client, issued["code"])
    _verify(client, "PN1:00")
    after = (count("valid", "qr"), count("valid", "code"), count("malformed", "qr"))
    assert [b - a for a, b in zip(before, after, strict=True)] == [1, 1, 1]
    # Nothing else is kept: no credential, no caller, only day, verdict and channel.
    assert all(len(key) == 3 for key in TALLY.pending())


def test_verification_from_memory_answers_as_the_route_does(
    app: FastAPI, client: TestClient, world: World
) -> None:
    """POST /verify in steady state is answered before routing (app/credentials/fast_verify.py):
    the same verdict, bytes and headers as the route's; anything it cannot answer from memory,
    errors included, is the route's."""
    _validate(client, world, "pp:PP-06")
    issued = _issue(client, world, skills=["pp:PP-06"], include_name=True)
    verifier = app.state.verifier
    bodies = ({"qr_text": issued["qr_text"]}, {"code": issued["code"]})

    # Through the route: the snapshot is rebuilt there (the code is learnt there too).
    verifier.trusted.invalidate()
    by_route = [client.post("/api/v1/verify", json=body) for body in bodies]

    # Now everything is in memory. Were the route reached, it would fail: it asks for the
    # verifier through this dependency.
    def broken() -> None:
        raise RuntimeError("the route was reached")

    today = date.today()
    counted = TALLY.pending().get((today, "valid", "qr"), 0)
    app.dependency_overrides[get_verifier] = broken
    try:
        from_memory = [client.post("/api/v1/verify", json=body) for body in bodies]
        for route, memory in zip(by_route, from_memory, strict=True):
            assert memory.status_code == route.status_code == 200, memory.text
            assert memory.content == route.content
            assert memory.json()["result"] == "valid"
            assert memory.headers["content-type"] == route.headers["content-type"]
            assert memory.headers["x-request-id"] != route.headers["x-request-id"]
        # Same with a charset, or no content type at all (FastAPI reads both as JSON).
        for headers in ({"content-type": "application/json; charset=utf-8"}, {}):
            raw = client.post(
                "/api/v1/verify", content=json.dumps(bodies[0]).encode(), headers=headers
            )
            assert raw.status_code == 200 and raw.content == by_route[0].content
        # What memory cannot answer goes on to the route (broken here: a 500 problem).
        verifier.trusted.invalidate()
        _problem(client.post("/api/v1/verify", json=bodies[0]), 500, "internal_error")
    finally:
        app.dependency_overrides.clear()
    # Invalid bodies are the route's problems, whatever the path taken.
    for content, headers in (
        (b"{", {"content-type": "application/json"}),
        (b'{"qr_text": "PN1:00", "code": "V-1"}', {}),
        (json.dumps({"qr_text": "9" * 5000}).encode(), {}),
        (b"NaN", {}),
        (json.dumps(bodies[0]).encode(), {"content-type": "text/plain"}),
    ):
        response = client.post("/api/v1/verify", content=content, headers=headers)
        assert response.status_code == 422, (content, response.text)
        assert response.headers["content-type"] == PROBLEM
    # The answers from memory were counted like the route's (by verdict and channel): one by
    # QR above, then two more.
    assert TALLY.pending().get((today, "valid", "qr"), 0) - counted == 3
