"""The coordinator's page (/coordination): sign in, structures, team, keys, journal."""

from __future__ import annotations

from pathlib import Path

import httpx
from joserfc.jwk import ECKey
from playwright.sync_api import Page, expect

from tests.browser.conftest import check_axe, screenshot
from tests.factories import ACCESS_CODE, PASSWORD, World, record_validation
from tests.federation_fixtures import serving
from tests.servers import Server


def _sign_in(page: Page, email: str) -> None:
    page.goto("/coordination")
    page.get_by_label("Adresse électronique", exact=True).fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()


def test_a_coordinator_manages_the_territory_and_reads_the_journal(
    page: Page, live_server: Server, world: World, tmp_path: Path
) -> None:
    page.goto("/coordination")
    expect(page.get_by_role("heading", name="Espace coordination")).to_be_visible()
    check_axe(page, "coordination, sign in")
    _sign_in(page, "admin-a@example.org")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Coordination — {world.a.name}")

    # Structures: the territory's own, not the other territory's.
    structures = page.locator("#structures-table tbody")
    expect(structures).to_contain_text(world.a1.nom)
    expect(structures).to_contain_text(world.a2.nom)
    expect(structures).not_to_contain_text(world.b1.nom)
    check_axe(page, "coordination")
    screenshot(page, "coordination")

    # Add a place, then correct it.
    page.get_by_label("Nom *").fill("Espace numérique du port")
    page.get_by_label("Adresse *").fill("1 quai des Pêcheurs")
    page.get_by_label("Code postal *").fill("97300")
    page.get_by_label("Commune *").fill("Cayenne")
    page.get_by_role("button", name="Ajouter le lieu").click()
    expect(page.locator("#structure-error")).to_contain_text("Espace numérique du port")
    expect(structures).to_contain_text("Espace numérique du port")
    page.get_by_role("button", name="Modifier Espace numérique du port").click()
    page.get_by_label("Commune *").fill("Kourou")
    page.get_by_role("button", name="Enregistrer").click()
    expect(structures.locator("tr", has_text="Espace numérique du port")).to_contain_text("Kourou")

    # Import a file: one good row, one without a postcode (rejected, with its line).
    csv = tmp_path / "lieux.csv"
    csv.write_text(
        "id,nom,commune,code_postal,adresse\n"
        "lieu-import-1,Médiathèque du bourg,Matoury,97351,2 rue des Écoles\n"
        "lieu-import-2,Sans code postal,Matoury,,3 rue des Écoles\n",
        encoding="utf-8",
    )
    page.locator("#import-file").set_input_files(str(csv))
    page.get_by_role("button", name="Importer").click()
    report = page.locator("#import-result")
    expect(report).to_contain_text("2 ligne(s) lue(s) : 1 créée(s)")
    expect(report).to_contain_text("Ligne 3 : Le code postal est obligatoire.")
    expect(structures).to_contain_text("Médiathèque du bourg")

    # Invite a mediator to one place: the code and link are shown once.
    page.get_by_label("Adresse électronique *").fill("nouvelle@example.org")
    page.get_by_label("Nom affiché *").fill("Nadia Nouvelle")
    # DSFR draws the checkbox on its label, which is what a person clicks.
    page.locator("#invite-structures-list label", has_text=world.a1.nom).click()
    expect(page.locator("#invite-structures-list").get_by_label(world.a1.nom)).to_be_checked()
    page.get_by_role("button", name="Créer l'invitation").click()
    expect(page.locator("#invitation-created")).to_contain_text("nouvelle@example.org")
    code = page.locator("#invitation-code").inner_text()
    assert code and code in (page.locator("#invitation-link").get_attribute("href") or "")
    expect(page.locator("#invitations-table tbody")).to_contain_text("Nadia Nouvelle")
    # Its withdrawal is named after whom it was for: every row's button reads « Retirer ».
    withdraw = page.get_by_role("button", name="Retirer l'invitation de nouvelle@example.org")
    expect(withdraw).to_have_text("Retirer")

    # Rotate the key twice: a first key, then a new one while the first stays published.
    for expected_rows in (1, 2):
        page.get_by_role("button", name="Changer de clé").click()
        page.get_by_role("button", name="Oui, changer de clé").click()
        expect(page.locator("#keys-message")).to_contain_text("Nouvelle clé active")
        expect(page.locator("#keys-table tbody tr")).to_have_count(expected_rows)
    rows = page.locator("#keys-table tbody tr")
    expect(rows.nth(0)).to_contain_text("Active")
    expect(rows.nth(1)).to_contain_text("Remplacée, encore publiée")
    jwks = httpx.get(f"{live_server.url}/t/ta/.well-known/jwks.json").json()
    assert len(jwks["keys"]) == 2

    # The journal shows each of these actions, by the coordinator.
    journal = page.locator("#journal-table tbody")
    for action in (
        "key.rotated",
        "invitation.created",
        "structures.imported",
        "structure.updated",
        "structure.created",
        "auth.login",
    ):
        expect(journal.locator(f"tr[data-action='{action}']").first).to_be_visible()
    rotated = journal.locator("tr[data-action='key.rotated']").first
    expect(rotated).to_contain_text("Clé changée")
    expect(rotated).to_contain_text(world.admin_a.display_name)
    # Labels, never the raw kinds.
    expect(rotated).not_to_contain_text("key.rotated")
    expect(journal).not_to_contain_text("auth.login")
    page.get_by_label("Afficher").select_option("key")
    # Each rotation journals the new key's creation and the rotation itself.
    expect(journal.locator("tr")).to_have_count(4)
    expect(journal.locator("tr[data-action='key.rotated']")).to_have_count(2)
    expect(journal.locator("tr[data-action='invitation.created']")).to_have_count(0)

    # Trusted territories: this instance's own, as verifiers see them, with both published keys.
    own = page.locator("#trust-table tbody tr", has_text=world.a.issuer_url)
    expect(own).to_contain_text(world.a.name)
    expect(own.locator("td").nth(2)).to_have_text("2")
    check_axe(page, "coordination, after changes")
    screenshot(page, "coordination-journal")


