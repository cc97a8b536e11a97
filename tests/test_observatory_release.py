"""Released figures: computed once after the period ends, stored, served as stored ever after.

The attack closed here (issue 19, part 2): a reader keeps a period's document, a validation dated
in that period is recorded later (or one is withdrawn), and the same period's document fetched
again, subtracted from the first, gives the late record's counts.
"""

from __future__ import annotations

from collections.abc import Hashable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import col, select

from app.core.db import pk, transaction
from app.core.settings import Settings
from app.credentials.verifier import Verifier
from app.federation.refresher import Refresher
from app.observatory import release, secrecy, service
from app.observatory.models import StatsRelease
from app.passports.models import Method, Passport, Validation
from tests.factories import make_world
from tests.test_observatory_periods import T, cells, differences, generate, released_at_once

# Mid-November: October and the third quarter are released, November is not.
FIRST = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)
# After the new year: November, December, the fourth quarter and 2026 are released too.
SECOND = datetime(2027, 1, 10, 12, 0, tzinfo=UTC)
BASE = "/api/v1/territories/ta/stats"


def _late_records(engine: sa.Engine, territory_id: int, month: int = 10) -> None:
    """What reaches the database after ``month`` (of 2026) was released: three validations
    observed in that month and one the month before, recorded now, and the last validation
    observed before that month withdrawn."""
    with transaction(engine) as session:
        passports = session.exec(
            select(Passport).where(Passport.territory_id == territory_id).order_by(col(Passport.id))
        ).all()
        for i, day in enumerate([3, 20, 21]):
            session.add(
                Validation(
                    passport_id=pk(passports[i]),
                    skill_code="crcn:3.1",
                    level=6,
                    method=Method.OBSERVATION,
                    observed_on=date(2026, month, day),
                )
            )
        session.add(
            Validation(
                passport_id=pk(passports[3]),
                skill_code="crcn:1.1",
                level=1,
                method=Method.SITUATION,
                observed_on=date(2026, month - 1, 28),
            )
        )
        withdrawn = session.exec(
            select(Validation)
            .join(Passport)
            .where(
                Passport.territory_id == territory_id,
                Validation.observed_on < date(2026, month, 1),
                col(Validation.withdrawn_at).is_(None),
            )
            .order_by(col(Validation.observed_on).desc(), col(Validation.id))
        ).first()
        assert withdrawn is not None
        withdrawn.withdrawn_at = datetime(2026, month, 28, tzinfo=UTC)


def _stored(engine: sa.Engine, territory_id: int, year: int) -> dict[str, StatsRelease]:
    with transaction(engine, write=False) as session:
        rows = session.exec(
            select(StatsRelease).where(StatsRelease.territory_id == territory_id)
        ).all()
        session.expunge_all()
    return {r.period: r for r in rows if r.period_start.year == year}


def _additive(name: str) -> bool:
    return not name.startswith("progress_by") and name != "summary"


