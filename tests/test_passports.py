"""Passports and validations: the mediator records, the citizen sees, nothing is lost or changed."""

from __future__ import annotations

import threading
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import col
from starlette.concurrency import run_in_threadpool

from app.core.db import SQLITE_BUSY_SECONDS, WriteLockBusy, create_db_engine, transaction
from app.core.time import utcnow
from app.passports import numbers, service
from app.passports.models import Passport
from tests.conftest import make_settings
from tests.factories import World, make_world, on_every_statement

PROBLEM = "application/problem+json"
TODAY = date.today().isoformat()


@pytest.fixture
def world(engine: sa.Engine) -> World:
    return make_world(engine)


def _problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body


def _open(client: TestClient, world: World, **extra: Any) -> dict[str, Any]:
    body = {
        "first_name": "Amina",
        "last_name": "Diallo",
        "birth_year": 1961,
        "structure_id": world.a1.id,
        "consent": True,
        **extra,
    }
    response = client.post(
        "/api/v1/passports", json=body, headers=world.headers["mediator_of_structure"]
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def _validate(client: TestClient, world: World, passport_id: int, **extra: Any) -> Any:
    body = {
        "skill_code": "pp:PP-06",
        "method": "observation",
        "observed_on": TODAY,
        "structure_id": world.a1.id,
        "evidence": "A envoyé sa facture en pièce jointe à la CAF.",
        **extra,
    }
    return client.post(
        f"/api/v1/passports/{passport_id}/validations",
        json=body,
        headers=extra.pop("headers", None) or world.headers["mediator_of_structure"],
    )


def test_numbers_are_unambiguous_and_checked() -> None:
    for _ in range(200):
        number = numbers.new_number()
        assert number.startswith("P-") and len(number) == 10
        assert not set(number[2:]) & set("01OILAEU")
        assert numbers.normalise_number(number.lower().replace("-", " ")) == number
        typo = number[:3] + ("B" if number[3] != "B" else "C") + number[4:]
        assert numbers.normalise_number(typo) is None
        assert numbers.check_number(typo).mistake is numbers.Mistake.TYPO
    # Each mistake is told apart, for a message in plain words.
    short = numbers.check_number("P-2X7K9M4")
    assert (short.mistake, short.length) == (numbers.Mistake.LENGTH, 7)
    odd = numbers.check_number("p-2x7k9mOI")
    assert (odd.mistake, odd.characters) == (numbers.Mistake.CHARACTER, "OI")
    assert "typing mistake" in numbers.check_number("P-2X7K9M4Q").explain()
    assert numbers.check_number("P-2X7K9M4P").number == "P-2X7K9M4P"


def test_the_whole_story(client: TestClient, world: World, engine: sa.Engine) -> None:
    opened = _open(client, world)
    number, code, pid = opened["number"], opened["access_code"], opened["id"]
    mediator = world.headers["mediator_of_structure"]

    first = _validate(client, world, pid)
    assert first.status_code == 201, first.text
    assert first.json()["level"] == 2  # PP-06 carries its own level
    second = _validate(client, world, pid, skill_code="crcn:4.1", level=3, method="situation")
    third = _validate(client, world, pid, skill_code="crcn:1.1", level=2, method="exercise")
    assert second.status_code == third.status_code == 201
    withdrawn = client.post(
        f"/api/v1/passports/{pid}/validations/{third.json()['id']}/withdraw",
        json={"reason": "Mauvaise personne sélectionnée"},
        headers=mediator,
    )
    assert withdrawn.status_code == 200 and withdrawn.json()["withdrawn_at"]
    _problem(
        client.post(
            f"/api/v1/passports/{pid}/validations/{third.json()['id']}/withdraw",
            json={"reason": "encore"},
            headers=mediator,
        ),
        409,
        "already_withdrawn",
    )
    seen_by_mediator = client.get(f"/api/v1/passports/{pid}", headers=mediator).json()

    # The citizen signs in with the number and the code from the card, and sees exactly that.
    citizen = TestClient(client.app)
    login = citizen.post("/api/v1/citizen/login", json={"number": number.lower(), "code": code})
    assert login.status_code == 200, login.text
    mine = citizen.get("/api/v1/citizen/passport").json()
    assert mine["validations"] == seen_by_mediator["validations"]
    by_code = {v["skill_code"]: v for v in mine["validations"]}
    assert by_code["crcn:1.1"]["withdrawn_at"] and by_code["crcn:1.1"]["withdrawal_reason"]
    assert by_code["pp:PP-06"]["mediator_name"] == "Test User"
    levels = {c["code"]: c["level"] for a in mine["areas"] for c in a["competences"]}
    assert levels == {"crcn:4.1": 3, "crcn:2.1": 2}  # the withdrawn one does not count
    acquired = {s["code"] for s in mine["premiers_pas"] if s["acquired_on"]}
    assert acquired == {"pp:PP-06"}

    log = citizen.get("/api/v1/citizen/access-log").json()
    actions = [(e["action"], e["actor_kind"]) for e in log]
    assert ("passport.opened", "mediator") in actions
    assert actions.count(("validation.created", "mediator")) == 3
    assert ("validation.withdrawn", "mediator") in actions
    assert ("passport.read", "mediator") in actions
    assert ("passport.read", "citizen") in actions
    assert all(e["who"] == "Test User" for e in log if e["actor_kind"] == "mediator")

    # A citizen cannot act as a mediator, nor read another passport.
    _problem(citizen.get(f"/api/v1/passports/{pid}"), 403, "forbidden_role")
    csrf = {"X-CSRF-Token": login.json()["csrf_token"]}
    assert citizen.post("/api/v1/citizen/logout", headers=csrf).status_code == 204
    _problem(citizen.get("/api/v1/citizen/passport"), 401, "unauthenticated")


def test_bad_input_changes_nothing(client: TestClient, world: World, engine: sa.Engine) -> None:
    pid = _open(client, world)["id"]
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"skill_code": "crcn:9.9", "level": 2}, 404, "unknown_skill"),
        ({"skill_code": "crcn:4.1", "level": 9}, 422, "validation_error"),
        ({"skill_code": "crcn:4.1", "level": 0}, 422, "validation_error"),
        ({"skill_code": "crcn:4.1"}, 422, "level_required"),
        ({"skill_code": "pp:PP-06", "level": 5}, 422, "level_mismatch"),
        (
            {
                "skill_code": "crcn:4.1",
                "level": 2,
                "observed_on": (
                    date.today() + timedelta(days=2)
                ).isoformat(),  # past the window (tomorrow: a user east of UTC)
            },
            422,
            "validation_error",
        ),
        ({"skill_code": "crcn:4.1", "level": 2, "evidence": "x" * 1001}, 422, "validation_error"),
        (
            {"skill_code": "crcn:4.1", "level": 2, "method": "self_assessment"},
            422,
            "validation_error",
        ),
        (
            {"skill_code": "crcn:4.1", "level": 2, "structure_id": world.a2.id},
            403,
            "not_structure_member",
        ),
        # The structure is read with the passport, in its locking statement: still checked (one
        # of another territory answers as a missing one).
        (
            {"skill_code": "crcn:4.1", "level": 2, "structure_id": world.b1.id},
            404,
            "unknown_structure",
        ),
        (
            {"skill_code": "crcn:4.1", "level": 2, "structure_id": 2_000_000_000},
            404,
            "unknown_structure",
        ),
    ]
    for extra, status, code in cases:
        _problem(_validate(client, world, pid, **extra), status, code)
    # Someone else's passport: a mediator of another territory cannot tell it exists.
    _problem(
        _validate(client, world, pid, headers=world.headers["mediator_other_territory"]),
        404,
        "unknown_passport",
    )
    _problem(
        client.get("/api/v1/passports/999999", headers=world.headers["mediator_of_structure"]),
        404,
        "unknown_passport",
    )
    _problem(
        client.get(f"/api/v1/passports/{pid}", headers=world.headers["platform_admin"]),
        403,
        "forbidden_role",
    )
    _problem(
        client.post("/api/v1/citizen/login", json={"number": "P-2345678B", "code": "WRONG"}),
        401,
        "invalid_access_code",
    )
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM validation")).scalar_one() == 0


