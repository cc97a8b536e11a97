"""The printed access card: a new code each time, the number, and a QR code a phone can read."""

from __future__ import annotations

import io
import re
import struct
import zlib
from typing import Any

import httpx
import pypdf
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from PIL import Image

from app.core.pdf import Document, pdf_text
from app.passports import card
from tests.factories import ACCESS_CODE, World, make_world
from tests.qr import decode_qr

PROBLEM = "application/problem+json"
PUBLIC_URL = "http://127.0.0.1:8000"  # the test settings' default
MM = 72 / 25.4
CODE_ON_CARD = re.compile(r"\(([2-9B-DF-HJ-NP-TV-Z]{4} [2-9B-DF-HJ-NP-TV-Z]{4})\) Tj")


@pytest.fixture
def world(engine: sa.Engine) -> World:
    return make_world(engine)


# --- reading the PDFs back, with nothing but the standard library and Pillow ---------------------

_OBJECT = re.compile(rb"\d+ 0 obj\s*<<((?:(?!endobj).)*?)>>\s*stream\r?\n", re.S)


def pdf_streams(pdf: bytes) -> list[tuple[bytes, bytes]]:
    """Every stream of the file: its dictionary and its raw (still encoded) bytes."""
    streams = []
    for match in _OBJECT.finditer(pdf):
        start = match.end()
        streams.append((match.group(1), pdf[start : start + _entry(match.group(1), b"Length")]))
    return streams


def pdf_page_text(pdf: bytes) -> str:
    """The page content streams, inflated (the drawing operators: `l S`…), then each run of text
    drawn, as the PDF's embedded font maps it back to Unicode, one `(…) Tj` line per run."""
    assert pdf.startswith(b"%PDF-")
    parts = [
        zlib.decompress(data).decode("latin-1")
        for head, data in pdf_streams(pdf)
        if b"/Subtype /Image" not in head and b"/FlateDecode" in head
    ]
    assert parts, "no content stream"
    runs: list[str] = []
    for page in pypdf.PdfReader(io.BytesIO(pdf)).pages:
        page.extract_text(visitor_text=lambda text, *_: runs.append(text) if text.strip() else None)
    # Justified lines come back with wider spaces: one space is what was written.
    lines = [" ".join(run.split()) for run in runs]
    # Then all the text as one line, for a sentence the page wraps over two lines.
    return "\n".join([*parts, *(f"({line}) Tj" for line in lines), " ".join(lines)])


def page_size_mm(pdf: bytes) -> tuple[float, float]:
    box = re.search(rb"/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]", pdf)
    assert box is not None
    return round(float(box.group(1)) / MM, 1), round(float(box.group(2)) / MM, 1)


def _entry(head: bytes, key: bytes) -> int:
    found = re.search(rb"/" + key + rb" (\d+)", head)
    assert found is not None, key
    return int(found.group(1))


