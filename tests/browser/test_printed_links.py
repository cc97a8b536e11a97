"""Following what the service prints, in Chromium: the card's QR code, the attestation's link,
the e-mailed sign-in link, and the addresses printed before the pages had their own.

Each address is read from the document itself (QR decoded, PDF link, e-mail as the server
printed it), then opened as a phone would: the right page, with the right thing filled in or done.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import sqlalchemy as sa
from PIL import Image
from playwright.sync_api import Page, expect

from app.credentials import format as fmt
from tests.browser.conftest import check_axe, sign_in_citizen, sign_in_mediator
from tests.browser.test_verify import _issue
from tests.factories import ACCESS_CODE, World
from tests.qr import decode_qr
from tests.servers import Server
from tests.test_card import CODE_ON_CARD, embedded_images, pdf_page_text
from tests.test_printed_addresses import PDF_LINK


def test_the_cards_qr_code_opens_the_sign_in_with_the_number_filled_in(
    page: Page, live_server: Server, world: World
) -> None:
    pdf = httpx.post(
        f"{live_server.url}/api/v1/passports/{world.passport.id}/card",
        params={"size": "card"},
        headers=world.headers["mediator_of_structure"],
    )
    assert pdf.status_code == 200, pdf.text
    [code] = CODE_ON_CARD.findall(pdf_page_text(pdf.content))
    [scanned] = decode_qr(embedded_images(pdf.content)[0])

    page.goto(scanned)
    expect(page).to_have_url(f"{live_server.url}/citoyen")  # the number left the address bar
    expect(page.get_by_label("Numéro de passeport")).to_have_value(world.passport.number)
    # What is left to type is the code, and the cursor is there.
    expect(page.get_by_label("Code d'accès")).to_be_focused()
    page.get_by_label("Code d'accès").fill(code)
    page.get_by_role("button", name="Voir mon passeport").click()
    expect(page.get_by_role("heading", name="Mon passeport numérique", exact=True)).to_be_visible()


def test_the_attestations_link_opens_the_verifier_with_the_code_checked(
    page: Page, live_server: Server, world: World
) -> None:
    credential = _issue(live_server, world)
    pdf = httpx.get(
        f"{live_server.url}/api/v1/passports/{world.passport.id}"
        f"/credentials/{credential['id']}/attestation.pdf",
        headers=world.headers["mediator_of_structure"],
    )
    assert pdf.status_code == 200
    link = {uri.decode() for uri in PDF_LINK.findall(pdf.content)}.pop()

    page.goto(link)
    expect(page.locator("#verdict")).to_have_attribute("data-result", "valid")
    expect(page.locator("#verdict")).to_contain_text(world.a.name)
    expect(page.get_by_label("Code de vérification")).to_have_value(credential["code"])
    expect(page).to_have_url(f"{live_server.url}/verifier")


def test_the_e_mailed_link_signs_the_citizen_in_once(
    page: Page, live_server: Server, world: World, engine: sa.Engine
) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE passport SET email = 'lucie.martin@example.org' WHERE id = :i"),
            {"i": world.passport.id},
        )

    # Asked for on the citizen's page, as someone without the card at hand would.
    page.goto("/citoyen")
    page.get_by_label("Adresse électronique").fill("lucie.martin@example.org")
    page.get_by_role("button", name="Recevoir un lien").click()
    expect(page.locator("#link-message")).to_contain_text("un lien vient de partir")
    links = re.findall(r"https?://\S+/citoyen#lien=\S+", live_server.log())
    assert links, "no link in the mail printed by the server"

    page.goto(links[-1])
    expect(page.get_by_role("heading", name="Mon passeport numérique", exact=True)).to_be_visible()
    expect(page.locator("#passport-meta")).to_contain_text(world.passport.number)
    expect(page).to_have_url(f"{live_server.url}/citoyen")

    # Once only: the same link, in a fresh tab without the session, is refused in plain words.
    other = page.context.browser
    assert other is not None
    fresh = other.new_context(base_url=live_server.url, locale="fr-FR")
    try:
        again = fresh.new_page()
        again.goto(links[-1])
        expect(again.locator("#signin-error")).to_contain_text("ne marche plus")
        expect(again.get_by_label("Numéro de passeport")).to_be_visible()
    finally:
        fresh.close()


def test_a_cut_off_or_garbage_link_reads_like_a_spent_one(page: Page, live_server: Server) -> None:
    # Too short for a token, and too long: the token's validation fails, which to the person
    # is the same as a spent link, with the same remedy.
    for token in ("garbage", "x" * 150):
        page.goto(f"/citoyen#lien={token}")
        error = page.locator("#signin-error")
        expect(error).to_contain_text("Ce lien ne marche plus")
        expect(error).to_contain_text("incomplet")
        expect(error).to_contain_text("Demandez-en un nouveau")
        expect(error).not_to_contain_text("caractères")
        expect(page.get_by_label("Numéro de passeport")).to_be_visible()


def test_addresses_printed_before_still_reach_their_page(
    page: Page, live_server: Server, world: World
) -> None:
    page.goto(f"/#/citoyen?numero={world.passport.number}")
    expect(page).to_have_url(f"{live_server.url}/citoyen")
    expect(page.get_by_label("Numéro de passeport")).to_have_value(world.passport.number)
    page.goto("/#/verifier")
    expect(page).to_have_url(f"{live_server.url}/verifier")
    expect(page.get_by_role("heading", level=1)).to_have_text("Vérifier une attestation")


def test_the_verifier_reads_the_svg_the_cli_writes(
    page: Page, live_server: Server, world: World, tmp_path: Path
) -> None:
    credential = _issue(live_server, world)
    qr_text = credential["qr_text"]
    svg = tmp_path / "credential.svg"
    svg.write_text(fmt.qr_svg(qr_text), encoding="utf-8")  # what `passeport credential` writes
    page.goto("/verifier")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    page.locator("#photo").set_input_files(str(svg))
    expect(page.locator("#verdict")).to_have_attribute("data-result", "valid")


def test_the_qr_code_downloads_as_a_png_beside_the_pdf(
    page: Page, live_server: Server, world: World
) -> None:
    credential = _issue(live_server, world)
    code = credential["code"]

    sign_in_mediator(page, "med-a1@example.org")
    page.goto(f"/mediation#passport/{world.passport.id}")
    listed = page.locator(f'#credential-list tr[data-credential="{credential["id"]}"]')
    expect(listed.get_by_role("link", name=f"Attestation à imprimer (PDF) {code}")).to_be_visible()
    with page.expect_download() as mediator_png:
        listed.get_by_role("link", name=f"Image du QR code (PNG) {code}").click()
    assert decode_qr(Image.open(mediator_png.value.path())) == [credential["qr_text"]]

    citizen = page.context.browser
    assert citizen is not None
    context = citizen.new_context(base_url=live_server.url, locale="fr-FR")
    try:
        own = context.new_page()
        sign_in_citizen(own, world.passport.number, ACCESS_CODE)
        own.get_by_role("tab", name="Mes attestations").click()
        png = own.get_by_role("link", name=f"Image PNG du QR code {code}")
        expect(png).to_have_attribute("download", f"qr-{code}.png")
        # The page has settled (its lists loaded, nothing re-rendering under the pointer): a CI
        # run once clicked a link that was being replaced, and no download came.
        own.wait_for_load_state("networkidle")
        with own.expect_download() as citizen_png:
            png.click()
        assert decode_qr(Image.open(citizen_png.value.path())) == [credential["qr_text"]]
    finally:
        context.close()


def test_an_invitation_link_lets_the_new_member_choose_a_password_and_sign_in(
    page: Page, live_server: Server, world: World
) -> None:
    invited = httpx.post(
        f"{live_server.url}/api/v1/territories/ta/invitations",
        json={"email": "nouvelle@example.org", "display_name": "Nouvelle Recrue"},
        headers=world.headers["territory_admin"],
    )
    assert invited.status_code == 201, invited.text

    page.goto(invited.json()["link"])
    expect(page.get_by_role("heading", level=1)).to_have_text("Rejoindre l'équipe")
    expect(page.locator("#invitation-what")).to_contain_text("nouvelle@example.org")
    expect(page).to_have_url(f"{live_server.url}/compte")  # the code left the address bar
    check_axe(page, "accepting an invitation")
    password = page.locator("#view-invitation").get_by_label("Nouveau mot de passe")
    expect(password).to_be_focused()
    password.fill("court")
    page.get_by_role("button", name="Créer mon compte").click()
    expect(page.locator("#invitation-error")).to_contain_text("au moins 12 caractères")
    password.fill("une phrase facile à retenir")
    page.get_by_role("button", name="Créer mon compte").click()
    expect(page.locator("#account-message")).to_contain_text("Votre compte nouvelle@example.org")

    page.get_by_role("link", name="Se connecter").click()
    expect(page).to_have_url(f"{live_server.url}/mediation")
    sign_in_mediator(page, "nouvelle@example.org", "une phrase facile à retenir")


def test_a_reset_link_sets_a_new_password(page: Page, live_server: Server, world: World) -> None:
    # Asked for from the sign-in form, as someone who forgot would.
    page.goto("/mediation")
    page.get_by_role("link", name="Mot de passe oublié ? Invitation reçue ?").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Choisir un nouveau mot de passe")
    page.get_by_label("Adresse électronique").fill("med-a1@example.org")
    page.get_by_role("button", name="Recevoir un code").click()
    expect(page.locator("#forgot-message")).to_contain_text("un courriel vient de partir")
    links = re.findall(r"https?://\S+/compte#reinitialisation=\S+", live_server.log())
    assert links, "no reset link in the mail printed by the server"

    page.goto(links[-1])
    expect(page.get_by_label("Code de réinitialisation")).not_to_have_value("")
    new_password = page.locator("#reset-form").get_by_label("Nouveau mot de passe")
    expect(new_password).to_be_focused()
    new_password.fill("un tout nouveau mot de passe")
    page.get_by_role("button", name="Enregistrer le mot de passe").click()
    expect(page.locator("#account-message")).to_contain_text("Votre mot de passe est changé")
    sign_in_mediator(page, "med-a1@example.org", "un tout nouveau mot de passe")

    # Spent: the same code again is refused in plain words.
    page.goto(links[-1])
    new_password.fill("encore un autre mot de passe")
    page.get_by_role("button", name="Enregistrer le mot de passe").click()
    expect(page.locator("#reset-error")).to_contain_text("Ce code ne marche pas")


def test_an_empty_code_or_address_is_named_and_takes_the_focus(page: Page) -> None:
    page.goto("/compte")
    forgot = page.locator("#forgot-form").get_by_label("Adresse électronique")
    page.get_by_role("button", name="Recevoir un code").click()
    expect(page.locator("#forgot-message")).to_have_text("Saisissez votre adresse électronique.")
    expect(forgot).to_be_focused()
    page.get_by_role("button", name="Enregistrer le mot de passe").click()
    expect(page.locator("#reset-error")).to_have_text("Saisissez le code de réinitialisation.")
    expect(page.get_by_label("Code de réinitialisation")).to_be_focused()
    # The citizen's « lien par courriel », the same way.
    page.goto("/citizen")
    page.locator("#link-form").get_by_role("button").click()
    expect(page.locator("#link-message")).to_have_text("Saisissez votre adresse électronique.")
    expect(page.locator("#link-email")).to_be_focused()


def test_a_second_attestation_link_in_the_same_tab_is_checked_too(
    page: Page, live_server: Server, world: World
) -> None:
    first = _issue(live_server, world)
    second = _issue(live_server, world, skills=["crcn:1.1"])
    page.goto(f"/verifier#code={first['code']}")
    expect(page.locator("#verdict")).to_have_attribute("data-result", "valid")
    expect(page.get_by_label("Code de vérification")).to_have_value(first["code"])
    # Only the fragment changes: no new page load, and still the code is checked.
    page.goto(f"/verifier#code={second['code']}")
    expect(page.get_by_label("Code de vérification")).to_have_value(second["code"])
    expect(page.locator("#verdict")).to_contain_text("crcn:1.1")
