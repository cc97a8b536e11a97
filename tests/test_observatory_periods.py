"""Public figures on fixed periods: no count below the threshold by differencing two documents.

A territory's data is generated at random (several sizes), every public document of two years is
computed as the API serves it, and every pair of documents is tried as a reader would: counts of
the same cell subtracted where one period holds the other, added where they are apart.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import select

from app.core.db import pk, transaction
from app.core.settings import Settings
from app.core.time import utcnow
from app.credentials.models import Credential
from app.observatory import release, secrecy, service
from app.observatory.models import StatsRelease, VerificationTally
from app.passports.models import Method, Passport, Validation
from app.structures.models import Structure
from app.territory.models import Territory
from tests.factories import make_passport, make_structure, make_territory, make_world
from tests.servers import passeport_env, run_cli

T = 5
# The day the documents are asked for: 2025 is over, 2026 runs to the end of November.
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
SKILLS = ["crcn:1.1", "crcn:2.1", "crcn:4.1", "crcn:4.2", "crcn:5.2", "pp:PP-01", "pp:PP-06"]
METHODS = [Method.OBSERVATION, Method.SITUATION, Method.EXERCISE, Method.PIX]


@dataclass
class Generated:
    territory: Territory
    structures: list[Structure]


def generate(
    engine: sa.Engine,
    people: int,
    seed: int,
    territory: Territory | None = None,
    structures: list[Structure] | None = None,
) -> Generated:
    """``people`` passports over 2025 and 2026, each with a few validations, some credentials
    and verifications: sparse enough that many cells are small."""
    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    territory = territory or make_territory(engine)
    structures = structures or [make_structure(engine, territory) for _ in range(3)]
    first = date(2025, 1, 1)
    span = (date(2026, 11, 30) - first).days
    for _ in range(people):
        passport = make_passport(engine, territory, structures[0])
        opened = first + timedelta(days=rng.randrange(span))
        with transaction(engine) as session:
            row = session.get(Passport, passport.id)
            assert row is not None
            row.created_at = datetime.combine(opened, datetime.min.time(), tzinfo=UTC)
            for _ in range(rng.randrange(1, 6)):
                on = opened + timedelta(days=rng.randrange(0, 200))
                method = rng.choice(METHODS)
                session.add(
                    Validation(
                        passport_id=pk(passport),
                        skill_code=rng.choice(SKILLS),
                        level=rng.randrange(1, 5),
                        method=method,
                        observed_on=min(on, date(2026, 12, 5)),
                        structure_id=None if method == Method.PIX else rng.choice(structures).id,
                    )
                )
            if rng.random() < 0.3:
                issued = opened + timedelta(days=rng.randrange(0, 100))
                session.add(
                    Credential(
                        territory_id=pk(territory),
                        passport_id=pk(passport),
                        jti=f"jti-{seed}-{passport.id}",
                        code=f"V-G{seed:02d}{passport.id:05d}",
                        kid="kid",
                        status_index=passport.id or 0,
                        skill_codes=["crcn:4.1"],
                        issued_at=datetime.combine(issued, datetime.min.time(), tzinfo=UTC),
                        expires_at=datetime(2030, 1, 1, tzinfo=UTC),
                    )
                )
    with transaction(engine) as session:
        for day in range(0, span, 9):
            for result in ("valid", "revoked"):
                count = rng.choice([0, 1, 2, 3, 6, 11])
                if count:
                    session.add(
                        VerificationTally(
                            day=first + timedelta(days=day),
                            result=result,
                            channel=rng.choice(["qr", "code"]),
                            count=count,
                        )
                    )
    return Generated(territory, structures)


def public_documents(
    engine: sa.Engine, settings: Settings, territory: Territory, now: datetime = NOW
) -> dict[str, dict[str, Any]]:
    """Every document the public can fetch for 2025 and 2026 (the years before are empty):
    released as the server does (each period as soon as it ends), and read back as stored."""
    released = release.release(engine, released_at_once(settings), territory.code, now=now)
    with transaction(engine, write=False) as session:
        stored = {
            row.period: row.document
            for row in session.exec(
                select(StatsRelease).where(StatsRelease.territory_id == pk(territory))
            )
            if row.period_start.year >= 2025
        }
    assert set(stored) <= set(released[territory.code])
    return stored


def released_at_once(settings: Settings) -> Settings:
    """The instance's settings with each period released as soon as it ends (and settled)."""
    return settings.model_copy(update={"stats_release_days": 0, "stats_threshold": T})


