"""Documents and rights: the printed access card, the copy of all data, and erasure."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from sqlmodel import Session

from app.accounts.authn import CITIZEN_COOKIE
from app.api.deps import SessionDep, SettingsDep, WriteSessionDep
from app.core.errors import InvalidInput
from app.core.pdf import attachment_headers
from app.passports import card, gdpr, service
from app.passports.deps import (
    CitizenExportPassport,
    CitizenPassport,
    ErasablePassport,
    HeldExportPassport,
    HeldPassport,
    PassportAccess,
)
from app.passports.schemas import CitizenErasure, CoordinatorErasure, ErasurePublic, ExportFormat

router = APIRouter(tags=["documents"])

PDF_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/pdf": {}}, "description": "A PDF file, to save or print"}
}


Format = Annotated[ExportFormat, Query(alias="format")]


def _export_response(session: Session, access: PassportAccess, fmt: ExportFormat) -> Response:
    passport = access.passport
    service.journal(session, access.principal, passport, "passport.exported")
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
    access: HeldPassport,
    session: SessionDep,
    settings: SettingsDep,
    size: Annotated[card.CardSize, Query()] = card.CardSize.A4,
) -> Response:
    """Print the citizen's access card (PDF) with a new code; the old code stops working."""
    passport = access.passport
    pdf = card.print_card(session, access.principal, passport, size, settings.public_url)
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
    # Only the holding territory hands out the whole file; a structure it is shared with reads.
    access: HeldExportPassport,
    session: WriteSessionDep,
    fmt: Format = ExportFormat.JSON,
) -> Response:
    """Everything held about the citizen, for a citizen who asks in person. Journaled."""
    return _export_response(session, access, fmt)


@router.post("/passports/{passport_id}/erasure", response_model=ErasurePublic)
def erase_passport(
    data: CoordinatorErasure, access: ErasablePassport, session: SessionDep
) -> ErasurePublic:
    """Erase a passport at its holder's request (received in person or by letter)."""
    reason = gdpr.ErasureReason(data.reason)
    erasure = gdpr.erase(session, access.passport, actor=access.principal, reason=reason)
    return ErasurePublic(erased_at=erasure.erased_at, validations_kept=erasure.validations_kept)


# --- the citizen ---------------------------------------------------------------------------------


@router.get("/citizen/export", response_model=gdpr.PassportExport, responses=EXPORT_RESPONSES)
def citizen_export(
    access: CitizenExportPassport, session: WriteSessionDep, fmt: Format = ExportFormat.JSON
) -> Response:
    """Download everything the passport holds about me (JSON or PDF)."""
    return _export_response(session, access, fmt)


@router.post("/citizen/erasure", response_model=ErasurePublic)
def citizen_erasure(
    data: CitizenErasure, access: CitizenPassport, session: SessionDep, response: Response
) -> ErasurePublic:
    """Erase my passport: my personal data goes, my number and code stop working."""
    if not data.confirm:
        raise InvalidInput(
            "Erasure cannot be undone; send confirm: true to go ahead.",
            code="confirmation_required",
        )
    reason = gdpr.ErasureReason.CITIZEN
    erasure = gdpr.erase(session, access.passport, actor=access.principal, reason=reason)
    response.delete_cookie(CITIZEN_COOKIE, path="/")
    return ErasurePublic(erased_at=erasure.erased_at, validations_kept=erasure.validations_kept)
