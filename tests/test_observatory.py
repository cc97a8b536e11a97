"""The observatory on crafted data: counts, published tables, API, CLI, and the tally."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from app.audit.models import AuditEvent
from app.core.db import pk, transaction
from app.core.settings import Settings
from app.credentials.models import Credential
from app.observatory import release, service
from app.observatory import tally as tally_module
from app.observatory.models import VerificationTally
from app.observatory.tally import TALLY, Tally, record_verification
from app.passports.models import Method, Passport, Validation
from tests.conftest import run_async
from tests.factories import World, make_passport, make_world
from tests.servers import passeport_env, run_cli

PERIOD = service.Period(date(2026, 1, 1), date(2026, 3, 31))


@dataclass
class Crafted:
    world: World
    passports: dict[str, int]


def _passport(
    engine: sa.Engine, world: World, name: str, created: datetime, **extra: object
) -> int:
    passport = make_passport(engine, world.a, world.a1, last_name=name)
    with transaction(engine) as session:
        row = session.get(Passport, passport.id)
        assert row is not None and row.id is not None
        row.created_at = created
        for field, value in extra.items():
            setattr(row, field, value)
        return row.id


def _v(
    session: Session,
    world: World,
    passport_id: int,
    skill: str,
    level: int,
    on: date,
    method: Method = Method.OBSERVATION,
    *,
    structure: int | None = -1,
    withdrawn: bool = False,
) -> None:
    mediator = method not in (Method.SELF_ASSESSMENT,)
    session.add(
        Validation(
            passport_id=passport_id,
            skill_code=skill,
            level=level,
            method=method,
            observed_on=on,
            account_id=world.mediator_a1.id if mediator else None,
            structure_id=(world.a1.id if structure == -1 else structure) if mediator else None,
            withdrawn_at=datetime(2026, 3, 1, tzinfo=UTC) if withdrawn else None,
        )
    )


@pytest.fixture
def crafted(engine: sa.Engine) -> Crafted:
    """Territory ta, January to March 2026, every rule of what counts exercised once."""
    world = make_world(engine)
    jan, feb, mar = (datetime(2026, m, 10, tzinfo=UTC) for m in (1, 2, 3))
    p = {
        name: _passport(engine, world, name, when)
        for name, when in [
            ("p1", jan),
            ("p2", jan),
            ("p3", jan),
            ("p4", feb),
            ("p5", feb),
            ("p6", feb),
        ]
    }
    p["erased"] = _passport(engine, world, "erased", mar)
    p["merged"] = _passport(engine, world, "merged", jan, merged_into_id=p["p1"])
    p["old"] = _passport(engine, world, "old", datetime(2025, 6, 1, tzinfo=UTC))
    other = make_passport(engine, world.b, world.b1, last_name="elsewhere")
    with transaction(engine) as session:
        erased = session.get(Passport, p["erased"])
        assert erased is not None
        erased.erased_at, erased.first_name, erased.last_name = (
            datetime(2026, 3, 20, tzinfo=UTC),
            None,
            None,
        )
        # p1 was at 2 in 4.1 before the period, reaches 3 in it: progress.
        _v(session, world, p["p1"], "crcn:4.1", 2, date(2025, 12, 10))
        _v(session, world, p["p1"], "crcn:4.1", 3, date(2026, 1, 15), Method.SITUATION)
        # p2: a first level in the period is progress from none.
        _v(session, world, p["p2"], "crcn:4.1", 2, date(2026, 2, 3))
        # p3: one counted validation; a self-assessment and a withdrawn one that do not count.
        _v(session, world, p["p3"], "crcn:1.1", 1, date(2026, 2, 20), Method.EXERCISE)
        _v(session, world, p["p3"], "crcn:1.1", 5, date(2026, 2, 21), Method.SELF_ASSESSMENT)
        _v(session, world, p["p3"], "crcn:1.1", 4, date(2026, 2, 22), withdrawn=True)
        # p4: a Premiers pas skill, for CRCN 5.2 at level 1; in structure a2.
        _v(session, world, p["p4"], "pp:PP-01", 1, date(2026, 3, 1), structure=world.a2.id)
        # p5: PP-01 acquired before the period, observed again in it: not acquired in it; and
        # a validation after the period, which does not count.
        _v(session, world, p["p5"], "pp:PP-01", 1, date(2025, 11, 1))
        _v(session, world, p["p5"], "pp:PP-01", 1, date(2026, 2, 1))
        _v(session, world, p["p5"], "crcn:4.1", 4, date(2026, 4, 2))
        # p6: a Pix result counts; an imported credential does not (counted where observed).
        _v(session, world, p["p6"], "crcn:2.1", 3, date(2026, 1, 5), Method.PIX, structure=None)
        _v(
            session,
            world,
            p["p6"],
            "crcn:2.1",
            5,
            date(2026, 1, 6),
            Method.CREDENTIAL,
            structure=None,
        )
        # The erased passport's anonymous skills still count.
        _v(session, world, p["erased"], "crcn:4.1", 2, date(2026, 3, 5))
        # Another territory's passport: never in ta's figures.
        _v(session, world, other.id or 0, "crcn:4.1", 6, date(2026, 2, 2))
        for i, (when, territory) in enumerate(
            [
                (jan, world.a),
                (feb, world.a),
                (feb, world.a),
                (feb, world.b),
                (datetime(2025, 1, 1, tzinfo=UTC), world.a),
            ]
        ):
            session.add(
                Credential(
                    territory_id=pk(territory),
                    passport_id=p["p1"],
                    jti=f"jti-{i}",
                    code=f"V-CRAFT{i:03d}",
                    kid="kid",
                    status_index=i,
                    skill_codes=["crcn:4.1"],
                    issued_at=when,
                    expires_at=datetime(2030, 1, 1, tzinfo=UTC),
                    revoked_at=when if i == 1 else None,
                )
            )
        for day, result, channel, count in [
            (date(2026, 1, 3), "valid", "qr", 7),
            (date(2026, 1, 4), "valid", "qr", 2),
            (date(2026, 2, 1), "revoked", "code", 1),
            (date(2026, 4, 1), "valid", "qr", 50),
        ]:
            session.add(VerificationTally(day=day, result=result, channel=channel, count=count))
    return Crafted(world, p)


def test_the_counts_match_a_hand_count(engine: sa.Engine, crafted: Crafted) -> None:
    ta = crafted.world.a.id
    assert ta is not None
    with transaction(engine, write=False) as session:
        f = service.figures(session, ta, PERIOD)
    assert f.passports == {"2026-01": 3, "2026-02": 3, "2026-03": 1}
    assert f.competence_level == {
        ("crcn:4.1", 3): 1,
        ("crcn:4.1", 2): 2,
        ("crcn:1.1", 1): 1,
        ("crcn:5.2", 1): 2,
        ("crcn:2.1", 3): 1,
    }
    assert f.methods == {"observation": 4, "situation": 1, "exercise": 1, "pix": 1}
    assert f.structures == {crafted.world.a1.id: 5, crafted.world.a2.id: 1, None: 1}
    assert f.validation_months == {"2026-01": 2, "2026-02": 3, "2026-03": 2}
    assert f.first_steps == {"pp:PP-01": 1}
    # p1 (2 → 3), p2 (none → 2), erased (none → 2) in 4.1; p3 in 1.1; p4 in 5.2; p6 in 2.1.
    # p5 had PP-01 (5.2 at 1) before and again at the same level: no progress.
    assert f.progress == {"crcn:4.1": 3, "crcn:1.1": 1, "crcn:5.2": 1, "crcn:2.1": 1}
    assert f.progressed == 6
    assert f.credentials == {"2026-01": 1, "2026-02": 2}
    assert f.verifications == {("2026-01", "valid", "qr"): 9, ("2026-02", "revoked", "code"): 1}


def _rows(document: dict[str, Any], table: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = document["tables"][table]["rows"]
    return rows


def test_with_a_threshold_of_one_every_count_is_published(
    engine: sa.Engine, crafted: Crafted
) -> None:
    with transaction(engine, write=False) as session:
        doc = service.published(session, crafted.world.a, PERIOD, 1).document()
    summary = {r["indicator"]: r["count"] for r in _rows(doc, "summary")}
    assert summary == {
        "passports_opened": 7,
        "validations": 7,
        "premiers_pas_acquired": 1,
        "people_progressed": 6,
        "credentials_issued": 3,
        "verifications": 10,
    }
    months = {r["month"]: r["count"] for r in _rows(doc, "validations_by_month")}
    assert months == {"2026-01": 2, "2026-02": 3, "2026-03": 2, "total": 7}
    domains = {r["domain"]: r["count"] for r in _rows(doc, "validations_by_domain")}
    assert domains["crcn:4"] == 3 and domains["crcn:5"] == 2 and domains["total"] == 7
    assert not any(r["suppressed"] for t in doc["tables"].values() for r in t["rows"])


def test_with_the_default_threshold_nothing_small_is_published(
    engine: sa.Engine, crafted: Crafted
) -> None:
    with transaction(engine, write=False) as session:
        doc = service.published(session, crafted.world.a, PERIOD, 5).document()
    assert doc["licence"].startswith("Licence Ouverte 2.0")
    assert doc["threshold"] == 5
    for table in doc["tables"].values():
        for row in table["rows"]:
            assert row["count"] is None or row["count"] == 0 or row["count"] >= 5, row
            assert row["suppressed"] == (row["count"] is None)
    # Seven validations are published; the months (2, 3, 2) are not, nor anything that adds up.
    months = {r["month"]: r["count"] for r in _rows(doc, "validations_by_month")}
    assert months == {"2026-01": None, "2026-02": None, "2026-03": None, "total": 7}
    text = json.dumps(doc)
    with transaction(engine, write=False) as session:
        numbers = session.exec(select(Passport.number)).all()
    for personal in ("Lucie", "Martin", *numbers):
        assert personal not in text


def test_the_api_is_for_coordinators_until_the_territory_opts_in(
    client: TestClient, engine: sa.Engine, settings: Settings, crafted: Crafted
) -> None:
    h = crafted.world.headers
    url = "/api/v1/territories/ta/stats?start=2026-01-01&end=2026-03-31"
    assert client.get(url).status_code == 401
    assert client.get(url, headers=h["mediator_of_structure"]).status_code == 403
    assert client.get(url, headers=h["admin_other_territory"]).status_code == 403
    response = client.get(url, headers=h["territory_admin"])
    assert response.status_code == 200
    assert response.headers["cache-control"] == "private, no-store"
    assert response.json()["tables"]["summary"]["rows"][1] == {
        "indicator": "validations",
        "count": 7,
        "suppressed": False,
    }
    assert client.get(url, headers=h["platform_admin"]).status_code == 200
    assert client.get("/api/v1/territories/ta/stats/publication").json()["public"] is False

    # A mediator cannot open the figures; the coordinator can, and it is journaled.
    body = {"public": True}
    put = "/api/v1/territories/ta/stats/publication"
    assert client.put(put, json=body, headers=h["mediator_of_structure"]).status_code == 403
    assert client.put(put, json=body, headers=h["admin_other_territory"]).status_code == 403
    response = client.put(put, json=body, headers=h["territory_admin"])
    assert response.status_code == 200 and response.json()["public"] is True
    with transaction(engine, write=False) as session:
        events = session.exec(
            select(AuditEvent.action).where(col(AuditEvent.action).like("stats.%"))
        ).all()
    assert events == ["stats.published"]

    # Public once the period is released (by the server's background task, or the CLI).
    response = client.get(url)
    assert response.status_code == 404 and response.json()["code"] == "period_not_released"
    assert "2026-Q1" in release.release(engine, settings, "ta")["ta"]
    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=3600"
    csv_response = client.get(
        "/api/v1/territories/ta/stats/validations_by_month.csv?start=2026-01-01&end=2026-03-31"
    )
    assert csv_response.status_code == 200
    assert csv_response.headers["content-type"] == "text/csv; charset=utf-8"
    assert csv_response.text.splitlines() == [
        "month,count,suppressed",
        "2026-01,,true",
        "2026-02,,true",
        "2026-03,,true",
        "total,7,false",
    ]
    archive = zipfile.ZipFile(io.BytesIO(client.get(url + "&format=csv").content))
    assert (
        "summary.csv" in archive.namelist() and "verifications_by_channel.csv" in archive.namelist()
    )

    # Closing again: public callers are refused once more.
    client.put(put, json={"public": False}, headers=h["territory_admin"])
    assert client.get(url).status_code == 401


def test_bad_requests_are_problems(client: TestClient, crafted: Crafted) -> None:
    h = crafted.world.headers["territory_admin"]
    cases = [
        ("/api/v1/territories/nowhere/stats", 404, "unknown_territory"),
        ("/api/v1/territories/ta/stats?format=xml", 422, "unknown_format"),
        ("/api/v1/territories/ta/stats?start=2026-03-01&end=2026-01-01", 422, "invalid_period"),
        ("/api/v1/territories/ta/stats?start=2000-01-01&end=2026-01-01", 422, "invalid_period"),
        ("/api/v1/territories/ta/stats/nothing.csv", 404, "unknown_table"),
    ]
    for url, status, code in cases:
        response = client.get(url, headers=h)
        assert response.status_code == status, url
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == code
    response = client.get("/api/v1/territories/ta/stats?start=yesterday", headers=h)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")


def test_the_cli_exports_csv_and_json(database_url: str, crafted: Crafted, tmp_path: Path) -> None:
    env = passeport_env(database_url)
    result = run_cli(
        "stats",
        "export",
        "--territory",
        "ta",
        "--format",
        "csv",
        "--out",
        str(tmp_path),
        "--start",
        "2026-01-01",
        "--end",
        "2026-03-31",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    folder = tmp_path / "stats-ta"
    with (folder / "summary.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["indicator"] for r in rows][:2] == ["passports_opened", "validations"]
    assert rows[1] == {"indicator": "validations", "count": "7", "suppressed": "false"}
    assert rows[0] == {"indicator": "passports_opened", "count": "7", "suppressed": "false"}
    for path in folder.glob("*.csv"):
        with path.open(encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                assert row["suppressed"] == ("true" if row["count"] == "" else "false")
                assert row["count"] in ("", "0") or int(row["count"]) >= 5, (path.name, row)
    header = (folder / "validations_by_competence_level.csv").read_text().splitlines()[0]
    assert header == "domain,competence,competence_label,level,count,suppressed"

    result = run_cli(
        "stats",
        "export",
        "--format",
        "json",
        "--out",
        str(tmp_path),
        "--start",
        "2026-01-01",
        "--end",
        "2026-03-31",
        env={**env, "PASSEPORT_STATS_THRESHOLD": "1"},
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads((tmp_path / "stats-ta.json").read_text())
    assert doc["schema"] == "passeport-numerique/stats/1" and doc["threshold"] == 1
    assert doc["instance"] == "http://127.0.0.1:8000"
    tb = json.loads((tmp_path / "stats-tb.json").read_text())
    assert {r["indicator"]: r["count"] for r in tb["tables"]["summary"]["rows"]}["validations"] == 1

    result = run_cli("stats", "export", "--territory", "nowhere", "--out", str(tmp_path), env=env)
    assert result.returncode == 2 and "nowhere" in result.stderr


@pytest.fixture
def tally() -> Iterator[Tally]:
    yield Tally()


def test_the_tally_adds_up_in_memory_and_flushes_by_addition(
    engine: sa.Engine, tally: Tally
) -> None:
    for _ in range(3):
        tally.record("valid", "qr")
    tally.record("revoked", "code")
    assert tally.flush(engine) == 4
    assert tally.flush(engine) == 0
    tally.record("valid", "qr")
    assert tally.flush(engine) == 1
    with transaction(engine, write=False) as session:
        rows = {(r.result, r.channel): r.count for r in session.exec(select(VerificationTally))}
    assert rows == {("valid", "qr"): 4, ("revoked", "code"): 1}


def test_the_app_flushes_the_tally_when_it_stops(app: FastAPI, engine: sa.Engine) -> None:
    TALLY.take()  # what other tests of this process may have left
    with TestClient(app) as client:
        record_verification("expired", "code")
        record_verification("expired", "code")
        assert client.get("/healthz").status_code == 200
        with transaction(engine, write=False) as session:
            assert session.exec(select(VerificationTally)).all() == []
    with transaction(engine, write=False) as session:
        rows = [(r.result, r.channel, r.count) for r in session.exec(select(VerificationTally))]
    assert rows == [("expired", "code", 2)]


def test_the_background_task_flushes_without_waiting_for_shutdown(
    engine: sa.Engine, tally: Tally
) -> None:
    TALLY.take()
    record_verification("valid", "qr")

    async def until_written() -> list[VerificationTally]:
        task = asyncio.create_task(tally_module.flush_periodically(engine, every=0.01))
        try:
            for _ in range(500):
                await asyncio.sleep(0.01)
                with transaction(engine, write=False) as session:
                    rows = list(session.exec(select(VerificationTally)))
                if rows:
                    return rows
            return []
        finally:
            task.cancel()

    rows = run_async(until_written())
    assert [(r.result, r.channel, r.count) for r in rows] == [("valid", "qr", 1)]
    assert TALLY.pending() == {}


def test_a_failed_flush_keeps_the_counts(tmp_path: Path, tally: Tally) -> None:
    empty = sa.create_engine(f"sqlite:///{tmp_path / 'empty.db'}")  # no tables: the write fails
    tally.record("valid", "code")
    with pytest.raises(sa.exc.OperationalError):
        tally.flush(empty)
    assert list(tally.pending().values()) == [1]
    empty.dispose()


def test_the_cache_serves_a_publication_again_then_recomputes(
    engine: sa.Engine, crafted: Crafted
) -> None:
    calls = []

    def compute() -> service.Published:
        calls.append(1)
        with transaction(engine, write=False) as session:
            return service.published(session, crafted.world.a, PERIOD, 5)

    key = service.cache_key(crafted.world.a, PERIOD, 5)
    cache = service.PublishedCache(seconds=3600)
    first = cache.get(key, compute)
    assert cache.get(key, compute) is first and len(calls) == 1
    expired = service.PublishedCache(seconds=0)
    expired.get(key, compute)
    expired.get(key, compute)
    assert len(calls) == 3
