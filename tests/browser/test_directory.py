"""The public directory in Chromium: search by postcode and by name, the filters, « près de
moi » with a faked position (nothing sent), a place's page; axe on each, a 360 px phone,
French and English."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, Page, Request, expect

from app.accounts.models import Role
from app.audit.models import AuditEvent
from app.core.db import transaction
from app.structures.models import Structure
from app.territory.models import Territory
from tests.browser.conftest import check_axe, screenshot
from tests.factories import PASSWORD, World, make_account, make_territory
from tests.servers import Server


def _add(engine: sa.Engine, territory: Territory, **fields: Any) -> Structure:
    with transaction(engine) as session:
        structure = Structure(territory_id=territory.id, **fields)  # type: ignore[arg-type]
        session.add(structure)
    return structure


@pytest.fixture
def places(engine: sa.Engine) -> dict[str, Structure]:
    nc = make_territory(engine, "988", "Nouvelle-Calédonie")
    guyane = make_territory(engine, "973", "Guyane")
    made = {
        "bernheim": _add(
            engine,
            nc,
            nom="Médiathèque Bernheim",
            commune="Nouméa",
            code_postal="98800",
            code_insee="98818",
            adresse="41 avenue du Maréchal Foch",
            latitude=-22.2745,
            longitude=166.4426,
            telephone="+687242090",
            courriels=["bibliotheque@bernheim.nc"],
            horaires="Mo-Fr 07:30-17:00; Sa 08:00-12:00",
            services=["Aide aux démarches administratives", "Accès internet"],
            frais_a_charge=["Gratuit"],
            prise_en_charge_specifique=["Handicaps moteurs"],
        ),
        "kone": _add(
            engine,
            nc,
            nom="Maison des services de Koné",
            commune="Koné",
            code_postal="98860",
            code_insee="98811",
            adresse="Rue Teari",
            latitude=-21.0595,
            longitude=164.8658,
            services=["Accès internet"],
            frais_a_charge=["Payant"],
        ),
        "cayenne": _add(
            engine,
            guyane,
            nom="Espace numérique de Cayenne",
            commune="Cayenne",
            code_postal="97300",
            code_insee="97302",
            adresse="1 place Léopold Héder",
            latitude=4.9372,
            longitude=-52.3260,
            services=["Prendre en main un smartphone"],
            frais_a_charge=["Gratuit"],
        ),
    }
    make_account(
        engine, Role.MEDIATOR, nc, [made["bernheim"]], email="m@example.org"
    )  # "Médiateur N"
    return made


def _tick(page: Page, label: str) -> None:
    """Click a checkbox's label, as a person does (the DSFR label covers the box)."""
    box = page.get_by_label(label)
    was = box.is_checked()
    page.locator(f"label[for={box.get_attribute('id')}]").click()
    expect(box).to_be_checked(checked=not was)


def _cards(page: Page) -> list[str]:
    return page.locator("#directory-list li h3").all_inner_texts()


def test_search_by_postcode_and_name_and_the_filters(page: Page, places: dict[str, Any]) -> None:
    page.goto("/lieux")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.locator("#directory-status")).to_contain_text("3 lieux trouvés")
    check_axe(page, "directory, every place")
    search = page.get_by_label("Commune, code postal ou nom du lieu")
    search.fill("98860")
    page.get_by_role("button", name="Rechercher").click()
    expect(page.locator("#directory-status")).to_contain_text("1 lieu trouvé")
    assert _cards(page) == ["Maison des services de Koné"]
    # Without the accent, and the address keeps the search.
    search.fill("mediatheque")
    search.press("Enter")
    expect(page.locator("#directory-list li h3")).to_have_text(["Médiathèque Bernheim"])
    assert "q=mediatheque" in page.url
    search.fill("")
    search.press("Enter")
    expect(page.locator("#directory-status")).to_contain_text("3 lieux trouvés")
    _tick(page, "Gratuit")
    expect(page.locator("#directory-list li h3")).to_have_text(
        ["Espace numérique de Cayenne", "Médiathèque Bernheim"]
    )
    _tick(page, "Accueil adapté au handicap")
    expect(page.locator("#directory-list li h3")).to_have_text(["Médiathèque Bernheim"])
    _tick(page, "Gratuit")
    _tick(page, "Accueil adapté au handicap")
    page.get_by_label("Service proposé").select_option("Accès internet")
    expect(page.locator("#directory-list li h3")).to_have_text(
        ["Maison des services de Koné", "Médiathèque Bernheim"]
    )
    _tick(page, "Valide le passeport numérique")
    expect(page.locator("#directory-status")).to_contain_text("Aucun lieu ne correspond")
    check_axe(page, "directory, filtered")
    # The link of a search shows the same list.
    page.goto("/lieux?q=cayenne&free=true")
    expect(page.locator("#directory-list li h3")).to_have_text(["Espace numérique de Cayenne"])
    expect(page.get_by_label("Gratuit")).to_be_checked()


