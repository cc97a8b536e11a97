"""The public directory « Où se faire accompagner »: search, filters, a place's page, every
territory of the Republic and its time zone, on the real database (both, see conftest)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.accounts.models import Role
from app.core import zones
from app.core.db import transaction
from app.directory import hours
from app.directory import service as directory
from app.passports.models import Method, Validation
from app.structures.models import Structure
from app.territory.models import Territory
from tests.factories import (
    bearer,
    browser_login,
    make_account,
    make_passport,
    make_territory,
    make_world,
    record_validation,
)

API = "/api/v1"

# Every overseas department and collectivity, with a real commune: (INSEE, postcode, town).
OVERSEAS_PLACES = [
    ("97105", "97100", "Basse-Terre", "971"),
    ("97209", "97200", "Fort-de-France", "972"),
    ("97302", "97300", "Cayenne", "973"),
    ("97411", "97400", "Saint-Denis", "974"),
    ("97502", "97500", "Saint-Pierre", "975"),
    ("97611", "97600", "Mamoudzou", "976"),
    ("97701", "97133", "Saint-Barthélemy", "977"),
    ("97801", "97150", "Saint-Martin", "978"),
    ("98613", "98600", "Uvea", "986"),
    ("98735", "98714", "Papeete", "987"),
    ("98818", "98800", "Nouméa", "988"),
]


@pytest.fixture
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[datetime]]:
    """The directory's clock, set by the test: [instant]."""
    now = [datetime(2026, 12, 7, 23, 30, tzinfo=UTC)]
    monkeypatch.setattr(directory, "clock", lambda: now[0])
    yield now


