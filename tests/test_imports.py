"""Importing another territory's verified credential into a passport here."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.audit.models import AuditEvent
from app.passports.models import AccessLog, Validation
from tests.factories import World, make_passport, make_world


@pytest.fixture
def world(engine: sa.Engine) -> World:
    return make_world(engine)


def _credential(client: TestClient, world: World) -> dict[str, Any]:
    """Territory A's passport: two skills validated at a1, issued as a credential."""
    for code, level, days in (("pp:PP-06", None, 40), ("crcn:4.1", 3, 10)):
        recorded = client.post(
            f"/api/v1/passports/{world.passport.id}/validations",
            json={
                "skill_code": code,
                "level": level,
                "method": "observation",
                "observed_on": (date.today() - timedelta(days=days)).isoformat(),
                "structure_id": world.a1.id,
            },
            headers=world.headers["mediator_of_structure"],
        )
        assert recorded.status_code == 201, recorded.text
    issued = client.post(
        f"/api/v1/passports/{world.passport.id}/credentials",
        json={"skills": ["pp:PP-06", "crcn:4.1"]},
        headers=world.headers["mediator_of_structure"],
    )
    assert issued.status_code == 201, issued.text
    return dict(issued.json())


def _import(client: TestClient, passport_id: int, qr_text: str, headers: dict[str, str]) -> Any:
    return client.post(
        f"/api/v1/passports/{passport_id}/imports", json={"qr_text": qr_text}, headers=headers
    )


def _rows(engine: sa.Engine, passport_id: int) -> list[Validation]:
    with Session(engine) as session:
        return list(
            session.exec(select(Validation).where(Validation.passport_id == passport_id)).all()
        )


def test_import_keeps_provenance_and_a_second_import_changes_nothing(
    client: TestClient, world: World, engine: sa.Engine
) -> None:
    issued = _credential(client, world)
    here = make_passport(engine, world.b, world.b1, last_name="Nguyen")
    headers = world.headers["mediator_other_territory"]

    first = _import(client, here.id or 0, issued["qr_text"], headers)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["issuer"] == world.a.issuer_url and body["territory"] == world.a.name
    assert body["credential_id"] == issued["jti"]
    assert body["already_imported"] == [] and body["skipped"] == []
    by_code = {v["skill_code"]: v for v in body["imported"]}
    assert set(by_code) == {"pp:PP-06", "crcn:4.1"}
    assert by_code["crcn:4.1"]["level"] == 3 and by_code["crcn:4.1"]["method"] == "credential"
    assert by_code["crcn:4.1"]["observed_on"] == (date.today() - timedelta(days=10)).isoformat()
    assert by_code["crcn:4.1"]["structure_name"] == world.a1.nom
    assert by_code["crcn:4.1"]["source_issuer"] == world.a.issuer_url

    # The passport shows them as its own current levels.
    view = client.get(f"/api/v1/passports/{here.id}", headers=headers).json()
    assert "crcn:4.1" in str(view) and "pp:PP-06" in str(view)

    again = _import(client, here.id or 0, issued["qr_text"], headers)
    assert again.status_code == 200, again.text
    assert again.json()["imported"] == []
    assert sorted(again.json()["already_imported"]) == ["crcn:4.1", "pp:PP-06"]
    rows = _rows(engine, here.id or 0)
    assert len(rows) == 2
    assert {r.source_credential_id for r in rows} == {issued["jti"]}
    with Session(engine) as session:
        actions = session.exec(
            select(AccessLog.action).where(AccessLog.passport_id == here.id)
        ).all()
        assert actions.count("validation.imported") == 1
        events = session.exec(
            select(AuditEvent).where(AuditEvent.action == "credential.imported")
        ).all()
        assert len(events) == 1


def test_only_a_valid_credential_is_imported_and_nothing_is_left_behind(
    client: TestClient, world: World, engine: sa.Engine
) -> None:
    issued = _credential(client, world)
    here = make_passport(engine, world.b, world.b1, last_name="Nguyen")
    headers = world.headers["mediator_other_territory"]

    garbage = _import(client, here.id or 0, "PN1:" + "56" * 40, headers)
    assert garbage.status_code == 422
    assert garbage.headers["content-type"] == "application/problem+json"
    assert garbage.json()["code"] == "credential_not_valid"
    assert garbage.json()["result"] == "malformed"

    revoked = client.post(
        f"/api/v1/passports/{world.passport.id}/credentials/{issued['id']}/revoke",
        json={},
        headers=world.headers["mediator_of_structure"],
    )
    assert revoked.status_code == 200
    refused = _import(client, here.id or 0, issued["qr_text"], headers)
    assert refused.status_code == 422
    assert (refused.json()["code"], refused.json()["result"]) == ("credential_not_valid", "revoked")
    assert _rows(engine, here.id or 0) == []


def test_a_credential_is_not_imported_into_its_own_passport_nor_by_an_outsider(
    client: TestClient, world: World, engine: sa.Engine
) -> None:
    issued = _credential(client, world)
    own = _import(
        client, world.passport.id or 0, issued["qr_text"], world.headers["mediator_of_structure"]
    )
    assert own.status_code == 422 and own.json()["code"] == "own_credential"
    here = make_passport(engine, world.b, world.b1, last_name="Nguyen")
    # A mediator of territory A does not see territory B's passport.
    outsider = _import(
        client, here.id or 0, issued["qr_text"], world.headers["mediator_of_structure"]
    )
    assert outsider.status_code == 404 and outsider.json()["code"] == "unknown_passport"
    oversized = _import(
        client, here.id or 0, "PN1:" + "1" * 9000, world.headers["mediator_other_territory"]
    )
    assert oversized.status_code == 422 and oversized.json()["code"] == "validation_error"
    assert len(_rows(engine, world.passport.id or 0)) == 2  # the two it was issued from


def test_an_imported_skill_can_be_issued_again_by_the_importing_territory(
    client: TestClient, world: World, engine: sa.Engine
) -> None:
    issued = _credential(client, world)
    here = make_passport(engine, world.b, world.b1, last_name="Nguyen")
    headers = world.headers["mediator_other_territory"]
    assert _import(client, here.id or 0, issued["qr_text"], headers).status_code == 201
    again = client.post(
        f"/api/v1/passports/{here.id}/credentials",
        json={"skills": ["crcn:4.1"]},
        headers=headers,
    )
    assert again.status_code == 201, again.text
    verdict = client.post("/api/v1/verify", json={"qr_text": again.json()["qr_text"]}).json()
    assert verdict["result"] == "valid" and verdict["issuer"] == world.b.issuer_url
    # The skill keeps where it was first observed.
    assert verdict["skills"][0]["structure"] == world.a1.nom
