"""A person's name is printed as given on every PDF: the access card, the attestation and the
export, read back from the PDF's text (the embedded font maps its glyphs back to Unicode)."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import pypdf
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.core import pdf as pdf_module
from app.core.pdf import MISSING_GLYPH, Document, embedded_font, pdf_text
from tests.factories import World, make_world

# Latin Extended (Romanian, Polish, Czech, Icelandic, Turkish, Wallisian), Vietnamese, Greek and
# Cyrillic: the names a French territory's people carry.
NAMES = [
    ("Ștefan Łukasz", "Nguyễn-Wałęsa"),
    ("Đặng Thị", "Hồ Xuân Hương"),
    ("Zoë Ødegård", "Dvořák-Þórsdóttir"),
    ("Ağca Şükrü", "\u02bbAkau M\u02bbuli"),  # the okina of Wallisian names
    ("Ελένη", "Παπαδοπούλου"),
    ("Иван", "Петров"),
]


def text_of(document: bytes) -> str:
    """All the text of a PDF, one space between words (justified lines widen them)."""
    assert document.startswith(b"%PDF-")
    reader = pypdf.PdfReader(io.BytesIO(document))
    return " ".join(" ".join(page.extract_text().split()) for page in reader.pages)


def test_the_documents_embed_dejavu_sans() -> None:
    # The two commands of the README install fonts-dejavu-core; without it names lose letters.
    assert embedded_font(), "DejaVu Sans is missing: apt-get install fonts-dejavu-core"
    assert pdf_module.CORE_FONT == pdf_module.FONT


@pytest.mark.parametrize(("first", "last"), NAMES)
def test_a_name_is_printed_as_given_in_a_document(first: str, last: str) -> None:
    assert pdf_text(f"{first} {last}") == f"{first} {last}"
    document = Document(title="t")
    document.add_page()
    document.set_font(pdf_module.CORE_FONT, "B", 14)
    document.cell(text=f"{first} {last}")
    document.ln()
    document.set_font(pdf_module.CORE_FONT, size=10)
    document.multi_cell(60, 5, f"Titulaire : {first} {last}. " * 3)
    text = text_of(document.to_bytes())
    assert f"{first} {last}" in text
    assert f"Titulaire : {first} {last}." in text


def test_what_the_font_cannot_draw_shows_as_a_box_never_as_nothing() -> None:
    # Emoji the font has print as given; a skin tone only changes the look and is dropped; what
    # the font lacks (an emoji it has not, Chinese) prints as a visible box.
    assert pdf_text("Lucie ☺ ✓ ★") == "Lucie ☺ ✓ ★"
    assert pdf_text("Lucie 🙂 李") == f"Lucie {MISSING_GLYPH} {MISSING_GLYPH}"
    assert pdf_text("👍🏽") == MISSING_GLYPH
    assert pdf_text("Cœur d\u2019Œuvre « à » 10 €\u202f!") == "Cœur d\u2019Œuvre « à » 10 €\u202f!"
    # Decomposed input (e + combining circumflex + dot below) is composed first.
    assert pdf_text("Nguye\u0302\u0303n") == "Nguyễn"
    document = Document(title="t")
    document.add_page()
    document.multi_cell(60, 5, "Lucie ☺ 🙂 李 " * 4)
    assert "Lucie ☺ □ □" in text_of(document.to_bytes())


@pytest.fixture
def world(engine: sa.Engine) -> World:
    return make_world(engine)


def _open(client: TestClient, world: World, first: str, last: str) -> int:
    response = client.post(
        "/api/v1/passports",
        json={
            "first_name": first,
            "last_name": last,
            "birth_year": 1980,
            "structure_id": world.a1.id,
            "consent": True,
        },
        headers=world.headers["mediator_of_structure"],
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _get_pdf(response: Any) -> str:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    return text_of(response.content)


def test_every_pdf_prints_the_names_as_given(client: TestClient, world: World) -> None:
    mediator = world.headers["mediator_of_structure"]
    admin = world.headers["territory_admin"]
    for first, last in NAMES[:3]:
        pid = _open(client, world, first, last)
        card = _get_pdf(client.post(f"/api/v1/passports/{pid}/card", headers=mediator))
        assert first in card

        export = _get_pdf(
            client.get(f"/api/v1/passports/{pid}/export", params={"format": "pdf"}, headers=admin)
        )
        assert first in export and last in export

        recorded = client.post(
            f"/api/v1/passports/{pid}/validations",
            json={
                "skill_code": "pp:PP-06",
                "method": "observation",
                "observed_on": date.today().isoformat(),
                "structure_id": world.a1.id,
            },
            headers=mediator,
        )
        assert recorded.status_code == 201, recorded.text
        issued = client.post(
            f"/api/v1/passports/{pid}/credentials",
            json={"skills": ["pp:PP-06"], "include_name": True},
            headers=mediator,
        )
        assert issued.status_code == 201, issued.text
        url = f"/api/v1/passports/{pid}/credentials/{issued.json()['id']}/attestation.pdf"
        attestation = _get_pdf(client.get(url, headers=mediator))
        assert f"{first} {last}" in attestation
