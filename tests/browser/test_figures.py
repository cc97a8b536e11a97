"""The observatory's figures in the web UI: the public page (/figures) and the coordinator's
"Chiffres" section, with statistical secrecy shown as such and the opt-in switch."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import httpx
import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from app.core.db import pk, transaction
from app.core.settings import Settings
from app.observatory import release, service
from app.passports.models import Method, Passport, Validation
from tests.browser.conftest import check_axe, screenshot
from tests.factories import PASSWORD, World, make_passport, make_structure
from tests.servers import Server

# Periods are released this many days after they end (the default setting, the servers').
DAYS = Settings.model_fields["stats_release_days"].default
# The last calendar quarter released, a public period: the figures below are all in it.
QUARTER = next(p for p in service.public_periods(days=DAYS) if p.kind == "quarter")


def _month_of_quarter(n: int) -> date:
    return date(QUARTER.start.year, QUARTER.start.month + n, 10)


@pytest.fixture
def seeded(engine: sa.Engine, settings: Settings, world: World) -> World:
    """Territory ta, in the last quarter released: 8 passports opened, 8 validations in a1 in its
    first month, 6 in a2 in its second and 5 in its last (published counts), 2 in a third place
    in its last month (under the threshold of 5, so suppressed). Each month's total is published,
    so the quarter's is too: it is their sum."""
    a3 = make_structure(engine, world.a, "Tiers-lieu du fleuve")
    plan = [
        (world.a1, "crcn:1.1", _month_of_quarter(0), 4),
        (world.a1, "crcn:4.1", _month_of_quarter(0), 4),
        (world.a2, "crcn:4.1", _month_of_quarter(1), 6),
        (world.a2, "crcn:4.1", _month_of_quarter(2), 5),
        (a3, "crcn:5.1", _month_of_quarter(2), 2),
    ]
    passports = [make_passport(engine, world.a, world.a1, last_name=f"P{i}") for i in range(8)]
    with transaction(engine) as session:
        for passport in passports:
            row = session.get(Passport, passport.id)
            assert row is not None
            row.created_at = datetime.combine(QUARTER.start, time(), tzinfo=UTC)
        n = 0
        for structure, skill, on, count in plan:
            for _ in range(count):
                session.add(
                    Validation(
                        passport_id=pk(passports[n % len(passports)]),
                        skill_code=skill,
                        level=2,
                        method=Method.OBSERVATION,
                        observed_on=on,
                        account_id=world.mediator_a1.id,
                        structure_id=structure.id,
                    )
                )
                n += 1
    # Released as the server's background task does once the periods are due.
    assert release.release(engine, settings, "ta")["ta"]
    return world


def _expect_tables_match(page: Page, prefix: str, document: dict[str, object]) -> None:
    """Every charted cell reads as the API published it: a number, or "secret statistique"."""
    tables = document["tables"]
    assert isinstance(tables, dict)
    for name, chart in [
        ("validations_by_month", "by-month"),
        ("validations_by_domain", "by-domain"),
        ("validations_by_structure", "by-structure"),
    ]:
        rows = [r for r in tables[name]["rows"] if "total" not in r.values()]
        cells = page.locator(f"#{prefix}-{chart}-table tbody td")
        expect(cells).to_have_count(len(rows))
        texts = cells.all_inner_texts()
        for row, text in zip(rows, texts, strict=True):
            if row["suppressed"]:
                assert text == "secret statistique", (name, row, text)
            else:
                assert text.replace("\u202f", "").replace("\xa0", "") == str(row["count"])


