"""The wallet in the web UI (issue 15): the mediator's and the citizen's offer (QR, link, PIN shown
apart), and the verifier page's explanation, in French and English, at 1280 and 360 px."""

from __future__ import annotations

import io
import json
import re
from urllib.parse import parse_qs, urlsplit

import httpx
from PIL import Image
from playwright.sync_api import Page, ViewportSize, expect

from tests.browser.conftest import check_axe, screenshot, sign_in_citizen, sign_in_mediator
from tests.factories import ACCESS_CODE, World, record_validation
from tests.qr import decode_qr
from tests.servers import Server

PHONE: ViewportSize = {"width": 360, "height": 740}


def _offer_in_qr(page: Page) -> dict[str, object]:
    """The offer the QR on screen holds, read back from its pixels by zxing."""
    image = Image.open(io.BytesIO(page.locator("img.wallet-offer__qr").screenshot()))
    (text,) = decode_qr(image)
    assert text.startswith("openid-credential-offer://?credential_offer=")
    return dict(json.loads(parse_qs(urlsplit(text).query)["credential_offer"][0]))


def test_mediator_offers_skills_to_the_wallet(
    page: Page, world: World, live_server: Server
) -> None:
    with httpx.Client(base_url=live_server.url) as client:
        record_validation(client, world, "pp:PP-06")
        record_validation(client, world, "pp:PP-12")
    sign_in_mediator(page, "med-a1@example.org")
    page.goto(f"/mediation#passport/{world.passport.id}")
    page.locator("#credential-skills label").filter(has_text="pp:PP-06").click()
    page.locator("#credential-skills label").filter(has_text="pp:PP-12").click()
    page.get_by_role("button", name="Ajouter à son portefeuille").click()
    card = page.locator(".wallet-offer")
    expect(card.get_by_role("heading", name="Prêt à ajouter au portefeuille")).to_be_visible()
    # What the offer holds, to check before the person scans: the skills (in the offer's
    # order), and no name.
    expect(card.locator(".wallet-offer__skills li")).to_have_text(
        [
            "pp:PP-12 — Repérer un message frauduleux (hameçonnage, arnaque)",
            "pp:PP-06 — Envoyer et recevoir un e-mail avec une pièce jointe",
        ]
    )
    expect(card.locator("[data-offer-name]")).to_have_text("Sans le nom de la personne.")
    expect(card).not_to_contain_text("Lucie")
    pin = card.locator("[data-pin]")
    expect(pin).to_have_text(re.compile(r"^\d{3} \d{3}$"))
    link = card.get_by_role("link", name="Ouvrir dans l'application portefeuille")
    href = link.get_attribute("href") or ""
    assert href.startswith("openid-credential-offer://?credential_offer=")
    offer = _offer_in_qr(page)
    assert offer["credential_issuer"] == f"{live_server.url}/wallet/ta"
    # The PIN is shown, never carried by the QR or the link.
    digits = (pin.text_content() or "").replace(" ", "")
    assert digits not in json.dumps(offer) and digits not in href
    check_axe(page, "wallet offer (mediator)")
    card.scroll_into_view_if_needed()
    screenshot(page, "wallet-offer-mediator", full_page=False)
    page.set_viewport_size(PHONE)
    card.scroll_into_view_if_needed()
    screenshot(page, "wallet-offer-mediator-360", full_page=False)
    check_axe(page, "wallet offer (mediator, 360 px)")


def test_mediator_offline_is_told_the_wallet_needs_the_network(
    page: Page, world: World, live_server: Server
) -> None:
    with httpx.Client(base_url=live_server.url) as client:
        record_validation(client, world, "pp:PP-06")
    sign_in_mediator(page, "med-a1@example.org")
    page.goto(f"/mediation#passport/{world.passport.id}")
    page.locator("#credential-skills label").filter(has_text="pp:PP-06").click()
    error = page.locator("#credential-error")
    offers = re.compile(r"/wallet-offers$")
    # The request gets no answer (the page did not know yet), then the page knows it is offline.
    page.route(offers, lambda route: route.abort("internetdisconnected"))
    for _ in range(2):
        page.get_by_role("button", name="Ajouter à son portefeuille").click()
        expect(error).to_contain_text("l'ajout au portefeuille a besoin du réseau")
        expect(error).not_to_contain_text("Le serveur ne répond pas")
        expect(page.locator("#offline-status")).to_be_visible()
        expect(page.locator(".wallet-offer")).to_have_count(0)
        page.context.set_offline(True)
    page.context.set_offline(False)
    page.unroute(offers)
    # The skill is still ticked: back online, the same click makes the offer.
    page.get_by_role("button", name="Ajouter à son portefeuille").click()
    expect(page.locator(".wallet-offer .wallet-offer__skills li")).to_have_count(1)


def test_citizen_adds_skills_to_their_wallet_in_english(
    english_page: Page, world: World, live_server: Server
) -> None:
    page = english_page
    with httpx.Client(base_url=live_server.url) as client:
        record_validation(client, world, "pp:PP-06")
    page.set_viewport_size(PHONE)
    page.goto("/citizen")
    page.get_by_label("Passport number").fill(world.passport.number)
    page.get_by_label("Access code").fill(ACCESS_CODE)
    page.get_by_role("button", name="See my passport").click()
    page.get_by_role("tab", name="My credentials").click()
    page.get_by_role("heading", name="My digital wallet").wait_for()
    page.locator("#wallet-skills label").first.click()
    page.locator("label[for=wallet-name]").click()
    page.get_by_role("button", name="Add to my wallet").click()
    card = page.locator(".wallet-offer")
    expect(card.get_by_role("heading", name="Ready to add to the wallet")).to_be_visible()
    expect(card.locator(".wallet-offer__skills li")).to_have_text(
        ["pp:PP-06 — Send and receive an e-mail with an attachment"]
    )
    expect(card.locator("[data-offer-name]")).to_have_text("With the name: Lucie Martin.")
    expect(card).to_contain_text("Give it to nobody")
    assert _offer_in_qr(page)["credential_configuration_ids"] == ["passeport_numerique_competences"]
    check_axe(page, "wallet offer (citizen, en, 360 px)")
    card.scroll_into_view_if_needed()
    screenshot(page, "wallet-offer-citizen-en-360", full_page=False)


def test_citizen_offer_in_french_lists_only_skills_a_mediator_validated(
    page: Page, world: World, live_server: Server
) -> None:
    sign_in_citizen(page, world.passport.number, ACCESS_CODE)
    page.get_by_role("tab", name="Mes attestations").click()
    expect(page.locator("#wallet-skills")).to_contain_text("Aucune compétence validée")
    expect(page.get_by_role("button", name="Ajouter à mon portefeuille")).to_be_hidden()
    check_axe(page, "wallet form, nothing to add")


def test_the_verifier_page_explains_a_wallet_presentation(page: Page, english_page: Page) -> None:
    page.goto("/verifier")
    section = page.get_by_role("region", name="Une attestation présentée par un portefeuille")
    expect(section).to_contain_text("seulement les compétences qu'elle a choisies")
    check_axe(page, "verifier (wallet section)")
    english_page.goto("/verifier")
    expect(
        english_page.get_by_role("heading", name="A credential presented by a digital wallet")
    ).to_be_visible()
    english_page.set_viewport_size(PHONE)
    english_page.get_by_role(
        "heading", name="A credential presented by a digital wallet"
    ).scroll_into_view_if_needed()
    screenshot(english_page, "wallet-verifier-en-360", full_page=False)
