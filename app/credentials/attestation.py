"""The printable attestation: the QR, the skills in plain words, who issued it, and the short code.

For people who carry paper rather than a phone, and for whoever checks it without a scanner: the
typed code is checked on the issuer's instance (POST /api/v1/verify {code}).
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

from app.core import addresses
from app.core.pdf import CORE_FONT, Document
from app.credentials import format as fmt
from app.credentials.models import Credential
from app.territory.models import Territory

QR_MM = 80.0


def _day(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%d/%m/%Y")


def render(
    credential: Credential,
    territory: Territory,
    skills: list[tuple[str, int, str]],
    *,
    holder_name: str | None,
    public_url: str,
) -> bytes:
    """The A4 attestation as a PDF; `skills` are (label, level, date) in the credential's order."""
    assert credential.qr_text is not None
    pdf = Document(title="Attestation de compétences numériques")
    pdf.footer_label = f"Attestation {credential.code}"
    pdf.add_page()
    pdf.set_font(CORE_FONT, "B", 18)
    pdf.cell(0, 10, "Attestation de compétences numériques", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(CORE_FONT, size=11)
    pdf.multi_cell(
        0,
        6,
        f"Délivrée par : {territory.name}\n"
        f"Le {_day(credential.issued_at)}, valable jusqu'au {_day(credential.expires_at)}"
        + (f"\nTitulaire : {holder_name}" if holder_name else ""),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(2)
    png = fmt.qr_png(credential.qr_text, box_size=6, border=4)
    pdf.image(io.BytesIO(png), x=(pdf.w - QR_MM) / 2, w=QR_MM, h=QR_MM)
    pdf.ln(2)
    pdf.set_font(CORE_FONT, "B", 13)
    pdf.cell(
        0, 8, f"Code de vérification : {credential.code}", align="C", new_x="LMARGIN", new_y="NEXT"
    )
    pdf.set_font(CORE_FONT, size=10)
    # The address is printed short, for typing; on a screen, the paragraph is a link that opens
    # the verifier with this code filled in and checked.
    pdf.multi_cell(
        0,
        5,
        "Pour vérifier : scannez le QR code avec l'outil de vérification du Passeport numérique, "
        f"ou saisissez ce code sur {addresses.verifier(public_url)}",
        align="C",
        new_x="LMARGIN",
        new_y="NEXT",
        link=addresses.verifier_code(public_url, credential.code),
    )
    pdf.ln(4)
    pdf.set_font(CORE_FONT, "B", 12)
    pdf.cell(0, 7, "Compétences validées", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(CORE_FONT, size=10)
    for label, level, on in skills:
        pdf.multi_cell(
            0, 5.5, f"- {label} (niveau {level}, le {on})", new_x="LMARGIN", new_y="NEXT"
        )
    return pdf.to_bytes()
