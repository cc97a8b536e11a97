"""The skill picker ranks what a mediator watched first: for everyday words, the concrete
Premiers pas step, then the CRCN competence, then DigComp; a code typed as such comes first."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import sign_in_mediator
from tests.factories import World

FRAMEWORK_RANK = {"pp": 0, "crcn": 1, "digcomp": 2}


def offered(page: Page) -> list[str]:
    """The codes of the options shown, in order."""
    codes = page.locator("#picker-list [role=option] .skill-code").all_inner_texts()
    assert codes, "no option offered"
    return codes


def test_everyday_words_offer_the_premiers_pas_first(page: Page, world: World) -> None:
    sign_in_mediator(page, "med-a1@example.org")
    page.goto(f"/mediation#passport/{world.passport.id}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Lucie Martin")
    picker = page.get_by_role("combobox", name="Compétence")

    expected_first = {"mail": "pp:PP-05", "wifi": "pp:PP-03", "arnaque": "pp:PP-12"}
    for word, first in expected_first.items():
        picker.fill(word)
        expect(picker).to_have_attribute("aria-expanded", "true")
        codes = offered(page)
        assert codes[0] == first, (word, codes)
        ranks = [FRAMEWORK_RANK[code.split(":")[0]] for code in codes]
        assert ranks == sorted(ranks), (word, codes)
        assert any(code.startswith("crcn:") for code in codes), (word, codes)

    # A code typed as such: that competence first, whatever its framework.
    picker.fill("4.1")
    assert offered(page)[0] == "crcn:4.1"

    # Down and Enter records the concrete step, and the Premiers pas count moves.
    picker.fill("wifi")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(page.locator("#picker-chosen")).to_contain_text("pp:PP-03")
    page.get_by_role("button", name="Valider", exact=True).click()
    expect(page.locator('#passport-first-steps li[data-code="pp:PP-03"]')).to_have_class(
        re.compile("checklist__item--done")
    )


def test_the_words_people_type_find_the_same_skills(page: Page, world: World) -> None:
    """Spellings of one word (e-mail, courriel, mél), plurals and hyphens find what the plain
    word finds."""
    sign_in_mediator(page, "med-a1@example.org")
    page.goto(f"/mediation#passport/{world.passport.id}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Lucie Martin")
    picker = page.get_by_role("combobox", name="Compétence")

    def shown(word: str) -> list[str]:
        picker.fill(word)
        expect(picker).to_have_attribute("aria-expanded", "true")
        return offered(page)

    mail = shown("mail")
    assert mail[0] == "pp:PP-05"
    for spelling in ("email", "e-mail", "E-Mail", "courriel", "mél", "mel", "mails", "emails"):
        assert shown(spelling) == mail, spelling
    assert shown("arnaques") == shown("arnaque")
    assert shown("arnaques")[0] == "pp:PP-12"
    wifi = shown("wifi")
    assert wifi[0] == "pp:PP-03"
    for spelling in ("wi-fi", "Wi-Fi", "WIFI"):
        assert shown(spelling) == wifi, spelling
    # Codes typed as such still come first.
    assert shown("PP-06")[0] == "pp:PP-06"
    assert shown("crcn:4.1")[0] == "crcn:4.1"
