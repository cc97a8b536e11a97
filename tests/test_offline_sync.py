"""What the mediator's offline queue sends (docs/frontend.md, "Offline mediation"): the device's
moment of recording is kept apart from the server's, the journal says it was recorded offline,
and a passport opened from the queue lands once however often its request is replayed."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.core.time import utcnow
from tests.factories import World, make_world

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


def _opening(world: World, **extra: Any) -> dict[str, Any]:
    return {
        "first_name": "Léa",
        "last_name": "Hoarau",
        "birth_year": 1958,
        "structure_id": world.a1.id,
        "consent": True,
        **extra,
    }


def test_a_validation_recorded_offline_keeps_both_moments(
    client: TestClient, world: World, engine: sa.Engine
) -> None:
    headers = world.headers["mediator_of_structure"]
    opened = client.post("/api/v1/passports", json=_opening(world), headers=headers)
    assert opened.status_code == 201, opened.text
    pid = opened.json()["id"]
    observed = date.today() - timedelta(days=2)
    recorded = (utcnow() - timedelta(days=2, hours=3)).replace(microsecond=0)
    body = {
        "skill_code": "pp:PP-06",
        "method": "observation",
        "observed_on": observed.isoformat(),
        "structure_id": world.a1.id,
        "recorded_offline_at": recorded.isoformat(),
    }
    sent = client.post(
        f"/api/v1/passports/{pid}/validations",
        json=body,
        headers={**headers, "Idempotency-Key": "offline-item-0001"},
    )
    assert sent.status_code == 201, sent.text
    answer = sent.json()
    assert answer["observed_on"] == observed.isoformat()
    assert answer["recorded_offline_at"].startswith(recorded.isoformat()[:19])
    # The server keeps when it arrived: now, not the device's moment.
    assert answer["created_at"][:10] == utcnow().date().isoformat()
    # An online validation has no offline moment.
    online = client.post(
        f"/api/v1/passports/{pid}/validations",
        json={**body, "skill_code": "pp:PP-01", "recorded_offline_at": None},
        headers=headers,
    )
    assert online.status_code == 201, online.text
    assert online.json()["recorded_offline_at"] is None
    view = client.get(f"/api/v1/passports/{pid}", headers=headers).json()
    offline = [v for v in view["validations"] if v["recorded_offline_at"]]
    assert [v["skill_code"] for v in offline] == ["pp:PP-06"]
    journal = client.get(f"/api/v1/passports/{pid}/access-log", headers=headers)
    assert journal.status_code == 200, journal.text
    actions = [e["action"] for e in journal.json()]
    assert "validation.created_offline" in actions
    assert actions.count("validation.created") == 1
    # A moment in the future is outside the input policy.
    _problem(
        client.post(
            f"/api/v1/passports/{pid}/validations",
            json={**body, "recorded_offline_at": (utcnow() + timedelta(days=3)).isoformat()},
            headers=headers,
        ),
        422,
        "validation_error",
    )


def test_a_passport_opened_from_the_queue_lands_once(
    client: TestClient, world: World, engine: sa.Engine
) -> None:
    headers = {**world.headers["mediator_of_structure"], "Idempotency-Key": "offline-open-0001"}
    recorded = (utcnow() - timedelta(hours=5)).replace(microsecond=0)
    body = _opening(world, recorded_offline_at=recorded.isoformat())
    first = client.post("/api/v1/passports", json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert first.json()["access_code"]
    # The answer was lost: the replay returns the same passport, without a code (kept hashed).
    again = client.post("/api/v1/passports", json=body, headers=headers)
    assert again.status_code == 200, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["number"] == first.json()["number"]
    assert again.json()["access_code"] is None
    with engine.connect() as conn:
        assert (
            conn.execute(
                sa.text("SELECT count(*) FROM passport WHERE last_name = 'Hoarau'")
            ).scalar_one()
            == 1
        )
        consent_at = conn.execute(
            sa.text("SELECT consent_at FROM passport WHERE last_name = 'Hoarau'")
        ).scalar_one()
    # The consent was given on the device, at the moment it recorded.
    assert str(consent_at)[:16] == recorded.isoformat(sep=" ")[:16]
    journal = client.get(
        f"/api/v1/passports/{first.json()['id']}/access-log",
        headers=world.headers["mediator_of_structure"],
    ).json()
    assert [e["action"] for e in journal if e["action"].startswith("passport.opened")] == [
        "passport.opened_offline"
    ]
    # The same key for another person is another request.
    _problem(
        client.post("/api/v1/passports", json={**body, "first_name": "Marie"}, headers=headers),
        409,
        "idempotency_key_reused",
    )
    # Another key for the same person: the duplicate warning, at sync time.
    other = {**headers, "Idempotency-Key": "offline-open-0002"}
    warned = _problem(
        client.post("/api/v1/passports", json=body, headers=other), 409, "likely_duplicate"
    )
    assert warned["candidates"] == [first.json()["number"]]
    confirmed = client.post(
        "/api/v1/passports", json={**body, "confirm_not_duplicate": True}, headers=other
    )
    assert confirmed.status_code == 201, confirmed.text
    assert confirmed.json()["number"] != first.json()["number"]


def test_an_erased_passport_keeps_no_fingerprint_and_its_replay_opens_nothing(
    client: TestClient, world: World, engine: sa.Engine
) -> None:
    headers = {**world.headers["mediator_of_structure"], "Idempotency-Key": "offline-open-0003"}
    body = _opening(world, recorded_offline_at=utcnow().replace(microsecond=0).isoformat())
    opened = client.post("/api/v1/passports", json=body, headers=headers)
    assert opened.status_code == 201, opened.text
    erased = client.post(
        f"/api/v1/passports/{opened.json()['id']}/erasure",
        json={"reason": "request"},
        headers=world.headers["territory_admin"],
    )
    assert erased.status_code == 200, erased.text
    with engine.connect() as conn:
        row = conn.execute(
            sa.text("SELECT request_hash FROM passport WHERE id = :id"), {"id": opened.json()["id"]}
        ).one()
    # The hash of a body with the names in it would confirm a guess of who it was.
    assert row.request_hash is None
    # A late replay from the device finds the passport erased, and opens no new one.
    _problem(client.post("/api/v1/passports", json=body, headers=headers), 404, "unknown_passport")
    with engine.connect() as conn:
        count = conn.execute(
            sa.text("SELECT count(*) FROM passport WHERE last_name = 'Hoarau'")
        ).scalar_one()
    assert count == 0


def test_a_moment_given_with_an_offset_is_kept_as_that_instant_on_every_database(
    client: TestClient, world: World
) -> None:
    """A device east or west of UTC sends its own offset: the instant is stored (SQLite keeps
    naive UTC), the window is the instant's UTC day, and the same instant written with another
    offset is the same request for its Idempotency-Key."""
    headers = world.headers["mediator_of_structure"]
    opened = client.post("/api/v1/passports", json=_opening(world), headers=headers)
    assert opened.status_code == 201, opened.text
    pid = opened.json()["id"]
    moment = (utcnow() - timedelta(days=1)).replace(microsecond=0, tzinfo=None)
    local = (moment + timedelta(hours=2)).isoformat() + "+02:00"  # the same instant, in Paris
    body = {
        "skill_code": "pp:PP-06",
        "method": "observation",
        "observed_on": moment.date().isoformat(),
        "structure_id": world.a1.id,
        "recorded_offline_at": local,
    }
    key = {**headers, "Idempotency-Key": "offline-offset-0001"}
    sent = client.post(f"/api/v1/passports/{pid}/validations", json=body, headers=key)
    assert sent.status_code == 201, sent.text
    utc = moment.isoformat() + "Z"
    assert sent.json()["recorded_offline_at"].replace("+00:00", "Z") == utc
    view = client.get(f"/api/v1/passports/{pid}", headers=headers).json()
    shown = next(v for v in view["validations"] if v["id"] == sent.json()["id"])
    assert shown == sent.json()
    # The same instant written in UTC replays the first answer.
    again = client.post(
        f"/api/v1/passports/{pid}/validations",
        json={**body, "recorded_offline_at": utc},
        headers=key,
    )
    assert again.status_code == 200, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    # Tomorrow at 23:59 at UTC-12 is the day after tomorrow in UTC: past the window.
    tomorrow = (utcnow() + timedelta(days=1)).date().isoformat()
    late = client.post(
        f"/api/v1/passports/{pid}/validations",
        json={**body, "recorded_offline_at": f"{tomorrow}T23:59:00-12:00"},
        headers=headers,
    )
    assert late.status_code == 422, late.text
    assert "date_too_late" in late.text
    early = client.post(
        f"/api/v1/passports/{pid}/validations",
        json={**body, "recorded_offline_at": "1990-01-01T00:30:00+01:00"},
        headers=headers,
    )
    assert early.status_code == 422, early.text
    assert "date_too_early" in early.text
