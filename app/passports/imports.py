"""Import what another territory verified: a credential's skills become validations here.

The credential is verified first (app/credentials/verifier.py, outside the writing transaction:
it may need an issuer's status list); only a ``valid`` verdict is imported. Each skill becomes a
validation with the method ``credential`` that keeps its provenance (issuer, credential id,
structure name, the original date). Importing the same credential again adds nothing: the
passport row is locked for the import and a unique constraint backs it up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlmodel import Session, col, select

from app.accounts.principal import Principal
from app.audit import service as audit
from app.core.errors import InvalidInput
from app.core.time import utcnow
from app.credentials import format as fmt
from app.framework.models import Skill
from app.passports import service as passports
from app.passports.models import Method, Passport, Validation
from app.passports.schemas import ImportResult, ImportSkipped

if TYPE_CHECKING:
    from app.credentials.verifier import Verifier


@dataclass
class Imported:
    issuer: str
    credential_id: str
    created: list[Validation] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def import_qr(
    session: Session, principal: Principal, passport: Passport, verifier: Verifier, qr_text: str
) -> ImportResult:
    """Verify a credential's QR text here, then import its skills into ``passport`` (see
    :func:`import_credential`); what was imported, already there, or skipped."""
    verdict, snapshot = verifier.verify(qr_text)
    issuer = snapshot.issuers.get(verdict.claims.iss) if verdict.claims else None
    done = import_credential(
        session,
        principal,
        passport,
        verdict,
        issuer.name if issuer else None,
        snapshot.stale_since(verdict.claims.iss, utcnow()) if verdict.claims else None,
    )
    session.flush()
    return ImportResult(
        issuer=done.issuer,
        territory=issuer.name if issuer else None,
        credential_id=done.credential_id,
        imported=[passports.validation_public(session, v.id or 0) for v in done.created],
        already_imported=done.already,
        skipped=[ImportSkipped(code=c, reason=r) for c, r in done.skipped],
    )


def import_credential(
    session: Session,
    principal: Principal,
    passport: Passport,
    verdict: fmt.Outcome,
    issuer_name: str | None,
    stale_since: datetime | None = None,
) -> Imported:
    claims = verdict.claims
    if not verdict.valid or claims is None:
        raise InvalidInput(
            f"Only a valid credential is imported; this one is {verdict.result.value}: "
            f"{verdict.reason}.",
            code="credential_not_valid",
            result=verdict.result.value,
        )
    if stale_since is not None:
        # Shown with a warning to a verifier, but not written into a passport: the issuer may
        # have left the federation since the list went stale.
        raise InvalidInput(
            "The federation trust list vouching for this issuer is stale since "
            f"{stale_since.isoformat(timespec='seconds')}; refresh it, then import.",
            code="credential_not_valid",
            result="stale_trust_list",
        )
    assert passport.id is not None and principal.account_id is not None
    # Locked like a validation, so an erasure and an import are ordered (see record_validation).
    session.flush()
    session.refresh(passport, with_for_update=True)
    passports.ensure_live(session, passport)
    if claims.sub == passport.holder_id:
        raise InvalidInput(
            "This credential was issued from this very passport.", code="own_credential"
        )
    result = Imported(issuer=claims.iss, credential_id=claims.jti)
    codes = [k.code for k in claims.skills]
    known = {s.code: s for s in session.exec(select(Skill).where(col(Skill.code).in_(codes))).all()}
    done = set(
        session.exec(
            select(Validation.skill_code).where(
                Validation.passport_id == passport.id,
                Validation.source_issuer == claims.iss,
                Validation.source_credential_id == claims.jti,
            )
        ).all()
    )
    where = f" ({issuer_name})" if issuer_name else ""
    for item in claims.skills:
        skill = known.get(item.code)
        if item.code in done:
            result.already.append(item.code)
        elif skill is None:
            # A framework version this instance does not have yet: said, not guessed.
            result.skipped.append((item.code, "unknown_skill"))
        elif skill.level is not None and skill.level != item.level:
            result.skipped.append((item.code, "level_mismatch"))
        else:
            validation = Validation(
                passport_id=passport.id,
                skill_code=skill.code,
                level=item.level,
                method=Method.CREDENTIAL,
                evidence=f"Importé d'une attestation vérifiée{where}.",
                observed_on=item.date,
                account_id=principal.account_id,
                structure_id=None,
                source_issuer=claims.iss,
                source_credential_id=claims.jti,
                source_structure=item.structure,
            )
            session.add(validation)
            result.created.append(validation)
            done.add(item.code)
    if result.created:
        session.flush()
        passports.journal(session, principal, passport, "validation.imported")
        audit.record_on(
            session,
            "credential.imported",
            passport,
            principal,
            issuer=claims.iss,
            skills=len(result.created),
        )
    return result