def test_consent_and_duplicates(client: TestClient, world: World) -> None:
    mediator = world.headers["mediator_of_structure"]
    body = {
        "first_name": "Jean",
        "last_name": "Dupont",
        "birth_year": 1950,
        "structure_id": world.a1.id,
    }
    _problem(
        client.post("/api/v1/passports", json={**body, "consent": False}, headers=mediator),
        422,
        "consent_required",
    )
    first = client.post("/api/v1/passports", json={**body, "consent": True}, headers=mediator)
    assert first.status_code == 201
    same = {**body, "first_name": "JEAN", "last_name": "Dupônt", "consent": True}
    dup = _problem(
        client.post("/api/v1/passports", json=same, headers=mediator), 409, "likely_duplicate"
    )
    assert dup["candidates"] == [first.json()["number"]]
    confirmed = client.post(
        "/api/v1/passports", json={**same, "confirm_not_duplicate": True}, headers=mediator
    )
    assert confirmed.status_code == 201
    assert confirmed.json()["number"] != first.json()["number"]


def test_search_by_name_number_or_birth_year(client: TestClient, world: World) -> None:
    amina = _open(client, world)
    _open(client, world, first_name="Paul", last_name="Bernard", birth_year=1980)
    mediator = world.headers["mediator_of_structure"]

    def names(**params: Any) -> list[str]:
        found = client.get("/api/v1/passports", params=params, headers=mediator).json()
        return [p["last_name"] for p in found]

    assert names(q="diallo") == ["Diallo"]
    assert names(q="AMINA dial") == ["Diallo"]
    assert names(q=amina["number"].replace("-", " ").lower()) == ["Diallo"]
    assert names(birth_year=1980) == ["Bernard"]
    assert sorted(names()) == ["Bernard", "Diallo", "Martin"]  # Martin: the world's passport
    # A search with no letter or digit in it finds nobody (it listed everybody).
    assert names(q="😀") == names(q="!!") == names(q=" - ") == []
    other = client.get(
        "/api/v1/passports", headers=world.headers["mediator_other_territory"]
    ).json()
    assert other == []


