"""The citizen's access card: passport number, access code and a QR code, on paper.

Many citizens have no e-mail address; the card is how they reach their passport. It exists only
at the moment a code is issued, since the database keeps nothing but the code's hash: printing a
card always issues a new code (see documents_router.print_card).

The QR code holds the sign-in address with the number filled in, never the code: a photo of the
QR code seen over a shoulder, or a screenshot, must not be enough to open the passport.
"""

from __future__ import annotations

import io
from enum import StrEnum
from typing import TYPE_CHECKING

import qrcode
from qrcode.constants import ERROR_CORRECT_M

from app.core import addresses
from app.core.pdf import CORE_FONT, Document
from app.core.time import utcnow
from app.passports import citizen, service
from app.passports.models import Passport
from app.territory.models import Territory

if TYPE_CHECKING:
    from sqlmodel import Session

    from app.accounts.principal import Principal


class CardSize(StrEnum):
    A4 = "a4"  # an office printer: the card to cut out, and how to use it
    CARD = "card"  # a card printer, on ID-1 stock


# ID-1, the size of a bank card, in millimetres.
CARD_WIDTH = 85.6
CARD_HEIGHT = 54.0
MARGIN = 4.0
QR_SIZE = 25.0
# A4 portrait: where the card sits, centred near the top.
A4_WIDTH = 210.0
A4_CARD_X = (A4_WIDTH - CARD_WIDTH) / 2
A4_CARD_Y = 22.0

KEEP_IT_SAFE = "Gardez cette carte. Ne donnez votre code qu'à votre médiateur ou médiatrice."


def grouped_number(number: str) -> str:
    """P-BCDF GHJK: two groups of four are read aloud and typed without losing one's place."""
    body = number.removeprefix("P-")
    return f"P-{body[:4]} {body[4:]}"


def grouped_code(code: str) -> str:
    return f"{code[:4]} {code[4:]}"


def sign_in_url(public_url: str, number: str) -> str:
    """The citizen's sign-in page, with the number already filled in."""
    return addresses.citizen_sign_in(public_url, number)


def card_qr_png(url: str) -> bytes:
    """The QR code of `url` as an 8-bit greyscale PNG.

    Error correction M survives a fold or a stain on a card carried in a wallet. Greyscale
    rather than 1-bit: fpdf2 embeds it as a plain deflated image, which any tool (and our tests)
    can read back, where 1-bit images become CCITT fax streams.
    """
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=8, border=4)
    qr.add_data(url)
    qr.make(fit=True)
    image = qr.make_image().get_image().convert("L")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def print_card(
    session: Session, principal: Principal, passport: Passport, size: CardSize, public_url: str
) -> bytes:
    """A new access code for the citizen, journaled, printed on their card (the old code stops
    working at once)."""
    code = citizen.renew_code(session, principal, passport)
    service.journal(session, principal, passport, "card.printed")
    territory = session.get(Territory, passport.territory_id)
    assert territory is not None
    return render_card(passport, code, territory, size=size, public_url=public_url)


def render_card(
    passport: Passport,
    access_code: str,
    territory: Territory,
    *,
    size: CardSize,
    public_url: str,
) -> bytes:
    """The access card as a PDF: a card-size page, or an A4 page with the card to cut out."""
    if CardSize(size) is CardSize.CARD:
        pdf = Document(
            title="Carte d'accès au passeport numérique",
            page_format=(CARD_HEIGHT, CARD_WIDTH),
            orientation="landscape",
        )
        pdf.set_auto_page_break(False)
        pdf.set_margin(0)
        pdf.add_page()
        _draw_card(pdf, 0, 0, passport, access_code, territory, public_url)
        return pdf.to_bytes()

    pdf = Document(title="Carte d'accès au passeport numérique")
    pdf.set_auto_page_break(False)
    pdf.add_page()
    pdf.set_font(CORE_FONT, size=10)
    pdf.set_text_color(90)
    pdf.set_xy(A4_CARD_X, A4_CARD_Y - 11)
    pdf.cell(CARD_WIDTH, 5, "Découpez la carte en suivant les traits des coins.", align="C")
    pdf.set_text_color(0)
    _cutting_marks(pdf, A4_CARD_X, A4_CARD_Y)
    pdf.set_draw_color(200)
    pdf.set_line_width(0.2)
    pdf.rect(A4_CARD_X, A4_CARD_Y, CARD_WIDTH, CARD_HEIGHT, round_corners=True, corner_radius=3)
    _draw_card(pdf, A4_CARD_X, A4_CARD_Y, passport, access_code, territory, public_url)
    _explain(pdf, territory, public_url)
    return pdf.to_bytes()


