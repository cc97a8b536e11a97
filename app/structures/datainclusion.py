"""The territory's places in the data·inclusion schema (v1: structures and services).

data·inclusion (https://www.data.inclusion.beta.gouv.fr) gathers the offer of social and
professional inclusion, digital inclusion among it. Its schema has two lists: *structures* (the
place: name, address, contact, hours) and *services* (what is offered there, with its
``thematiques``, ``frais``, ``publics``…). Each of our places becomes one structure and one
service, « Accompagnement au numérique », whose themes come from the national schema's
``services`` of the place (the four ``numerique--*`` themes of data·inclusion; « Maîtriser les
fondamentaux du numérique » when nothing more precise is said).

Values the schema would refuse are left out rather than sent wrong (a SIRET must be 14 digits,
a name 3 to 150 characters, a description at least 5): ``tests/test_exports.py`` checks the whole
document against the JSON Schema of the ``data-inclusion-schema`` package (1.0.x).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from app.core.time import aware, utcnow
from app.directory.service import fold
from app.structures.models import Structure

SCHEMA_VERSION = "1.0"
SOURCE = "passeport-numerique"

# A word of a national-schema service (folded) → a data·inclusion theme.
_THEMES: tuple[tuple[str, str], ...] = (
    ("demarche", "numerique--acceder-a-des-services-en-ligne"),
    ("administrati", "numerique--acceder-a-des-services-en-ligne"),
    ("internet", "numerique--acceder-a-une-connexion-internet"),
    ("connexion", "numerique--acceder-a-une-connexion-internet"),
    ("materiel", "numerique--acquerir-un-equipement"),
    ("equipement", "numerique--acquerir-un-equipement"),
    ("prendre en main", "numerique--maitriser-les-fondamentaux-du-numerique"),
    ("usages", "numerique--maitriser-les-fondamentaux-du-numerique"),
    ("competences", "numerique--maitriser-les-fondamentaux-du-numerique"),
)
_FUNDAMENTALS = "numerique--maitriser-les-fondamentaux-du-numerique"
# A service must have a description; a place that wrote none gets this one.
DEFAULT_DESCRIPTION = (
    "Un médiateur numérique vous accompagne pour utiliser un ordinateur, un smartphone ou "
    "Internet, et faire vos démarches en ligne. Vos compétences peuvent être inscrites dans "
    "votre passeport numérique."
)


def themes(services: Iterable[str]) -> list[str]:
    found = {theme for s in services for word, theme in _THEMES if word in fold(s)}
    return sorted(found or {_FUNDAMENTALS})


def _name(text: str) -> str | None:
    text = text.strip()[:150].rstrip()
    if text.endswith(".") and not text.endswith("etc."):
        text = text[:-1].rstrip()
    return text if len(text) >= 3 else None


def _text(text: str | None, minimum: int = 5, maximum: int = 10_000) -> str | None:
    text = (text or "").strip()
    return text[:maximum] if len(text) >= minimum else None


def _siret(pivot: str | None) -> str | None:
    return pivot if pivot and re.fullmatch(r"[0-9]{14}", pivot) else None


def _day(structure: Structure, today: date) -> date:
    day = structure.date_maj or aware(structure.updated_at).date()
    return min(max(day, date(2000, 1, 1)), today)


def _frais(fees: Sequence[str]) -> str | None:
    folded = {fold(f) for f in fees}
    if "gratuit" in folded:
        return "gratuit"
    if "payant" in folded:
        return "payant"
    return None


def _structure_id(territory_code: str, structure: Structure) -> str:
    return f"{SOURCE}--{territory_code}--{structure.external_id or structure.id}"


def document(territory_code: str, structures: Sequence[Structure]) -> dict[str, Any]:
    """``{"structures": [...], "services": [...]}`` for the territory's places."""
    today = utcnow().date()
    out_structures: list[dict[str, Any]] = []
    out_services: list[dict[str, Any]] = []
    for structure in structures:
        name = _name(structure.nom)
        if name is None:
            continue
        sid = _structure_id(territory_code, structure)
        place = {
            "commune": structure.commune,
            "code_postal": structure.code_postal,
            "code_insee": structure.code_insee,
            "adresse": structure.adresse,
            "complement_adresse": structure.complement_adresse,
            "longitude": structure.longitude,
            "latitude": structure.latitude,
            "telephone": structure.telephone,
            "courriel": structure.courriels[0] if structure.courriels else None,
        }
        out_structures.append(
            {
                "source": SOURCE,
                "id": sid,
                "nom": name,
                "date_maj": _day(structure, today).isoformat(),
                "description": _text(
                    structure.presentation_detail or structure.presentation_resume
                ),
                "siret": _siret(structure.pivot),
                **place,
                "site_web": structure.site_web[0] if structure.site_web else None,
                "horaires_accueil": structure.horaires,
            }
        )
        out_services.append(
            {
                "source": SOURCE,
                "structure_id": sid,
                "id": f"{sid}--accompagnement-numerique",
                "nom": "Accompagnement au numérique",
                "date_maj": _day(structure, today).isoformat(),
                "description": _text(structure.presentation_resume) or DEFAULT_DESCRIPTION,
                "type": "accompagnement",
                "thematiques": themes(structure.services),
                "frais": _frais(structure.frais_a_charge),
                **place,
                "modes_accueil": ["en-presentiel"],
                "lien_mobilisation": structure.prise_rdv,
                "horaires_accueil": structure.horaires,
            }
        )
    return {
        "schema_version": SCHEMA_VERSION,
        "structures": out_structures,
        "services": out_services,
    }