def test_idempotent_retries_land_once(client: TestClient, world: World, engine: sa.Engine) -> None:
    pid = _open(client, world)["id"]
    headers = {**world.headers["mediator_of_structure"], "Idempotency-Key": "retry-0123456789"}
    answers = [
        client.post(
            f"/api/v1/passports/{pid}/validations",
            json={
                "skill_code": "pp:PP-12",
                "method": "observation",
                "observed_on": TODAY,
                "structure_id": world.a1.id,
            },
            headers=headers,
        )
        for _ in range(50)
    ]
    assert answers[0].status_code == 201
    assert {a.status_code for a in answers[1:]} == {200}
    assert all(a.headers.get("idempotent-replayed") == "true" for a in answers[1:])
    assert len({a.json()["id"] for a in answers}) == 1
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM validation")).scalar_one() == 1
    reused = client.post(
        f"/api/v1/passports/{pid}/validations",
        json={
            "skill_code": "pp:PP-01",
            "method": "observation",
            "observed_on": TODAY,
            "structure_id": world.a1.id,
        },
        headers=headers,
    )
    _problem(reused, 409, "idempotency_key_reused")


@pytest.mark.parametrize(
    "change",
    [
        {"level": 7},
        {"observed_on": "2026-01-05"},
        {"method": "exercise"},
        {"evidence": "Autre chose"},
        {"evidence": None},
    ],
)
def test_a_reused_idempotency_key_with_another_body_is_refused(
    client: TestClient, world: World, engine: sa.Engine, change: dict[str, Any]
) -> None:
    pid = _open(client, world)["id"]
    headers = {**world.headers["mediator_of_structure"], "Idempotency-Key": "retry-fingerprint-1"}
    first = {
        "skill_code": "crcn:1.1",
        "level": 3,
        "method": "observation",
        "observed_on": TODAY,
        "structure_id": world.a1.id,
        "evidence": "Une note",
    }
    url = f"/api/v1/passports/{pid}/validations"
    assert client.post(url, json=first, headers=headers).status_code == 201
    # The same request, its keys in another order: the stored answer.
    again = client.post(url, json=dict(reversed(list(first.items()))), headers=headers)
    assert again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    _problem(
        client.post(url, json={**first, **change}, headers=headers), 409, "idempotency_key_reused"
    )
    # Another passport under the same key is another request too.
    other = _open(client, world, last_name="Bernard")["id"]
    _problem(
        client.post(f"/api/v1/passports/{other}/validations", json=first, headers=headers),
        409,
        "idempotency_key_reused",
    )
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT level, evidence FROM validation")).all()
    assert [tuple(r) for r in rows] == [(3, "Une note")]


def test_view_statement_count_does_not_grow(
    client: TestClient, world: World, engine: sa.Engine, app: Any
) -> None:
    pid = _open(client, world)["id"]
    mediator = world.headers["mediator_of_structure"]

    def count_statements() -> int:
        statements: list[str] = []

        def listener(*args: Any) -> None:
            statements.append(args[2])

        # The steady state: the reader's first view writes the journal, the next ones within a
        # minute are counted with it (tests/test_access_journal.py).
        assert client.get(f"/api/v1/passports/{pid}", headers=mediator).status_code == 200
        # ...and the view is built again, not taken from the cache of serialised views.
        service.VIEWS.clear()
        with on_every_statement(app, listener):
            assert client.get(f"/api/v1/passports/{pid}", headers=mediator).status_code == 200
        return len(statements)

    assert _validate(client, world, pid).status_code == 201
    with_one = count_statements()
    with engine.begin() as conn:
        row = conn.execute(sa.text("SELECT * FROM validation")).mappings().one()
        template = {k: v for k, v in row.items() if k not in ("id", "idempotency_key")}
        conn.execute(
            sa.text(
                "INSERT INTO validation ("
                + ", ".join(template)
                + ") VALUES ("
                + ", ".join(f":{k}" for k in template)
                + ")"
            ),
            [template] * 499,
        )
    with_500 = count_statements()
    assert with_one == with_500
    view = client.get(f"/api/v1/passports/{pid}", headers=mediator).json()
    assert len(view["validations"]) == 500


