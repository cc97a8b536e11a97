"""The citizen's, the verifier's, the account and the coordinator's pages on a 360 px phone: nothing
off-screen.

Every focusable element of each page, in each state a citizen or a verifier goes through (sign-in,
each tab of the passport, the QR code full screen, a revoke being confirmed, a verdict), must sit
within the viewport's width: a button in the last column of a table that scrolls sideways, or a
tab pushed past the edge, is a button a citizen never finds. The page itself must not scroll
sideways either.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from tests.browser.conftest import _watched, screenshot, sign_in_citizen, sign_in_mediator
from tests.browser.test_citizen import _mediator_records
from tests.factories import ACCESS_CODE, PASSWORD, World
from tests.servers import Server

PHONE: ViewportSize = {"width": 360, "height": 740}

# Every element that can take the focus and is drawn; its name and where it lies, when any part
# of it is outside [0, viewport width]. Hidden things (display: none, inside [hidden], zero size)
# are not reachable and not counted; a scrolling container does not hide what it pushes aside.
OFF_SCREEN = """() => {
  const selector =
    'a[href], button, input, select, textarea, summary, [tabindex]:not([tabindex="-1"])';
  const width = document.documentElement.clientWidth;
  const out = [];
  for (const node of document.querySelectorAll(selector)) {
    if (node.disabled || node.closest("[inert]")) continue;
    const box = node.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;
    const style = getComputedStyle(node);
    if (style.visibility === "hidden") continue;
    if (node.closest(".fr-skiplinks")) continue;  // shown only on focus, at the top left
    if (box.left < -1 || box.right > width + 1) {
      const name = (node.getAttribute("aria-label") || node.textContent || node.id || node.tagName)
        .trim().replace(/\\s+/g, " ").slice(0, 60);
      const where = `${Math.round(box.left)}..${Math.round(box.right)}`;
      out.push(`${node.tagName.toLowerCase()} "${name}" at ${where}`);
    }
  }
  if (document.documentElement.scrollWidth > width + 1) {
    out.push(`the page scrolls sideways: ${document.documentElement.scrollWidth} px wide`);
  }
  return out;
}"""


@pytest.fixture
def phone(browser: Browser, live_server: Server) -> Iterator[Page]:
    context = browser.new_context(
        base_url=live_server.url,
        locale="fr-FR",
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
    )
    context.set_default_timeout(30_000)
    page, problems = _watched(context)
    yield page
    context.close()
    assert not problems, "\n".join(problems)


# The DSFR slides tab panels in (a CSS transition): measure where things end, not mid-way.
# Endless animations (a spinner) never finish: only the ones that end are waited for.
SETTLED = """() => Promise.all(document.getAnimations()
  .filter((a) => a.effect && a.effect.getComputedTiming().endTime !== Infinity)
  .map((a) => a.finished.catch(() => null))).then(() => true)"""


# A DSFR tabs box cuts off what does not fit in it (overflow hidden): the shown panel must end
# inside it. (The DSFR's script measured the tab list inside a view hidden at the start, 0 px, and
# made the box that much too short: frontend/static/app.css.)
CUT_OFF = """() => [...document.querySelectorAll('.fr-tabs')].flatMap((tabs) => {
  const panel = tabs.querySelector('.fr-tabs__panel--selected');
  if (!panel || !tabs.offsetParent) return [];
  const short = panel.getBoundingClientRect().bottom - tabs.getBoundingClientRect().bottom;
  return short > 1 ? [`the panel ${panel.id}: its last ${Math.round(short)} px cut off`] : [];
})"""


def assert_within(page: Page, state: str) -> None:
    page.evaluate(SETTLED)
    outside = page.evaluate(OFF_SCREEN) + page.evaluate(CUT_OFF)
    assert not outside, f"{state}, at 360 px, off-screen:\n" + "\n".join(outside)


def test_the_citizens_page_fits_a_phone(phone: Page, live_server: Server, world: World) -> None:
    credential = _mediator_records(live_server, world)
    phone.goto("/citoyen")
    expect(phone.get_by_label("Numéro de passeport")).to_be_visible()
    assert_within(phone, "citizen sign-in")
    screenshot(phone, "phone-citizen-signin", full_page=False)

    sign_in_citizen(phone, world.passport.number, ACCESS_CODE)
    assert_within(phone, "citizen passport, skills tab")
    screenshot(phone, "phone-citizen-passport", full_page=False)
    for tab in ("Mes attestations", "Qui l'a consulté", "Mes données"):
        phone.get_by_role("tab", name=tab).click()
        expect(phone.get_by_role("tab", name=tab)).to_have_attribute("aria-selected", "true")
        assert_within(phone, f"citizen passport, tab {tab}")
        if tab == "Mes attestations":
            phone.evaluate("() => document.getElementById('tab-credentials').scrollIntoView()")
            screenshot(phone, "phone-citizen-credentials", full_page=False)
            code = str(credential["code"])
            phone.get_by_role("button", name=f"Afficher le QR code {code}").click()
            expect(phone.get_by_role("dialog")).to_be_visible()
            assert_within(phone, "citizen QR code full screen")
            phone.get_by_role("button", name="Fermer").click()
            phone.get_by_role("button", name=f"Révoquer l'attestation {code}").click()
            expect(phone.get_by_role("button", name="Oui, révoquer")).to_be_visible()
            assert_within(phone, "citizen confirming a revocation")
            phone.get_by_role("button", name="Annuler").click()
    phone.get_by_role("button", name="Demander l'effacement").click()
    assert_within(phone, "citizen asking for erasure")


# Where the focused element is once the page has drawn two more frames (the DSFR's tabs redraw on
# every frame: what they undo shows by then), and the viewport's height.
FOCUSED_AFTER_FRAMES = """() => new Promise((resolve) => {
  const frame = (then) => requestAnimationFrame(() => requestAnimationFrame(then));
  frame(() => {
    const box = document.activeElement.getBoundingClientRect();
    resolve({
      text: document.activeElement.textContent.trim(),
      top: box.top,
      bottom: box.bottom,
      height: document.documentElement.clientHeight,
    });
  });
})"""


def test_a_control_reached_by_keyboard_in_a_tab_stays_in_sight(
    phone: Page, live_server: Server, world: World
) -> None:
    """The wallet's button, low in the credentials tab, reached with Tab on a phone: the browser
    brings it into sight, and it stays there. When the DSFR's tabs box cut off the bottom of the
    panel and could be scrolled, the browser scrolled the box to the button and the DSFR put it
    back on its next frame: the button gone from under the focus, and a click pressed and
    released on either side of that frame lost (test_wallet_pages.py failed so, now and then)."""
    _mediator_records(live_server, world)
    sign_in_citizen(phone, world.passport.number, ACCESS_CODE)
    phone.get_by_role("tab", name="Mes attestations").click()
    phone.evaluate(SETTLED)
    phone.locator("#wallet-name").focus()
    phone.keyboard.press("Tab")
    focused = phone.evaluate(FOCUSED_AFTER_FRAMES)
    assert focused["text"] == "Ajouter à mon portefeuille"
    assert focused["top"] >= 0 and focused["bottom"] <= focused["height"], focused


def test_the_verifiers_page_fits_a_phone(phone: Page, live_server: Server, world: World) -> None:
    credential = _mediator_records(live_server, world)
    phone.goto("/verifier")
    expect(phone.locator("body")).to_have_attribute("data-ready", "true")
    assert_within(phone, "verifier")
    phone.get_by_label("Code de vérification").fill(str(credential["code"]))
    phone.get_by_role("button", name="Vérifier le code").click()
    expect(phone.locator("#verdict")).to_have_attribute("data-result", "valid")
    assert_within(phone, "verifier with a verdict")
    phone.evaluate("() => document.getElementById('verdict').scrollIntoView()")
    screenshot(phone, "phone-verify-valid", full_page=False)


def test_the_account_page_fits_a_phone(phone: Page, live_server: Server, world: World) -> None:
    """Where a new mediator lands from their invitation, often on their phone."""
    phone.goto("/compte")
    expect(phone.get_by_role("heading", level=1)).to_have_text("Choisir un nouveau mot de passe")
    assert_within(phone, "account page, reset")


def test_the_home_and_the_mediators_passport_fit_a_phone(
    phone: Page, live_server: Server, world: World
) -> None:
    """Not the phone pages first, but a mediator on an outreach day has only a phone too."""
    phone.goto("/")
    expect(phone.get_by_role("heading", level=1)).to_be_visible()
    assert_within(phone, "home")
    sign_in_mediator(phone, "med-a1@example.org")
    assert_within(phone, "mediator's search")
    _mediator_records(live_server, world)
    phone.goto(f"/mediation#passport/{world.passport.id}")
    expect(phone.get_by_role("heading", level=1)).to_have_text("Lucie Martin")
    expect(phone.locator("#passport-history tbody tr")).to_have_count(2)
    assert_within(phone, "mediator's view of a passport")


def test_the_coordinators_page_fits_a_phone(phone: Page, live_server: Server, world: World) -> None:
    """Places, team, invitations, keys, trust and journal: each row a card, "Modifier" in reach."""
    phone.goto("/coordination")
    phone.get_by_label("Adresse électronique", exact=True).fill("admin-a@example.org")
    phone.get_by_label("Mot de passe").fill(PASSWORD)
    phone.get_by_role("button", name="Se connecter").click()
    expect(phone.get_by_role("heading", level=1)).to_have_text(f"Coordination — {world.a.name}")
    expect(phone.locator("#structures-table tbody")).to_contain_text(world.a1.nom)
    expect(phone.locator("#accounts-table tbody tr").first).to_be_visible()
    expect(phone.locator("#journal-table tbody tr").first).to_be_visible()
    edit = phone.locator("#structures-table tbody tr").first.get_by_role("button").first
    expect(edit).to_be_visible()
    assert_within(phone, "coordinator's page")
    edit.scroll_into_view_if_needed()
    screenshot(phone, "phone-coordination", full_page=False)
