"""The verifier's bundle: trusted issuers, their keys, their signed status lists."""

from __future__ import annotations

import base64
import json
import zlib
from typing import Any

import jwt as pyjwt
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.credentials import format as fmt
from app.credentials import keys
from app.credentials.statuslist import StatusList, verify_status_list_jwt
from app.credentials.verifier import status_uri
from tests.factories import World, make_world, record_validation


def _issue(client: TestClient, world: World) -> dict[str, Any]:
    record_validation(client, world)
    issued = client.post(
        f"/api/v1/passports/{world.passport.id}/credentials",
        json={"skills": ["pp:PP-06"]},
        headers=world.headers["mediator_of_structure"],
    )
    assert issued.status_code == 201, issued.text
    return dict(issued.json())


def _bit(token: str, jwks: dict[str, Any], uri: str, idx: int) -> int:
    # Checked with PyJWT, an implementation other than ours, then the bit read with ours.
    header = pyjwt.get_unverified_header(token)
    assert header["typ"] == "statuslist+jwt"
    key = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    claims = pyjwt.decode(
        token, pyjwt.PyJWK(key).key, algorithms=["ES256"], options={"verify_aud": False}
    )
    assert claims["sub"] == uri
    theirs = StatusList.decode(claims["status_list"]["lst"], claims["status_list"]["bits"]).get(idx)
    ours = verify_status_list_jwt(token, keys.trust_keys(jwks), uri=uri).get(idx)
    assert theirs == ours
    return theirs


def test_the_bundle_lists_every_territory_and_shows_a_revocation_at_once(
    client: TestClient, engine: sa.Engine
) -> None:
    world = make_world(engine)
    before = client.get("/api/v1/trust/bundle")
    assert before.status_code == 200
    assert before.headers["access-control-allow-origin"] == "*"
    body = before.json()
    assert body["trust_list"] is None and body["max_age"] > 0
    by_iss = {i["iss"]: i for i in body["issuers"]}
    assert set(by_iss) == {world.a.issuer_url, world.b.issuer_url}
    # Nothing signed yet: no key, no list, and asking created none.
    assert by_iss[world.a.issuer_url] == {
        "iss": world.a.issuer_url,
        "name": world.a.name,
        "jwks": {"keys": []},
        "status_lists": [],
        "source": "local",
    }

    issued = _issue(client, world)
    header_b64, payload_b64, _ = fmt.qr_text_to_jws(issued["qr_text"]).split(".")
    header = json.loads(base64.urlsafe_b64decode(header_b64 + "=="))
    claims = json.loads(zlib.decompress(base64.urlsafe_b64decode(payload_b64 + "=="), wbits=-15))
    idx = claims["status"]["status_list"]["idx"]
    a = {i["iss"]: i for i in client.get("/api/v1/trust/bundle").json()["issuers"]}[
        world.a.issuer_url
    ]
    assert [k["kid"] for k in a["jwks"]["keys"]] == [header["kid"]]
    (listed,) = a["status_lists"]
    assert listed["uri"] == status_uri(world.a.issuer_url) == claims["status"]["status_list"]["uri"]
    assert _bit(listed["token"], a["jwks"], listed["uri"], idx) == 0
    # The keys match what the issuer publishes itself.
    assert a["jwks"] == client.get("/t/ta/.well-known/jwks.json").json()

    revoked = client.post(
        f"/api/v1/passports/{world.passport.id}/credentials/{issued['id']}/revoke",
        json={},
        headers=world.headers["mediator_of_structure"],
    )
    assert revoked.status_code == 200
    a = {i["iss"]: i for i in client.get("/api/v1/trust/bundle").json()["issuers"]}[
        world.a.issuer_url
    ]
    assert _bit(a["status_lists"][0]["token"], a["jwks"], listed["uri"], idx) == 1