def test_sharing_with_another_territory(client: TestClient, world: World) -> None:
    opened = _open(client, world)
    pid, code = opened["id"], opened["access_code"]
    outsider = world.headers["mediator_other_territory"]
    _problem(client.get(f"/api/v1/passports/{pid}", headers=outsider), 404, "unknown_passport")

    mediator = world.headers["mediator_of_structure"]
    _problem(
        client.post(
            f"/api/v1/passports/{pid}/grants",
            json={"structure_id": world.b1.id, "access_code": "WRONGCOD"},
            headers=mediator,
        ),
        401,
        "invalid_access_code",
    )
    granted = client.post(
        f"/api/v1/passports/{pid}/grants",
        json={"structure_id": world.b1.id, "access_code": code},
        headers=mediator,
    )
    assert granted.status_code == 201, granted.text
    assert client.get(f"/api/v1/passports/{pid}", headers=outsider).status_code == 200
    # The other territory's mediator may read, not manage the sharing.
    _problem(
        client.delete(f"/api/v1/passports/{pid}/grants/{granted.json()['id']}", headers=outsider),
        403,
        "not_holder",
    )

    citizen = TestClient(client.app)
    login = citizen.post(
        "/api/v1/citizen/login", json={"number": opened["number"], "code": code}
    ).json()
    csrf = {"X-CSRF-Token": login["csrf_token"]}
    grants = citizen.get("/api/v1/citizen/grants").json()
    assert [g["structure_id"] for g in grants] == [world.b1.id]
    revoked = citizen.delete(f"/api/v1/citizen/grants/{grants[0]['id']}", headers=csrf)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    _problem(client.get(f"/api/v1/passports/{pid}", headers=outsider), 404, "unknown_passport")


def test_renewed_code_replaces_the_old_one(client: TestClient, world: World) -> None:
    opened = _open(client, world)
    renewed = client.post(
        f"/api/v1/passports/{opened['id']}/access-code",
        headers=world.headers["mediator_of_structure"],
    )
    assert renewed.status_code == 200
    new_code = renewed.json()["access_code"]
    assert new_code != opened["access_code"]
    citizen = TestClient(client.app)
    _problem(
        citizen.post(
            "/api/v1/citizen/login",
            json={"number": opened["number"], "code": opened["access_code"]},
        ),
        401,
        "invalid_access_code",
    )
    assert (
        citizen.post(
            "/api/v1/citizen/login", json={"number": opened["number"], "code": new_code}
        ).status_code
        == 200
    )


def test_wrong_codes_lock_the_passport_for_a_while(client: TestClient, world: World) -> None:
    opened = _open(client, world)
    for _ in range(5):
        client.post("/api/v1/citizen/login", json={"number": opened["number"], "code": "BBBBBBBB"})
    blocked = client.post(
        "/api/v1/citizen/login", json={"number": opened["number"], "code": opened["access_code"]}
    )
    _problem(blocked, 429, "rate_limited")
    assert int(blocked.headers["retry-after"]) > 0


def test_the_lock_ends_with_its_window_and_right_codes_do_not_count(
    client: TestClient, world: World, engine: sa.Engine
) -> None:
    opened = _open(client, world)
    right = {"number": opened["number"], "code": opened["access_code"]}
    wrong = {"number": opened["number"], "code": "BBBBBBBB"}
    # Right codes are given back: signing in ten times locks nothing.
    for _ in range(10):
        assert TestClient(client.app).post("/api/v1/citizen/login", json=right).status_code == 200
    for _ in range(5):
        _problem(client.post("/api/v1/citizen/login", json=wrong), 401, "invalid_access_code")
    _problem(client.post("/api/v1/citizen/login", json=right), 429, "rate_limited")
    # Once the window is over, the count starts again.
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE rate_limit_bucket SET window_started_at = :t"),
            {"t": utcnow() - timedelta(minutes=16)},
        )
    assert client.post("/api/v1/citizen/login", json=right).status_code == 200
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT key, count FROM rate_limit_bucket")).tuples()
        counts: dict[str, int] = dict(rows.all())
    assert counts[f"citizen:passport:{opened['number']}"] == 0


