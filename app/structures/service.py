"""Structures: read by anyone (places are open data), written by their territory's coordinators."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from app import authz
from app.accounts.principal import Principal
from app.audit import service as audit
from app.core.db import pk
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.time import aware, utcnow
from app.structures import datainclusion, files, importer
from app.structures.files import FileFormat
from app.structures.models import Structure
from app.structures.schemas import (
    ImportReport,
    StructureCreate,
    StructurePublic,
    StructureUpdate,
    check_coordinates,
)
from app.territory import service as territories
from app.territory.models import Territory


def to_public(structure: Structure, territory_code: str) -> StructurePublic:
    assert structure.id is not None
    return StructurePublic.model_validate(
        {
            **structure.model_dump(exclude={"territory_id"}),
            "territory_code": territory_code,
            "created_at": aware(structure.created_at),
            "updated_at": aware(structure.updated_at),
        }
    )


def get(session: Session, structure_id: int) -> tuple[Structure, Territory]:
    """The structure and its territory, or 404."""
    structure = session.get(Structure, structure_id)
    if structure is None:
        raise NotFound(f"No structure has the id {structure_id}.", code="unknown_structure")
    territory = session.get(Territory, structure.territory_id)
    assert territory is not None
    return structure, territory


def _like(q: str) -> str:
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def list_structures(
    session: Session, code: str, *, q: str | None = None, limit: int = 50, offset: int = 0
) -> tuple[Territory, int, Sequence[Structure]]:
    """One page of the territory's structures by name, and how many match in all."""
    territory = territories.get_by_code(session, code)
    condition = col(Structure.territory_id) == territory.id
    q = (q or "").strip()
    if q:
        pattern = _like(q)
        condition = condition & or_(
            *(
                column.ilike(pattern, escape="\\")
                for column in (
                    col(Structure.nom),
                    col(Structure.commune),
                    col(Structure.code_postal),
                    col(Structure.adresse),
                )
            )
        )
    total = session.exec(select(func.count()).select_from(Structure).where(condition)).one()
    page = session.exec(
        select(Structure)
        .where(condition)
        .order_by(col(Structure.nom), col(Structure.id))
        .limit(limit)
        .offset(offset)
    ).all()
    return territory, total, page


def _ensure_free(session: Session, territory_id: int, external_id: str) -> None:
    taken = session.exec(
        select(Structure.id).where(
            Structure.territory_id == territory_id, Structure.external_id == external_id
        )
    ).first()
    if taken is not None:
        raise Conflict(
            f"A structure of this territory already has the id {external_id!r}.",
            code="structure_exists",
        )


def create(
    session: Session, principal: Principal, code: str, data: StructureCreate
) -> tuple[Structure, Territory]:
    territory = territories.get_by_code(session, code)
    authz.ensure_territory_admin(principal, pk(territory))
    importer.lock_territory(session, territory)
    external_id = data.external_id or importer.new_external_id()
    _ensure_free(session, pk(territory), external_id)
    structure = Structure(
        territory_id=pk(territory),
        external_id=external_id,
        **data.model_dump(exclude={"external_id"}),
    )
    audit.record_on(session, "structure.created", structure, principal, external_id=external_id)
    return structure, territory


def update(
    session: Session, principal: Principal, structure_id: int, data: StructureUpdate
) -> tuple[Structure, Territory]:
    structure, territory = get(session, structure_id)
    authz.ensure_visible(principal, structure.territory_id)
    authz.ensure_territory_admin(principal, structure.territory_id)
    changes = {
        name: value
        for name, value in data.model_dump(exclude_unset=True).items()
        if getattr(structure, name) != value
    }
    missing = check_coordinates(
        changes.get("latitude", structure.latitude), changes.get("longitude", structure.longitude)
    )
    if missing:
        reason = f"latitude and longitude go together: {missing} is missing"
        # Shaped like the request validation problems, which catch the same mistake on creation.
        raise InvalidInput(
            f"body.{missing}: {reason}",
            code="validation_error",
            title="Invalid request",
            errors=[{"loc": ["body", missing], "msg": reason, "type": "coordinates_pair"}],
        )
    if "external_id" in changes:
        importer.lock_territory(session, territory)
        _ensure_free(session, structure.territory_id, changes["external_id"])
    if not changes:
        return structure, territory
    for name, value in changes.items():
        setattr(structure, name, value)
    structure.updated_at = utcnow()
    session.flush()
    audit.record_on(session, "structure.updated", structure, principal, fields=sorted(changes))
    return structure, territory


def import_file(
    session: Session,
    principal: Principal,
    code: str,
    data: bytes,
    *,
    media_type: str | None,
    dry_run: bool,
) -> ImportReport:
    """Import a file into a territory, for one of its coordinators."""
    territory = territories.get_by_code(session, code)
    authz.ensure_territory_admin(principal, pk(territory))
    parsed = files.parse(data, media_type=media_type)
    return importer.import_rows(
        session, territory, parsed, dry_run=dry_run, actor_account_id=principal.account_id
    )


def export(session: Session, code: str, fmt: FileFormat) -> tuple[Territory, bytes]:
    """Every structure of the territory, in the national schema."""
    territory = territories.get_by_code(session, code)
    structures = session.exec(
        select(Structure).where(Structure.territory_id == territory.id).order_by(col(Structure.id))
    ).all()
    render = files.render_json if fmt is FileFormat.JSON else files.render_csv
    return territory, render(structures)


def export_data_inclusion(session: Session, code: str) -> tuple[Territory, dict[str, Any]]:
    """Every structure of the territory in the data·inclusion schema (structures, services)."""
    territory = territories.get_by_code(session, code)
    structures = session.exec(
        select(Structure).where(Structure.territory_id == territory.id).order_by(col(Structure.id))
    ).all()
    return territory, datainclusion.document(territory.code, structures)
