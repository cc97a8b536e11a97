"""PDF documents for people, set in DejaVu Sans, embedded, so that every name prints as given.

A person's name is printed as they gave it: "Ștefan Łukasz Nguyễn-Wałęsa", "Ἀθηνᾶ", "Ивано́в".
DejaVu Sans (Debian's ``fonts-dejavu-core``, which both commands of the README and the Docker
image install) covers Latin Extended, Vietnamese, Greek and Cyrillic, and many symbols and emoji;
fpdf2 embeds only the glyphs a document uses, a few kilobytes. The font's directory is
``PASSEPORT_FONT_DIR`` (default ``/usr/share/fonts/truetype/dejavu``).

What the font cannot draw, :func:`pdf_text` decides, never an error: emoji modifiers that only
change an emoji's look (skin tones, the emoji presentation selector, the zero-width joiner) are
dropped, so that 👍🏽 prints as the 👍 the font has, when it has it; any other character the font
lacks (an emoji it does not have, a script it does not cover such as Chinese) prints as "□", a
visible sign that something is there which this document cannot show, rather than silently
nothing. Without the font (a machine where it was not installed), the documents fall back on
Helvetica, one of the fonts every PDF reader carries, whose Windows-1252 encoding holds French
but not the rest: letters then lose their accents (ễ → e) and a warning is logged once.
"""

from __future__ import annotations

import logging
import os
import unicodedata
from functools import cache
from pathlib import Path
from typing import Literal

from fontTools.ttLib import TTFont  # type: ignore[import-untyped]
from fpdf import FPDF

logger = logging.getLogger(__name__)

FONT = "DejaVuSans"
FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}
DEFAULT_FONT_DIR = "/usr/share/fonts/truetype/dejavu"
MISSING_GLYPH = "\u25a1"  # □

# The fallback without DejaVu: the core font, in the encoding that holds every letter of French.
FALLBACK_FONT = "Helvetica"
ENCODING = "windows-1252"

# Characters that only change how the one before looks: dropped when the font cannot draw them.
_MODIFIERS = {0x200D, 0xFE0E, 0xFE0F, *range(0x1F3FB, 0x1F400)}

# Characters met in names and typed text that Windows-1252 lacks, and that losing their accent
# (below) would not fix: other spaces, dashes, apostrophes, and a few letters of other alphabets.
# Used only without DejaVu.
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


def font_dir() -> Path:
    return Path(os.environ.get("PASSEPORT_FONT_DIR") or DEFAULT_FONT_DIR)


@cache
def _covered(directory: str) -> frozenset[int] | None:
    """The code points every style of the font draws; None when the font is not installed."""
    paths = [Path(directory) / name for name in FONT_FILES.values()]
    if not all(path.is_file() for path in paths):
        logger.warning(
            "PDF font missing: names lose their accents",
            extra={"font_dir": directory, "fix": "apt-get install fonts-dejavu-core"},
        )
        return None
    covered: frozenset[int] | None = None
    for path in paths:
        with TTFont(str(path), lazy=True) as font:
            points = frozenset(font.getBestCmap())
        covered = points if covered is None else covered & points
    return covered


def embedded_font() -> bool:
    """Whether the documents embed DejaVu Sans (else they fall back on Helvetica)."""
    return _covered(str(font_dir())) is not None


def pdf_text(text: str) -> str:
    """Text the documents can draw: as given where the font has it (see the module's notes)."""
    text = unicodedata.normalize("NFC", text)
    covered = _covered(str(font_dir()))
    if covered is None:
        return _core_text(text)
    out: list[str] = []
    for char in text:
        point = ord(char)
        if point in covered or char in "\n\r\t":
            out.append(char)
        elif point in _MODIFIERS:
            continue
        else:
            out.append(MISSING_GLYPH)
    return "".join(out)


def _core_text(text: str) -> str:
    """Without DejaVu: close substitutes first, then the letter without its accent (ễ → e), and
    "?" only for what has no Latin form at all."""
    text = text.translate(_SUBSTITUTES)
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


# The family the documents set their text in, for set_font(CORE_FONT, …): DejaVu Sans when it is
# installed (the name is older than the font; kept for the modules that draw documents).
CORE_FONT = FONT if embedded_font() else FALLBACK_FONT


class Document(FPDF):
    """An A4 or custom-size page set in DejaVu Sans (or the fallback), that accepts any text."""

    def __init__(
        self,
        *,
        title: str,
        page_format: str | tuple[float, float] = "A4",
        orientation: Literal["portrait", "landscape"] = "portrait",
    ) -> None:
        super().__init__(orientation=orientation, unit="mm", format=page_format)
        if CORE_FONT == FONT:
            for style, name in FONT_FILES.items():
                self.add_font(FONT, style, str(font_dir() / name))
        else:
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