@pytest.fixture
def located(browser: Browser, live_server: Server) -> Iterator[Page]:
    """A phone in Koné (New Caledonia) that lets the page read its position."""
    context = browser.new_context(
        base_url=live_server.url,
        locale="fr-FR",
        viewport={"width": 360, "height": 740},
        geolocation={"latitude": -21.06, "longitude": 164.87},
        permissions=["geolocation"],
    )
    context.set_default_timeout(30_000)
    page = context.new_page()
    yield page
    context.close()


def test_near_me_sorts_in_the_page_and_sends_no_position(
    located: Page, places: dict[str, Any]
) -> None:
    page = located
    sent: list[str] = []

    def watch(request: Request) -> None:
        sent.append(request.url + (request.post_data or ""))

    page.on("request", watch)
    page.goto("/lieux")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    page.get_by_role("button", name="Près de moi").click()
    expect(page.locator("#directory-status")).to_contain_text("Les 3 lieux les plus proches")
    expect(page.locator("#directory-list li h3")).to_have_text(
        ["Maison des services de Koné", "Médiathèque Bernheim", "Espace numérique de Cayenne"]
    )
    first = page.locator("#directory-list li").first
    expect(first).to_contain_text(re.compile(r"à \d{2,3} m"))
    expect(page.locator("#directory-list li").nth(1)).to_contain_text("km")
    # The position went nowhere: no request carries its coordinates.
    assert not [url for url in sent if "164.8" in url or "-21.0" in url or "21.06" in url]
    check_axe(page, "directory near me, 360 px")
    screenshot(page, "directory-360")
    # A phone of 360 px scrolls vertically only.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, width
    # The nearest place's page, on the same phone.
    page.locator("#directory-list li h3 a").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Maison des services de Koné")
    check_axe(page, "place page, 360 px")
    screenshot(page, "place-360")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


def test_the_place_page(page: Page, places: dict[str, Any]) -> None:
    page.goto("/lieux")
    page.get_by_role("link", name="Médiathèque Bernheim").click()
    expect(page).to_have_url(f"{page.url.split('/lieu')[0]}/lieu?id={places['bernheim'].id}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Médiathèque Bernheim")
    expect(page.locator("#place-address")).to_contain_text("98800 Nouméa")
    expect(page.locator("#place-now")).to_contain_text("Pacific/Noumea")
    expect(page.locator("#place-hours tbody tr")).to_have_count(7)
    expect(page.locator("#place-hours tbody tr[aria-current=date]")).to_have_count(1)
    expect(page.locator("#place-contact")).to_contain_text("+687242090")
    expect(page.locator("#place-services")).to_contain_text("Accès internet")
    expect(page.locator("#place-mediators li")).to_have_count(1)
    expect(page.locator("#place-figures")).to_have_attribute("href", "/figures?territory=988")
    check_axe(page, "place page")
    page.set_viewport_size({"width": 1280, "height": 900})
    screenshot(page, "place-1280")
    page.goto("/lieu?id=999999")
    expect(page.locator("#place-status")).to_contain_text("Ce lieu est introuvable")