def test_self_assessments_are_kept_apart(client: TestClient, world: World) -> None:
    opened = _open(client, world)
    assert _validate(client, world, opened["id"], skill_code="crcn:4.1", level=1).status_code == 201
    citizen = TestClient(client.app)
    login = citizen.post(
        "/api/v1/citizen/login", json={"number": opened["number"], "code": opened["access_code"]}
    ).json()
    csrf = {"X-CSRF-Token": login["csrf_token"]}
    mine = citizen.post(
        "/api/v1/citizen/self-assessments",
        json={"skill_code": "crcn:4.1", "level": 3},
        headers=csrf,
    )
    assert mine.status_code == 201 and mine.json()["method"] == "self_assessment"
    _problem(
        citizen.post(
            "/api/v1/citizen/self-assessments", json={"skill_code": "crcn:4.1", "level": 3}
        ),
        403,
        "csrf_failed",
    )
    view = citizen.get("/api/v1/citizen/passport").json()
    assert [v["method"] for v in view["self_assessments"]] == ["self_assessment"]
    assert all(v["method"] != "self_assessment" for v in view["validations"])
    # The mediator's level stands; the citizen's higher opinion shows as in progress.
    levels = {c["code"]: c["level"] for a in view["areas"] for c in a["competences"]}
    assert levels["crcn:4.1"] == 1
    assert view["in_progress"] == ["crcn:4.1"]
    # A mediator cannot withdraw what the citizen said.
    _problem(
        client.post(
            f"/api/v1/passports/{opened['id']}/validations/{mine.json()['id']}/withdraw",
            json={"reason": "pas d'accord"},
            headers=world.headers["mediator_of_structure"],
        ),
        403,
        "not_withdrawable",
    )


def _lock_waiters(engine: sa.Engine) -> int:
    """Sessions of this database waiting for a row lock (PostgreSQL)."""
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database()"
                )
            ).scalar_one()
        )


def test_a_recording_racing_a_merge_is_moved_or_refused_never_stranded(
    client: TestClient, world: World, engine: sa.Engine
) -> None:
    """A merge and a recording on the duplicate at the same moment: the recording either lands
    before the merge (and moves with the others) or sees the merge (404 passport_merged); it is
    never answered 201 and left on the folded passport, where nobody sees it. Both wait behind
    another writer holding the two passports, the merge first (on PostgreSQL, in that order)."""
    keep = _open(client, world)
    dup = _open(client, world, confirm_not_duplicate=True)
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with transaction(engine) as session:
            session.execute(
                sa.update(Passport)
                .where(col(Passport.id).in_([keep["id"], dup["id"]]))
                .values(last_activity_at=utcnow())
            )
            held.set()
            release.wait(20)

    def wait_for_waiters(n: int) -> None:
        if engine.dialect.name != "postgresql":
            return
        deadline = time.monotonic() + 10
        while _lock_waiters(engine) < n and time.monotonic() < deadline:
            time.sleep(0.01)

    answers: dict[str, Any] = {}
    merge = threading.Thread(
        target=lambda: answers.setdefault(
            "merge",
            client.post(
                f"/api/v1/passports/{keep['id']}/merge",
                json={"absorb_id": dup["id"]},
                headers=world.headers["territory_admin"],
            ),
        )
    )
    record = threading.Thread(
        target=lambda: answers.setdefault("record", _validate(client, world, dup["id"]))
    )
    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(10)
        merge.start()
        wait_for_waiters(1)
        record.start()
        wait_for_waiters(2)
        time.sleep(
            0.1
        )  # SQLite: let both reach the write lock (the outcome is asserted either way)
    finally:
        release.set()
        holder.join()
        merge.join(30)
        record.join(30)
    assert answers["merge"].status_code == 200, answers["merge"].text
    recorded = answers["record"]
    with engine.connect() as conn:
        stranded = conn.execute(
            sa.text("SELECT count(*) FROM validation WHERE passport_id = :p"), {"p": dup["id"]}
        ).scalar_one()
    assert stranded == 0
    if recorded.status_code == 201:
        view = client.get(
            f"/api/v1/passports/{keep['id']}", headers=world.headers["territory_admin"]
        ).json()
        assert recorded.json()["id"] in {v["id"] for v in view["validations"]}
    else:
        assert _problem(recorded, 404, "passport_merged")["merged_into"] == keep["number"]


def test_merging_duplicates_keeps_every_validation(
    client: TestClient, world: World, engine: sa.Engine
) -> None:
    keep = _open(client, world)
    dup = _open(client, world, confirm_not_duplicate=True)
    assert _validate(client, world, keep["id"]).status_code == 201
    assert _validate(client, world, dup["id"], skill_code="crcn:4.1", level=2).status_code == 201
    _problem(
        client.post(
            f"/api/v1/passports/{keep['id']}/merge",
            json={"absorb_id": dup["id"]},
            headers=world.headers["mediator_of_structure"],
        ),
        403,
        "forbidden_role",
    )
    merged = client.post(
        f"/api/v1/passports/{keep['id']}/merge",
        json={"absorb_id": dup["id"]},
        headers=world.headers["territory_admin"],
    )
    assert merged.status_code == 200, merged.text
    view = client.get(f"/api/v1/passports/{keep['id']}", headers=world.headers["territory_admin"])
    assert {v["skill_code"] for v in view.json()["validations"]} == {"pp:PP-06", "crcn:4.1"}
    gone = _problem(
        client.get(f"/api/v1/passports/{dup['id']}", headers=world.headers["territory_admin"]),
        404,
        "passport_merged",
    )
    assert gone["merged_into"] == keep["number"]
    with engine.connect() as conn:
        row = conn.execute(
            sa.text("SELECT first_name, search_name FROM passport WHERE id = :i"), {"i": dup["id"]}
        ).one()
        assert tuple(row) == (None, None)
        actions = conn.execute(
            sa.text("SELECT action FROM audit_event WHERE action = 'passport.merged'")
        ).all()
        assert len(actions) == 1


