"""Read the frameworks: the whole tree, one skill, and a cheap revision stamp for caching."""

from __future__ import annotations

import hashlib
from collections import defaultdict

from sqlmodel import Session, col, select

from app.core.errors import NotFound
from app.core.schemas import from_entity
from app.framework.models import Framework, FrameworkArea, FrameworkLevel, Skill, SkillMapping
from app.framework.schemas import (
    AreaPublic,
    FrameworkPublic,
    FrameworkTree,
    LevelPublic,
    SkillDetail,
    SkillPublic,
)

# The order in which frameworks are presented and versioned.
ORDER = ("crcn", "digcomp", "pp")


def revision(session: Session) -> str:
    """A stamp that changes whenever any framework file is (re)loaded; one small query."""
    rows = session.exec(select(Framework.code, Framework.checksum).order_by(Framework.code)).all()
    joined = ";".join(f"{code}:{checksum}" for code, checksum in rows)
    return hashlib.sha256(joined.encode()).hexdigest()[:32]


def _mappings(session: Session) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    forward: dict[str, list[str]] = defaultdict(list)
    backward: dict[str, list[str]] = defaultdict(list)
    rows = session.exec(
        select(SkillMapping).order_by(SkillMapping.crcn_code, SkillMapping.digcomp_code)
    ).all()
    for m in rows:
        forward[m.crcn_code].append(m.digcomp_code)
        backward[m.digcomp_code].append(m.crcn_code)
    return forward, backward


def _public(
    skill: Skill, forward: dict[str, list[str]], backward: dict[str, list[str]]
) -> SkillPublic:
    return from_entity(
        SkillPublic,
        skill,
        framework=skill.framework_code,
        area=skill.area_code,
        crcn=skill.crcn_code,
        digcomp=forward.get(skill.code, []),
        crcn_sources=backward.get(skill.code, []),
        keywords=list(skill.keywords or []),
    )


def tree(session: Session) -> FrameworkTree:
    """The whole framework tree, in five queries whatever its size."""
    frameworks = {f.code: f for f in session.exec(select(Framework)).all()}
    levels: dict[str, list[LevelPublic]] = defaultdict(list)
    for lv in session.exec(select(FrameworkLevel).order_by(col(FrameworkLevel.level))).all():
        levels[lv.framework_code].append(LevelPublic.model_validate(lv, from_attributes=True))
    forward, backward = _mappings(session)
    skills_by_area: dict[str, list[SkillPublic]] = defaultdict(list)
    loose: dict[str, list[SkillPublic]] = defaultdict(list)
    for skill in session.exec(select(Skill).order_by(col(Skill.position))).all():
        public = _public(skill, forward, backward)
        if skill.area_code:
            skills_by_area[skill.area_code].append(public)
        else:
            loose[skill.framework_code].append(public)
    areas: dict[str, list[AreaPublic]] = defaultdict(list)
    for area in session.exec(select(FrameworkArea).order_by(col(FrameworkArea.position))).all():
        areas[area.framework_code].append(
            from_entity(AreaPublic, area, competences=skills_by_area[area.code])
        )
    ordered = [frameworks[c] for c in ORDER if c in frameworks]
    return FrameworkTree(
        version="+".join(f"{f.code}-{f.version}" for f in ordered),
        frameworks=[
            from_entity(
                FrameworkPublic,
                f,
                levels=levels[f.code],
                areas=areas[f.code],
                skills=loose[f.code],
            )
            for f in ordered
        ],
    )


def skill_detail(session: Session, code: str) -> SkillDetail:
    skill = session.get(Skill, code)
    if skill is None:
        raise NotFound(f"No skill has the code {code!r}.", code="unknown_skill")
    framework = session.get(Framework, skill.framework_code)
    assert framework is not None  # guaranteed by the foreign key
    forward, backward = _mappings(session)
    area = session.get(FrameworkArea, skill.area_code) if skill.area_code else None
    # A Premiers pas skill is read on its parent competence's scale.
    scale = "crcn" if skill.framework_code == "pp" else skill.framework_code
    levels = session.exec(
        select(FrameworkLevel)
        .where(FrameworkLevel.framework_code == scale)
        .order_by(col(FrameworkLevel.level))
    ).all()
    first_steps = session.exec(
        select(Skill.code).where(Skill.crcn_code == skill.code).order_by(col(Skill.position))
    ).all()
    return SkillDetail(
        **_public(skill, forward, backward).model_dump(),
        framework_version=framework.version,
        area_label_fr=area.label_fr if area else None,
        area_label_en=area.label_en if area else None,
        levels=[LevelPublic.model_validate(lv, from_attributes=True) for lv in levels],
        premiers_pas=list(first_steps),
    )