def test_a_late_record_after_release_changes_nothing_public(
    client: TestClient, engine: sa.Engine, settings: Settings
) -> None:
    world = make_world(engine)
    generate(engine, 40, 11, territory=world.a, structures=[world.a1, world.a2])
    admin = world.headers["territory_admin"]
    assert client.put(f"{BASE}/publication", json={"public": True}, headers=admin).is_success
    at_once = released_at_once(settings)

    first = release.release(engine, at_once, "ta", now=FIRST)["ta"]
    assert {"2026-10", "2026-Q3", "2025"} <= set(first) and "2026-11" not in first
    urls = [f"{BASE}?period={p}" for p in ("2026-09", "2026-10", "2026-Q3", "2025", "2026-01")] + [
        f"{BASE}/validations_by_month.csv?period=2026-Q3",
        f"{BASE}?period=2026-Q3&format=csv",
    ]
    before = {url: client.get(url) for url in urls}
    assert all(r.status_code == 200 for r in before.values())
    with transaction(engine, write=False) as session:
        october = service.published(session, world.a, service.month_period(2026, 10), T)
    live_before = cells(october.document())

    _late_records(engine, pk(world.a))

    # Computed live, October's document would have changed: the attack had something to read.
    with transaction(engine, write=False) as session:
        october = service.published(session, world.a, service.month_period(2026, 10), T)
    live_after = cells(october.document())
    assert live_after != live_before
    # Served: the same bytes as before the late records, for every reader.
    for url, response in before.items():
        again = client.get(url)
        assert again.status_code == 200 and again.content == response.content, url
        assert again.headers["cache-control"] == "public, max-age=3600"
    # Releasing again releases nothing and changes nothing stored.
    stored = _stored(engine, pk(world.a), 2026)
    assert release.release(engine, at_once, "ta", now=FIRST) == {"ta": []}
    assert {
        name: (r.released_at, r.document) for name, r in _stored(engine, pk(world.a), 2026).items()
    } == {name: (r.released_at, r.document) for name, r in stored.items()}

    # The rest of the year, released later: the quarter and the year add up the months as
    # released, so the late October records show in no difference of public documents.
    second = release.release(engine, at_once, "ta", now=SECOND)["ta"]
    assert set(second) == {"2026-11", "2026-12", "2026-Q4", "2026"}
    documents = {name: row.document for name, row in _stored(engine, pk(world.a), 2026).items()}
    for name, row in stored.items():
        assert documents[name] == row.document, name
    assert differences(documents) == []
    quarter = cells(documents["2026-Q4"])
    months = [cells(documents[m]) for m in ("2026-10", "2026-11", "2026-12")]
    summed = [
        key
        for key, value in quarter.items()
        if _additive(key[0]) and value is not None and all(m.get(key) is not None for m in months)
    ]
    assert summed
    for key in summed:
        assert quarter[key] == sum(m[key] or 0 for m in months), key
    # The late records are in no public document: level 6 of crcn:3.1 was never observed but
    # by them, and is 0 (or hidden) everywhere.
    for name, document in documents.items():
        rows = document["tables"]["validations_by_competence_level"]["rows"]
        (cell,) = [r for r in rows if r["competence"] == "crcn:3.1" and r["level"] == 6]
        assert cell["count"] in (0, None), name


def _audit(engine: sa.Engine, territory_id: int, year: int) -> set[Any]:
    """The exact audit of a year's released documents read together: every suppressed cell and
    every small difference that the published cells and all the lines pin to one value."""
    rows = _stored(engine, territory_id, year)
    periods = [p for p in (service.fixed(name) for name in rows) if p is not None]
    with transaction(engine, write=False) as session:
        labels = service.reference(session, territory_id, ())
    docs: list[secrecy.Document] = []
    hidden: dict[Hashable, set[secrecy.Key]] = {}
    for p in periods:
        kept = rows[str(p.id)].figures
        ref = service.Reference(
            labels.competences,
            labels.domains,
            labels.first_steps,
            {int(k): v for k, v in kept["structures_named"]},
        )
        b = service.book(release.figures_of(kept), ref, p)
        docs.append(secrecy.Document(p.id, b.values, b.lines))
        hidden[p.id] = {release._tuples(k) for k in kept["hidden"]}
    return secrecy.exposed(docs, hidden, service.calendar_relations(periods), T)


@pytest.mark.parametrize(("people", "seed"), [(8, 21), (60, 22)])
def test_releases_month_by_month_with_data_arriving_late_give_no_small_count(
    engine: sa.Engine, settings: Settings, people: int, seed: int
) -> None:
    """The year released one month at a time, with late records landing between releases
    (validations dated in months already released): every pair of 2026's released documents,
    and the exact audit of all of them together, give nothing below the threshold."""
    generated = generate(engine, people, seed)
    territory = generated.territory
    at_once = released_at_once(settings)
    for month in range(1, 13):
        now = datetime(2026, month, 1, tzinfo=UTC) + timedelta(days=31, hours=1)
        now = now.replace(day=1)
        release.release(engine, at_once, territory.code, now=now)
        if month in (4, 8, 11):
            _late_records(engine, pk(territory), month)
    documents = {name: r.document for name, r in _stored(engine, pk(territory), 2026).items()}
    assert len(documents) == 12 + 4 + 1
    for name, document in documents.items():
        small = [k for k, v in cells(document).items() if v is not None and 0 < v < T]
        assert small == [], name
    assert differences(documents) == []
    assert _audit(engine, pk(territory), 2026) == set()


