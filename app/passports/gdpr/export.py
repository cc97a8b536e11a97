"""The copy of everything held about a citizen: gathered from every table that holds it."""

from __future__ import annotations

from sqlmodel import Session, col, select

from app.accounts.models import Account
from app.audit.models import AuditEvent
from app.core.schemas import from_entity
from app.core.time import utcnow
from app.framework.models import Skill
from app.passports import service
from app.passports.gdpr.schemas import (
    ConsentRecord,
    ExportedAccess,
    ExportedGrant,
    ExportedPassport,
    ExportedSecurityEvent,
    ExportedSession,
    ExportedTerritory,
    ExportedValidation,
    PassportExport,
    PersonalData,
)
from app.passports.models import (
    AccessGrant,
    CitizenSession,
    Passport,
    Validation,
)
from app.structures.models import Structure
from app.territory.models import Territory


def export(session: Session, passport: Passport) -> PassportExport:
    """Everything held about the passport's holder, in one document."""
    assert passport.id is not None
    territory = session.get(Territory, passport.territory_id)
    assert territory is not None
    consent_structure = (
        session.get(Structure, passport.consent_structure_id)
        if passport.consent_structure_id
        else None
    )
    consent_account = (
        session.get(Account, passport.consent_account_id) if passport.consent_account_id else None
    )
    return PassportExport(
        exported_at=utcnow(),
        passport=from_entity(
            ExportedPassport,
            passport,
            territory=ExportedTerritory.model_validate(territory, from_attributes=True),
            opened_at=passport.created_at,
        ),
        personal_data=PersonalData.model_validate(passport, from_attributes=True),
        consent=ConsentRecord(
            version=passport.consent_version,
            given_at=passport.consent_at,
            structure=consent_structure.nom if consent_structure else None,
            recorded_by=consent_account.display_name if consent_account else None,
        ),
        validations=_validations(session, passport.id),
        access_grants=_grants(session, passport.id),
        access_journal=_journal(session, passport),
        sessions=[
            from_entity(ExportedSession, s, signed_in_at=s.created_at, ended_at=s.revoked_at)
            for s in session.exec(
                select(CitizenSession)
                .where(CitizenSession.passport_id == passport.id)
                .order_by(col(CitizenSession.id))
            ).all()
        ],
        security_events=[
            # Failed sign-ins with the number, and the like. Their client addresses are left
            # out: they may as well be someone else's, trying the number.
            ExportedSecurityEvent(at=e.at, action=e.action, outcome=e.outcome)
            for e in session.exec(
                select(AuditEvent)
                .where(
                    AuditEvent.target_type == "passport", AuditEvent.target_id == str(passport.id)
                )
                .order_by(col(AuditEvent.id))
            ).all()
        ],
    )


def _validations(session: Session, passport_id: int) -> list[ExportedValidation]:
    rows = session.exec(
        select(Validation, Skill.label_fr, Account.display_name, Structure.nom)
        .join(Skill, col(Skill.code) == Validation.skill_code)
        .outerjoin(Account, col(Account.id) == Validation.account_id)
        .outerjoin(Structure, col(Structure.id) == Validation.structure_id)
        .where(Validation.passport_id == passport_id)
        .order_by(col(Validation.observed_on), col(Validation.id))
    ).all()
    return [
        from_entity(
            ExportedValidation,
            v,
            skill_label_fr=label,
            recorded_at=v.created_at,
            mediator=mediator,
            structure=structure or v.source_structure,
            status="withdrawn" if v.withdrawn_at else "active",
        )
        for v, label, mediator, structure in rows
    ]


def _grants(session: Session, passport_id: int) -> list[ExportedGrant]:
    rows = session.exec(
        select(AccessGrant, Structure.nom, Territory.name, Account.display_name)
        .join(Structure, col(Structure.id) == AccessGrant.structure_id)
        .join(Territory, col(Territory.id) == Structure.territory_id)
        .outerjoin(Account, col(Account.id) == AccessGrant.granted_by_account_id)
        .where(AccessGrant.passport_id == passport_id)
        .order_by(col(AccessGrant.id))
    ).all()
    return [
        from_entity(
            ExportedGrant, g, structure=structure, territory=territory, granted_by=granted_by
        )
        for g, structure, territory, granted_by in rows
    ]


def _journal(session: Session, passport: Passport) -> list[ExportedAccess]:
    # The whole journal, oldest first: the citizen's page shows the latest entries only.
    entries = service.access_log(session, passport, limit=None, oldest_first=True)
    return [ExportedAccess.model_validate(e, from_attributes=True) for e in entries]
