"""The citizen's flow, end to end: what a mediator recorded shows in the citizen's passport."""

from __future__ import annotations

import re
import secrets
from datetime import date
from typing import Any

import httpx
from playwright.sync_api import Browser, Page, expect

from app.passports import numbers
from tests.browser.conftest import check_axe, screenshot, sign_in_citizen, sign_in_mediator
from tests.factories import ACCESS_CODE, World
from tests.servers import Server


def _mediator_records(server: Server, world: World) -> dict[str, object]:
    """A mediator, through the API: two validations and a credential for one of them."""
    headers = world.headers["mediator_of_structure"]
    base = f"{server.url}/api/v1/passports/{world.passport.id}"
    for skill, level in (("pp:PP-06", None), ("crcn:4.1", 3)):
        body = {
            "skill_code": skill,
            "level": level,
            "method": "observation",
            "observed_on": date.today().isoformat(),
            "structure_id": world.a1.id,
        }
        assert httpx.post(f"{base}/validations", json=body, headers=headers).status_code == 201
    issued = httpx.post(
        f"{base}/credentials", json={"skills": ["pp:PP-06"], "validity_days": 90}, headers=headers
    )
    assert issued.status_code == 201, issued.text
    credential: dict[str, Any] = issued.json()
    return credential


def test_citizen_sees_validations_journal_and_revokes_a_credential(
    page: Page, world: World, live_server: Server
) -> None:
    credential = _mediator_records(live_server, world)

    page.goto("/citizen")
    check_axe(page, "citizen sign-in")
    page.get_by_label("Numéro de passeport").fill(world.passport.number)
    page.get_by_label("Code d'accès").fill("WRONG234")
    page.get_by_role("button", name="Voir mon passeport").click()
    expect(page.get_by_role("alert")).to_contain_text("incorrect")

    sign_in_citizen(page, world.passport.number.lower(), ACCESS_CODE)
    expect(page.locator("#passport-meta")).to_contain_text("Lucie Martin")
    expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()

    # The picture: the domain chart says level 3 for 4.1, and the Premiers pas step is ticked.
    chart = page.get_by_role("img", name=re.compile("Protection et sécurité"))
    expect(chart).to_be_visible()
    expect(chart.locator("desc")).to_contain_text("Sécuriser l'environnement numérique: niveau 3")
    expect(page.locator('#citizen-levels tr[data-code="crcn:4.1"] td').first).to_have_text("3")
    expect(page.locator('#citizen-first-steps li[data-code="pp:PP-06"]')).to_have_class(
        re.compile("checklist__item--done")
    )
    expect(page.locator("#citizen-history tbody tr")).to_have_count(2)
    check_axe(page, "citizen passport")
    screenshot(page, "citizen-passport")

    # Who looked: the mediator's writes, and my own read.
    page.get_by_role("tab", name="Qui l'a consulté").click()
    journal = page.locator("#citizen-journal")
    expect(journal.locator('tr[data-action="validation.created"]')).to_have_count(2)
    expect(journal.locator('tr[data-action="passport.read"]').first).to_contain_text("Vous")
    check_axe(page, "citizen journal")

    # The credential: QR full screen, then revoked.
    page.get_by_role("tab", name="Mes attestations").click()
    code = str(credential["code"])
    row = page.locator(f'tr[data-credential="{credential["id"]}"]')
    expect(row).to_contain_text(code)
    expect(row).to_contain_text("Valable")
    check_axe(page, "citizen credentials")
    screenshot(page, "citizen-credentials")
    with page.expect_response(re.compile(r"/qr\.svg$")) as qr_response:
        row.get_by_role("button", name=f"Afficher le QR code {code}").click()
    assert qr_response.value.status == 200
    dialog = page.get_by_role("dialog", name=f"Attestation {code}")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("img", name=re.compile(code))).to_be_visible()
    page.wait_for_function(
        "(img) => img.complete && img.naturalWidth > 0",
        arg=page.locator("#qr-image").element_handle(),
    )
    check_axe(page, "citizen QR full screen")
    screenshot(page, "citizen-qr", full_page=False)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(row.get_by_role("button", name=f"Afficher le QR code {code}")).to_be_focused()

    # « Annuler » puts the actions back, the focus on the first.
    row.get_by_role("button", name=f"Révoquer l'attestation {code}").click()
    row.get_by_role("button", name="Annuler").click()
    expect(row.get_by_role("button", name=f"Afficher le QR code {code}")).to_be_focused()
    row.get_by_role("button", name=f"Révoquer l'attestation {code}").click()
    page.get_by_role("button", name="Oui, révoquer").click()
    expect(row).to_contain_text("Révoquée")
    expect(row.get_by_role("button", name=re.compile("Afficher le QR code"))).to_have_count(0)
    status = httpx.get(
        f"{live_server.url}/api/v1/passports/{world.passport.id}/credentials",
        headers=world.headers["mediator_of_structure"],
    ).json()
    assert status[0]["revoked_at"] is not None


