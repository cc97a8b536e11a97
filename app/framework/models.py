"""Tables of the skills frameworks: CRCN, DigComp 2.2 and the Premiers pas skills.

A *skill* is anything a validation or a credential can name by a stable code: a CRCN competence
(``crcn:4.1``), a DigComp competence (``digcomp:2.5``) or a Premiers pas skill (``pp:PP-12``).
These rows are reference data, written only by :mod:`app.framework.loader`.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class Framework(SQLModel, table=True):
    __tablename__ = "framework"

    code: str = Field(primary_key=True, max_length=16)
    version: str = Field(max_length=32)
    name_fr: str = Field(max_length=200)
    name_en: str = Field(max_length=200)
    source: str = Field(max_length=500)
    # sha256 of the data file last loaded: a reload of the same file changes nothing.
    checksum: str = Field(max_length=64)
    loaded_at: datetime = Field(sa_type=sa.DateTime(timezone=True))


class FrameworkLevel(SQLModel, table=True):
    __tablename__ = "framework_level"
    __table_args__ = (sa.CheckConstraint("level BETWEEN 1 AND 8", name="level_range"),)

    framework_code: str = Field(foreign_key="framework.code", primary_key=True, max_length=16)
    level: int = Field(primary_key=True)
    band_fr: str = Field(max_length=64)
    band_en: str = Field(max_length=64)


class FrameworkArea(SQLModel, table=True):
    __tablename__ = "framework_area"

    code: str = Field(primary_key=True, max_length=32)
    framework_code: str = Field(foreign_key="framework.code", index=True, max_length=16)
    number: str = Field(max_length=16)
    label_fr: str = Field(max_length=300)
    label_en: str = Field(max_length=300)
    position: int


class Skill(SQLModel, table=True):
    __tablename__ = "skill"
    __table_args__ = (
        sa.CheckConstraint("level IS NULL OR level BETWEEN 1 AND 8", name="level_range"),
    )

    code: str = Field(primary_key=True, max_length=32)
    framework_code: str = Field(foreign_key="framework.code", index=True, max_length=16)
    area_code: str | None = Field(default=None, foreign_key="framework_area.code", max_length=32)
    number: str = Field(max_length=16)
    label_fr: str = Field(max_length=300)
    label_en: str = Field(max_length=300)
    # A Premiers pas skill is attached to one CRCN competence at one level.
    crcn_code: str | None = Field(default=None, foreign_key="skill.code", max_length=32)
    level: int | None = Field(default=None)
    # Everyday words a mediator types to find the skill ("mail", "CAF", "arnaque").
    keywords: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    position: int


class SkillMapping(SQLModel, table=True):
    """The indicative CRCN → DigComp 2.2 correspondence."""

    __tablename__ = "skill_mapping"

    crcn_code: str = Field(foreign_key="skill.code", primary_key=True, max_length=32)
    digcomp_code: str = Field(foreign_key="skill.code", primary_key=True, max_length=32)
