"""The citizen's rights over their data: a copy of everything held, erasure, and retention.

What erasure keeps is anonymous by construction: the passport row stays (so that the skills
validated in it still count in a territory's figures) but loses every personal field, its number
and its pseudonymous holder id, so that neither an old card nor an old credential leads back to
it. docs/privacy.md explains each choice.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Literal

from fpdf.enums import XPos, YPos
from pydantic import BaseModel
from sqlmodel import Session, col, delete, select, update

from app.accounts.models import Account
from app.accounts.principal import CallerKind, Principal
from app.audit import service as audit
from app.audit.models import AuditEvent
from app.core.errors import Conflict
from app.core.pdf import CORE_FONT, Document
from app.core.ratelimit import RateLimitBucket
from app.core.time import aware, utcnow
from app.core.validation import UtcDateTime
from app.credentials import service as credentials
from app.framework.models import Skill
from app.passports.models import (
    AccessGrant,
    AccessLog,
    CitizenLink,
    CitizenSession,
    Method,
    Passport,
    Validation,
)
from app.structures.models import Structure
from app.territory.models import Territory
from app.wallet import service as wallet

EXPORT_FORMAT = "passeport-numerique/export/1"


class ErasureReason(StrEnum):
    CITIZEN = "citizen"  # the citizen asked, signed in to their passport
    REQUEST = "request"  # the citizen asked a coordinator, in person or by letter
    CONSENT_WITHDRAWN = "consent_withdrawn"
    OPENED_BY_MISTAKE = "opened_by_mistake"
    RETENTION = "retention"  # nobody used the passport for the retention period


# --- the copy of everything held -----------------------------------------------------------------


class ExportedTerritory(BaseModel):
    code: str
    name: str


class PersonalData(BaseModel):
    first_name: str | None
    last_name: str | None
    birth_year: int | None
    commune_insee: str | None
    phone: str | None
    email: str | None


class ExportedPassport(BaseModel):
    number: str
    # The pseudonymous subject of the credentials issued from this passport.
    holder_id: str
    territory: ExportedTerritory
    opened_at: UtcDateTime
    last_activity_at: UtcDateTime
    access_code_set_at: UtcDateTime | None


class ConsentRecord(BaseModel):
    version: str
    given_at: UtcDateTime
    structure: str | None
    recorded_by: str | None


class ExportedValidation(BaseModel):
    skill_code: str
    skill_label_fr: str
    level: int
    method: Method
    evidence: str | None
    observed_on: date
    recorded_at: UtcDateTime
    mediator: str | None
    structure: str | None
    status: Literal["active", "withdrawn"]
    withdrawn_at: UtcDateTime | None
    withdrawal_reason: str | None
    source_issuer: str | None


class ExportedGrant(BaseModel):
    structure: str
    territory: str
    granted_at: UtcDateTime
    granted_by: str | None
    revoked_at: UtcDateTime | None


class ExportedAccess(BaseModel):
    at: UtcDateTime
    # A reader's repeated views are one entry: how many, and the latest (None: only one).
    count: int = 1
    last_at: UtcDateTime | None = None
    action: str
    actor_kind: str
    who: str | None
    structure: str | None


class ExportedSession(BaseModel):
    signed_in_at: UtcDateTime
    last_seen_at: UtcDateTime
    expires_at: UtcDateTime
    ended_at: UtcDateTime | None


class ExportedSecurityEvent(BaseModel):
    at: UtcDateTime
    action: str
    outcome: str


class PassportExport(BaseModel):
    """Everything held about the citizen, secrets excepted (the access code exists only as a
    hash, and session tokens only as hashes: neither is the citizen's data, both are keys)."""

    format: str = EXPORT_FORMAT
    exported_at: UtcDateTime
    passport: ExportedPassport
    personal_data: PersonalData
    consent: ConsentRecord
    validations: list[ExportedValidation]
    access_grants: list[ExportedGrant]
    access_journal: list[ExportedAccess]
    sessions: list[ExportedSession]
    security_events: list[ExportedSecurityEvent]


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
        passport=ExportedPassport(
            number=passport.number,
            holder_id=passport.holder_id,
            territory=ExportedTerritory(code=territory.code, name=territory.name),
            opened_at=passport.created_at,
            last_activity_at=passport.last_activity_at,
            access_code_set_at=passport.access_code_set_at,
        ),
        personal_data=PersonalData(
            first_name=passport.first_name,
            last_name=passport.last_name,
            birth_year=passport.birth_year,
            commune_insee=passport.commune_insee,
            phone=passport.phone,
            email=passport.email,
        ),
        consent=ConsentRecord(
            version=passport.consent_version,
            given_at=passport.consent_at,
            structure=consent_structure.nom if consent_structure else None,
            recorded_by=consent_account.display_name if consent_account else None,
        ),
        validations=_validations(session, passport.id),
        access_grants=_grants(session, passport.id),
        access_journal=_journal(session, passport.id),
        sessions=[
            ExportedSession(
                signed_in_at=s.created_at,
                last_seen_at=s.last_seen_at,
                expires_at=s.expires_at,
                ended_at=s.revoked_at,
            )
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
        ExportedValidation(
            skill_code=v.skill_code,
            skill_label_fr=label,
            level=v.level,
            method=v.method,
            evidence=v.evidence,
            observed_on=v.observed_on,
            recorded_at=v.created_at,
            mediator=mediator,
            structure=structure or v.source_structure,
            status="withdrawn" if v.withdrawn_at else "active",
            withdrawn_at=v.withdrawn_at,
            withdrawal_reason=v.withdrawal_reason,
            source_issuer=v.source_issuer,
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
        ExportedGrant(
            structure=structure,
            territory=territory,
            granted_at=g.granted_at,
            granted_by=granted_by,
            revoked_at=g.revoked_at,
        )
        for g, structure, territory, granted_by in rows
    ]


def _journal(session: Session, passport_id: int) -> list[ExportedAccess]:
    # The whole journal, oldest first: the citizen's page shows the latest entries only.
    rows = session.exec(
        select(AccessLog, Account.display_name, Structure.nom)
        .outerjoin(Account, col(Account.id) == AccessLog.account_id)
        .outerjoin(Structure, col(Structure.id) == AccessLog.structure_id)
        .where(AccessLog.passport_id == passport_id)
        .order_by(col(AccessLog.id))
    ).all()
    return [
        ExportedAccess(
            at=entry.at,
            count=entry.count,
            last_at=entry.last_at,
            action=entry.action,
            actor_kind=entry.actor_kind,
            who=who,
            structure=where,
        )
        for entry, who, where in rows
    ]


# --- the readable copy ---------------------------------------------------------------------------

# Every kind the journal and the security events can hold, in the words of the web journal
# (frontend/i18n/fr.json, passport.action_*): a person never reads a dotted code.
ACTIONS_FR = {
    "passport.opened": "Ouverture du passeport",
    "passport.read": "Consultation du passeport",
    "passport.exported": "Téléchargement des données",
    "passport.merged": "Fusion de deux passeports",
    "passport.erased": "Effacement du passeport",
    "validation.created": "Validation d'une compétence",
    "validation.withdrawn": "Retrait d'une validation",
    "validation.imported": "Compétences importées d'une attestation",
    "self_assessment.created": "Auto-évaluation",
    "access_code.renewed": "Nouveau code d'accès",
    "card.printed": "Impression de la carte d'accès",
    "access.granted": "Partage avec une structure",
    "access.revoked": "Fin d'un partage",
    "access_log.read": "Consultation de ce journal",
    "credential.issued": "Attestation délivrée",
    "credential.revoked": "Attestation révoquée",
    "credential.imported": "Attestation d'un autre territoire importée",
    "wallet.offer_created": "Offre vers un portefeuille",
    "wallet.credential_issued": "Attestation ajoutée à un portefeuille",
    "citizen.signed_in": "Connexion",
    "citizen.login_failed": "Code d'accès faux",
    "citizen.link_refused": "Lien de connexion refusé",
}
# A kind added later without its words here still reads as French.
OTHER_ACTION_FR = "Autre opération sur le passeport"


def action_label(action: str) -> str:
    return ACTIONS_FR.get(action, OTHER_ACTION_FR)


ACTORS_FR = {
    "citizen": "Vous",
    "mediator": "Médiateur ou médiatrice",
    "admin": "Coordinateur ou coordinatrice",
    # The wallet that redeems an offer signs in to nothing (docs/wallet.md).
    "anonymous": "Le service, pour un portefeuille",
}
METHODS_FR = {
    Method.OBSERVATION: "Observation",
    Method.SITUATION: "Mise en situation",
    Method.EXERCISE: "Exercice",
    Method.SELF_ASSESSMENT: "Auto-évaluation",
    Method.CREDENTIAL: "Attestation",
    Method.PIX: "Résultat Pix",
}


def _day(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = aware(value)
    return value.strftime("%d/%m/%Y")


def _moment(value: datetime) -> str:
    return aware(value).strftime("%d/%m/%Y %H:%M")


def render_export_pdf(data: PassportExport) -> bytes:
    """The same content as the JSON export, for people: headings, tables, plain French."""
    pdf = Document(title=f"Passeport numérique {data.passport.number} : toutes les données")
    pdf.footer_label = f"Passeport numérique {data.passport.number}"
    pdf.set_auto_page_break(True, margin=18)
    pdf.set_margins(18, 18, 18)
    pdf.add_page()
    pdf.set_font(CORE_FONT, style="B", size=18)
    _lines(pdf, 9, "Toutes les informations de mon passeport numérique")
    pdf.set_font(CORE_FONT, size=10)
    pdf.set_text_color(80)
    _lines(
        pdf,
        5,
        f"Document préparé le {_moment(data.exported_at)} (heure universelle, UTC). "
        "Il contient tout ce que le passeport numérique garde sur vous.",
    )
    pdf.set_text_color(0)

    personal = data.personal_data
    _heading(pdf, "Qui vous êtes")
    _pairs(
        pdf,
        [
            ("Prénom", personal.first_name),
            ("Nom", personal.last_name),
            ("Année de naissance", str(personal.birth_year) if personal.birth_year else None),
            ("Commune (code INSEE)", personal.commune_insee),
            ("Téléphone", personal.phone),
            ("Adresse e-mail", personal.email),
            ("Numéro du passeport", data.passport.number),
            ("Territoire", data.passport.territory.name),
            ("Passeport ouvert le", _day(data.passport.opened_at)),
            ("Code d'accès changé le", _day(data.passport.access_code_set_at)),
        ],
    )

    _heading(pdf, "Votre accord")
    _pairs(
        pdf,
        [
            ("Accord donné le", _day(data.consent.given_at)),
            ("Texte lu (version)", data.consent.version),
            ("Lieu", data.consent.structure),
            ("Noté par", data.consent.recorded_by),
        ],
    )

    _heading(pdf, "Vos compétences")
    if data.validations:
        _table(
            pdf,
            ("Compétence", "Niveau", "Date", "Par qui, où", "État"),
            # A date (06/12/2026) and "Auto-évaluation" each on one line.
            (58, 18, 26, 38, 34),
            [
                (
                    v.skill_label_fr + (f"\nNote : {v.evidence}" if v.evidence else ""),
                    str(v.level),
                    _day(v.observed_on),
                    ", ".join(part for part in (v.mediator, v.structure) if part)
                    or METHODS_FR[v.method],
                    _status(v),
                )
                for v in data.validations
            ],
        )
    else:
        _paragraph(pdf, "Aucune compétence n'est encore notée.")

    _heading(pdf, "Les lieux d'autres territoires qui voient votre passeport")
    if data.access_grants:
        _table(
            pdf,
            ("Lieu", "Territoire", "Depuis le", "Jusqu'au"),
            (62, 50, 30, 32),
            [
                (g.structure, g.territory, _day(g.granted_at), _day(g.revoked_at) or "toujours")
                for g in data.access_grants
            ],
        )
    else:
        _paragraph(pdf, "Aucun : seuls les lieux de votre territoire voient votre passeport.")

    _heading(pdf, "Qui a ouvert ou changé votre passeport")
    _table(
        pdf,
        ("Date et heure (UTC)", "Quoi", "Qui", "Où"),
        (34, 52, 46, 42),
        [
            (
                _moment(e.at)
                + (
                    f" jusqu'à {_moment(e.last_at)} ({e.count} fois)"
                    if e.count > 1 and e.last_at
                    else ""
                ),
                action_label(e.action),
                e.who or ACTORS_FR.get(e.actor_kind, e.actor_kind),
                e.structure or "",
            )
            for e in data.access_journal
        ],
    )

    _heading(pdf, "Vos connexions")
    if data.sessions:
        _table(
            pdf,
            ("Connecté le (UTC)", "Dernière action", "Fin"),
            (58, 58, 58),
            [
                (
                    _moment(s.signed_in_at),
                    _moment(s.last_seen_at),
                    _moment(s.ended_at) if s.ended_at else _moment(s.expires_at) + " au plus tard",
                )
                for s in data.sessions
            ],
        )
    else:
        _paragraph(pdf, "Aucune connexion gardée.")

    if data.security_events:
        _heading(pdf, "Sécurité")
        _table(
            pdf,
            ("Date et heure (UTC)", "Quoi"),
            (58, 116),
            [(_moment(e.at), action_label(e.action)) for e in data.security_events],
        )
    return pdf.to_bytes()


def _status(validation: ExportedValidation) -> str:
    if validation.status == "withdrawn":
        reason = f" : {validation.withdrawal_reason}" if validation.withdrawal_reason else ""
        return f"Retirée le {_day(validation.withdrawn_at)}{reason}"
    if validation.method is Method.SELF_ASSESSMENT:
        return "Auto-évaluation"
    return "Validée"


def _heading(pdf: Document, text: str) -> None:
    # A heading alone at the foot of a page, its table on the next, reads as a missing section.
    if pdf.will_page_break(35):
        pdf.add_page()
    else:
        pdf.ln(6)
    pdf.set_font(CORE_FONT, style="B", size=14)
    _lines(pdf, 7, text)
    pdf.ln(1)
    pdf.set_font(CORE_FONT, size=10)


def _paragraph(pdf: Document, text: str) -> None:
    pdf.set_font(CORE_FONT, size=11)
    _lines(pdf, 6, text)


def _lines(pdf: Document, height: float, text: str) -> None:
    """Text across the page, left-aligned (justified text opens gaps that lose a reader)."""
    pdf.multi_cell(0, height, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _pairs(pdf: Document, pairs: Sequence[tuple[str, str | None]]) -> None:
    _table(pdf, None, (60, 114), [(name, value or "-") for name, value in pairs])


def _table(
    pdf: Document,
    headings: Sequence[str] | None,
    widths: Sequence[int],
    rows: Sequence[Sequence[str]],
) -> None:
    pdf.set_font(CORE_FONT, size=10)
    with pdf.table(
        col_widths=tuple(widths),
        width=sum(widths),
        align="LEFT",
        text_align="LEFT",
        first_row_as_headings=headings is not None,
        line_height=5,
        padding=1.2,
        borders_layout="HORIZONTAL_LINES",
    ) as table:
        if headings is not None:
            table.row(list(headings))
        for values in rows:
            table.row(list(values))


# --- erasure -------------------------------------------------------------------------------------

PERSONAL_FIELDS = (
    "first_name",
    "last_name",
    "birth_year",
    "commune_insee",
    "phone",
    "email",
    "search_name",
)


@dataclass
class Erasure:
    erased_at: datetime
    validations_kept: int = 0
    sessions_deleted: int = 0
    grants_revoked: int = 0
    journal_rows_deleted: int = 0
    merged_passports: int = 0
    credentials_revoked: int = 0


def tombstone_number(passport_id: int) -> str:
    """What replaces an erased passport's number: unique, and never a valid number (X, not P;
    hexadecimal, with the 0, 1 and vowels the number alphabet lacks), so it opens nothing."""
    return f"X-{passport_id:08X}"


def erase(
    session: Session, passport: Passport, *, actor: Principal | None, reason: ErasureReason
) -> Erasure:
    """Remove the citizen's personal data and every way into the passport; keep anonymous skills.

    Passports merged into this one are the same person's earlier duplicates: they go too.
    """
    # The row lock orders this against a validation being recorded at the same moment (see
    # passports.service.record_validation): one of the two waits for the other.
    session.flush()  # refresh() would drop changes not yet written
    session.refresh(passport, with_for_update=True)
    if passport.erased_at is not None:
        raise Conflict("This passport is already erased.", code="already_erased")
    assert passport.id is not None
    merged = _merged_into(session, passport.id)
    erasure = Erasure(erased_at=utcnow(), merged_passports=len(merged))
    for row in [passport, *merged]:
        _erase_row(session, row, erasure)
        # Every credential issued from the passport stops verifying (its status bit flips), and
        # the QR texts kept for the holder, which may carry the name, go.
        assert row.id is not None
        erasure.credentials_revoked += credentials.revoke_all(session, row.id, "erasure")
        wallet.forget_offers(session, row.id)  # offers not redeemed yet name it and its skills
    # Nothing personal in the journal: the coordinator's free text would have kept the very
    # names erased here, in a table nobody may edit. Hence a reason chosen from a list.
    audit.record(
        session,
        "passport.erased",
        actor_account_id=actor.account_id if actor else None,
        territory_id=passport.territory_id,
        target_type="passport",
        target_id=passport.id,
        reason=reason.value,
        by=_actor_kind(actor),
        validations_kept=erasure.validations_kept,
        sessions_deleted=erasure.sessions_deleted,
        grants_revoked=erasure.grants_revoked,
        journal_rows_deleted=erasure.journal_rows_deleted,
        merged_passports=erasure.merged_passports,
        credentials_revoked=erasure.credentials_revoked,
    )
    return erasure


def _actor_kind(actor: Principal | None) -> str:
    if actor is None:
        return "retention"
    if actor.kind is CallerKind.CITIZEN:
        return "citizen"
    return actor.role.value if actor.role else "account"


def _merged_into(session: Session, passport_id: int) -> list[Passport]:
    """Every passport merged into this one, directly or through another merged one."""
    found: dict[int, Passport] = {}
    pending = [passport_id]
    while pending:
        children = session.exec(
            select(Passport).where(col(Passport.merged_into_id).in_(pending))
        ).all()
        # The guard against a loop costs nothing; merging never makes one, but data outlives code.
        pending = [c.id for c in children if c.id is not None and c.id not in found]
        found.update((c.id, c) for c in children if c.id is not None)
    found.pop(passport_id, None)
    return list(found.values())


def _erase_row(session: Session, passport: Passport, erasure: Erasure) -> None:
    assert passport.id is not None
    old_number = passport.number
    for name in PERSONAL_FIELDS:
        setattr(passport, name, None)
    passport.access_code_hash = None
    passport.access_code_set_at = None
    # The number is on a card the citizen may keep, the holder id in every credential they were
    # given: either would tie the anonymous rows left here back to them.
    passport.number = tombstone_number(passport.id)
    passport.holder_id = secrets.token_hex(16)
    if passport.erased_at is None:
        passport.erased_at = erasure.erased_at

    # Free text may name anyone; the skill, level, date, method and place stay, and count.
    kept = session.exec(
        update(Validation)
        .where(col(Validation.passport_id) == passport.id)
        .values(
            evidence=None,
            withdrawal_reason=None,
            idempotency_key=None,
            # A hash of a body that held the evidence: whoever knew the text could confirm it.
            request_hash=None,
            # Another territory's records link its credential ids to the person.
            source_credential_id=None,
        )
    )
    erasure.validations_kept += kept.rowcount
    ended = session.exec(
        delete(CitizenSession).where(col(CitizenSession.passport_id) == passport.id)
    )
    erasure.sessions_deleted += ended.rowcount
    # Sign-in links by e-mail are ways in too.
    session.exec(delete(CitizenLink).where(col(CitizenLink.passport_id) == passport.id))
    revoked = session.exec(
        update(AccessGrant)
        .where(col(AccessGrant.passport_id) == passport.id, col(AccessGrant.revoked_at).is_(None))
        .values(revoked_at=erasure.erased_at)
    )
    erasure.grants_revoked += revoked.rowcount
    # The journal was kept for the citizen to see who looked; with nobody left to show it to,
    # it would only be a timeline of one person's visits.
    forgotten = session.exec(delete(AccessLog).where(col(AccessLog.passport_id) == passport.id))
    erasure.journal_rows_deleted += forgotten.rowcount
    session.exec(
        delete(RateLimitBucket).where(col(RateLimitBucket.key) == f"citizen:passport:{old_number}")
    )


# --- retention -----------------------------------------------------------------------------------


def retention_cutoff(now: datetime, years: int) -> datetime:
    """`years` years before `now` (29 February falls back to the 28th)."""
    try:
        return now.replace(year=now.year - years)
    except ValueError:
        return (now - timedelta(days=1)).replace(year=now.year - years)


def purge_inactive(session: Session, *, older_than: datetime, dry_run: bool) -> list[int]:
    """Erase the passports nobody has used since `older_than`; the ids, erased or (dry run) not.

    A passport merged into another follows it: it is never purged on its own dates.
    """
    query = (
        select(Passport)
        .where(
            col(Passport.erased_at).is_(None),
            col(Passport.merged_into_id).is_(None),
            col(Passport.last_activity_at) < older_than,
        )
        .order_by(col(Passport.id))
    )
    if not dry_run:
        # A passport used while the purge runs must not be erased under the mediator's hands.
        query = query.with_for_update()
    stale = session.exec(query).all()
    if not dry_run:
        for passport in stale:
            erase(session, passport, actor=None, reason=ErasureReason.RETENTION)
    return [passport.id for passport in stale if passport.id is not None]
