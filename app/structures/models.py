"""Structures: the places of mediation (*lieux de médiation numérique*).

Columns named after the national open-data schema keep those names (``nom``, ``commune``, …): they
are an external contract, read and written as is by import and export. ``external_id`` holds the
schema's ``id``; our own primary key is ``id``.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.core.time import utcnow


class Structure(SQLModel, table=True):
    __tablename__ = "structure"
    __table_args__ = (
        sa.UniqueConstraint("territory_id", "external_id", name="uq_structure_territory_external"),
    )

    id: int | None = Field(default=None, primary_key=True)
    territory_id: int = Field(foreign_key="territory.id", index=True)
    external_id: str | None = Field(default=None, max_length=100)
    pivot: str | None = Field(default=None, max_length=20, index=True)  # SIRET or RNA
    nom: str = Field(max_length=250)
    commune: str = Field(max_length=100)
    code_postal: str = Field(max_length=5)
    code_insee: str | None = Field(default=None, max_length=5)
    adresse: str = Field(max_length=250)
    complement_adresse: str | None = Field(default=None, max_length=250)
    latitude: float | None = None
    longitude: float | None = None
    telephone: str | None = Field(default=None, max_length=20)
    horaires: str | None = Field(default=None, max_length=500)
    prise_rdv: str | None = Field(default=None, max_length=500)
    presentation_resume: str | None = Field(default=None, max_length=280)
    presentation_detail: str | None = Field(default=None, max_length=5000)
    date_maj: date | None = None
    source: str | None = Field(default=None, max_length=100)
    structure_parente: str | None = Field(default=None, max_length=100)
    courriels: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    site_web: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    typologie: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    services: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    publics_specifiquement_adresses: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    prise_en_charge_specifique: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    frais_a_charge: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    dispositif_programmes_nationaux: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    formations_labels: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    modalites_acces: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    modalites_accompagnement: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    itinerance: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


# The schema's list-valued fields, stored as JSON arrays of strings: the columns typed so above.
LIST_FIELDS = tuple(
    name for name, info in Structure.model_fields.items() if info.annotation == list[str]
)
