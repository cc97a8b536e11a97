"""Documents and rights: the printed access card, the copy of all data, and erasure."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from sqlmodel import Session

from app.accounts.authn import CITIZEN_COOKIE
from app.accounts.models import Role
from app.accounts.principal import Principal
from app.api.deps import SessionDep, SettingsDep, WriteSessionDep
from app.authz import CITIZEN, PASSPORT_READ, PASSPORT_WRITE, TERRITORY_ADMIN, authorize
from app.core.errors import Forbidden, InvalidInput
from app.core.pdf import attachment_headers
from app.passports import card, citizen, gdpr, service
from app.passports.models import Passport
from app.passports.schemas import CitizenErasure, CoordinatorErasure, ErasurePublic, ExportFormat
from app.territory.models import Territory

router = APIRouter(tags=["documents"])

Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
PDF_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/pdf": {}}, "description": "A PDF file, to save or print"}
}


Format = Annotated[ExportFormat, Query(alias="format")]


def _export_response(session: Session, passport: Passport, fmt: ExportFormat) -> Response:
    data = gdpr.export(session, passport)
    stem = f"passeport-{passport.number}"
    if fmt is ExportFormat.PDF:
        return Response(
            gdpr.render_export_pdf(data),
            media_type="application/pdf",
            headers=attachment_headers(f"{stem}.pdf"),
        )
    return Response(
        data.model_dump_json(indent=2),
        media_type="application/json",
        headers=attachment_headers(f"{stem}.json"),
    )


EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"application/pdf": {}},
        "description": "JSON (format=json) or a readable PDF (format=pdf), as a download",
    }
}


# --- mediators and coordinators ------------------------------------------------------------------


@router.post("/passports/{passport_id}/card", response_class=Response, responses=PDF_RESPONSE)
def print_card(
    passport_id: Id,
    principal: Annotated[Principal, authorize(PASSPORT_WRITE)],
    session: SessionDep,
    settings: SettingsDep,
    size: Annotated[card.CardSize, Query()] = card.CardSize.A4,
) -> Response:
    """Print the citizen's access card (PDF) with a new code; the old code stops working."""
    passport = service.load(session, principal, passport_id)
    service.ensure_holder(principal, passport)
    code = citizen.renew_code(session, principal, passport)
    service.journal(session, principal, passport, "card.printed")
    territory = session.get(Territory, passport.territory_id)
    assert territory is not None
    pdf = card.render_card(passport, code, territory, size=size, public_url=settings.public_url)
    return Response(
        pdf,
        media_type="application/pdf",
        headers=attachment_headers(f"carte-{passport.number}.pdf"),
    )


@router.get(
    "/passports/{passport_id}/export",
    response_model=gdpr.PassportExport,
    responses=EXPORT_RESPONSES,
)
def export_passport(
    passport_id: Id,
    principal: Annotated[Principal, authorize(PASSPORT_READ)],
    session: WriteSessionDep,
    fmt: Format = ExportFormat.JSON,
) -> Response:
    """Everything held about the citizen, for a citizen who asks in person. Journaled."""
    passport = service.load(session, principal, passport_id)
    # Only the holding territory hands out the whole file; a structure it is shared with reads.
    service.ensure_holder(principal, passport)
    service.journal(session, principal, passport, "passport.exported")
    return _export_response(session, passport, fmt)


@router.post("/passports/{passport_id}/erasure", response_model=ErasurePublic)
def erase_passport(
    passport_id: Id,
    data: CoordinatorErasure,
    principal: Annotated[Principal, authorize(TERRITORY_ADMIN)],
    session: SessionDep,
) -> ErasurePublic:
    """Erase a passport at its holder's request (received in person or by letter)."""
    # Refused by role before anything is loaded, so the answer says nothing of the passport.
    if principal.role is not Role.TERRITORY_ADMIN:
        raise Forbidden(
            "Only the coordinators of the passport's territory erase it.", code="forbidden_role"
        )
    passport = service.load(session, principal, passport_id)
    service.ensure_holder(principal, passport)
    erasure = gdpr.erase(session, passport, actor=principal, reason=gdpr.ErasureReason(data.reason))
    return ErasurePublic(erased_at=erasure.erased_at, validations_kept=erasure.validations_kept)


# --- the citizen ---------------------------------------------------------------------------------


@router.get("/citizen/export", response_model=gdpr.PassportExport, responses=EXPORT_RESPONSES)
def citizen_export(
    principal: Annotated[Principal, authorize(CITIZEN)],
    session: WriteSessionDep,
    fmt: Format = ExportFormat.JSON,
) -> Response:
    """Download everything the passport holds about me (JSON or PDF)."""
    passport = service.load(session, principal, principal.passport_id or 0)
    service.journal(session, principal, passport, "passport.exported")
    return _export_response(session, passport, fmt)


@router.post("/citizen/erasure", response_model=ErasurePublic)
def citizen_erasure(
    data: CitizenErasure,
    principal: Annotated[Principal, authorize(CITIZEN)],
    session: SessionDep,
    response: Response,
) -> ErasurePublic:
    """Erase my passport: my personal data goes, my number and code stop working."""
    if not data.confirm:
        raise InvalidInput(
            "Erasure cannot be undone; send confirm: true to go ahead.",
            code="confirmation_required",
        )
    passport = service.load(session, principal, principal.passport_id or 0)
    erasure = gdpr.erase(session, passport, actor=principal, reason=gdpr.ErasureReason.CITIZEN)
    response.delete_cookie(CITIZEN_COOKIE, path="/")
    return ErasurePublic(erased_at=erasure.erased_at, validations_kept=erasure.validations_kept)
