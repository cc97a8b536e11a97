"""The verifier's page (/verify): a credential issued through the API, read from its QR image.

The page decodes the PNG the API serves (photo upload: jsQR, as Chromium on Linux has no
BarcodeDetector), verifies it in the browser against the trust bundle, and shows the verdict.
Then the network is cut — the browser context goes offline and every request is aborted — and
the reloaded page, served by its service worker, verifies the same image again.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import qrcode
from PIL import Image
from playwright.sync_api import BrowserContext, Page, Playwright, expect

from app.core import addresses
from app.passports import numbers
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, check_axe, screenshot
from tests.factories import World
from tests.servers import Server

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
SKILL = "crcn:4.1"
SKILL_LABEL_START = "Sécuriser l'environnement numérique"  # crcn:4.1


def _issue(
    server: Server, world: World, *, with_name: bool = True, skills: list[str] | None = None
) -> dict[str, Any]:
    """Record the skills in the world's passport, then issue a credential of them."""
    headers = world.headers["mediator_of_structure"]
    base = f"{server.url}/api/v1/passports/{world.passport.id}"
    for code in skills or [SKILL]:
        response = httpx.post(
            f"{base}/validations",
            headers=headers,
            json={
                "skill_code": code,
                "level": 3,
                "method": "observation",
                "observed_on": date.today().isoformat(),
                "structure_id": world.a1.id,
            },
        )
        assert response.status_code in (200, 201), response.text
    response = httpx.post(
        f"{base}/credentials",
        headers=headers,
        json={"skills": skills or [SKILL], "validity_days": 30, "include_name": with_name},
    )
    assert response.status_code == 201, response.text
    credential: dict[str, Any] = response.json()
    return credential