def test_a_territory_that_does_not_publish_says_so(page: Page, seeded: World) -> None:
    page.goto("/figures")
    expect(page.locator("#figures-status")).to_contain_text(
        "Aucun territoire de ce service ne publie encore ses chiffres."
    )
    page.goto("/figures?territory=ta")
    # The stats route answers 401 to an anonymous caller: the page says the territory does not
    # publish, rather than showing an error or empty charts.
    status = page.locator("#figures-status")
    expect(status).to_contain_text("Chiffres non publiés")
    expect(status).to_contain_text(f"Le territoire {seeded.a.name} ne publie pas ses chiffres.")
    expect(page.locator("svg[role=img]")).to_have_count(0)
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    check_axe(page, "figures, territory not publishing")
    page.goto("/figures?territory=nowhere")
    expect(status).to_contain_text("Aucun territoire n'a le code « nowhere »")


def test_the_coordinator_sees_the_figures_and_publishes_them(
    page: Page, live_server: Server, seeded: World
) -> None:
    page.goto("/coordination")
    page.get_by_label("Adresse électronique", exact=True).fill("admin-a@example.org")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    section = page.locator("#figures")
    expect(section.get_by_role("heading", name="Chiffres", exact=True)).to_be_visible()
    # The dashboard shows the figures before they are public, for the last month over first;
    # the coordinator picks the quarter among the fixed periods.
    expect(page.locator("#figures-public-state")).to_contain_text("ne sont pas publics")
    period = page.get_by_role("combobox", name="Période")
    expect(period).to_have_value(service.latest_public_period(days=DAYS).id or "")
    quarter_label = f"{QUARTER.id[-1]}e trimestre {QUARTER.start.year}"  # type: ignore[index]
    expect(period.locator("optgroup[label=Trimestres] option").first).to_have_text(quarter_label)
    period.select_option(label=quarter_label)
    expect(page.locator("#coord-figures-period")).to_contain_text(quarter_label)
    expect(page.locator("#coord-figures-headlines [data-indicator=validations]")).to_contain_text(
        "21"
    )
    for chart in ("by-month", "by-domain", "by-structure"):
        figure = page.locator(f"#coord-figures-{chart}")
        expect(figure.locator("svg[role=img] title")).not_to_have_text("")
        expect(figure.locator("svg[role=img] desc")).not_to_have_text("")
    # One click opens the data, where a suppressed cell is written out, never as 0.
    structures = page.locator("#coord-figures-by-structure")
    structures.locator("summary").click()
    row = structures.locator("tbody tr", has_text="Tiers-lieu du fleuve")
    expect(row.locator("td")).to_have_text("secret statistique")
    expect(structures.locator("figcaption")).to_contain_text("sous secret statistique")
    page.locator("#coord-figures-by-month summary").click()
    check_axe(page, "coordination, figures")
    # The section as the coordinator reaches it: the switch, the headlines and the first chart.
    page.evaluate("document.getElementById('figures').scrollIntoView()")
    screenshot(page, "coordination-figures", full_page=False)

    # Not public yet: the public route still refuses.
    anonymous = httpx.get(f"{live_server.url}/api/v1/territories/ta/stats")
    assert anonymous.status_code == 401

    # DSFR draws the switch on its label, which is what a person clicks.
    page.locator("label[for=figures-public]").click()
    expect(page.locator("#figures-public")).to_be_checked()
    expect(page.locator("#figures-public-state")).to_contain_text("Les chiffres sont publics")
    expect(page.locator("#journal-list")).to_contain_text("Chiffres publiés")

    public = httpx.get(f"{live_server.url}/api/v1/territories/ta/stats?period={QUARTER.id}")
    assert public.status_code == 200
    document = public.json()

    # Dates of their choice stay the coordinator's: the same quarter by its days, and the first
    # two months of it, which the public cannot ask for.
    period.select_option("custom")
    page.get_by_label("Premier jour").fill(QUARTER.start.isoformat())
    last = _month_of_quarter(1).replace(day=28)
    page.get_by_label("Dernier jour").fill(last.isoformat())
    page.get_by_role("button", name="Afficher ces dates").click()
    expect(page.locator("#coord-figures-period")).to_contain_text("Période : du")
    expect(page.locator("#coord-figures-headlines [data-indicator=validations]")).to_contain_text(
        "14"
    )
    refused = httpx.get(
        f"{live_server.url}/api/v1/territories/ta/stats?start={QUARTER.start}&end={last}"
    )
    assert refused.status_code == 422 and refused.json()["code"] == "period_not_public"

    # The public page, in a context without the coordinator's session.
    visitor = page.context.browser.new_context(  # type: ignore[union-attr]
        base_url=live_server.url, locale="fr-FR", viewport={"width": 1280, "height": 900}
    )
    try:
        public_page = visitor.new_page()
        errors: list[str] = []
        public_page.on("pageerror", lambda error: errors.append(str(error)))
        public_page.goto("/figures")
        expect(public_page.get_by_role("heading", level=1)).to_have_text(
            f"Les chiffres — {seeded.a.name}"
        )
        expect(public_page.get_by_label("Territoire")).to_have_value("ta")
        # The public chooses among the fixed periods; the address keeps the choice.
        choice = public_page.get_by_role("combobox", name="Période")
        expect(choice).to_have_value(service.latest_public_period(days=DAYS).id or "")
        assert str(date.today().year) not in choice.locator("optgroup[label=Années]").inner_text()
        choice.select_option(QUARTER.id)
        expect(public_page).to_have_url(
            f"{live_server.url}/figures?territory=ta&period={QUARTER.id}"
        )
        headlines = public_page.locator("#figures-headlines")
        expect(headlines.locator("[data-indicator=validations]")).to_contain_text("21")
        expect(headlines.locator("[data-indicator=passports_opened]")).to_contain_text("8")
        expect(public_page.locator("#figures-period")).to_contain_text("masqué")
        expect(public_page.locator("#figures-period")).to_contain_text("inférieur à 5")
        for details in public_page.locator("details.stats-details summary").all():
            details.click()
        _expect_tables_match(public_page, "figures", document)
        expect(
            public_page.locator("#figures-by-structure svg .stats-svg__secret").first
        ).to_be_visible()
        links = public_page.locator("#figures-open-data a")
        expect(links.first).to_have_attribute(
            "href", f"/api/v1/territories/ta/stats?period={QUARTER.id}"
        )
        for href in links.evaluate_all("links => links.map((a) => a.href)"):
            assert httpx.get(href).status_code == 200, href
        expect(
            public_page.get_by_role("link", name="Licence Ouverte 2.0 (Etalab)")
        ).to_have_attribute("href", "https://www.etalab.gouv.fr/licence-ouverte-open-licence/")
        csv = httpx.get(f"{live_server.url}/api/v1/territories/ta/stats/validations_by_month.csv")
        assert csv.status_code == 200
        check_axe(public_page, "figures, public")
        screenshot(public_page, "figures")

        # A link to a period not over yet shows the last one published, and says so; at 360 px
        # the period choice fits the screen.
        running = f"{date.today().year}"
        public_page.set_viewport_size({"width": 360, "height": 740})
        public_page.goto(f"/figures?territory=ta&period={running}")
        expect(public_page.locator("#figures-status")).to_contain_text(f"« {running} »")
        expect(public_page.get_by_role("combobox", name="Période")).to_have_value(
            service.latest_public_period(days=DAYS).id or ""
        )
        box = public_page.get_by_role("combobox", name="Période").bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 360
        assert public_page.evaluate("document.documentElement.scrollWidth") <= 360
        check_axe(public_page, "figures, public, 360 px")
        screenshot(public_page, "figures-360")
        assert errors == []
    finally:
        visitor.close()


def test_the_page_in_english(english_page: Page, seeded: World) -> None:
    english_page.goto("/figures?territory=ta")
    expect(english_page.get_by_role("heading", level=1)).to_have_text(f"Figures — {seeded.a.name}")
    expect(english_page.locator("#figures-status")).to_contain_text(
        f"The territory {seeded.a.name} does not publish its figures."
    )