def test_citizen_with_email_signs_in_by_a_one_time_link(
    client: TestClient, world: World, engine: sa.Engine, capfd: pytest.CaptureFixture[str]
) -> None:
    opened = _open(client, world, email="amina.d@example.org")
    capfd.readouterr()
    for email in ("AMINA.D@example.org", "unknown@example.org"):
        sent = client.post("/api/v1/citizen/link", json={"email": email})
        assert sent.status_code == 202 and sent.json() == {"status": "accepted"}
    printed = capfd.readouterr().err
    # One message, to the known address, printed masked (app.core.mail).
    assert printed.count("--- mail to a…@e….org: ") == 1
    assert "amina" not in printed and "unknown" not in printed
    token = printed.split("/citoyen#lien=")[1].split()[0]

    citizen = TestClient(client.app)
    signed = citizen.post("/api/v1/citizen/link/login", json={"token": token})
    assert signed.status_code == 200, signed.text
    assert signed.json()["passport"]["number"] == opened["number"]
    assert citizen.get("/api/v1/citizen/passport").status_code == 200
    # Once only.
    _problem(
        TestClient(client.app).post("/api/v1/citizen/link/login", json={"token": token}),
        401,
        "invalid_link",
    )
    _problem(
        client.post("/api/v1/citizen/link/login", json={"token": "x" * 43}), 401, "invalid_link"
    )
    with engine.connect() as conn:
        refused = conn.execute(
            sa.text("SELECT count(*) FROM audit_event WHERE action = 'citizen.link_refused'")
        ).scalar_one()
    assert refused == 2


def _feed_moved(feed: Any, topic: str, before: int) -> None:
    deadline = time.monotonic() + 10
    while feed.version(topic) == before and time.monotonic() < deadline:
        time.sleep(0.01)


def test_recording_sees_a_skill_changed_by_another_connection_at_once(
    client: TestClient, world: World, engine: sa.Engine
) -> None:
    """The skills a recording reads from memory follow the change feed: a label renamed and a
    fixed level changed outside this process (a framework load, psql) count at the next
    recording, with no skill read in between."""
    pid = _open(client, world)["id"]
    first = _validate(client, world, pid, skill_code="pp:PP-06")
    assert first.status_code == 201, first.text
    with engine.connect() as conn:
        old = conn.execute(
            sa.text("SELECT label_fr, level FROM skill WHERE code = 'pp:PP-06'")
        ).one()
    assert first.json()["skill_label_fr"] == old.label_fr
    feed = client.app.state.change_feed  # type: ignore[attr-defined]
    before = feed.version("trust")
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "UPDATE skill SET label_fr = 'Renommée ailleurs', level = :level "
                    "WHERE code = 'pp:PP-06'"
                ),
                {"level": old.level + 1},
            )
        # SQLite: the feed has moved already. PostgreSQL: the NOTIFY travels to the listener's
        # thread, which a loaded machine may not run before the next line (docs/performance.md,
        # "Freshness across processes"): wait for it, bounded.
        _feed_moved(feed, "trust", before)
        second = _validate(client, world, pid, skill_code="pp:PP-06")
        assert second.status_code == 201, second.text
        assert second.json()["skill_label_fr"] == "Renommée ailleurs"
        assert second.json()["level"] == old.level + 1
        # The fixed level is checked against the new one too.
        refused = _validate(client, world, pid, skill_code="pp:PP-06", level=old.level)
        _problem(refused, 422, "level_mismatch")
    finally:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "UPDATE skill SET label_fr = :label, level = :level WHERE code = 'pp:PP-06'"
                ),
                {"label": old.label_fr, "level": old.level},
            )
    _problem(_validate(client, world, pid, skill_code="pp:NOPE"), 404, "unknown_skill")


