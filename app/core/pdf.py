"""PDF documents for people, drawn with fpdf2's core fonts only.

The Docker image has no system fonts, and embedding one would weigh on every download, so text
is set in Helvetica, one of the fonts every PDF reader carries. Those fonts are declared with the
Windows-1252 encoding, which holds every letter of French (œ, Œ, Ÿ, the typographic apostrophe
and quotes, the euro sign) where Latin-1 lacks several: we encode in Windows-1252, and
:func:`pdf_text` turns anything beyond it into the nearest thing it has, never into an error.
"""

from __future__ import annotations

import unicodedata
from typing import Literal

from fpdf import FPDF

CORE_FONT = "Helvetica"
ENCODING = "windows-1252"

# Characters met in names and typed text that Windows-1252 lacks, and that losing their accent
# (below) would not fix: other spaces, dashes, apostrophes, and a few letters of other alphabets.
_SUBSTITUTES = str.maketrans(
    {
        "\u2002": " ",
        "\u2003": " ",
        "\u2007": " ",
        "\u2009": " ",
        "\u202f": " ",  # the narrow no-break space French puts before « ; : ! ? »
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2212": "-",
        "\u02bb": "'",  # the okina (turned comma) of Wallisian and Futunan names
        "\u02bc": "'",
        "\u2032": "'",
        "\u2033": '"',
        "\u0141": "L",
        "\u0142": "l",
        "\u0110": "D",
        "\u0111": "d",
        "\u0131": "i",
        "\u00a0": " ",
    }
)


def pdf_text(text: str) -> str:
    """Text the core fonts can draw: close substitutes first, then the letter without its accent
    (ễ → e), and "?" only for what has no Latin form at all."""
    text = unicodedata.normalize("NFC", text).translate(_SUBSTITUTES)
    out: list[str] = []
    for char in text:
        if _encodable(char):
            out.append(char)
            continue
        bare = "".join(
            c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
        )
        out.append(bare if bare and _encodable(bare) else "?")
    return "".join(out)


def _encodable(text: str) -> bool:
    try:
        text.encode(ENCODING)
    except UnicodeEncodeError:
        return False
    return True


class Document(FPDF):
    """An A4 or custom-size page set in the core fonts, that accepts any text."""

    def __init__(
        self,
        *,
        title: str,
        page_format: str | tuple[float, float] = "A4",
        orientation: Literal["portrait", "landscape"] = "portrait",
    ) -> None:
        super().__init__(orientation=orientation, unit="mm", format=page_format)
        self.core_fonts_encoding = ENCODING
        self.set_title(title)
        self.set_creator("Passeport numérique")
        self.set_lang("fr")
        self.set_font(CORE_FONT, size=11)
        # Printed at the foot of every page with its number, when set.
        self.footer_label: str | None = None

    def footer(self) -> None:
        if self.footer_label is None:
            return
        self.set_y(-12)
        self.set_font(CORE_FONT, size=8)
        self.set_text_color(90)
        self.cell(0, 5, f"{self.footer_label} - page {self.page_no()} sur {{nb}}", align="C")
        self.set_text_color(0)

    def normalize_text(self, text: str) -> str:
        # The one place every text-drawing method of fpdf2 passes through.
        return super().normalize_text(pdf_text(text))

    def fit_font_size(self, text: str, width: float, *, size: float, smallest: float) -> float:
        """The largest size, from `size` down to `smallest`, at which `text` fits in `width`."""
        while size > smallest:
            self.set_font_size(size)
            if self.get_string_width(text) <= width:
                return size
            size -= 0.5
        self.set_font_size(smallest)
        return smallest

    def to_bytes(self) -> bytes:
        return bytes(self.output())


def attachment_headers(filename: str) -> dict[str, str]:
    """A personal document: saved, not shown inline, and never kept by a cache or proxy."""
    return {
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "no-store",
    }