def test_a_period_not_released_says_when_it_will_be(
    client: TestClient, engine: sa.Engine, settings: Settings
) -> None:
    """Over, but within the release days: the public is told when; its coordinators read the
    figures as they stand."""
    world = make_world(engine)
    generate(engine, 20, 31, territory=world.a, structures=[world.a1, world.a2])
    admin = world.headers["territory_admin"]
    assert client.put(f"{BASE}/publication", json={"public": True}, headers=admin).is_success
    now = datetime(2026, 12, 3, tzinfo=UTC)
    done = release.release(engine, settings, "ta", now=now)["ta"]
    november = service.month_period(2026, 11)
    assert "2026-10" in done and "2026-11" not in done
    due = service.release_due(november, settings.stats_release_days)
    assert due == datetime(2026, 12, 8, 0, 5, tzinfo=UTC) and due > now
    response = client.get(f"{BASE}?period=2026-11")
    assert response.status_code == 404
    problem = response.json()
    assert problem["code"] == "period_not_released" and problem["period"] == "2026-11"
    assert problem["release_after"] == "2026-12-08T00:05:00+00:00"
    assert "2026-10" in problem["periods"] and "2026-11" not in problem["periods"]
    mine = client.get(f"{BASE}?period=2026-11", headers=admin)
    assert mine.status_code == 200 and mine.headers["cache-control"] == "private, no-store"
    assert mine.json()["period"]["id"] == "2026-11"
    # The default is the last month released.
    assert client.get(BASE).json()["period"]["id"] == "2026-10"


def test_the_servers_background_refresher_releases_what_is_due(
    engine: sa.Engine, settings: Settings
) -> None:
    world = make_world(engine)
    generate(engine, 8, 41, territory=world.a, structures=[world.a1])
    hourly = settings.model_copy(update={"trust_refresh_seconds": 3600.0})
    refresher = Refresher(engine, hourly, Verifier(engine, hourly))
    refresher.run_once()
    with transaction(engine, write=False) as session:
        held = release.released_ids(session, pk(world.a))
        other = release.released_ids(session, pk(world.b))
    latest = service.latest_public_period(days=settings.stats_release_days)
    # Every territory, publishing or not, up to the last month due.
    assert str(latest.id) in held and held == other
    assert release.latest_month(held) == latest.id


def test_two_releases_computed_at_once_keep_the_first_stored(
    engine: sa.Engine, settings: Settings
) -> None:
    """Two processes (two server workers, or the CLI beside the server) compute the same periods:
    the first to store wins, the second keeps nothing, and what is served is the first's."""
    generated = generate(engine, 8, 51)
    territory = generated.territory
    at_once = released_at_once(settings)
    computed = []
    for instance in ("https://first.example", "https://second.example"):
        with transaction(engine, write=False) as session:
            computed.append(release.release_year(session, territory, 2025, T, instance, FIRST, 0))
    assert [len(rows) for rows in computed] == [17, 17]
    assert release.store(engine, computed[0]) is True
    assert release.store(engine, computed[1]) is False
    stored = _stored(engine, pk(territory), 2025)
    assert {r.document["instance"] for r in stored.values()} == {"https://first.example"}
    # And a later run releases only what is left (2026 to October), not 2025 again.
    done = release.release(engine, at_once, territory.code, now=FIRST)[territory.code]
    assert done and all(not p.startswith("2025") for p in done)
