"""Every address the service prints leads to a page that serves, and to the right one.

Cards, e-mails and attestations are read long after they are printed: each address on them is
taken from the document itself (the QR code decoded, the PDF's text and links, the e-mail), and
asked of the server. The browser side (the number filled in, the code checked, the link signing
in) is tests/browser/test_printed_links.py.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.core import addresses
from tests.factories import World, make_world, record_validation
from tests.qr import decode_qr
from tests.test_card import PUBLIC_URL, embedded_images, pdf_page_text

# What tells the pages apart: the <title> each one declares.
CITIZEN_PAGE = 'data-i18n="citizen.title"'
VERIFIER_PAGE = 'data-i18n="verify.title"'
PDF_LINK = re.compile(rb"/URI \(([^)]*)\)")


@pytest.fixture
def world(engine: sa.Engine) -> World:
    return make_world(engine)


def issue_credential(client: TestClient, world: World) -> dict[str, object]:
    """A validation and a credential for it, by the mediator of the passport's structure."""
    headers = world.headers["mediator_of_structure"]
    base = f"/api/v1/passports/{world.passport.id}"
    record_validation(client, world)
    issued = client.post(
        f"{base}/credentials", json={"skills": ["pp:PP-06"], "validity_days": 90}, headers=headers
    )
    assert issued.status_code == 201, issued.text
    credential: dict[str, Any] = issued.json()
    return credential


def assert_serves(client: TestClient, address: str, page_marker: str) -> None:
    """The address is on this server, answers 200 with the page meant, not the home page."""
    parts = urlsplit(address)
    assert f"{parts.scheme}://{parts.netloc}" == PUBLIC_URL, address
    response = client.get(parts.path + (f"?{parts.query}" if parts.query else ""))
    assert response.status_code == 200, (address, response.status_code)
    assert response.headers["content-type"].startswith("text/html")
    assert page_marker in response.text, f"{address} is not the page it names"


def test_the_cards_qr_code_and_address_lead_to_the_citizens_sign_in(
    client: TestClient, world: World
) -> None:
    for size in ("card", "a4"):
        pdf = client.post(
            f"/api/v1/passports/{world.passport.id}/card",
            params={"size": size},
            headers=world.headers["mediator_of_structure"],
        ).content
        [qr] = embedded_images(pdf)
        [scanned] = decode_qr(qr)
        assert scanned == f"{PUBLIC_URL}/citoyen#numero={world.passport.number}"
        assert_serves(client, scanned, CITIZEN_PAGE)
        # The address to type, printed on the card (and in the A4 page's explanation).
        printed = re.findall(r"https?://[^\s)]+", pdf_page_text(pdf))
        assert printed, "no address printed on the card"
        for address in printed:
            assert_serves(client, address, CITIZEN_PAGE)


def test_the_attestations_address_and_link_lead_to_the_verifier(
    client: TestClient, world: World
) -> None:
    credential = issue_credential(client, world)
    pdf = client.get(
        f"/api/v1/passports/{world.passport.id}/credentials/{credential['id']}/attestation.pdf",
        headers=world.headers["mediator_of_structure"],
    )
    assert pdf.status_code == 200, pdf.text
    printed = re.findall(r"https?://[^\s)]+", pdf_page_text(pdf.content))
    # pdf_page_text gives each run of text, then the whole text as one line: the same address.
    assert set(printed) == {f"{PUBLIC_URL}/verifier"}
    assert_serves(client, printed[0], VERIFIER_PAGE)
    # One link area per line of the paragraph, all to the verifier with this code.
    links = {uri.decode() for uri in PDF_LINK.findall(pdf.content)}
    assert links == {f"{PUBLIC_URL}/verifier#code={credential['code']}"}
    assert_serves(client, links.pop(), VERIFIER_PAGE)


def test_the_e_mailed_link_leads_to_the_citizens_page(
    client: TestClient, world: World, engine: sa.Engine, capfd: pytest.CaptureFixture[str]
) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE passport SET email = 'lucie@example.org' WHERE id = :i"),
            {"i": world.passport.id},
        )
    capfd.readouterr()
    sent = client.post("/api/v1/citizen/link", json={"email": "lucie@example.org"})
    assert sent.status_code == 202
    [link] = re.findall(r"https?://\S+", capfd.readouterr().err)
    assert link.startswith(f"{PUBLIC_URL}/citoyen#lien=")
    assert_serves(client, link, CITIZEN_PAGE)


def test_the_printed_paths_are_the_pages_the_server_serves(client: TestClient) -> None:
    assert_serves(client, addresses.citizen_page(PUBLIC_URL), CITIZEN_PAGE)
    assert_serves(client, addresses.verifier(PUBLIC_URL), VERIFIER_PAGE)
    assert_serves(client, f"{PUBLIC_URL}/citizen", CITIZEN_PAGE)
    assert_serves(client, f"{PUBLIC_URL}/verify", VERIFIER_PAGE)
    home = client.get("/")
    assert CITIZEN_PAGE not in home.text and VERIFIER_PAGE not in home.text


def test_the_favicon_is_served(client: TestClient) -> None:
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/vnd.microsoft.icon"
    assert response.content.startswith(b"\x00\x00\x01\x00")  # an ICO file's header


ACCOUNT_PAGE = 'data-i18n="account.title"'


def test_invitation_and_reset_links_lead_to_the_account_page(
    client: TestClient, world: World, capfd: pytest.CaptureFixture[str]
) -> None:
    admin = world.headers["territory_admin"]
    capfd.readouterr()
    invited = client.post(
        "/api/v1/territories/ta/invitations",
        json={"email": "nouvelle@example.org", "display_name": "Nouvelle"},
        headers=admin,
    )
    assert invited.status_code == 201, invited.text
    code = invited.json()["code"]
    shown = invited.json()["link"]  # shown to the coordinator, to hand over
    assert shown == f"{PUBLIC_URL}/compte#invitation={code}"
    mailed = re.findall(r"https?://\S+", capfd.readouterr().err)
    assert mailed == [shown]
    assert_serves(client, shown, ACCOUNT_PAGE)

    reset = client.post(f"/api/v1/accounts/{world.mediator_a1.id}/password-reset", headers=admin)
    assert reset.status_code == 201, reset.text
    assert reset.json()["link"] == f"{PUBLIC_URL}/compte#reinitialisation={reset.json()['code']}"
    assert_serves(client, reset.json()["link"], ACCOUNT_PAGE)

    asked = client.post("/api/v1/auth/password-reset", json={"email": "med-a1@example.org"})
    assert asked.status_code == 202
    [link] = re.findall(r"https?://\S+", capfd.readouterr().err)
    assert link.startswith(f"{PUBLIC_URL}/compte#reinitialisation=")
    assert_serves(client, link, ACCOUNT_PAGE)
