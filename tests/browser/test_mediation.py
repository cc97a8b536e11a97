"""The mediator's flow, end to end against the real server."""

from __future__ import annotations

import re

from playwright.sync_api import Page, Route, expect

from tests.browser.conftest import check_axe, screenshot, sign_in_mediator
from tests.factories import PASSWORD, World


def test_mediator_opens_a_passport_records_withdraws_and_issues(page: Page, world: World) -> None:
    page.goto("/mediation")
    expect(page.get_by_role("heading", name="Connexion de l'équipe de médiation")).to_be_visible()
    check_axe(page, "mediation sign-in")
    screenshot(page, "mediation-signin")

    # A wrong password says so, without leaving the page.
    page.get_by_label("Adresse électronique", exact=True).fill("med-a1@example.org")
    page.get_by_label("Mot de passe", exact=True).fill("not the password")
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("alert")).to_contain_text("incorrect")

    sign_in_mediator(page, "med-a1@example.org")
    expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()
    check_axe(page, "mediation search")

    # Opening a passport for someone who already has one: the consent step, then the warning.
    page.get_by_label("Prénom *", exact=True).fill("Lucie")
    page.get_by_label("Nom *", exact=True).fill("Martin")
    page.locator("#open-year").fill("1958")
    page.get_by_role("button", name="Ouvrir le passeport").click()
    expect(page.get_by_role("alert").filter(has_text="accord")).to_be_visible()
    page.get_by_text("La personne a entendu ce texte et donne son accord").click()
    page.get_by_role("button", name="Ouvrir le passeport").click()
    warning = page.get_by_role("alert").filter(has_text="a peut-être déjà un passeport")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text(world.passport.number)
    check_axe(page, "duplicate warning")
    warning.get_by_role("button", name=f"Voir le passeport {world.passport.number}").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Lucie Martin")
    expect(page).to_have_url(re.compile(rf"#passport/{world.passport.id}$"))

    # Record a validation through the picker, by an everyday word.
    picker = page.get_by_role("combobox", name="Compétence")
    picker.fill("mail")
    options = page.get_by_role("option")
    expect(options.first).to_be_visible()
    option = options.filter(has_text="PP-06")
    option.click()
    expect(page.locator("#picker-chosen")).to_contain_text("pp:PP-06")
    page.get_by_role("button", name="Valider", exact=True).click()
    expect(page.get_by_role("alert").filter(has_text="Validation enregistrée")).to_be_visible()
    history = page.locator("#passport-history")
    expect(history.locator("tbody tr")).to_have_count(1)
    expect(page.locator('#passport-first-steps li[data-code="pp:PP-06"]')).to_have_class(
        re.compile("checklist__item--done")
    )

    # A CRCN competence needs a level.
    picker.fill("arnaque")
    page.get_by_role("option").filter(has_text="crcn:4.1").click()
    page.get_by_label("Niveau observé").select_option("3")
    page.get_by_role("button", name="Valider", exact=True).click()
    expect(history.locator("tbody tr")).to_have_count(2)
    expect(page.locator('#passport-levels tr[data-code="crcn:4.1"] td').first).to_have_text("3")
    check_axe(page, "passport view")
    screenshot(page, "mediation-passport")

    # Withdraw the CRCN one, with a reason.
    history.get_by_role("button", name=re.compile("Retirer la validation : Sécuriser")).click()
    page.get_by_label(re.compile("Motif du retrait")).fill("saisie en double")
    page.get_by_role("button", name="Confirmer le retrait").click()
    expect(history.get_by_text("Retirée : saisie en double")).to_be_visible()
    expect(page.locator('#passport-levels tr[data-code="crcn:4.1"] td').first).to_have_text("—")

    # Issue a credential for the Premiers pas skill and see its QR.
    page.locator("#credential-skills label").filter(has_text="pp:PP-06").click()
    with page.expect_response(re.compile(r"/qr\.svg$")) as qr_response:
        page.get_by_role("button", name="Délivrer l'attestation").click()
    assert qr_response.value.status == 200
    assert qr_response.value.headers["content-type"].startswith("image/svg+xml")
    qr = page.get_by_role("img", name=re.compile("QR code de l'attestation V-"))
    expect(qr).to_be_visible()
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=qr.element_handle())
    expect(page.get_by_role("link", name="Attestation à imprimer (PDF)").first).to_have_attribute(
        "href", re.compile(r"/attestation\.pdf$")
    )
    expect(page.locator("#credential-list tbody tr")).to_have_count(1)
    check_axe(page, "credential issued")


def test_mediator_opens_a_new_passport_and_sees_its_access_code(page: Page, world: World) -> None:
    sign_in_mediator(page, "med-a1@example.org")
    page.get_by_label("Prénom *", exact=True).fill("Nour")
    page.get_by_label("Nom *", exact=True).fill("Benali")
    page.get_by_text("La personne a entendu ce texte et donne son accord").click()
    page.get_by_role("button", name="Ouvrir le passeport").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Nour Benali")
    expect(page.locator("#new-code")).to_contain_text("Code d'accès de la personne")

    # Printing the card asks first, then downloads a PDF.
    page.get_by_role("button", name="Imprimer la carte d'accès").click()
    with page.expect_download() as download:
        page.get_by_role("button", name="Créer un nouveau code et imprimer").click()
    assert download.value.suggested_filename.endswith(".pdf")

    # Found again by search, after a reload.
    page.get_by_role("link", name="Retour à la recherche").click()
    page.get_by_label("Nom, prénom ou numéro de passeport").fill("benali")
    page.get_by_role("button", name="Rechercher").click()
    page.get_by_role("link", name="Ouvrir le passeport de Nour Benali").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Nour Benali")
    expect(page.locator("#new-code")).to_be_hidden()


