"""The access journal coalesces a reader's repeated views; what changes something stays apart."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import col

from app.passports import service
from app.passports.models import AccessLog
from tests.factories import World, make_world, record_validation


def _journal(client: TestClient, world: World) -> list[dict[str, Any]]:
    response = client.get(
        f"/api/v1/passports/{world.passport.id}/access-log",
        headers=world.headers["territory_admin"],
    )
    assert response.status_code == 200, response.text
    return [e for e in response.json() if e["action"] != "access_log.read"]


def _read(client: TestClient, world: World, who: str = "mediator_of_structure") -> None:
    response = client.get(f"/api/v1/passports/{world.passport.id}", headers=world.headers[who])
    assert response.status_code == 200, response.text


def test_repeated_views_are_one_entry_and_a_change_is_its_own(
    client: TestClient, engine: sa.Engine
) -> None:
    world = make_world(engine)
    for _ in range(9):
        _read(client, world)
    entries = _journal(client, world)
    assert [e["action"] for e in entries] == ["passport.read"]

    record_validation(client, world)
    _read(client, world)
    _read(client, world, "mediator_other_structure")
    entries = _journal(client, world)
    # Newest first: another reader, the same reader after the change, the change, the views.
    assert [(e["action"], e["who"] is not None) for e in entries] == [
        ("passport.read", True),
        ("passport.read", True),
        ("validation.created", True),
        ("passport.read", True),
    ]
    assert entries[0]["structure"] != entries[1]["structure"]


def test_the_count_reaches_the_journal_when_the_entry_is_written_again(
    client: TestClient, engine: sa.Engine
) -> None:
    world = make_world(engine)
    for _ in range(4):
        _read(client, world)
    # The reading's entry is rewritten at most once a minute: pretend the minute has passed.
    with service.READS._lock:
        for reading in service.READS._readings.values():
            reading.written_at -= service.READ_TOUCH
    _read(client, world)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(col(AccessLog.count), col(AccessLog.last_at)).where(
                col(AccessLog.passport_id) == world.passport.id,
                col(AccessLog.action) == "passport.read",
            )
        ).all()
    ((count, last_at),) = rows
    assert count == 5 and last_at is not None
    (entry,) = _journal(client, world)
    assert entry["count"] == 5 and entry["last_at"] is not None


def test_views_counted_in_memory_reach_their_entry_with_the_next_change(
    client: TestClient, engine: sa.Engine
) -> None:
    """A change ends a reading; the views counted in memory since its entry was written are
    not lost with it: they go into that entry in the change's transaction (an outside tester
    found 4 views journaled of 12 made, when a recording came between)."""
    world = make_world(engine)
    for _ in range(6):  # one entry written, five views counted in memory
        _read(client, world)
    record_validation(client, world)
    _read(client, world)  # a new reading, after the change
    entries = _journal(client, world)
    assert [(e["action"], e["count"]) for e in entries] == [
        ("passport.read", 1),
        ("validation.created", 1),
        ("passport.read", 6),
    ]
    assert entries[2]["last_at"] is not None
