"""The public directory « Où se faire accompagner » as the API shows it."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field


class PlaceSummary(BaseModel):
    """One place in a list: enough to choose it, and to place it on a map or by distance."""

    id: int
    nom: str
    adresse: str
    commune: str
    code_postal: str
    department: str | None = Field(description="department or overseas collectivity code")
    territory_code: str
    url: str | None = Field(
        default=None,
        description="the place's page on its own instance: a neighbouring territory's place "
        "(through the federation); null for a place of this instance (/lieu?id=)",
    )
    latitude: float | None
    longitude: float | None
    services: list[str]
    free: bool = Field(description="« Gratuit » among its frais_a_charge")
    accessible: bool = Field(description="a disability among its prise_en_charge_specifique")
    open_now: bool | None = Field(description="null when its hours cannot be read")
    validates: bool = Field(description="its mediators recorded validations in the window")
    validations_count: int | None = Field(
        description="validations in the window; null when under the statistical threshold"
    )


class DirectoryPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[PlaceSummary]
    services: list[str] = Field(description="every service offered by a listed place, sorted")
    departments: dict[str, int] = Field(
        description="matches per department code, whatever the department filter (the map)"
    )
    window_start: date = Field(description="first day counted by « valide le passeport »")
    window_end: date = Field(description="last day counted")
    threshold: int


class DayHours(BaseModel):
    day: int = Field(description="0 Monday … 6 Sunday")
    ranges: list[str] = Field(description="HH:MM-HH:MM, local time; empty when closed")


class TerritoryRef(BaseModel):
    code: str
    name: str


class PlaceDetail(PlaceSummary):
    complement_adresse: str | None
    code_insee: str | None
    telephone: str | None
    courriels: list[str]
    site_web: list[str]
    prise_rdv: str | None
    horaires: str | None
    week: list[DayHours] | None = Field(description="the hours read; null when not readable")
    presentation_resume: str | None
    presentation_detail: str | None
    typologie: list[str]
    publics_specifiquement_adresses: list[str]
    prise_en_charge_specifique: list[str]
    frais_a_charge: list[str]
    modalites_acces: list[str]
    modalites_accompagnement: list[str]
    time_zone: str = Field(description="IANA zone of the place")
    local_date: date = Field(description="today, where the place is")
    local_time: str = Field(description="HH:MM now, where the place is")
    mediators: list[str] = Field(description="names of the place's current mediators")
    territory: TerritoryRef