def test_recording_sends_a_fixed_number_of_statements(
    client: TestClient, world: World, app: Any
) -> None:
    """A recording by a known API token: the passport locked and the structure it names read in
    one statement (the skill from memory), the validation and its journal line written with the
    activity date; nothing per validation already in the passport, no authentication query, no
    read-back."""
    pid = _open(client, world)["id"]
    statements: list[str] = []

    def listener(*args: Any) -> None:
        statements.append(" ".join(str(args[2]).split())[:60])

    for _ in range(3):  # the token is known after the first request
        assert _validate(client, world, pid).status_code == 201
    with on_every_statement(app, listener):
        for level in (2, 3):
            assert (
                _validate(client, world, pid, skill_code="crcn:4.1", level=level).status_code == 201
            )
    per_request = len(statements) // 2
    assert statements[:per_request] == statements[per_request:]
    kinds = [" ".join(s.split()[:2]).rstrip(",") for s in statements[:per_request]]
    sqlite = app.state.engine.dialect.name == "sqlite"
    assert kinds == [
        *(["BEGIN IMMEDIATE"] if sqlite else []),
        # … structure.id … FROM passport LEFT OUTER JOIN structure … (FOR UPDATE OF passport on
        # PostgreSQL). No skill read: the skills are kept per process for the change feed's
        # trust version.
        "SELECT passport.id",
        # The validation (… RETURNING id), the journal line and the activity date: one statement
        # on PostgreSQL (WITH touched AS (UPDATE …), recorded AS (INSERT INTO validation …)).
        *(["INSERT INTO", "INSERT INTO", "UPDATE passport"] if sqlite else ["WITH touched"]),
    ], statements
    # The answer is built from what the recording wrote and read: the view, which reads it all
    # back with the names joined, shows the same.
    answer = _validate(client, world, pid, skill_code="crcn:4.1", level=4)
    assert answer.status_code == 201, answer.text
    view = client.get(f"/api/v1/passports/{pid}", headers=world.headers["mediator_of_structure"])
    shown = next(v for v in view.json()["validations"] if v["id"] == answer.json()["id"])
    assert answer.json() == shown
    assert shown["mediator_name"] and shown["structure_name"] and shown["skill_label_fr"]


def test_a_recording_waits_for_a_writer_outside_the_app_then_lands(
    client: TestClient, world: World, engine: sa.Engine
) -> None:
    """Another connection writing the passport (another worker process, a script) holds
    SQLite's write lock, or on PostgreSQL the passport's row: the recording, which on SQLite
    runs its transaction on the event loop, waits for it and lands, never fails."""
    pid = _open(client, world)["id"]
    held, released = threading.Event(), threading.Event()

    def hold() -> None:
        with transaction(engine) as session:
            session.execute(
                sa.update(Passport).where(col(Passport.id) == pid).values(last_activity_at=utcnow())
            )
            held.set()
            time.sleep(0.3)
            released.set()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(10)
        response = _validate(client, world, pid)
        # Answered only once the other writer had let go (it commits after ``released``).
        assert released.is_set()
    finally:
        holder.join()
    assert response.status_code == 201, response.text


def test_a_recording_never_stops_the_event_loop_for_a_writer_outside_the_app(
    client: TestClient, world: World, engine: sa.Engine
) -> None:
    """On SQLite a recording runs on the event loop; while another connection holds the write
    lock it gives up there at once and waits in the threadpool, so the server answers other
    requests meanwhile, and the recording lands once the lock is free. (On PostgreSQL it waits
    for the passport's row lock on the event loop, its round trip awaited: the same holds.)"""
    pid = _open(client, world)["id"]
    held, answered, released = threading.Event(), threading.Event(), threading.Event()

    def hold() -> None:
        with transaction(engine) as session:
            session.execute(
                sa.update(Passport).where(col(Passport.id) == pid).values(last_activity_at=utcnow())
            )
            held.set()
            answered.wait(20)  # bounded: a stopped loop shows as `released` before the answer
            released.set()

    holder = threading.Thread(target=hold)
    holder.start()
    recording: list[Any] = []
    recorder = threading.Thread(target=lambda: recording.append(_validate(client, world, pid)))
    try:
        assert held.wait(10)
        recorder.start()
        # The recording has reached the lock or is about to; either way the loop must be free.
        while not recorder.is_alive() and not recording:
            time.sleep(0.01)
        assert client.get("/healthz").status_code == 200
        assert not released.is_set()
        answered.set()
    finally:
        answered.set()
        holder.join()
        recorder.join(30)
    assert recording and recording[0].status_code == 201, recording


def test_a_write_transaction_told_not_to_wait_gives_up_before_its_first_statement(
    tmp_path: Path,
) -> None:
    """SQLite's ``nowait`` (the recording on the event loop): the write lock taken by another
    connection, the transaction raises ``WriteLockBusy`` at its first statement instead of
    waiting; the connection, given back to the pool, waits again as before."""
    engine = create_db_engine(make_settings(f"sqlite:///{tmp_path / 'lock.db'}"))
    with transaction(engine) as session:
        session.execute(sa.text("CREATE TABLE t (n INTEGER)"))
    held, done = threading.Event(), threading.Event()

    def hold() -> None:
        with transaction(engine) as session:
            session.execute(sa.text("INSERT INTO t VALUES (1)"))
            held.set()
            done.wait(20)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(10)
        with pytest.raises(WriteLockBusy), transaction(engine, nowait=True) as session:
            session.execute(sa.text("INSERT INTO t VALUES (2)"))
    finally:
        done.set()
        holder.join()
    with engine.connect() as conn:
        timeouts = {conn.exec_driver_sql("PRAGMA busy_timeout").scalar()}
    assert timeouts == {SQLITE_BUSY_SECONDS * 1000}
    with transaction(engine, nowait=True) as session:  # free now: it writes
        session.execute(sa.text("INSERT INTO t VALUES (3)"))
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT n FROM t ORDER BY n").scalars().all() == [1, 3]
    engine.dispose()


