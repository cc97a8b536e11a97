"""Load the versioned framework data files into the database.

Called by the framework data migration and by ``passeport framework load``. It works on a plain
SQLAlchemy connection so that a migration can run it, and it upserts: rows are never deleted, since
validations and credentials keep naming skills by code. A file whose checksum is already recorded
is skipped, so a reload changes nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, Field, ValidationError, model_validator
from sqlalchemy.engine import Connection

from app.framework.models import Framework, FrameworkArea, FrameworkLevel, Skill, SkillMapping

DATA_DIR = Path(__file__).parent / "data"
# Loaded in this order: the Premiers pas skills point at CRCN competences, CRCN at DigComp.
DATA_FILES = ("digcomp.json", "crcn.json", "premiers-pas.json")


class FrameworkDataError(Exception):
    """A data file is malformed or inconsistent; nothing was written."""


class _Level(BaseModel):
    level: int = Field(ge=1, le=8)
    band_fr: str
    band_en: str


class _Competence(BaseModel):
    number: str
    label_fr: str
    label_en: str
    keywords: list[str] = []
    digcomp: list[str] = []


class _Area(BaseModel):
    number: str
    label_fr: str
    label_en: str
    competences: list[_Competence]


class _FirstStep(BaseModel):
    number: str
    crcn: str
    level: int = Field(ge=1, le=8)
    label_fr: str
    label_en: str
    keywords: list[str] = []


class FrameworkFile(BaseModel):
    code: Literal["crcn", "digcomp", "pp"]
    version: str
    name_fr: str
    name_en: str
    source: str
    levels: list[_Level] = []
    areas: list[_Area] = []
    skills: list[_FirstStep] = []

    @model_validator(mode="after")
    def _unique_numbers(self) -> FrameworkFile:
        numbers = [c.number for a in self.areas for c in a.competences] + [
            s.number for s in self.skills
        ]
        if len(numbers) != len(set(numbers)):
            raise ValueError("duplicate skill number")
        return self


@dataclass
class LoadReport:
    loaded: dict[str, str] = field(default_factory=dict)  # code -> version written
    unchanged: dict[str, str] = field(default_factory=dict)  # code -> version already there


def read_file(path: Path) -> tuple[FrameworkFile, str]:
    raw = path.read_bytes()
    try:
        parsed = FrameworkFile.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise FrameworkDataError(f"{path.name}: {where}: {first['msg']}") from None
    return parsed, hashlib.sha256(raw).hexdigest()


def _upsert(
    conn: Connection, table: sa.Table, keys: tuple[str, ...], rows: list[dict[str, Any]]
) -> None:
    if not rows:
        return
    key_cols = [table.c[k] for k in keys]
    existing = {tuple(r) for r in conn.execute(sa.select(*key_cols))}
    inserts = [r for r in rows if tuple(r[k] for k in keys) not in existing]
    updates = [r for r in rows if tuple(r[k] for k in keys) in existing]
    if inserts:
        conn.execute(table.insert(), inserts)
    for row in updates:
        where = sa.and_(*(table.c[k] == row[k] for k in keys))
        conn.execute(table.update().where(where).values(**row))


def _rows(doc: FrameworkFile, conn: Connection) -> dict[str, list[dict[str, Any]]]:
    prefix = doc.code
    levels = [
        {"framework_code": prefix, "level": lv.level, "band_fr": lv.band_fr, "band_en": lv.band_en}
        for lv in doc.levels
    ]
    areas: list[dict[str, Any]] = []
    skills: list[dict[str, Any]] = []
    mappings: list[dict[str, Any]] = []
    for a_pos, area in enumerate(doc.areas):
        area_code = f"{prefix}:{area.number}"
        areas.append(
            {
                "code": area_code,
                "framework_code": prefix,
                "number": area.number,
                "label_fr": area.label_fr,
                "label_en": area.label_en,
                "position": a_pos,
            }
        )
        for c_pos, comp in enumerate(area.competences):
            code = f"{prefix}:{comp.number}"
            skills.append(
                {
                    "code": code,
                    "framework_code": prefix,
                    "area_code": area_code,
                    "number": comp.number,
                    "label_fr": comp.label_fr,
                    "label_en": comp.label_en,
                    "crcn_code": None,
                    "level": None,
                    "keywords": comp.keywords,
                    "position": a_pos * 100 + c_pos,
                }
            )
            mappings.extend(
                {"crcn_code": code, "digcomp_code": f"digcomp:{n}"} for n in comp.digcomp
            )
    for pos, step in enumerate(doc.skills):
        skills.append(
            {
                "code": f"{prefix}:{step.number}",
                "framework_code": prefix,
                "area_code": None,
                "number": step.number,
                "label_fr": step.label_fr,
                "label_en": step.label_en,
                "crcn_code": f"crcn:{step.crcn}",
                "level": step.level,
                "keywords": step.keywords,
                "position": pos,
            }
        )
    # Every reference must land on a skill that exists, or the file is refused whole.
    referenced = {m["digcomp_code"] for m in mappings} | {
        s["crcn_code"] for s in skills if s["crcn_code"]
    }
    skill_table = Skill.__table__  # type: ignore[attr-defined]
    known = {r[0] for r in conn.execute(sa.select(skill_table.c.code))}
    missing = sorted(referenced - known)
    if missing:
        raise FrameworkDataError(f"{doc.code}: references unknown skills {', '.join(missing)}")
    return {"levels": levels, "areas": areas, "skills": skills, "mappings": mappings}


def load_frameworks(
    conn: Connection, data_dir: Path = DATA_DIR, *, force: bool = False
) -> LoadReport:
    """Write each data file whose content is not loaded yet, in the caller's transaction."""
    report = LoadReport()
    fw_table: sa.Table = Framework.__table__  # type: ignore[attr-defined]
    for name in DATA_FILES:
        doc, checksum = read_file(data_dir / name)
        current = conn.execute(
            sa.select(fw_table.c.checksum).where(fw_table.c.code == doc.code)
        ).scalar_one_or_none()
        if current == checksum and not force:
            report.unchanged[doc.code] = doc.version
            continue
        _upsert(
            conn,
            fw_table,
            ("code",),
            [
                {
                    "code": doc.code,
                    "version": doc.version,
                    "name_fr": doc.name_fr,
                    "name_en": doc.name_en,
                    "source": doc.source,
                    "checksum": checksum,
                    "loaded_at": datetime.now(UTC),
                }
            ],
        )
        rows = _rows(doc, conn)
        _upsert(conn, FrameworkLevel.__table__, ("framework_code", "level"), rows["levels"])  # type: ignore[attr-defined]
        _upsert(conn, FrameworkArea.__table__, ("code",), rows["areas"])  # type: ignore[attr-defined]
        _upsert(conn, Skill.__table__, ("code",), rows["skills"])  # type: ignore[attr-defined]
        # A mapping is not referenced by anything else, so this file's set replaces the old one.
        mapping_table: sa.Table = SkillMapping.__table__  # type: ignore[attr-defined]
        own_codes = [s["code"] for s in rows["skills"]]
        conn.execute(mapping_table.delete().where(mapping_table.c.crcn_code.in_(own_codes)))
        if rows["mappings"]:
            conn.execute(mapping_table.insert(), rows["mappings"])
        report.loaded[doc.code] = doc.version
    return report
