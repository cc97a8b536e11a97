"""The home page, in both languages, and the headers every page carries."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from tests.browser.conftest import check_axe, screenshot
from tests.servers import Server


def test_home_in_french_finds_skills_by_everyday_words(page: Page) -> None:
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("heading", level=1)).to_have_text("Passeport numérique")
    expect(page.get_by_role("link", name="Médiateur ou médiatrice")).to_have_attribute(
        "href", "/mediation"
    )
    expect(page.get_by_role("heading", name="Premiers pas", exact=False).first).to_be_visible()
    check_axe(page, "home (fr)")
    screenshot(page, "home", full_page=False)

    page.get_by_label("Chercher une compétence").fill("arnaque")
    expect(page.locator("#etat")).to_contain_text("trouvée")
    visible = page.locator("#referentiels li:visible")
    expect(visible.first).to_be_visible()
    for text in visible.all_inner_texts():
        assert text  # every shown skill has a label


def test_home_switches_to_english_and_remembers_it(page: Page) -> None:
    page.goto("/")
    page.locator(".fr-header__tools .fr-translate__btn").click()
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", name="Skills frameworks")).to_be_visible()
    page.goto("/")
    expect(page.get_by_role("heading", name="Skills frameworks")).to_be_visible()
    expect(page.get_by_role("link", name="A mediator")).to_be_visible()
    check_axe(page, "home (en)")


def test_pages_carry_security_headers(live_server: Server) -> None:
    response = httpx.get(f"{live_server.url}/")
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    static = httpx.get(f"{live_server.url}/static/js/common.js")
    assert static.status_code == 200
    assert static.headers["x-content-type-options"] == "nosniff"
    assert static.headers["cache-control"] == "no-cache"
    dsfr = httpx.get(f"{live_server.url}/static/dsfr/dsfr.module.min.js")
    assert dsfr.status_code == 200
    assert dsfr.headers["cache-control"] == "public, max-age=86400"


def test_unknown_catalogue_is_a_problem_document(live_server: Server) -> None:
    response = httpx.get(f"{live_server.url}/i18n/de.json")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "not_found"


def test_home_on_a_small_phone(page: Page) -> None:
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    # No sideways scrolling on a small screen.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    # The navigation folds into the design system's menu.
    page.get_by_role("button", name="Menu").click()
    menu = page.locator("#header-menu")
    expect(menu.get_by_role("link", name="Mon passeport")).to_be_visible()
    check_axe(page, "home, phone, menu open")
    screenshot(page, "home-phone-menu", full_page=False)