def single_documents(engine: sa.Engine, territory: Territory) -> dict[str, dict[str, Any]]:
    """The same periods, each document suppressed on its own (as before fixed periods)."""
    with transaction(engine, write=False) as session:
        return {
            p.id: service.published(session, territory, p, T).document()
            for p in service.public_periods(NOW)
            if p.start.year >= 2025 and p.id is not None
        }


def cells(document: dict[str, Any]) -> dict[tuple[Any, ...], int | None]:
    out = {}
    for name, table in document["tables"].items():
        dims = table["columns"][:-2]
        for row in table["rows"]:
            out[(name, *(row[d] for d in dims))] = row["count"]
    return out


def differences(documents: dict[str, dict[str, Any]]) -> list[str]:
    """Every count below the threshold that two documents give by difference (or by sum)."""
    periods = {name: service.fixed(name) for name in documents}
    found = []
    for a, b in itertools.combinations(sorted(documents), 2):
        pa, pb = periods[a], periods[b]
        assert pa is not None and pb is not None
        ca, cb = cells(documents[a]), cells(documents[b])
        for key in ca.keys() & cb.keys():
            x, y = ca[key], cb[key]
            if x is None or y is None:
                continue
            if pa.contains(pb) or pb.contains(pa):
                value = abs(x - y)
            elif pa.end < pb.start or pb.end < pa.start:
                value = x + y
            else:  # pragma: no cover - calendar periods never overlap otherwise
                raise AssertionError(f"{a} and {b} overlap")
            if 0 < value < T:
                found.append(f"{a} vs {b}: {key} gives {value}")
    return found


@pytest.mark.parametrize(("people", "seed"), [(8, 1), (40, 2), (150, 3)])
def test_no_pair_of_public_documents_gives_a_small_count(
    engine: sa.Engine, settings: Settings, people: int, seed: int
) -> None:
    generated = generate(engine, people, seed)
    documents = public_documents(engine, settings, generated.territory)
    assert len(documents) == 17 + 14  # 2025: 12 months, 4 quarters, the year; 2026: to November
    for name, document in documents.items():
        assert document["period"]["id"] == name
        small = [k for k, v in cells(document).items() if v is not None and 0 < v < T]
        assert small == [], name
    assert differences(documents) == []


@pytest.mark.parametrize(("people", "seed"), [(40, 2)])
def test_documents_suppressed_one_by_one_give_small_counts_away(
    engine: sa.Engine, people: int, seed: int
) -> None:
    """The attack of issue 19 on the same data, with each document suppressed on its own: the
    pairs above do find small counts, which is what the family's secrecy closes."""
    generated = generate(engine, people, seed)
    assert differences(single_documents(engine, generated.territory)) != []


def test_the_exact_audit_of_a_year_finds_nothing_and_catches_a_leak(engine: sa.Engine) -> None:
    generated = generate(engine, 40, 4)
    with transaction(engine, write=False) as session:
        territory = generated.territory
        stages = service.family_stages(service.year_period(2025), NOW)
        books = {}
        for stage in stages:
            for q in stage:
                f = service.figures(session, pk(territory), q)
                ref = service.reference(session, pk(territory), f.structures)
                books[q.id] = service.book(f, ref, q)
    docs = [secrecy.Document(name, b.values, b.lines) for name, b in books.items()]
    docs_by_name = {doc.name: doc for doc in docs}
    relations = service.calendar_relations(p for s in stages for p in s)
    hidden = secrecy.family([[docs_by_name[p.id] for p in s] for s in stages], relations, T)
    assert secrecy.exposed(docs, hidden, relations, T) == set()
    # Each document suppressed alone: the audit of the same year finds cells and differences.
    alone: dict[Hashable, set[secrecy.Key]] = {
        name: secrecy.suppress(b.values, b.lines, T) for name, b in books.items()
    }
    assert secrecy.exposed(docs, alone, relations, T) != set()


