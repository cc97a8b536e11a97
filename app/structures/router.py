"""Structures (places of mediation): public reads and exports, coordinators' writes and imports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response, status

from app.accounts.principal import Principal
from app.api.deps import SessionDep
from app.authz import PUBLIC, TERRITORY_ADMIN, authorize
from app.core.settings import DEFAULT_MAX_BODY_BYTES
from app.core.validation import TEXT_POLICY, TEXT_POLICY_KEY, Id, NoNul, TerritoryCode
from app.structures import service
from app.structures.files import MAX_ROWS, FileFormat
from app.structures.schemas import (
    ImportReport,
    StructureCreate,
    StructurePage,
    StructurePublic,
    StructureUpdate,
)

router = APIRouter(tags=["structures"])


_IMPORT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The file itself, in the national schema (see docs/structures.md).",
        "content": {
            # Bounded by PASSEPORT_MAX_BODY_BYTES before it is read (2 MB by default); decoded as
            # strict UTF-8, and every cell then goes through the text policy (docs/api.md).
            "text/csv": {
                "schema": {
                    "type": "string",
                    "maxLength": DEFAULT_MAX_BODY_BYTES,
                    TEXT_POLICY_KEY: TEXT_POLICY,
                }
            },
            "application/json": {
                "schema": {"type": "array", "maxItems": MAX_ROWS, "items": {"type": "object"}}
            },
        },
    }
}


@dataclass(frozen=True)
class RawFile:
    data: bytes
    media_type: str | None


async def _raw_file(request: Request) -> RawFile:
    # Read here, on the event loop, so that the route itself can stay synchronous and share the
    # request's one transaction (SessionDep) like every other route. The body is already bounded
    # by RequestContextMiddleware.
    return RawFile(await request.body(), request.headers.get("content-type"))


@router.get(
    "/territories/{code}/structures",
    response_model=StructurePage,
    dependencies=[authorize(PUBLIC)],
)
def list_structures(
    code: TerritoryCode,
    session: SessionDep,
    q: Annotated[str | None, NoNul, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> StructurePage:
    """The territory's structures by name; q searches name, town, postcode and address."""
    territory, total, page = service.list_structures(session, code, q=q, limit=limit, offset=offset)
    return StructurePage(
        total=total,
        limit=limit,
        offset=offset,
        items=[service.to_public(s, territory.code) for s in page],
    )


@router.get(
    "/territories/{code}/structures/export",
    response_class=Response,
    dependencies=[authorize(PUBLIC)],
    responses={200: {"content": {"text/csv": {}, "application/json": {}}}},
)
def export_structures(
    code: TerritoryCode,
    session: SessionDep,
    fmt: Annotated[FileFormat, Query(alias="format")] = FileFormat.CSV,
) -> Response:
    """Every structure of the territory as a file in the national schema (CSV or JSON)."""
    territory, content = service.export(session, code, fmt)
    media_type = "text/csv; charset=utf-8" if fmt is FileFormat.CSV else "application/json"
    filename = f"structures-{territory.code}.{fmt.value}"
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get(
    "/territories/{code}/structures/data-inclusion",
    response_class=Response,
    dependencies=[authorize(PUBLIC)],
    responses={200: {"content": {"application/json": {}}}},
)
def export_data_inclusion(code: TerritoryCode, session: SessionDep) -> Response:
    """Every structure of the territory in the data·inclusion schema (structures and services)."""
    territory, document = service.export_data_inclusion(session, code)
    return Response(
        orjson.dumps(document),
        media_type="application/json",
        headers={
            "Content-Disposition": (f'attachment; filename="data-inclusion-{territory.code}.json"')
        },
    )


@router.get(
    "/structures/{structure_id}", response_model=StructurePublic, dependencies=[authorize(PUBLIC)]
)
def get_structure(structure_id: Id, session: SessionDep) -> StructurePublic:
    """One structure."""
    structure, territory = service.get(session, structure_id)
    return service.to_public(structure, territory.code)


@router.post(
    "/territories/{code}/structures",
    response_model=StructurePublic,
    status_code=status.HTTP_201_CREATED,
)
def create_structure(
    code: TerritoryCode,
    data: StructureCreate,
    principal: Annotated[Principal, authorize(TERRITORY_ADMIN)],
    session: SessionDep,
) -> StructurePublic:
    """Add a structure to the territory (an id in the national schema is made if none is given)."""
    structure, territory = service.create(session, principal, code, data)
    return service.to_public(structure, territory.code)


@router.patch("/structures/{structure_id}", response_model=StructurePublic)
def update_structure(
    structure_id: Id,
    data: StructureUpdate,
    principal: Annotated[Principal, authorize(TERRITORY_ADMIN)],
    session: SessionDep,
) -> StructurePublic:
    """Change some fields of a structure; null clears an optional field."""
    structure, territory = service.update(session, principal, structure_id, data)
    return service.to_public(structure, territory.code)


@router.post(
    "/territories/{code}/structures/import",
    response_model=ImportReport,
    openapi_extra=_IMPORT_BODY,
)
def import_structures(
    code: TerritoryCode,
    principal: Annotated[Principal, authorize(TERRITORY_ADMIN)],
    file: Annotated[RawFile, Depends(_raw_file)],
    session: SessionDep,
    dry_run: bool = False,
) -> ImportReport:
    """Import a CSV or JSON file of structures; rejected rows are reported, the rest upserted."""
    return service.import_file(
        session, principal, code, file.data, media_type=file.media_type, dry_run=dry_run
    )
