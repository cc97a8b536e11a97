"""Importing a structures file: check every row, then upsert the good ones in one go.

The work is in two passes: the first validates every row (the slow part, behind the CLI's progress
bar); the second matches the valid rows against the territory's structures, loaded once, so the
number of queries does not grow with the file. Everything is written in the caller's transaction,
so an import lands whole or not at all. Rows are matched the same way on every run, which is what
makes a second import of the same file change nothing:

- a row with an `id` is the structure of the territory with that id, or a new one;
- a row without `id` is the one structure with its `pivot`, or a new one (given a fresh id).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails
from sqlalchemy import insert
from sqlmodel import Session, select

from app.audit import service as audit
from app.core import problems
from app.core.db import pk
from app.core.time import utcnow
from app.structures.files import ParsedFile, SourceRow
from app.structures.models import Structure
from app.structures.schemas import ImportReport, Rejection, StructureIn
from app.territory.models import Territory

# The report lists every problem up to this many; the counts stay exact beyond it.
MAX_REPORTED = 2_000

Progress = Callable[[int], object]


def new_external_id() -> str:
    """An id for a structure its source did not name: the national schema requires one."""
    return str(uuid.uuid4())


def lock_territory(session: Session, territory: Territory) -> None:
    """Serialise the writers of one territory's structures (PostgreSQL; SQLite's writers already
    are), so that two imports cannot both insert the same id."""
    session.exec(select(Territory.id).where(Territory.id == territory.id).with_for_update()).one()


def _rejection(line: int, error: ErrorDetails) -> Rejection:
    loc = error["loc"]
    context: dict[str, Any] = dict(error.get("ctx") or {})
    name = str(loc[0]) if loc else context.get("field")
    reason = "is required" if error["type"] == "missing" else error["msg"]
    located = {**error, "loc": (name,) if name else ()}
    return Rejection(
        line=line, field=name, reason=reason, reason_fr=problems.validation_message(located, "fr")
    )


def check_row(row: SourceRow) -> StructureIn | list[Rejection]:
    """The validated row, or why it is rejected (every problem at once, to fix them together)."""
    if row.problem is not None:
        return [Rejection(line=row.line, field=None, reason=row.problem, reason_fr=row.problem_fr)]
    try:
        data = StructureIn.model_validate(row.values)
    except ValidationError as exc:
        return [_rejection(row.line, error) for error in exc.errors(include_url=False)]
    if data.external_id is None and data.pivot is None:
        return [
            Rejection(
                line=row.line,
                field="id",
                reason="needs an id (or a pivot), so that importing the file again updates this "
                "structure instead of adding it twice",
                reason_fr="Il faut un identifiant (ou un SIRET) à la structure, pour qu'un nouvel "
                "import du fichier la mette à jour au lieu de l'ajouter deux fois.",
            )
        ]
    return data


def _changes(structure: Structure, data: StructureIn) -> dict[str, Any]:
    """What the row would change. Only fields the row carries count: a column missing from the
    file leaves the stored value alone, an empty cell clears it. An id is never cleared."""
    sent = data.model_dump(include=data.model_fields_set - {"external_id"})
    if data.external_id is not None:
        sent["external_id"] = data.external_id
    return {name: value for name, value in sent.items() if getattr(structure, name) != value}


@dataclass
class _Plan:
    creates: list[StructureIn] = field(default_factory=list)
    updates: list[tuple[Structure, dict[str, Any]]] = field(default_factory=list)
    unchanged: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    rejected_lines: set[int] = field(default_factory=set)

    def reject(self, line: int, name: str | None, reason: str, reason_fr: str) -> None:
        self.rejected_lines.add(line)
        self.rejected.append(Rejection(line=line, field=name, reason=reason, reason_fr=reason_fr))


def _validated(
    rows: Iterable[SourceRow], plan: _Plan, progress: Progress | None
) -> list[tuple[int, StructureIn]]:
    valid: list[tuple[int, StructureIn]] = []
    for row in rows:
        result = check_row(row)
        if isinstance(result, list):
            plan.rejected_lines.add(row.line)
            plan.rejected.extend(result)
        else:
            valid.append((row.line, result))
        if progress is not None:
            progress(1)
    return valid


def _match(
    plan: _Plan, valid: list[tuple[int, StructureIn]], existing: Iterable[Structure]
) -> None:
    by_external: dict[str, Structure] = {}
    by_pivot: dict[str, list[Structure]] = {}
    for structure in existing:
        if structure.external_id is not None:
            by_external[structure.external_id] = structure
        if structure.pivot is not None:
            by_pivot.setdefault(structure.pivot, []).append(structure)
    # A pivot carried by a row with an id must not also be how a row without id is found: on the
    # next run that pivot would name two structures.
    pivots_with_id: dict[str, int] = {}
    for line, data in valid:
        if data.external_id is not None and data.pivot is not None:
            pivots_with_id.setdefault(data.pivot, line)

    claimed: dict[int, int] = {}  # structure id -> the line that describes it
    seen_ids: dict[str, int] = {}
    seen_pivots: dict[str, int] = {}  # of rows without id
    for line, data in valid:
        target: Structure | None
        if data.external_id is not None:
            key = "id"
            if data.external_id in seen_ids:
                earlier_line = seen_ids[data.external_id]
                plan.reject(
                    line,
                    "id",
                    f"the same id is on line {earlier_line}",
                    f"Le même identifiant est déjà à la ligne {earlier_line}.",
                )
                continue
            seen_ids[data.external_id] = line
            target = by_external.get(data.external_id)
        else:
            key = "pivot"
            pivot = data.pivot
            assert pivot is not None
            earlier = pivots_with_id.get(pivot, seen_pivots.get(pivot))
            seen_pivots.setdefault(pivot, line)
            if earlier is not None:
                plan.reject(
                    line,
                    "pivot",
                    f"the same pivot is on line {earlier}; a row without id needs a pivot of "
                    "its own (or an id)",
                    f"Le même SIRET est déjà à la ligne {earlier} ; une ligne sans identifiant a "
                    "besoin d'un SIRET à elle (ou d'un identifiant).",
                )
                continue
            candidates = by_pivot.get(pivot, [])
            if len(candidates) > 1:
                plan.reject(
                    line,
                    "pivot",
                    f"{len(candidates)} structures of the territory have this pivot; give the "
                    "row its id to say which",
                    f"{len(candidates)} structures du territoire ont ce SIRET : donnez son "
                    "identifiant à la ligne pour dire laquelle.",
                )
                continue
            target = candidates[0] if candidates else None
        if target is None:
            plan.creates.append(data)
            continue
        if pk(target) in claimed:
            # One row found it by id, the other by pivot.
            plan.reject(
                line,
                key,
                f"describes the same structure as line {claimed[pk(target)]}",
                f"Cette ligne décrit la même structure que la ligne {claimed[pk(target)]}.",
            )
            continue
        claimed[pk(target)] = line
        changes = _changes(target, data)
        if changes:
            plan.updates.append((target, changes))
        else:
            plan.unchanged += 1


def import_rows(
    session: Session,
    territory: Territory,
    parsed: ParsedFile,
    *,
    dry_run: bool = False,
    actor_account_id: int | None = None,
    via: str = "api",
    progress: Progress | None = None,
) -> ImportReport:
    """Validate every row, then (unless dry_run) write the valid ones in the caller's transaction.

    Nothing is committed here: the caller's transaction holds every write and the journal entry,
    so an import lands whole or not at all.
    """
    plan = _Plan()
    valid = _validated(parsed.rows, plan, progress)
    if not dry_run:
        lock_territory(session, territory)
    existing = session.exec(select(Structure).where(Structure.territory_id == pk(territory))).all()
    _match(plan, valid, existing)

    if not dry_run:
        now = utcnow()
        for structure, changes in plan.updates:
            for name, value in changes.items():
                setattr(structure, name, value)
            structure.updated_at = now
        session.flush()
        if plan.creates:
            # One bulk statement rather than ORM objects: building a thousand table models and
            # their one giant INSERT…VALUES is most of a first import's time on PostgreSQL.
            session.execute(
                insert(Structure),
                [
                    {
                        **data.model_dump(exclude={"external_id"}),
                        "territory_id": pk(territory),
                        "external_id": data.external_id or new_external_id(),
                        "created_at": now,
                        "updated_at": now,
                    }
                    for data in plan.creates
                ],
            )
        audit.record_on(
            session,
            "structures.imported",
            territory,
            actor_account_id,
            via=via,
            format=parsed.format.value,
            rows=len(parsed.rows),
            created=len(plan.creates),
            updated=len(plan.updates),
            unchanged=plan.unchanged,
            rejected_rows=len(plan.rejected_lines),
        )

    plan.rejected.sort(key=lambda rejection: rejection.line)
    return ImportReport(
        format=parsed.format.value,
        dry_run=dry_run,
        rows=len(parsed.rows),
        created=len(plan.creates),
        updated=len(plan.updates),
        unchanged=plan.unchanged,
        rejected_rows=len(plan.rejected_lines),
        rejected=plan.rejected[:MAX_REPORTED],
        rejected_truncated=len(plan.rejected) > MAX_REPORTED,
        ignored_columns=parsed.ignored_columns,
    )