def test_the_journal_names_a_citizen_who_revoked_their_own_credential(
    page: Page, live_server: Server, world: World
) -> None:
    # Through the API: a mediator records a skill, the citizen issues a credential and revokes it.
    api = f"{live_server.url}/api/v1"
    with httpx.Client(base_url=live_server.url) as mediator:
        record_validation(mediator, world)
    with httpx.Client(base_url=api) as citizen:
        login = citizen.post(
            "/citizen/login", json={"number": world.passport.number, "code": ACCESS_CODE}
        )
        assert login.status_code == 200, login.text
        csrf = {"X-CSRF-Token": login.json()["csrf_token"]}
        mine = citizen.post("/citizen/credentials", json={"skills": ["pp:PP-06"]}, headers=csrf)
        assert mine.status_code == 201, mine.text
        revoked = citizen.post(
            f"/citizen/credentials/{mine.json()['id']}/revoke", json={}, headers=csrf
        )
        assert revoked.status_code == 200, revoked.text

    _sign_in(page, "admin-a@example.org")
    row = page.locator("#journal-table tbody tr[data-action='credential.revoked']")
    expect(row).to_contain_text("Attestation révoquée")
    expect(row).to_contain_text("La personne elle-même")
    expect(row).not_to_contain_text("Le système")


def test_a_mediator_is_sent_to_the_mediator_space(page: Page, world: World) -> None:
    _sign_in(page, "med-a1@example.org")
    expect(page.locator("#signin-error")).to_contain_text("réservé aux coordinateurs")
    expect(page.locator("#view-admin")).to_be_hidden()


def test_a_wrong_password_is_refused_in_plain_words(page: Page, world: World) -> None:
    page.goto("/coordination")
    page.get_by_label("Adresse électronique", exact=True).fill("admin-a@example.org")
    page.get_by_label("Mot de passe").fill("not the password at all")
    page.get_by_role("button", name="Se connecter").click()
    expect(page.locator("#signin-error")).to_contain_text("incorrect")
    check_axe(page, "coordination, sign-in refused")


def test_a_coordinator_trusts_another_site_after_checking_its_fingerprints(
    page: Page, live_server: Server, world: World
) -> None:
    """Another instance's issuer (a real HTTP server publishing a key set) is previewed, its
    fingerprint confirmed, pinned, seen by verifiers in the trust bundle, then removed."""
    key = ECKey.generate_key("P-256", private=True)
    with serving() as site:
        (kid,) = site.put_keys("/t/973", key)
        iss = f"{site.url}/t/973"
        _sign_in(page, "admin-a@example.org")
        expect(page.locator("#trust-list-state")).to_contain_text("aucune n'est importée")
        expect(page.locator("#trust-store")).to_contain_text("Aucun territoire d'un autre site")

        page.get_by_label("Adresse de l'émetteur").fill(iss)
        page.get_by_role("button", name="Voir ses clés").click()
        expect(page.locator("#trust-fingerprints")).to_have_text(kid)
        check_axe(page, "coordination, trust preview")
        # Pinning waits for the coordinator to say the fingerprints were checked.
        page.get_by_role("button", name="Ajouter aux territoires de confiance").click()
        expect(page.locator("#trust-preview")).to_contain_text("Cochez la case")
        page.get_by_label("Nom du territoire").fill("Guyane (autre site)")
        page.locator("label[for='trust-confirmed']").click()
        page.get_by_role("button", name="Ajouter aux territoires de confiance").click()
        expect(page.locator("#trust-message")).to_contain_text("Guyane (autre site) est maintenant")
        store = page.locator("#trust-store-table tbody tr", has_text=iss)
        expect(store).to_contain_text("Ajouté ici")
        expect(store).to_contain_text(kid[:12])
        # Verifiers get it through the bundle, with its key.
        bundle = httpx.get(f"{live_server.url}/api/v1/trust/bundle").json()
        assert kid in [
            k["kid"] for i in bundle["issuers"] if i["iss"] == iss for k in i["jwks"]["keys"]
        ]
        expect(page.locator("#trust-table tbody tr", has_text=iss)).to_contain_text("1")
        expect(
            page.locator("#journal-table tbody tr[data-action='trust.issuer_added']")
        ).to_have_count(1)
        screenshot(page, "coordination-trust")

        page.get_by_role("button", name="Ne plus faire confiance à Guyane (autre site)").click()
        expect(page.locator("#trust-message")).to_contain_text("n'est plus de confiance")
        expect(page.locator("#trust-store-table")).to_have_count(0)
        expect(page.locator("#trust-table")).not_to_contain_text(iss)
        expect(
            page.locator("#journal-table tbody tr[data-action='trust.issuer_removed']")
        ).to_have_count(1)
        check_axe(page, "coordination, trust removed")


def test_a_platform_admin_chooses_the_territory(page: Page, world: World) -> None:
    _sign_in(page, "root@example.org")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Coordination — {world.a.name}")
    expect(page.locator("#structures-table tbody")).to_contain_text(world.a1.nom)
    page.get_by_label("Territoire", exact=True).select_option("tb")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Coordination — {world.b.name}")
    expect(page.locator("#structures-table tbody")).to_contain_text(world.b1.nom)
    expect(page.locator("#structures-table tbody")).not_to_contain_text(world.a1.nom)
    check_axe(page, "coordination, platform admin")
