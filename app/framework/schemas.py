"""What the framework API publishes. Skill codes here are the ones credentials carry."""

from __future__ import annotations

from pydantic import BaseModel, Field


class LevelPublic(BaseModel):
    level: int
    band_fr: str
    band_en: str


class SkillPublic(BaseModel):
    code: str = Field(examples=["crcn:4.1", "digcomp:2.5", "pp:PP-12"])
    framework: str
    number: str
    label_fr: str
    label_en: str
    area: str | None = Field(None, description="Area code, for CRCN and DigComp competences")
    crcn: str | None = Field(None, description="CRCN competence a Premiers pas skill belongs to")
    level: int | None = Field(None, description="Level a Premiers pas skill carries")
    digcomp: list[str] = Field(
        default_factory=list, description="DigComp codes a CRCN competence maps to"
    )
    crcn_sources: list[str] = Field(
        default_factory=list, description="CRCN codes that map to this DigComp competence"
    )
    keywords: list[str] = Field(default_factory=list)


class AreaPublic(BaseModel):
    code: str
    number: str
    label_fr: str
    label_en: str
    competences: list[SkillPublic]


class FrameworkPublic(BaseModel):
    code: str
    version: str
    name_fr: str
    name_en: str
    source: str
    levels: list[LevelPublic]
    areas: list[AreaPublic]
    skills: list[SkillPublic] = Field(
        default_factory=list, description="Skills outside any area (the Premiers pas)"
    )


class FrameworkTree(BaseModel):
    version: str = Field(description="Composite version, e.g. crcn-2019+digcomp-2.2+pp-1")
    frameworks: list[FrameworkPublic]


class SkillDetail(SkillPublic):
    framework_version: str
    area_label_fr: str | None = None
    area_label_en: str | None = None
    levels: list[LevelPublic]
    premiers_pas: list[str] = Field(
        default_factory=list, description="Premiers pas skills attached to this CRCN competence"
    )