def _draw_card(
    pdf: Document,
    x: float,
    y: float,
    passport: Passport,
    access_code: str,
    territory: Territory,
    public_url: str,
) -> None:
    text_width = CARD_WIDTH - 3 * MARGIN - QR_SIZE
    left = x + MARGIN

    def line(top: float, height: float, text: str, *, size: float, bold: bool = False) -> None:
        pdf.set_font(CORE_FONT, style="B" if bold else "", size=size)
        pdf.fit_font_size(text, text_width, size=size, smallest=6)
        pdf.set_xy(left, y + top)
        pdf.cell(text_width, height, text)

    def label(top: float, text: str) -> None:
        pdf.set_text_color(80)
        line(top, 3, text, size=7)
        pdf.set_text_color(0)

    line(MARGIN, 5, "Mon passeport numérique", size=11, bold=True)
    line(MARGIN + 5.5, 5, passport.first_name or "", size=11)
    label(17, "Mon numéro")
    line(20, 6, grouped_number(passport.number), size=15, bold=True)
    label(27, "Mon code d'accès")
    line(30, 6, grouped_code(access_code), size=15, bold=True)
    label(37, "Pour me connecter")
    line(40, 3.5, addresses.citizen_page(public_url), size=8, bold=True)

    qr_x = x + CARD_WIDTH - MARGIN - QR_SIZE
    pdf.image(
        io.BytesIO(card_qr_png(sign_in_url(public_url, passport.number))),
        x=qr_x,
        y=y + MARGIN - 1,
        w=QR_SIZE,
        h=QR_SIZE,
    )
    pdf.set_font(CORE_FONT, style="B", size=6.5)
    pdf.set_xy(qr_x, y + MARGIN + QR_SIZE)
    pdf.multi_cell(QR_SIZE, 2.8, territory.name, align="C", max_line_height=2.8)

    pdf.set_font(CORE_FONT, size=6.5)
    pdf.set_xy(left, y + 45)
    pdf.multi_cell(CARD_WIDTH - 2 * MARGIN, 2.8, KEEP_IT_SAFE, align="L")


def _cutting_marks(pdf: Document, x: float, y: float) -> None:
    """Short lines beyond each corner, in line with the card's edges, as printers draw them."""
    gap, length = 2.0, 6.0
    pdf.set_draw_color(0)
    pdf.set_line_width(0.2)
    for cx in (x, x + CARD_WIDTH):
        for cy in (y, y + CARD_HEIGHT):
            outward_x = -1 if cx == x else 1
            outward_y = -1 if cy == y else 1
            pdf.line(cx + outward_x * gap, cy, cx + outward_x * (gap + length), cy)
            pdf.line(cx, cy + outward_y * gap, cx, cy + outward_y * (gap + length))


def _explain(pdf: Document, territory: Territory, public_url: str) -> None:
    url = addresses.citizen_page(public_url)
    # Easy-to-read French: short sentences and everyday words, set left-aligned (justified
    # text opens gaps in which a hesitant reader loses the line).
    paragraphs = [
        "Cette carte vous permet de voir votre passeport numérique : ce que vous savez faire "
        "sur un ordinateur, une tablette ou un téléphone.",
        f"Pour vous connecter, allez sur {url} et tapez votre numéro et votre code d'accès. "
        "Ou prenez en photo le code carré avec votre téléphone : le numéro est déjà écrit, "
        "tapez seulement votre code d'accès.",
        "Ce code d'accès est nouveau. Si vous aviez une autre carte, elle ne marche plus.",
        "Gardez cette carte dans un endroit sûr. Ne donnez votre code d'accès qu'à votre "
        "médiateur ou à votre médiatrice.",
        "Vous avez perdu la carte ? Quelqu'un a vu votre code ? Demandez une nouvelle carte là "
        "où vous êtes accompagné.",
        "Dans votre passeport, vous pouvez aussi télécharger toutes vos informations, ou "
        "demander qu'elles soient effacées.",
    ]
    left = 25.0
    width = A4_WIDTH - 2 * left
    pdf.set_xy(left, A4_CARD_Y + CARD_HEIGHT + 18)
    pdf.set_font(CORE_FONT, style="B", size=16)
    pdf.multi_cell(width, 8, "Votre carte pour le passeport numérique", align="L")
    pdf.ln(3)
    pdf.set_font(CORE_FONT, size=13)
    for paragraph in paragraphs:
        pdf.set_x(left)
        pdf.multi_cell(width, 6.5, paragraph, align="L")
        pdf.ln(3)
    pdf.set_font(CORE_FONT, size=10)
    pdf.set_text_color(90)
    pdf.set_x(left)
    printed_on = utcnow().strftime("%d/%m/%Y")
    pdf.multi_cell(width, 5, f"{territory.name} - carte imprimée le {printed_on}", align="L")
    pdf.set_text_color(0)