def embedded_images(pdf: bytes) -> list[Image.Image]:
    """The greyscale images of the file, rebuilt as PNGs from their deflated, PNG-predicted data
    (which is exactly a PNG's IDAT content)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    images: list[Image.Image] = []
    for head, data in pdf_streams(pdf):
        if b"/Subtype /Image" not in head:
            continue
        assert b"/DeviceGray" in head and b"/Predictor 15" in head, head
        width, height = _entry(head, b"Width"), _entry(head, b"Height")
        png = (
            b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", data)
            + chunk(b"IEND", b"")
        )
        images.append(Image.open(io.BytesIO(png)))
    return images


# --- helpers -------------------------------------------------------------------------------------


def _problem(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == code


def _print(
    client: TestClient, world: World, caller: str = "mediator_of_structure", **params: str
) -> Any:
    return client.post(
        f"/api/v1/passports/{world.passport.id}/card", params=params, headers=world.headers[caller]
    )


def _login(client: TestClient, number: str, code: str) -> int:
    fresh = TestClient(client.app)
    response: httpx.Response = fresh.post(
        "/api/v1/citizen/login", json={"number": number, "code": code}
    )
    return response.status_code


# --- the card ------------------------------------------------------------------------------------


def test_card_size_card_carries_a_new_code_that_replaces_the_old(
    client: TestClient, world: World
) -> None:
    response = _print(client, world, size="card")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["cache-control"] == "no-store"
    number = world.passport.number
    assert response.headers["content-disposition"] == f'attachment; filename="carte-{number}.pdf"'
    pdf = response.content
    assert page_size_mm(pdf) == (85.6, 54.0)

    text = pdf_page_text(pdf)
    for expected in (
        "(Mon passeport numérique) Tj",
        "(Lucie) Tj",
        f"({card.grouped_number(number)}) Tj",
        f"({PUBLIC_URL}/citoyen) Tj",
        "Gardez cette carte.",
        "médiatrice.",
        f"({world.a.name}) Tj",
    ):
        assert expected in text, expected
    codes = CODE_ON_CARD.findall(text)
    assert len(codes) == 1
    new_code = codes[0].replace(" ", "")
    assert new_code != ACCESS_CODE

    # The old code stops working at once, the printed one works.
    assert _login(client, number, ACCESS_CODE) == 401
    assert _login(client, number, new_code) == 200
    assert _login(client, number.lower().replace("-", " "), codes[0].lower()) == 200


def test_the_qr_code_on_the_card_opens_the_sign_in_page_with_the_number_only(
    client: TestClient, world: World
) -> None:
    pdf = _print(client, world, size="card").content
    images = embedded_images(pdf)
    assert len(images) == 1
    expected = f"{PUBLIC_URL}/citoyen#numero={world.passport.number}"
    assert decode_qr(images[0]) == [expected]
    code = CODE_ON_CARD.findall(pdf_page_text(pdf))[0].replace(" ", "")
    assert code not in expected
    # The image printed is the one card_qr_png makes, and that one reads back too.
    assert decode_qr(Image.open(io.BytesIO(card.card_qr_png(expected)))) == [expected]


def test_a4_page_has_the_card_to_cut_out_and_how_to_use_it(
    client: TestClient, world: World, engine: sa.Engine
) -> None:
    response = client.post(
        f"/api/v1/passports/{world.passport.id}/card",
        headers=world.headers["territory_admin"],
    )  # A4 is the default
    assert response.status_code == 200, response.text
    pdf = response.content
    assert page_size_mm(pdf) == (210.0, 297.0)
    text = pdf_page_text(pdf)
    assert "Découpez la carte" in text
    assert "Votre carte pour le passeport numérique" in text
    assert "Ce code d'accès est nouveau." in text
    # One name everywhere: the sign-in form asks for the « code d'accès », so does the card.
    assert "(Mon code d'accès) Tj" in text
    assert "secret" not in text.lower()
    assert f"({card.grouped_number(world.passport.number)}) Tj" in text
    assert len(CODE_ON_CARD.findall(text)) == 1
    # Eight cutting marks: two short lines at each corner.
    assert len(re.findall(r" l S", text)) == 8
    [qr] = embedded_images(pdf)
    assert decode_qr(qr) == [f"{PUBLIC_URL}/citoyen#numero={world.passport.number}"]

    with engine.connect() as conn:
        actions = conn.execute(
            sa.text("SELECT action FROM passport_access_log WHERE passport_id = :p ORDER BY id"),
            {"p": world.passport.id},
        ).scalars()
        assert list(actions) == ["access_code.renewed", "card.printed"]


def test_who_may_print_a_card(client: TestClient, world: World, engine: sa.Engine) -> None:
    _problem(_print(client, world, "mediator_other_territory"), 404, "unknown_passport")
    _problem(_print(client, world, "admin_other_territory"), 404, "unknown_passport")
    _problem(_print(client, world, "platform_admin"), 403, "forbidden_role")
    _problem(_print(client, world, "anonymous"), 401, "unauthenticated")
    _problem(_print(client, world, size="poster"), 422, "validation_error")
    _problem(
        client.post("/api/v1/passports/0/card", headers=world.headers["mediator_of_structure"]),
        422,
        "validation_error",
    )
    # Shared with a structure of another territory: its mediator reads, only the holder prints.
    granted = client.post(
        f"/api/v1/passports/{world.passport.id}/grants",
        json={"structure_id": world.b1.id, "access_code": ACCESS_CODE},
        headers=world.headers["mediator_of_structure"],
    )
    assert granted.status_code == 201, granted.text
    _problem(_print(client, world, "mediator_other_territory"), 403, "not_holder")
    # A refused card changes nothing: the code the citizen has still works.
    assert _login(client, world.passport.number, ACCESS_CODE) == 200


def test_any_text_never_breaks_a_document() -> None:
    # Names as given (tests/test_pdf_fonts.py reads them back); what the font lacks is a box.
    assert pdf_text("Nguyễn Łódź \u02bbUvea a\u202f!") == "Nguyễn Łódź \u02bbUvea a\u202f!"
    assert pdf_text("Ελένη 李 🙂") == "Ελένη □ □"
    pdf = Document(title="t")
    pdf.add_page()
    pdf.cell(text="Nguyễn Thị Œ 李")
    pdf.multi_cell(50, 5, "Łukasz \u02bbAkau 🙂 " * 5)
    assert pdf.to_bytes().startswith(b"%PDF-")


def test_numbers_and_codes_are_grouped_for_reading() -> None:
    assert card.grouped_number("P-BCDFGHJK") == "P-BCDF GHJK"
    assert card.grouped_code("BCDF2345") == "BCDF 2345"
    assert card.sign_in_url("https://p.example/", "P-BCDFGHJK") == (
        "https://p.example/citoyen#numero=P-BCDFGHJK"
    )