def test_citizen_downloads_data_and_erases_the_passport(page: Page, world: World) -> None:
    sign_in_citizen(page, world.passport.number, ACCESS_CODE)
    page.get_by_role("tab", name="Mes données").click()
    with page.expect_download() as json_download:
        page.get_by_role("link", name="Mes données (JSON)").click()
    assert json_download.value.suggested_filename.endswith(".json")
    with page.expect_download() as pdf_download:
        page.get_by_role("link", name="Mes données (PDF)").click()
    assert pdf_download.value.suggested_filename.endswith(".pdf")

    page.get_by_role("button", name="Demander l'effacement").click()
    page.get_by_role("button", name="Effacer mon passeport").click()
    expect(page.get_by_role("alert").filter(has_text="Cochez la case")).to_be_visible()
    check_axe(page, "citizen erasure step")
    page.get_by_text("J'ai compris et je veux effacer mon passeport").click()
    page.get_by_role("button", name="Effacer mon passeport").click()
    expect(page.get_by_text("Votre passeport est effacé.")).to_be_visible()

    # The number and code no longer open anything.
    page.get_by_label("Numéro de passeport").fill(world.passport.number)
    page.get_by_label("Code d'accès").fill(ACCESS_CODE)
    page.get_by_role("button", name="Voir mon passeport").click()
    expect(page.get_by_role("alert")).to_contain_text("incorrect")


def test_a_mistyped_number_is_named_as_a_typo(page: Page, world: World) -> None:
    page.goto("/citizen")
    expect(page.get_by_text("P- suivi de 8 lettres et chiffres")).to_be_visible()
    number = world.passport.number
    typo = number[:-1] + ("2" if number[-1] != "2" else "3")
    page.get_by_label("Numéro de passeport").fill(typo)
    page.get_by_label("Code d'accès").fill(ACCESS_CODE)
    page.get_by_role("button", name="Voir mon passeport").click()
    expect(page.locator("#signin-error")).to_contain_text("Ce numéro contient une faute de frappe")
    page.get_by_label("Numéro de passeport").fill(number + "2")
    page.get_by_role("button", name="Voir mon passeport").click()
    expect(page.locator("#signin-error")).to_contain_text("vous en avez tapé 9")


def test_the_browser_checks_numbers_as_the_server_does(page: Page) -> None:
    # The check of app/passports/numbers.py and common.js's checkNumber agree on every case.
    page.goto("/citizen")
    cases = []
    for _ in range(40):
        number = numbers.new_number()
        body = number[2:]
        cases.append(number)
        cases.append(number.lower().replace("-", " "))
        position = secrets.randbelow(8)
        other = secrets.choice([c for c in numbers.ALPHABET if c != body[position]])
        cases.append("P-" + body[:position] + other + body[position + 1 :])
        if position < 7 and body[position] != body[position + 1]:
            swapped = body[:position] + body[position + 1] + body[position] + body[position + 2 :]
            cases.append("P-" + swapped)
    cases += ["", "P-", "P-2X7K9M4", "P-2X7K9M4PP", "P-2X7K9M4O", "P-AEIOU014", "2X7K9M4P"]
    browser = page.evaluate(
        """async (cases) => {
            const { checkNumber } = await import("/static/js/common.js");
            return cases.map((c) => checkNumber(c, "P-"));
        }""",
        cases,
    )
    for case, seen in zip(cases, browser, strict=True):
        checked = numbers.check_number(case)
        expected = {
            "number": checked.number,
            "mistake": checked.mistake.value if checked.mistake else None,
            "length": checked.length,
            "characters": checked.characters,
        }
        assert seen == expected, case


def test_citizen_signs_out_and_a_reload_keeps_the_session_until_then(
    page: Page, world: World
) -> None:
    sign_in_citizen(page, world.passport.number, ACCESS_CODE)
    page.reload()
    expect(page.get_by_role("heading", name="Mon passeport numérique", exact=True)).to_be_visible()
    page.get_by_role("button", name="Se déconnecter").click()
    expect(page.get_by_text("Vous êtes déconnecté·e.")).to_be_visible()
    assert page.request.get("/api/v1/citizen/passport").status == 401
    page.reload()
    expect(page.get_by_role("heading", name="Voir mon passeport numérique")).to_be_visible()


def test_what_a_mediator_records_in_the_browser_the_citizen_sees(
    page: Page, world: World, browser: Browser, live_server: Server
) -> None:
    sign_in_mediator(page, "med-a1@example.org")
    page.goto(f"/mediation#passport/{world.passport.id}")
    page.get_by_role("combobox", name="Compétence").fill("arnaque")
    page.get_by_role("option").filter(has_text="crcn:4.1").click()
    page.get_by_label("Niveau observé").select_option("4")
    page.get_by_role("button", name="Valider", exact=True).click()
    expect(page.locator("#passport-history tbody tr")).to_have_count(1)

    # The citizen, on another device.
    citizen = browser.new_context(base_url=live_server.url)
    other = citizen.new_page()
    sign_in_citizen(other, world.passport.number, ACCESS_CODE)
    chart = other.get_by_role("img", name=re.compile("Protection et sécurité"))
    expect(chart.locator("desc")).to_contain_text("Sécuriser l'environnement numérique: niveau 4")
    expect(other.locator("#citizen-history tbody tr")).to_have_count(1)
    expect(other.locator("#citizen-history")).to_contain_text("Test User")
    citizen.close()


def test_a_locked_passport_says_how_many_minutes_to_wait(
    page: Page, world: World, live_server: Server
) -> None:
    page.goto("/citizen")
    page.get_by_label("Numéro de passeport").fill(world.passport.number)
    for attempt in range(6):
        page.get_by_label("Code d'accès").fill(f"WRONG23{attempt}")
        with page.expect_response(re.compile(r"/api/v1/citizen/login$")) as answer:
            page.get_by_role("button", name="Voir mon passeport").click()
        assert answer.value.status == (401 if attempt < 5 else 429)
    # The sixth guess is refused unchecked; the page says how long, in French, from the 429.
    expect(page.get_by_role("alert")).to_have_text(
        re.compile(r"Trop d'essais\. Réessayez dans 15 min\.")
    )
    screenshot(page, "citizen-locked")