def test_the_public_reads_fixed_periods_and_coordinators_any(
    client: TestClient, engine: sa.Engine, settings: Settings
) -> None:
    world = make_world(engine)
    generate(engine, 30, 5, territory=world.a, structures=[world.a1, world.a2])
    h = world.headers
    base = "/api/v1/territories/ta/stats"
    days = settings.stats_release_days
    latest = service.latest_public_period(days=days)
    today = utcnow().date()
    # The attack, before the territory publishes: coordinators only, as before.
    attack = [f"{base}?start={today - timedelta(days=d)}&end={today}" for d in (62, 61)]
    assert client.get(attack[0]).status_code == 401
    assert client.get(f"{base}?period={latest.id}").status_code == 401

    put = client.put(f"{base}/publication", json={"public": True}, headers=h["territory_admin"])
    assert put.status_code == 200
    # Published, but nothing released yet: the public is told when a period will be.
    before = client.get(f"{base}?period={latest.id}")
    assert before.status_code == 404 and before.json()["code"] == "period_not_released"
    assert before.json()["periods"] == []
    listed = client.get(f"{base}/periods").json()
    assert listed["default"] == latest.id and not any(p["released"] for p in listed["periods"])
    assert client.get(base).json()["code"] == "period_not_released"

    assert release.release(engine, settings, "ta")["ta"]
    listed = client.get(f"{base}/periods").json()
    ids = [p["id"] for p in listed["periods"]]
    assert listed["default"] == latest.id and listed["release_days"] == days
    assert all(p["released"] for p in listed["periods"])
    assert {str(today.year - 1), f"{today.year - 1}-Q4", latest.id} <= set(ids)
    # The periods still running are not released.
    running = [f"{today.year}", f"{today.year}-{today.month:02d}"]
    assert not set(running) & set(ids)
    assert {p["kind"] for p in listed["periods"]} == {"month", "quarter", "year"}

    # Two documents a day apart, from the public: refused, with the periods that exist.
    for url in [
        *attack,
        f"{base}?period=2026-13",
        f"{base}?period=yesterday",
        # Years past the calendar's end (a 500 before) or before the service records anything.
        *(
            f"{base}{csv}?period={y}"
            for y in ("9999", "9999-12", "9999-Q4", "1989-01")
            for csv in ("", "/passports.csv")
        ),
        f"{base}/summary.csv?start={today - timedelta(days=1)}&end={today}",
    ]:
        for who in ("anonymous", "mediator_of_structure", "admin_other_territory"):
            response = client.get(url, headers=h[who])
            assert response.status_code == 422, (url, who)
            assert response.headers["content-type"].startswith("application/problem+json")
            problem = response.json()
            assert problem["code"] == "period_not_public", url
            assert problem["periods"] == ids
    # A fixed period not released yet: when it will be.
    for name in running:
        p = service.fixed(name)
        assert p is not None
        response = client.get(f"{base}?period={name}", headers=h["anonymous"])
        assert response.status_code == 404, name
        problem = response.json()
        assert problem["code"] == "period_not_released" and problem["periods"] == ids
        assert problem["period"] == name
        assert problem["release_after"] == service.release_due(p, days).isoformat(
            timespec="seconds"
        )
    both = client.get(f"{base}?period={latest.id}&start={latest.start}&end={latest.end}")
    assert both.status_code == 422 and both.json()["code"] == "invalid_period"

    # A fixed period, by its id or by its days, is the same public document.
    by_id = client.get(f"{base}?period={latest.id}")
    by_days = client.get(f"{base}?start={latest.start}&end={latest.end}")
    default = client.get(base)
    assert by_id.status_code == by_days.status_code == default.status_code == 200
    assert by_id.headers["cache-control"] == "public, max-age=3600"
    assert by_id.json()["period"] == {
        "id": latest.id,
        "kind": "month",
        "start": latest.start.isoformat(),
        "end": latest.end.isoformat(),
    }
    assert by_id.content == by_days.content == default.content
    assert f'filename="stats-ta-{latest.id}.json"' in by_id.headers["content-disposition"]
    year = client.get(f"{base}/summary.csv?period={today.year - 1}")
    assert year.status_code == 200 and year.text.startswith("indicator,count,suppressed\n")

    # The territory's coordinators still choose any days, and read a period not released yet
    # as it stands now; never for a shared cache.
    for who in ("territory_admin", "platform_admin"):
        for url in [*attack, f"{base}?period={running[1]}"]:
            response = client.get(url, headers=h[who])
            assert response.status_code == 200, (url, who)
            assert response.headers["cache-control"] == "private, no-store"
            assert response.json()["period"]["id"] in (None, running[1])