def _png(server: Server, world: World, credential: dict[str, Any], tmp_path: Path) -> Path:
    response = httpx.get(
        f"{server.url}/api/v1/passports/{world.passport.id}/credentials/{credential['id']}/qr.png",
        headers=world.headers["mediator_of_structure"],
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    path = tmp_path / f"{credential['code']}.png"
    path.write_bytes(response.content)
    return path


def _revoke(server: Server, world: World, credential: dict[str, Any]) -> None:
    response = httpx.post(
        f"{server.url}/api/v1/passports/{world.passport.id}/credentials/{credential['id']}/revoke",
        headers=world.headers["mediator_of_structure"],
        json={"reason": "holder_request"},
    )
    assert response.status_code == 200, response.text


# Resolves once the service worker controls the page (evaluate, not wait_for_function: the
# page's CSP forbids the eval that polling would need).
CONTROLLED = """async () => {
  if (!navigator.serviceWorker.controller) {
    await new Promise((resolve) =>
      navigator.serviceWorker.addEventListener("controllerchange", resolve, { once: true }));
  }
  return navigator.serviceWorker.controller !== null;
}"""


def _open(page: Page, path: str = "/verify") -> None:
    page.goto(path)
    expect(page.locator("body")).to_have_attribute("data-ready", "true")


def _upload(page: Page, png: Path) -> None:
    page.locator("#photo").set_input_files(str(png))


def test_a_qr_image_reads_valid_with_its_skills(
    page: Page, live_server: Server, world: World, tmp_path: Path
) -> None:
    credential = _issue(live_server, world)
    png = _png(live_server, world, credential, tmp_path)
    _open(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Vérifier une attestation")
    expect(page.locator("#trust-age-text")).to_contain_text("Données de confiance du")
    check_axe(page, "verify")
    screenshot(page, "verify")

    _upload(page, png)
    verdict = page.locator("#verdict")
    expect(verdict).to_have_attribute("data-result", "valid")
    expect(page.locator("#verdict-title")).to_have_text("Valide")
    expect(page.locator("#verdict-reason")).to_contain_text("authentique")
    expect(verdict).to_contain_text(world.a.name)
    expect(verdict).to_contain_text("Lucie")  # the holder's name, included on request
    row = page.locator("#verdict-skills tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(SKILL)
    expect(row).to_contain_text(SKILL_LABEL_START)
    expect(row).to_contain_text("niveau 3")
    expect(page.locator("#result")).to_be_focused()
    check_axe(page, "verify, valid")
    screenshot(page, "verify-valid")


def test_a_revoked_credential_reads_revoked(
    page: Page, live_server: Server, world: World, tmp_path: Path
) -> None:
    credential = _issue(live_server, world, with_name=True)
    png = _png(live_server, world, credential, tmp_path)
    _open(page)
    _upload(page, png)
    expect(page.locator("#verdict")).to_have_attribute("data-result", "valid")
    expect(page.locator("#verdict")).to_contain_text("Lucie")
    # Revoked after the page loaded the trust data: the next load counts it at once, although
    # the bundle is publicly cacheable for a few minutes.
    _revoke(live_server, world, credential)
    _open(page)
    _upload(page, png)
    expect(page.locator("#verdict")).to_have_attribute("data-result", "revoked")
    expect(page.locator("#verdict-title")).to_have_text("Non valide")
    expect(page.locator("#verdict-reason")).to_contain_text("révoquée")
    # A revoked credential names nobody (it may be revoked because its holder was erased): the
    # name in the QR is not shown, and the page says why.
    expect(page.locator("#verdict")).to_contain_text("Nom non affiché : l'attestation est révoquée")
    expect(page.locator("#verdict")).not_to_contain_text("Lucie")
    check_axe(page, "verify, revoked")
    screenshot(page, "verify-revoked")


def test_a_typed_code_reads_valid_and_an_unknown_one_is_explained(
    page: Page, live_server: Server, world: World
) -> None:
    credential = _issue(live_server, world)
    _open(page)
    page.get_by_label("Code de vérification").fill(credential["code"].lower())
    page.get_by_role("button", name="Vérifier le code").click()
    expect(page.locator("#verdict")).to_have_attribute("data-result", "valid")
    expect(page.locator("#verdict-skills tbody tr")).to_contain_text(SKILL_LABEL_START)
    expect(page.locator("#verdict")).to_contain_text("Vérifiée par le serveur")

    # A well-formed code that names nothing here, then a typing mistake (wrong check character).
    page.get_by_label("Code de vérification").fill(numbers.new_number("V-"))
    page.get_by_role("button", name="Vérifier le code").click()
    expect(page.locator("#code-status")).to_contain_text("Aucune attestation ne porte ce code")
    typo = credential["code"][:-1] + ("2" if credential["code"][-1] != "2" else "3")
    page.get_by_label("Code de vérification").fill(typo)
    page.get_by_role("button", name="Vérifier le code").click()
    expect(page.locator("#code-status")).to_contain_text("Ce code contient une faute de frappe")
    # A character short, and a letter no code has: each said in plain words.
    page.get_by_label("Code de vérification").fill(credential["code"][:-1])
    page.get_by_role("button", name="Vérifier le code").click()
    expect(page.locator("#code-status")).to_contain_text(
        "8 caractères après V- : vous en avez tapé 7"
    )
    page.get_by_label("Code de vérification").fill(credential["code"][:-1] + "O")
    page.get_by_role("button", name="Vérifier le code").click()
    expect(page.locator("#code-status")).to_contain_text("ne contient jamais « O »")
    check_axe(page, "verify, unknown code")


def test_a_new_check_clears_the_previous_verdict(
    page: Page, live_server: Server, world: World, tmp_path: Path
) -> None:
    credential = _issue(live_server, world)
    code = page.get_by_label("Code de vérification")
    check = page.get_by_role("button", name="Vérifier le code")
    # The printed link: green "Valide" naming the holder.
    _open(page, f"/verifier#code={credential['code']}")
    expect(page.locator("#verdict")).to_have_attribute("data-result", "valid")
    expect(page.locator("#result")).to_contain_text("Lucie")
    # A typo: the mistake is said, and the old card naming the holder is gone.
    typo = credential["code"][:-1] + ("2" if credential["code"][-1] != "2" else "3")
    code.fill(typo)
    check.click()
    expect(page.locator("#code-status")).to_contain_text("Ce code contient une faute de frappe")
    expect(page.locator("#verdict")).to_have_count(0)
    expect(page.locator("#result")).not_to_contain_text("Lucie")
    # Valid again, then an empty submission: the same.
    code.fill(credential["code"])
    check.click()
    expect(page.locator("#verdict")).to_have_attribute("data-result", "valid")
    code.fill("")
    check.click()
    expect(page.locator("#code-status")).not_to_be_empty()
    expect(page.locator("#verdict")).to_have_count(0)
    # Valid again, then a photo with no QR code in it.
    code.fill(credential["code"])
    check.click()
    expect(page.locator("#verdict")).to_have_attribute("data-result", "valid")
    blank = tmp_path / "blank.png"
    Image.new("RGB", (200, 200), "white").save(blank)
    _upload(page, blank)
    expect(page.locator("#photo-status")).to_contain_text("Aucun QR code")
    expect(page.locator("#verdict")).to_have_count(0)


def test_a_credential_without_the_name_says_so_plainly(
    page: Page, live_server: Server, world: World
) -> None:
    # The mediator's box is unticked by default: nobody "chose" anything, the name is not there.
    credential = _issue(live_server, world, with_name=False)
    _open(page, f"/verifier#code={credential['code']}")
    verdict = page.locator("#verdict")
    expect(verdict).to_have_attribute("data-result", "valid")
    expect(verdict).to_contain_text("Le nom ne figure pas sur cette attestation.")
    expect(verdict).not_to_contain_text("choisi")
    expect(verdict).not_to_contain_text("Lucie")


def test_an_image_without_a_qr_code_says_so(
    page: Page, live_server: Server, tmp_path: Path
) -> None:
    # The page's own screenshot: a real image with no QR code in it.
    _open(page)
    blank = tmp_path / "blank.png"
    page.screenshot(path=str(blank))
    _upload(page, blank)
    expect(page.locator("#photo-status")).to_contain_text("Aucun QR code")
    expect(page.locator("#verdict")).to_have_count(0)


def test_an_access_cards_qr_code_is_named_as_such(
    page: Page, live_server: Server, world: World, tmp_path: Path
) -> None:
    # A person may hand over their access card rather than an attestation: its QR code is the
    # address of their own sign-in, which the page says plainly instead of "Non valide".
    address = addresses.citizen_sign_in(live_server.url, world.passport.number)
    card = tmp_path / "card.png"
    qrcode.make(address).save(card)
    _open(page)
    _upload(page, card)
    result = page.locator("#result")
    expect(result).to_contain_text("C'est le QR code d'une carte d'accès")
    expect(result).to_contain_text("scannez le QR code de son attestation")
    expect(page.locator("#verdict")).to_have_count(0)


# /verifier is the address printed on attestations: offline too.
@pytest.mark.parametrize("path", ["/verify", "/verifier"])
def test_offline_after_one_visit_the_qr_image_still_reads_valid(
    context: BrowserContext,
    page: Page,
    live_server: Server,
    world: World,
    tmp_path: Path,
    path: str,
) -> None:
    credential = _issue(live_server, world)
    png = _png(live_server, world, credential, tmp_path)
    _open(page, path)
    # The service worker has cached the page, its assets and the trust bundle, and controls the
    # page (clients.claim once activated).
    assert page.evaluate(CONTROLLED)
    expect(page.locator("#trust-age-text")).to_contain_text("Données de confiance du")

    # Cut the network: the context is offline and any request that still leaves is aborted.
    context.route("**/*", lambda route: route.abort("internetdisconnected"))
    context.set_offline(True)
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.locator("#trust-age-text")).to_contain_text("Données de confiance du")
    expect(page.locator("#trust-age")).to_contain_text("Hors connexion")

    _upload(page, png)
    expect(page.locator("#verdict")).to_have_attribute("data-result", "valid")
    expect(page.locator("#verdict-skills tbody tr")).to_contain_text(SKILL_LABEL_START)
    check_axe(page, "verify, offline, valid")

    # A typed code needs the server, and the page says so plainly.
    page.get_by_label("Code de vérification").fill(credential["code"])
    page.get_by_role("button", name="Vérifier le code").click()
    expect(page.locator("#code-status")).to_contain_text("hors connexion")


def _y4m(png: Path, path: Path, width: int = 640, height: int = 480) -> Path:
    """A still video of the QR image: a YUV4MPEG2 header and a few raw 4:2:0 frames."""
    qr = Image.open(png).convert("L")
    side = min(width, height) - 40
    qr = qr.resize((side, side), Image.Resampling.NEAREST)
    frame = Image.new("L", (width, height), 255)
    frame.paste(qr, ((width - side) // 2, (height - side) // 2))
    luma = frame.tobytes()
    # Grey has neutral chroma: both quarter-size planes at 128.
    chroma = bytes([128]) * ((width // 2) * (height // 2))
    header = f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode("ascii")
    path.write_bytes(header + (b"FRAME\n" + luma + chroma + chroma) * 5)
    return path


def test_the_camera_reads_the_qr_code(
    playwright: Playwright, live_server: Server, world: World, tmp_path: Path
) -> None:
    """Chromium's fake camera plays a video of the QR image; the page scans it."""
    credential = _issue(live_server, world)
    video = _y4m(_png(live_server, world, credential, tmp_path), tmp_path / "qr.y4m")
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=[
            *CHROMIUM_ARGS,
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={video}",
        ],
    )
    try:
        context = browser.new_context(base_url=live_server.url, locale="fr-FR")
        context.grant_permissions(["camera"], origin=live_server.url)
        page = context.new_page()
        _open(page)
        page.get_by_role("button", name="Scanner avec la caméra").click()
        expect(page.locator("#verdict")).to_have_attribute("data-result", "valid")
        expect(page.locator("#verdict-skills tbody tr")).to_contain_text(SKILL_LABEL_START)
        expect(page.locator("#scan-status")).to_have_text("QR code lu.")
        # The camera is released once the code is read.
        expect(page.locator("#scan-video")).to_be_hidden()
        check_axe(page, "verify, camera")
    finally:
        browser.close()


def test_in_english_a_foreign_credential_is_explained(english_page: Page) -> None:
    """The stored vector of issuer A, unknown to this server: untrusted, in plain English."""
    page = english_page
    _open(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Check a credential")
    _upload(page, VECTORS / "cases" / "valid" / "qr.png")
    expect(page.locator("#verdict")).to_have_attribute("data-result", "untrusted_issuer")
    expect(page.locator("#verdict-title")).to_have_text("Not valid")
    expect(page.locator("#verdict-reason")).to_contain_text("not among the trusted issuers")
    check_axe(page, "verify (en), untrusted")


def test_offline_trust_data_ages_then_revocation_becomes_unknown(
    context: BrowserContext, page: Page, live_server: Server, world: World, tmp_path: Path
) -> None:
    """The device's clock moves on while it stays offline: first a warning about the age of
    the trust data, then, once the signed status list has expired, no verdict of valid."""
    credential = _issue(live_server, world)
    png = _png(live_server, world, credential, tmp_path)
    _open(page)
    assert page.evaluate(CONTROLLED)
    expect(page.locator("#trust-stale")).to_have_count(0)
    context.route("**/*", lambda route: route.abort("internetdisconnected"))
    context.set_offline(True)

    # Ten minutes later: older than the bundle's max_age, still within the status list's exp.
    page.clock.set_fixed_time(datetime.now(UTC) + timedelta(minutes=10))
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.locator("#trust-stale")).to_contain_text("anciennes")
    _upload(page, png)
    expect(page.locator("#verdict")).to_have_attribute("data-result", "valid")
    check_axe(page, "verify, offline, stale")

    # Two days later: the signed status list has expired, so revocation cannot be known.
    page.clock.set_fixed_time(datetime.now(UTC) + timedelta(days=2))
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    _upload(page, png)
    expect(page.locator("#verdict")).to_have_attribute("data-result", "status_unavailable")
    expect(page.locator("#verdict-title")).to_have_text("Non valide")
    expect(page.locator("#verdict-reason")).to_contain_text("révoquée")
