"""The readable copy: the export as a PDF the citizen can read, in French."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from fpdf.enums import XPos, YPos

from app.core.catalogue import catalogue
from app.core.pdf import CORE_FONT, Document
from app.core.time import aware
from app.passports.gdpr.schemas import ExportedValidation, PassportExport
from app.passports.models import Method


# The words of the citizen's page (frontend/i18n/fr.json): a person never reads a dotted code,
# and reads the same label for a kind on the page (citizen.js) and on paper.
def _citizen_words() -> dict[str, str]:
    return catalogue("fr")["citizen"]


def action_label(action: str) -> str:
    """A journal or security event's kind in the citizen page's words; a kind added later
    without its words still reads as French (``citizen.action_other``)."""
    words = _citizen_words()
    return words.get(f"action_{action.replace('.', '_')}") or words["action_other"]


def _actor_label(actor_kind: str) -> str:
    words = _citizen_words()
    if actor_kind == "citizen":
        return words["actor_you"]
    return words.get(f"actor_{actor_kind}") or words["actor_system"]


def _method_label(method: Method) -> str:
    return catalogue("fr")["passport"][f"method_{method.value}"]


def _day(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = aware(value)
    return value.strftime("%d/%m/%Y")


def _moment(value: datetime) -> str:
    return aware(value).strftime("%d/%m/%Y %H:%M")


def render_export_pdf(data: PassportExport) -> bytes:
    """The same content as the JSON export, for people: headings, tables, plain French."""
    pdf = Document(title=f"Passeport numérique {data.passport.number} : toutes les données")
    pdf.footer_label = f"Passeport numérique {data.passport.number}"
    pdf.set_auto_page_break(True, margin=18)
    pdf.set_margins(18, 18, 18)
    pdf.add_page()
    pdf.set_font(CORE_FONT, style="B", size=18)
    _lines(pdf, 9, "Toutes les informations de mon passeport numérique")
    pdf.set_font(CORE_FONT, size=10)
    pdf.set_text_color(80)
    _lines(
        pdf,
        5,
        f"Document préparé le {_moment(data.exported_at)} (heure universelle, UTC). "
        "Il contient tout ce que le passeport numérique garde sur vous.",
    )
    pdf.set_text_color(0)

    personal = data.personal_data
    _heading(pdf, "Qui vous êtes")
    _pairs(
        pdf,
        [
            ("Prénom", personal.first_name),
            ("Nom", personal.last_name),
            ("Année de naissance", str(personal.birth_year) if personal.birth_year else None),
            ("Commune (code INSEE)", personal.commune_insee),
            ("Téléphone", personal.phone),
            ("Adresse e-mail", personal.email),
            ("Numéro du passeport", data.passport.number),
            ("Territoire", data.passport.territory.name),
            ("Passeport ouvert le", _day(data.passport.opened_at)),
            ("Code d'accès changé le", _day(data.passport.access_code_set_at)),
        ],
    )

    _heading(pdf, "Votre accord")
    _pairs(
        pdf,
        [
            ("Accord donné le", _day(data.consent.given_at)),
            ("Texte lu (version)", data.consent.version),
            ("Lieu", data.consent.structure),
            ("Noté par", data.consent.recorded_by),
        ],
    )

    _heading(pdf, "Vos compétences")
    if data.validations:
        _table(
            pdf,
            ("Compétence", "Niveau", "Date", "Par qui, où", "État"),
            # A date (06/12/2026) and a status (Auto-évaluation) each on one line.
            (58, 18, 26, 38, 34),
            [
                (
                    v.skill_label_fr + (f"\nNote : {v.evidence}" if v.evidence else ""),
                    str(v.level),
                    _day(v.observed_on),
                    ", ".join(part for part in (v.mediator, v.structure) if part)
                    or _method_label(v.method),
                    _status(v),
                )
                for v in data.validations
            ],
        )
    else:
        _paragraph(pdf, "Aucune compétence n'est encore notée.")

    _heading(pdf, "Les lieux d'autres territoires qui voient votre passeport")
    if data.access_grants:
        _table(
            pdf,
            ("Lieu", "Territoire", "Depuis le", "Jusqu'au"),
            (62, 50, 30, 32),
            [
                (g.structure, g.territory, _day(g.granted_at), _day(g.revoked_at) or "toujours")
                for g in data.access_grants
            ],
        )
    else:
        _paragraph(pdf, "Aucun : seuls les lieux de votre territoire voient votre passeport.")

    _heading(pdf, "Qui a ouvert ou changé votre passeport")
    _table(
        pdf,
        ("Date et heure (UTC)", "Quoi", "Qui", "Où"),
        (34, 52, 46, 42),
        [
            (
                _moment(e.at)
                + (
                    f" jusqu'à {_moment(e.last_at)} ({e.count} fois)"
                    if e.count > 1 and e.last_at
                    else ""
                ),
                action_label(e.action),
                e.who or _actor_label(e.actor_kind),
                e.structure or "",
            )
            for e in data.access_journal
        ],
    )

    _heading(pdf, "Vos connexions")
    if data.sessions:
        _table(
            pdf,
            ("Connecté le (UTC)", "Dernière action", "Fin"),
            (58, 58, 58),
            [
                (
                    _moment(s.signed_in_at),
                    _moment(s.last_seen_at),
                    _moment(s.ended_at) if s.ended_at else _moment(s.expires_at) + " au plus tard",
                )
                for s in data.sessions
            ],
        )
    else:
        _paragraph(pdf, "Aucune connexion gardée.")

    if data.security_events:
        _heading(pdf, "Sécurité")
        _table(
            pdf,
            ("Date et heure (UTC)", "Quoi"),
            (58, 116),
            [(_moment(e.at), action_label(e.action)) for e in data.security_events],
        )
    return pdf.to_bytes()


def _status(validation: ExportedValidation) -> str:
    if validation.status == "withdrawn":
        reason = f" : {validation.withdrawal_reason}" if validation.withdrawal_reason else ""
        return f"Retirée le {_day(validation.withdrawn_at)}{reason}"
    if validation.method is Method.SELF_ASSESSMENT:
        return _method_label(Method.SELF_ASSESSMENT)
    return "Validée"


def _heading(pdf: Document, text: str) -> None:
    # A heading alone at the foot of a page, its table on the next, reads as a missing section.
    if pdf.will_page_break(35):
        pdf.add_page()
    else:
        pdf.ln(6)
    pdf.set_font(CORE_FONT, style="B", size=14)
    _lines(pdf, 7, text)
    pdf.ln(1)
    pdf.set_font(CORE_FONT, size=10)


def _paragraph(pdf: Document, text: str) -> None:
    pdf.set_font(CORE_FONT, size=11)
    _lines(pdf, 6, text)


def _lines(pdf: Document, height: float, text: str) -> None:
    """Text across the page, left-aligned (justified text opens gaps that lose a reader)."""
    pdf.multi_cell(0, height, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _pairs(pdf: Document, pairs: Sequence[tuple[str, str | None]]) -> None:
    _table(pdf, None, (60, 114), [(name, value or "-") for name, value in pairs])


def _table(
    pdf: Document,
    headings: Sequence[str] | None,
    widths: Sequence[int],
    rows: Sequence[Sequence[str]],
) -> None:
    pdf.set_font(CORE_FONT, size=10)
    with pdf.table(
        col_widths=tuple(widths),
        width=sum(widths),
        align="LEFT",
        text_align="LEFT",
        first_row_as_headings=headings is not None,
        line_height=5,
        padding=1.2,
        borders_layout="HORIZONTAL_LINES",
    ) as table:
        if headings is not None:
            table.row(list(headings))
        for values in rows:
            table.row(list(values))