@pytest.mark.parametrize(("people", "seed"), [(40, 6)])
def test_a_years_figures_counted_at_once_are_each_periods_own(
    engine: sa.Engine, people: int, seed: int
) -> None:
    """The year's documents are counted month by month in one query per view and summed; each
    period's counts are the same as counted for it alone (progress included)."""
    generated = generate(engine, people, seed)
    territory_id = generated.territory.id
    assert territory_id is not None
    with transaction(engine, write=False) as session:
        for year in (2025, 2026):
            periods = [p for s in service.family_stages(service.year_period(year), NOW) for p in s]
            together = service.family_figures(session, territory_id, periods)
            assert set(together) == {p.id for p in periods}
            for p in periods:
                assert together[str(p.id)] == service.figures(session, territory_id, p), p.id


def test_the_cli_releases_once_and_exports_a_released_period_as_the_public_gets_it(
    engine: sa.Engine, settings: Settings, database_url: str, tmp_path: Path
) -> None:
    generated = generate(engine, 40, 8)
    code = generated.territory.code
    env = passeport_env(database_url)
    # Ten years of periods at once: give a loaded machine time.
    first = run_cli("stats", "release", "--territory", code, env=env, timeout=300)
    assert first.returncode == 0, first.stderr
    with transaction(engine, write=False) as session:
        latest = service.latest_public_period(days=settings.stats_release_days)
        held = session.exec(
            select(StatsRelease.period).where(StatsRelease.territory_id == generated.territory.id)
        ).all()
    # Every period of the ten years, months, quarters and years, up to the last one due.
    oldest = f"{utcnow().year - service.PUBLIC_YEARS + 1}-01"
    assert {oldest, "2025-Q3", "2025", str(latest.id)} <= set(held)
    assert first.stdout == f"{code}: released {len(held)} periods, {oldest} to {latest.id}\n"
    again = run_cli("stats", "release", env=env, timeout=300)
    assert again.returncode == 0 and again.stdout == f"{code}: nothing to release\n"
    unknown = run_cli("stats", "release", "--territory", "nowhere", env=env)
    assert unknown.returncode == 2 and "nowhere" in unknown.stderr
    assert "Traceback" not in unknown.stderr

    quarter = service.quarter_period(2025, 3)
    done = run_cli(
        "stats",
        "export",
        "--territory",
        code,
        "--format",
        "json",
        "--out",
        str(tmp_path),
        "--start",
        quarter.start.isoformat(),
        "--end",
        quarter.end.isoformat(),
        env=env,
    )
    assert done.returncode == 0, done.stderr
    exported = json.loads((tmp_path / f"stats-{code}.json").read_text(encoding="utf-8"))
    with transaction(engine, write=False) as session:
        stored = session.get(StatsRelease, (generated.territory.id, "2025-Q3"))
        assert stored is not None
    assert exported == stored.document


def test_a_national_period_past_the_calendar_is_refused_not_a_server_error(
    client: TestClient,
) -> None:
    # Year 9999's December or fourth quarter ends where the calendar does (a 500 before).
    for period in ("9999", "9999-12", "9999-Q4", "0000", "1989"):
        for route in ("/api/v1/federation/stats", "/api/v1/federation/stats/passports.csv"):
            response = client.get(f"{route}?period={period}")
            assert 400 <= response.status_code < 500, (route, period, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
