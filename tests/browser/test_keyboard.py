"""The mediator's flow with the keyboard alone: Tab, Enter, Space and arrows, never a click."""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import check_axe
from tests.factories import PASSWORD, World


def tab_to(page: Page, target: Locator, limit: int = 80) -> None:
    """Press Tab until the target has the focus (fails if it is not reachable)."""
    for _ in range(limit):
        if target.evaluate("(node) => node === document.activeElement"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"not reachable with Tab: {target}")


def test_mediator_flow_with_the_keyboard_alone(page: Page, world: World) -> None:
    page.goto("/mediation")
    email = page.get_by_label("Adresse électronique", exact=True)
    expect(email).to_be_focused()
    page.keyboard.type("med-a1@example.org")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")

    search = page.get_by_label(re.compile("Nom, prénom ou numéro de passeport"))
    expect(search).to_be_focused()
    page.keyboard.type("martin")
    page.keyboard.press("Enter")
    open_link = page.get_by_role("link", name="Ouvrir le passeport de Lucie Martin")
    expect(open_link).to_be_visible()
    tab_to(page, open_link)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_be_focused()

    # The picker: type, arrows to the wanted skill, Enter chooses (and does not submit).
    picker = page.get_by_role("combobox", name="Compétence")
    tab_to(page, picker)
    page.keyboard.type("mail")
    expect(picker).to_have_attribute("aria-expanded", "true")
    for _ in range(12):
        page.keyboard.press("ArrowDown")
        active = picker.get_attribute("aria-activedescendant")
        if active and "PP-06" in page.locator(f"#{active}").inner_text():
            break
    else:
        raise AssertionError("PP-06 not offered for 'mail'")
    page.keyboard.press("Enter")
    expect(page.locator("#picker-chosen")).to_contain_text("pp:PP-06")
    expect(picker).to_have_attribute("aria-expanded", "false")
    # Method by arrows in the radio group: observation -> mise en situation.
    tab_to(page, page.get_by_label("Observation"))
    page.keyboard.press("ArrowRight")
    expect(page.get_by_label("Mise en situation")).to_be_checked()
    tab_to(page, page.get_by_role("button", name="Valider", exact=True))
    page.keyboard.press("Enter")
    history = page.locator("#passport-history")
    expect(history.locator("tbody tr")).to_have_count(1)
    expect(history).to_contain_text("Mise en situation")

    # Withdraw it: the reason field takes the focus; « Annuler » gives it back to the button;
    # Enter confirms.
    withdraw = history.get_by_role("button", name=re.compile("Retirer la validation"))
    tab_to(page, withdraw)
    page.keyboard.press("Enter")
    expect(page.get_by_label(re.compile("Motif du retrait"))).to_be_focused()
    tab_to(page, history.get_by_role("button", name="Annuler"))
    page.keyboard.press("Enter")
    expect(withdraw).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_label(re.compile("Motif du retrait"))).to_be_focused()
    page.keyboard.type("erreur de saisie")
    page.keyboard.press("Enter")
    expect(history.get_by_text("Retirée : erreur de saisie")).to_be_visible()

    # Record again, then issue a credential with Space on the checkbox.
    tab_to(page, picker)
    page.keyboard.type("pièce jointe")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(page.locator("#picker-chosen")).to_contain_text("pp:PP-06")
    tab_to(page, page.get_by_role("button", name="Valider", exact=True))
    page.keyboard.press("Space")
    expect(history.locator("tbody tr")).to_have_count(2)

    skill = page.locator("#credential-skills input[type=checkbox]").first
    tab_to(page, skill)
    page.keyboard.press("Space")
    expect(skill).to_be_checked()
    tab_to(page, page.get_by_role("button", name="Délivrer l'attestation"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("img", name=re.compile("QR code de l'attestation V-"))).to_be_visible()
    expect(page.locator("#credential-result")).to_be_focused()
    check_axe(page, "after the keyboard flow")