def _place(client: TestClient, code: str, headers: dict[str, str], **fields: Any) -> int:
    body = {"nom": "Lieu", "commune": "Cayenne", "code_postal": "97300", "adresse": "1 rue"}
    body.update(fields)
    response = client.post(f"{API}/territories/{code}/structures", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


@pytest.fixture
def coordinator(engine: sa.Engine) -> tuple[str, dict[str, str]]:
    territory = make_territory(engine, "988", "Nouvelle-Calédonie")
    admin = make_account(engine, Role.TERRITORY_ADMIN, territory)
    return territory.code, bearer(engine, admin)


def _search(client: TestClient, **params: Any) -> dict[str, Any]:
    response = client.get(f"{API}/directory/places", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _names(body: dict[str, Any]) -> list[str]:
    return [item["nom"] for item in body["items"]]


def test_every_overseas_territory_is_accepted_and_shown(
    client: TestClient, coordinator: tuple[str, dict[str, str]]
) -> None:
    code, headers = coordinator
    for insee, postcode, town, _ in OVERSEAS_PLACES:
        _place(
            client,
            code,
            headers,
            nom=f"Lieu de {town}",
            commune=town,
            code_postal=postcode,
            code_insee=insee,
        )
    body = _search(client, limit=100)
    assert body["total"] == len(OVERSEAS_PLACES)
    departments = {item["commune"]: item["department"] for item in body["items"]}
    assert departments == {town: dept for _, _, town, dept in OVERSEAS_PLACES}
    # Each one found by its department, and by its postcode.
    for _, postcode, town, dept in OVERSEAS_PLACES:
        assert _names(_search(client, department=dept)) == [f"Lieu de {town}"]
        assert f"Lieu de {town}" in _names(_search(client, q=postcode))
    # Saint-Barthélemy's postcode starts 971 but it is not Guadeloupe.
    assert _names(_search(client, department="971")) == ["Lieu de Basse-Terre"]


def test_search_by_name_town_and_postcode_without_accents(
    client: TestClient, coordinator: tuple[str, dict[str, str]]
) -> None:
    code, headers = coordinator
    _place(client, code, headers, nom="Médiathèque Bernheim", commune="Nouméa", code_postal="98800")
    _place(client, code, headers, nom="Maison des services", commune="Koné", code_postal="98860")
    _place(client, code, headers, nom="Espace numérique", commune="Cayenne", code_postal="97300")
    assert _names(_search(client, q="mediatheque")) == ["Médiathèque Bernheim"]
    assert _names(_search(client, q="NOUMEA")) == ["Médiathèque Bernheim"]
    assert _names(_search(client, q="kone services")) == ["Maison des services"]
    assert _names(_search(client, q="988")) == ["Maison des services", "Médiathèque Bernheim"]
    assert _names(_search(client, q="98860")) == ["Maison des services"]
    assert _search(client, q="Paris")["total"] == 0
    # Paging: the total stays, the page moves.
    page = _search(client, limit=1, offset=1)
    assert page["total"] == 3 and _names(page) == ["Maison des services"]


def test_filters_combine(
    client: TestClient,
    engine: sa.Engine,
    coordinator: tuple[str, dict[str, str]],
    fixed_clock: list[datetime],
) -> None:
    code, headers = coordinator
    # Monday 8 December 2026, 10:30 in Nouméa (23:30 UTC on the 7th).
    _place(
        client,
        code,
        headers,
        nom="A gratuit ouvert",
        code_postal="98800",
        services=["Aide aux démarches administratives", "Accès internet"],
        frais_a_charge=["Gratuit"],
        horaires="Mo-Fr 08:00-12:00",
    )
    _place(
        client,
        code,
        headers,
        nom="B payant accessible",
        code_postal="98800",
        services=["Accès internet"],
        frais_a_charge=["Payant"],
        prise_en_charge_specifique=["Handicaps moteurs"],
        horaires="Mo-Fr 13:00-17:00",
    )
    _place(client, code, headers, nom="C sans horaires", code_postal="98800")
    assert _names(_search(client, free=True)) == ["A gratuit ouvert"]
    assert _names(_search(client, accessible=True)) == ["B payant accessible"]
    assert _names(_search(client, open_now=True)) == ["A gratuit ouvert"]
    assert _names(_search(client, service="Accès internet")) == [
        "A gratuit ouvert",
        "B payant accessible",
    ]
    assert _names(_search(client, service="accès internet", free=True)) == ["A gratuit ouvert"]
    body = _search(client, service=["Accès internet", "Aide aux démarches administratives"])
    assert _names(body) == ["A gratuit ouvert"]
    assert body["services"] == ["Accès internet", "Aide aux démarches administratives"]
    items = {item["nom"]: item for item in _search(client)["items"]}
    assert items["C sans horaires"]["open_now"] is None
    assert items["B payant accessible"]["open_now"] is False


def _territory_and_structure(engine: sa.Engine, structure_id: int) -> tuple[Territory, Structure]:
    with transaction(engine) as session:
        structure = session.get(Structure, structure_id)
        assert structure is not None
        territory = session.get(Territory, structure.territory_id)
        assert territory is not None
    return territory, structure


def _validations(engine: sa.Engine, structure_id: int, on: date, count: int) -> None:
    territory, structure = _territory_and_structure(engine, structure_id)
    passport = make_passport(engine, territory, structure)
    mediator = make_account(engine, Role.MEDIATOR, territory, [structure])
    with transaction(engine) as session:
        for _ in range(count):
            session.add(
                Validation(
                    passport_id=passport.id,  # type: ignore[arg-type]
                    skill_code="pp:PP-06",
                    level=2,
                    method=Method.OBSERVATION,
                    observed_on=on,
                    account_id=mediator.id,
                    structure_id=structure_id,
                )
            )


def test_validates_the_passport_under_statistical_secrecy(
    client: TestClient,
    engine: sa.Engine,
    coordinator: tuple[str, dict[str, str]],
    fixed_clock: list[datetime],
) -> None:
    code, headers = coordinator
    many = _place(client, code, headers, nom="Beaucoup", code_postal="98800")
    few = _place(client, code, headers, nom="Peu", code_postal="98800")
    old = _place(client, code, headers, nom="Autrefois", code_postal="98800")
    _place(client, code, headers, nom="Jamais", code_postal="98800")
    # The window: December 2025 to November 2026, whole months (the clock is on 7 December).
    _validations(engine, many, date(2026, 11, 30), 7)
    _validations(engine, few, date(2025, 12, 1), 2)
    _validations(engine, old, date(2025, 11, 30), 9)  # before the window
    _validations(engine, old, date(2026, 12, 1), 9)  # this month: counted from January
    body = _search(client, validates=True)
    assert (body["window_start"], body["window_end"]) == ("2025-12-01", "2026-11-30")
    assert body["threshold"] == 5
    counts = {item["nom"]: item["validations_count"] for item in body["items"]}
    # Under the threshold, the place is listed but its count is never shown.
    assert counts == {"Beaucoup": 7, "Peu": None}
    place = client.get(f"{API}/directory/places/{few}").json()
    assert place["validates"] is True and place["validations_count"] is None
    # A withdrawn validation does not count.
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE validation SET withdrawn_at = :at WHERE structure_id = :s"),
            {"at": datetime(2026, 12, 1, tzinfo=UTC), "s": few},
        )
    assert _names(_search(client, validates=True)) == ["Beaucoup"]


def test_new_caledonia_today_and_hours_at_2330_utc(
    client: TestClient, coordinator: tuple[str, dict[str, str]], fixed_clock: list[datetime]
) -> None:
    code, headers = coordinator
    noumea = _place(
        client,
        code,
        headers,
        nom="Médiathèque Bernheim",
        commune="Nouméa",
        code_postal="98800",
        code_insee="98818",
        telephone="+687 24 20 90",
        horaires="Mo-Fr 07:30-11:30,12:30-16:00; Sa 08:00-11:00; PH off",
    )
    paris = _place(
        client,
        code,
        headers,
        nom="Paris",
        commune="Paris",
        code_postal="75011",
        horaires="Mo-Fr 07:30-11:30,12:30-16:00",
    )
    # 23:30 UTC on Monday 7 December: Tuesday 8 at 10:30 in Nouméa (UTC+11), still Monday
    # (00:30 on Tuesday) in Paris, where the place is closed.
    place = client.get(f"{API}/directory/places/{noumea}").json()
    assert place["time_zone"] == "Pacific/Noumea"
    assert place["local_date"] == "2026-12-08"
    assert place["local_time"] == "10:30"
    assert place["open_now"] is True
    assert place["telephone"] == "+687242090"
    assert place["week"][1] == {"day": 1, "ranges": ["07:30-11:30", "12:30-16:00"]}
    assert place["week"][6] == {"day": 6, "ranges": []}
    other = client.get(f"{API}/directory/places/{paris}").json()
    assert (other["time_zone"], other["local_date"], other["local_time"]) == (
        "Europe/Paris",
        "2026-12-08",
        "00:30",
    )
    assert other["open_now"] is False
    # At the lunch break in Nouméa (12:00 local = 01:00 UTC), closed; at 23:59 local on
    # Saturday (12:59 UTC), closed; on Saturday 09:00 local, open.
    fixed_clock[0] = datetime(2026, 12, 8, 1, 0, tzinfo=UTC)
    assert client.get(f"{API}/directory/places/{noumea}").json()["open_now"] is False
    fixed_clock[0] = datetime(2026, 12, 11, 22, 0, tzinfo=UTC)
    body = client.get(f"{API}/directory/places/{noumea}").json()
    assert (body["local_date"], body["open_now"]) == ("2026-12-12", True)
    assert _names(_search(client, open_now=True)) == ["Médiathèque Bernheim"]


def test_a_place_page_and_its_problems(
    client: TestClient, engine: sa.Engine, coordinator: tuple[str, dict[str, str]]
) -> None:
    code, headers = coordinator
    place_id = _place(
        client,
        code,
        headers,
        nom="Espace public numérique",
        code_postal="98800",
        courriels=["contact@epn.nc"],
        site_web=["https://epn.nc"],
        services=["Accès internet"],
        horaires="du lundi au vendredi",
    )
    territory, structure = _territory_and_structure(engine, place_id)
    make_account(engine, Role.MEDIATOR, territory, [structure], email="m1@example.org")
    body = client.get(f"{API}/directory/places/{place_id}").json()
    assert body["territory"] == {"code": code, "name": "Nouvelle-Calédonie"}
    assert body["courriels"] == ["contact@epn.nc"]
    assert len(body["mediators"]) == 1
    # Hours not in the OSM syntax are shown as written, never guessed.
    assert body["week"] is None and body["horaires"] == "du lundi au vendredi"
    assert body["open_now"] is None
    missing = client.get(f"{API}/directory/places/{place_id + 1000}")
    assert missing.status_code == 404 and missing.json()["code"] == "unknown_structure"
    bad = client.get(f"{API}/directory/places", params={"q": "a\x00b"})
    assert bad.status_code == 422


def test_opening_hours_syntax() -> None:
    week = hours.parse("Mo-Fr 09:00-12:00,14:00-17:00; Sa 09:00-12:00; We off; PH off")
    assert week is not None
    assert week[0] == ((540, 720), (840, 1020)) and week[2] == () and week[6] == ()
    late = hours.parse("Fr-Sa 20:00-02:00")
    assert late is not None
    assert hours.is_open(late, datetime(2026, 12, 12, 1, 0))  # Saturday 01:00, Friday's night
    assert not hours.is_open(late, datetime(2026, 12, 11, 1, 0))  # Friday 01:00
    assert hours.parse("24/7") is not None and hours.parse("Mo 9h-12h") is None
    assert hours.parse("Jan-Mar Mo 09:00-12:00") is None


def test_department_and_zone_rules() -> None:
    assert zones.department("2A004", "20000") == "2A"
    assert zones.department(None, "20200") == "2B"
    assert zones.department(None, "97133") == "977"
    assert zones.zone_name("988") == "Pacific/Noumea"
    assert zones.zone_name("75") == "Europe/Paris"
    assert zones.department_of_territory("nouvelle-caledonie") == "988"
    noon = datetime(2026, 6, 1, 12, tzinfo=UTC)
    assert zones.local(noon, "987").utcoffset() == timedelta(hours=-10)
    assert directory.window(date(2026, 1, 15)) == (date(2025, 1, 1), date(2025, 12, 31))


def test_a_mediator_who_leaves(client: TestClient, engine: sa.Engine) -> None:
    world = make_world(engine)
    name = world.mediator_a1.display_name
    mediator = world.headers["mediator_of_structure"]
    record_validation(client, world)
    # Their token is known to the bearer cache, and they have a browser session too.
    assert client.get(f"{API}/auth/me", headers=mediator).status_code == 200
    with TestClient(client.app) as browser:
        browser_login(browser, "med-a1@example.org")
        assert browser.get(f"{API}/auth/me").status_code == 200
        page = client.get(f"{API}/directory/places/{world.a1.id}").json()
        assert name in page["mediators"]

        left = client.post(
            f"{API}/accounts/{world.mediator_a1.id}/departure",
            headers=world.headers["territory_admin"],
        )
        assert left.status_code == 200, left.text
        assert left.json()["is_active"] is False

        # The name leaves the public page at once; the validation stays with its place.
        page = client.get(f"{API}/directory/places/{world.a1.id}").json()
        assert name not in page["mediators"]
        # Sessions and tokens end, the cached token included.
        assert client.get(f"{API}/auth/me", headers=mediator).status_code == 401
        assert browser.get(f"{API}/auth/me").status_code == 401
    with engine.connect() as conn:
        kept = conn.execute(
            sa.text("SELECT count(*) FROM validation WHERE structure_id = :s AND account_id = :a"),
            {"s": world.a1.id, "a": world.mediator_a1.id},
        ).scalar_one()
        assert kept == 1
        memberships = conn.execute(
            sa.text("SELECT count(*) FROM structure_membership WHERE account_id = :a"),
            {"a": world.mediator_a1.id},
        ).scalar_one()
        assert memberships == 0
        revoked = conn.execute(
            sa.text("SELECT count(*) FROM api_token WHERE account_id = :a AND revoked_at IS NULL"),
            {"a": world.mediator_a1.id},
        ).scalar_one()
        assert revoked == 0
        actor, details = conn.execute(
            sa.text(
                "SELECT actor_account_id, details FROM audit_event "
                "WHERE action = 'account.membership_ended' AND target_id = :t"
            ),
            {"t": str(world.mediator_a1.id)},
        ).one()
    assert actor == world.admin_a.id
    details = json.loads(details) if isinstance(details, str) else details
    assert details["structure_ids"] == [world.a1.id]
    # A coordinator cannot make themselves leave, nor reach another territory's member.
    me = client.post(
        f"{API}/accounts/{world.admin_a.id}/departure", headers=world.headers["territory_admin"]
    )
    assert me.status_code == 403 and me.json()["code"] == "self_change"
    other = client.post(
        f"{API}/accounts/{world.mediator_b1.id}/departure",
        headers=world.headers["territory_admin"],
    )
    assert other.status_code == 404