def _view(client: TestClient, pid: int, headers: dict[str, str]) -> Any:
    return client.get(f"/api/v1/passports/{pid}", headers=headers)


def test_a_view_served_from_memory_and_a_recording_take_no_thread(
    client: TestClient, world: World, app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A view already served, the passport unchanged and the read counted in memory by the
    journal: one SELECT of the passport's own columns (with every refusal of ``load``), the
    body from memory, on the event loop with no threadpool hop (on PostgreSQL its round trip
    awaited there, in autocommit: no BEGIN/COMMIT round trips). A recording: no hop either."""
    pid = _open(client, world)["id"]
    assert _validate(client, world, pid).status_code == 201
    mediator = world.headers["mediator_of_structure"]
    first = _view(client, pid, mediator)  # builds the view, writes the journal
    assert first.status_code == 200
    assert _view(client, pid, mediator).content == first.content  # the stamp settles

    hops: list[str] = []

    async def counting_hop(func: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(getattr(func, "__name__", repr(func)))
        return await run_in_threadpool(func, *args, **kwargs)

    monkeypatch.setattr("app.api.deps.run_in_threadpool", counting_hop)
    statements: list[str] = []
    isolation: list[str | None] = []

    def listener(conn: sa.Connection, *args: Any) -> None:
        statements.append(" ".join(str(args[1]).split()))
        isolation.append(conn.get_execution_options().get("isolation_level"))

    with on_every_statement(app, listener):
        again = _view(client, pid, mediator)
    assert again.status_code == 200 and again.content == first.content
    sqlite = app.state.engine.dialect.name == "sqlite"
    selects = [s for s in statements if s != "BEGIN"]
    assert len(selects) == 1 and selects[0].startswith("SELECT passport.id"), statements
    assert "FROM passport WHERE passport.id" in selects[0]
    # PostgreSQL: the SELECT alone, no BEGIN and COMMIT round trips around it.
    assert isolation[-1] == (None if sqlite else "AUTOCOMMIT")
    assert _validate(client, world, pid, skill_code="crcn:4.1", level=2).status_code == 201
    assert hops == [], hops


def test_a_view_served_from_memory_follows_every_change_of_the_passport(
    client: TestClient, world: World, engine: sa.Engine
) -> None:
    """Whatever changes the passport, through the API or another connection, the next view
    shows it or refuses; memory never answers for a passport that is no longer what it was."""
    pid = _open(client, world)["id"]
    assert _validate(client, world, pid).status_code == 201
    mediator = world.headers["mediator_of_structure"]
    for _ in range(2):
        assert _view(client, pid, mediator).json()["passport"]["first_name"] == "Amina"

    # Another connection (a script, another worker process) renames the citizen.
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE passport SET first_name = 'Awa' WHERE id = :p"), {"p": pid})
    assert _view(client, pid, mediator).json()["passport"]["first_name"] == "Awa"

    # A recording moves the activity date: the new validation shows at once.
    assert _validate(client, world, pid, skill_code="crcn:4.1", level=2).status_code == 201
    codes = [v["skill_code"] for v in _view(client, pid, mediator).json()["validations"]]
    assert sorted(codes) == ["crcn:4.1", "pp:PP-06"]

    # A mediator of another territory: refused, though the view is in memory.
    outsider = world.headers["mediator_other_territory"]
    _problem(_view(client, pid, outsider), 404, "unknown_passport")

    # Merged into another passport: named, from the first view after.
    keep = _open(client, world, confirm_not_duplicate=True)
    merged = client.post(
        f"/api/v1/passports/{keep['id']}/merge",
        json={"absorb_id": pid},
        headers=world.headers["territory_admin"],
    )
    assert merged.status_code == 200, merged.text
    gone = _problem(_view(client, pid, mediator), 404, "passport_merged")
    assert gone["merged_into"] == keep["number"]

    # Erased: the view served a moment ago is refused, whoever asks.
    kept = keep["id"]
    for _ in range(2):
        assert _view(client, kept, mediator).status_code == 200
    erased = client.post(
        f"/api/v1/passports/{kept}/erasure",
        json={"reason": "request"},
        headers=world.headers["territory_admin"],
    )
    assert erased.status_code == 200, erased.text
    _problem(_view(client, kept, mediator), 404, "unknown_passport")