def test_a_refused_form_says_why_in_plain_french(page: Page, world: World) -> None:
    # The server's validation error reaches the mediator as a French sentence naming the field,
    # never as "body.phone: String should match pattern …".
    sign_in_mediator(page, "med-a1@example.org")
    page.get_by_label("Prénom *", exact=True).fill("Nour")
    page.get_by_label("Nom *", exact=True).fill("Benali")
    page.locator("#open-phone").fill("appelez-moi")
    page.get_by_text("La personne a entendu ce texte et donne son accord").click()
    page.get_by_role("button", name="Ouvrir le passeport").click()
    error = page.locator("#open-error")
    # The page checks the phone itself first (the form's pattern, the API's)...
    expect(error).to_contain_text("Ce numéro de téléphone n'est pas valable")
    # ...and without that check (an older copy of the page), the server's refusal reads as well.
    page.locator("#open-phone").evaluate("input => input.removeAttribute('pattern')")
    page.get_by_role("button", name="Ouvrir le passeport").click()
    expect(error).to_contain_text("Le numéro de téléphone n'a pas la forme attendue.")
    expect(error).not_to_contain_text("body.")
    expect(error).not_to_contain_text("should")


def test_a_mistyped_number_in_the_search_is_named_as_a_typo(page: Page, world: World) -> None:
    sign_in_mediator(page, "med-a1@example.org")
    number = world.passport.number
    typo = number[:-1] + ("2" if number[-1] != "2" else "3")
    page.get_by_label("Nom, prénom ou numéro de passeport").fill(typo)
    page.get_by_role("button", name="Rechercher").click()
    expect(page.locator("#search-results")).to_contain_text(
        "Ce numéro de passeport contient une faute de frappe"
    )
    # A name that finds nothing still says so plainly.
    page.get_by_label("Nom, prénom ou numéro de passeport").fill("Zyxwvut")
    page.get_by_role("button", name="Rechercher").click()
    expect(page.locator("#search-results")).to_contain_text("Aucun passeport trouvé.")


def test_mediation_in_english(english_page: Page, world: World) -> None:
    page = english_page
    page.goto("/mediation")
    expect(page.get_by_role("heading", name="Sign in for mediators")).to_be_visible()
    page.get_by_label("E-mail address", exact=True).fill("med-a1@example.org")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Find or open a passport")).to_be_visible()
    page.goto(f"/mediation#passport/{world.passport.id}")
    expect(page.get_by_role("heading", name="Validate a skill")).to_be_visible()
    # Skill names come from the framework in the chosen language.
    page.get_by_role("combobox", name="Skill").fill("scam")
    expect(page.get_by_role("option").first).to_contain_text("scam")
    check_axe(page, "mediation passport (en)")


def test_an_ended_session_brings_back_the_sign_in_form(page: Page, world: World) -> None:
    sign_in_mediator(page, "med-a1@example.org")
    page.context.clear_cookies()
    page.get_by_label(re.compile("Nom, prénom ou numéro de passeport")).fill("martin")
    page.get_by_role("button", name="Rechercher").click()
    expect(page.get_by_role("heading", name="Connexion de l'équipe de médiation")).to_be_visible()
    expect(page.get_by_text("Votre session a expiré")).to_be_visible()


def test_signing_out_ends_the_session(page: Page, world: World) -> None:
    sign_in_mediator(page, "med-a1@example.org")
    page.get_by_role("button", name="Se déconnecter").click()
    expect(page.get_by_role("heading", name="Connexion de l'équipe de médiation")).to_be_visible()
    assert page.request.get("/api/v1/auth/session").status == 401


def test_a_lost_answer_is_kept_on_the_device_and_lands_once(page: Page, world: World) -> None:
    """The answer lost, the page cannot know whether the request landed: it keeps the request, with
    its key, in the offline queue (docs/frontend.md, "Offline mediation"); sent again, it lands
    once, and a new submission is a new validation."""
    sign_in_mediator(page, "med-a1@example.org")
    page.goto(f"/mediation#passport/{world.passport.id}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Lucie Martin")
    history = page.locator("#passport-history")

    # The first try lands on the server, and its answer is lost on the way back.
    def lose_the_answer(route: Route) -> None:
        route.fetch()
        route.abort("connectionreset")

    path = re.compile(rf"/api/v1/passports/{world.passport.id}/validations$")
    page.route(path, lose_the_answer)
    picker = page.get_by_role("combobox", name="Compétence")
    picker.fill("arnaque")
    page.get_by_role("option").filter(has_text="crcn:4.1").click()
    page.get_by_label("Niveau observé").select_option("3")
    page.get_by_role("button", name="Valider", exact=True).click()
    error = page.locator("#record-error")
    expect(error).to_contain_text("Validation gardée sur cet appareil")
    page.unroute(path)

    # Sent again under the same key: the server answers with what the lost try recorded.
    page.get_by_role("button", name="Envoyer maintenant").click()
    expect(page.locator('#offline-queue-list li[data-state="sent"]')).to_have_count(1)
    expect(history.locator("tbody tr")).to_have_count(1)
    expect(page.locator('#passport-levels tr[data-code="crcn:4.1"] td').first).to_have_text("3")

    # A new submission is a new request with a new key: recorded.
    picker.fill("arnaque")
    page.get_by_role("option").filter(has_text="crcn:4.1").click()
    page.get_by_label("Niveau observé").select_option("4")
    page.get_by_role("button", name="Valider", exact=True).click()
    expect(page.get_by_role("alert").filter(has_text="Validation enregistrée")).to_be_visible()
    expect(history.locator("tbody tr")).to_have_count(2)