def test_the_directory_in_english(english_page: Page, places: dict[str, Any]) -> None:
    page = english_page
    page.goto("/lieux")
    expect(page.get_by_role("heading", level=1)).to_have_text("Where to get help")
    expect(page.locator("#directory-status")).to_contain_text("3 places found")
    _tick(page, "Free of charge")
    expect(page.locator("#directory-list li h3")).to_have_count(2)
    check_axe(page, "directory in English")
    page.set_viewport_size({"width": 1280, "height": 900})
    screenshot(page, "directory-1280")
    page.get_by_role("link", name="Médiathèque Bernheim").click()
    expect(page.locator("#place-when h2")).to_have_text("Opening hours")
    check_axe(page, "place page in English")


def test_the_map_of_departments_needs_no_tile_server(
    page: Page, places: dict[str, Any], live_server: Server
) -> None:
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto("/lieux")
    expect(page.locator("#directory-status")).to_contain_text("3 lieux trouvés")
    # Off by default: the list works alone, and the outlines are not even loaded.
    expect(page.locator("#directory-map")).to_be_hidden()
    assert not [url for url in asked if "france-departments" in url]
    page.get_by_role("button", name="Afficher la carte").click()
    expect(page.locator("#directory-map svg path")).to_have_count(96)
    links = page.locator("#directory-map-list a")
    expect(links).to_have_text(["Nouvelle-Calédonie : 2 lieux", "Guyane : 1 lieu"])
    check_axe(page, "directory with the map")
    screenshot(page, "directory-map-1280")
    links.first.click()
    expect(page.locator("#directory-list li h3")).to_have_text(
        ["Maison des services de Koné", "Médiathèque Bernheim"]
    )
    expect(page.locator("#directory-department")).to_contain_text("Nouvelle-Calédonie")
    assert "department=988" in page.url
    # Every request stayed on this server: no tile server, no third party.
    assert all(url.startswith(live_server.url) for url in asked), asked
    page.get_by_role("button", name="Tous les départements").click()
    expect(page.locator("#directory-status")).to_contain_text("3 lieux trouvés")
    page.get_by_role("button", name="Masquer la carte").click()
    expect(page.locator("#directory-map")).to_be_hidden()


def test_the_journal_of_a_territory_in_new_caledonia_is_in_noumea_time(
    page: Page, engine: sa.Engine
) -> None:
    nc = make_territory(engine, "988", "Nouvelle-Calédonie")
    make_account(engine, Role.TERRITORY_ADMIN, nc, email="coord-nc@example.org")
    with transaction(engine) as session:
        session.add(
            AuditEvent(
                at=datetime(2026, 12, 7, 23, 30, tzinfo=UTC),
                action="structure.created",
                territory_id=nc.id,
                target_type="structure",
                target_id="1",
            )
        )
    page.goto("/coordination")
    page.get_by_label("Adresse électronique", exact=True).fill("coord-nc@example.org")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    row = page.locator("#journal-table tr[data-action='structure.created']")
    # 23:30 UTC on the 7th is 10:30 on the 8th in Nouméa (UTC+11), whatever the browser's zone.
    expect(row.locator("td").first).to_have_text("8 déc. 2026, 10:30")
    expect(page.locator("#journal-table thead th").first).to_have_text(
        "Date (heure de Pacific/Noumea)"
    )


def test_a_coordinator_ends_a_mediators_mission(page: Page, world: World) -> None:
    name = world.mediator_a1.display_name
    page.goto(f"/lieu?id={world.a1.id}")
    expect(page.locator("#place-mediators li")).to_have_text([name])
    page.goto("/coordination")
    page.get_by_label("Adresse électronique", exact=True).fill("admin-a@example.org")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=f"Fin de mission de {name} (med-a1@example.org)").click()
    row = page.locator("#accounts-table tr", has_text="med-a1@example.org")
    expect(row).to_contain_text("Désactivé")
    expect(page.locator("#journal-table tr[data-action='account.membership_ended']")).to_have_count(
        1
    )
    check_axe(page, "coordination after a departure")
    page.goto(f"/lieu?id={world.a1.id}")
    expect(page.get_by_role("heading", level=1)).to_have_text(world.a1.nom)
    expect(page.locator("#place-mediators")).to_have_count(0)
