"""Issue, list and revoke credentials; publish the status lists; verify for this instance.

Services know nothing of HTTP (see app/credentials/router.py). The format itself, signatures and
the verification pipeline live in app/credentials/format.py and statuslist.py.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from joserfc.jwk import ECKey
from sqlmodel import Session, col, select

from app.accounts.principal import Principal
from app.audit import service as audit
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.schemas import from_entity
from app.core.settings import Settings
from app.core.time import aware, utcnow
from app.credentials import format as fmt
from app.credentials import keys, verifier
from app.credentials.models import LIST_ID, LIST_SIZE, Credential, StatusListRow
from app.credentials.schemas import CredentialPublic
from app.credentials.statuslist import StatusList, status_list_jwt
from app.framework.models import Framework, Skill
from app.passports import numbers
from app.passports import service as passports
from app.passports.models import Method, Passport, Validation
from app.structures.models import Structure
from app.territory.models import Territory

# The lengths structure names are cut to, in turn, when a credential's QR is above the target.
STRUCTURE_NAME_STEPS = (fmt.MAX_STRUCTURE_CHARS, 40, 28, 20)


def status_uri(territory: Territory) -> str:
    return verifier.status_uri(territory.issuer_url)


def _status_row(session: Session, territory_id: int) -> StatusListRow:
    row = session.get(StatusListRow, (territory_id, LIST_ID), with_for_update=True)
    if row is None:
        row = StatusListRow(
            territory_id=territory_id, list_id=LIST_ID, size=LIST_SIZE, bits=bytes(LIST_SIZE // 8)
        )
        session.add(row)
        session.flush()
    return row


def _free_index(session: Session, territory_id: int) -> int:
    for _ in range(32):
        idx = secrets.randbelow(LIST_SIZE)
        taken = session.exec(
            select(Credential.id).where(
                Credential.territory_id == territory_id, Credential.status_index == idx
            )
        ).first()
        if taken is None:
            return idx
    raise Conflict("The status list is full; rotate to a new list.", code="status_list_full")


CODE_PREFIX = "V-"
WALLET_FORMAT = "dc+sd-jwt"


def _free_code(session: Session) -> str:
    # 27^7 codes: a clash is rare, and the unique index still decides.
    for _ in range(8):
        code = numbers.new_number(CODE_PREFIX)
        if session.exec(select(Credential.id).where(Credential.code == code)).first() is None:
            return code
    raise Conflict("Could not allocate a verification code; retry.", code="code_exhausted")


@dataclass(frozen=True)
class Chosen:
    code: str
    level: int
    on: date
    structure: str


def chosen_skills(session: Session, passport: Passport, codes: Sequence[str]) -> list[Chosen]:
    """For each code, the passport's best active validation by a mediator (level, then date)."""
    rows = session.exec(
        select(Validation, Structure.nom)
        .outerjoin(Structure, col(Structure.id) == Validation.structure_id)
        .where(
            Validation.passport_id == passport.id,
            col(Validation.skill_code).in_(codes),
            col(Validation.withdrawn_at).is_(None),
            Validation.method != Method.SELF_ASSESSMENT,
        )
    ).all()
    best: dict[str, tuple[Validation, str | None]] = {}
    for validation, structure in rows:
        if not fmt.EPOCH <= validation.observed_on <= fmt.day_from_number(fmt.MAX_DAY):
            # Stored before the input policy (docs/api.md) bounded the dates: the format cannot
            # write it, so it cannot back a credential.
            continue
        current = best.get(validation.skill_code)
        if current is None or (validation.level, validation.observed_on) > (
            current[0].level,
            current[0].observed_on,
        ):
            best[validation.skill_code] = (validation, structure)
    missing = [code for code in codes if code not in best]
    if missing:
        raise InvalidInput(
            f"No active validation for {', '.join(missing)} in this passport.",
            code="skill_not_validated",
            skills=missing,
        )
    return [
        Chosen(
            code=code,
            level=best[code][0].level,
            on=best[code][0].observed_on,
            structure=best[code][1] or best[code][0].source_structure or "—",
        )
        for code in codes
    ]


def _framework_versions(session: Session, codes: Sequence[str]) -> dict[str, str]:
    frameworks = {f.code: f.version for f in session.exec(select(Framework)).all()}
    used = {
        s.framework_code
        for s in session.exec(select(Skill).where(col(Skill.code).in_(codes))).all()
    }
    return {code: frameworks[code] for code in sorted(used)}


@dataclass(frozen=True)
class Issued:
    credential: Credential
    qr_text: str
    qr_version: int


def issue(
    session: Session,
    settings: Settings,
    principal: Principal,
    passport: Passport,
    *,
    skill_codes: Sequence[str],
    validity_days: int,
    with_name: bool,
) -> Issued:
    """Sign the chosen skills (and nothing else) into a credential for the passport's holder."""
    codes = list(dict.fromkeys(skill_codes))
    if not codes:
        raise InvalidInput("Choose at least one skill.", code="no_skills")
    if validity_days > settings.credential_max_days:
        raise InvalidInput(
            f"A credential is valid {settings.credential_max_days} days at most.",
            code="validity_too_long",
            max_days=settings.credential_max_days,
        )
    assert passport.id is not None
    territory = session.get(Territory, passport.territory_id)
    assert territory is not None and territory.id is not None
    chosen = chosen_skills(session, passport, codes)
    kid, key = keys.signing_key(session, territory, settings)
    _status_row(session, territory.id)  # locks the list: two issuances never share an index
    idx = _free_index(session, territory.id)
    now = utcnow()
    expires = now + timedelta(days=validity_days)
    jti = secrets.token_urlsafe(12)
    name = f"{passport.first_name or ''} {passport.last_name or ''}".strip() if with_name else None
    skills = [
        fmt.SkillClaim(code=c.code, level=c.level, date=c.on, structure=c.structure) for c in chosen
    ]
    versions = _framework_versions(session, codes)
    # Long structure names are what makes a QR big. They are shortened, step by step, until the
    # QR fits the version the format is sized for; the attestation prints them in full.
    for structure_chars in STRUCTURE_NAME_STEPS:
        claims = fmt.build_claims(
            iss=territory.issuer_url,
            sub=passport.holder_id,
            jti=jti,
            iat=int(now.timestamp()),
            exp=int(expires.timestamp()),
            skills=skills,
            fv=versions,
            status_uri=status_uri(territory),
            status_idx=idx,
            name=name or None,
            structure_chars=structure_chars,
        )
        qr_text = fmt.jws_to_qr_text(fmt.sign(claims, key))
        version = fmt.qr_version(qr_text)
        if version <= fmt.TARGET_QR_VERSION:
            break
    if version > fmt.MAX_QR_VERSION:
        # Raised before anything is written: the slot and the code chosen above are not kept.
        raise InvalidInput(
            f"These {len(codes)} skills need a QR of version {version}, larger than the "
            f"{fmt.MAX_QR_VERSION} a phone reads reliably from paper: choose fewer skills"
            + (" or leave the name out." if name else "."),
            code="credential_too_large",
            qr_version=version,
        )
    credential = Credential(
        territory_id=territory.id,
        passport_id=passport.id,
        jti=jti,
        code=_free_code(session),
        kid=kid,
        status_index=idx,
        skill_codes=codes,
        with_name=with_name,
        issued_at=now,
        expires_at=expires,
        qr_text=qr_text,
    )
    session.add(credential)
    session.flush()
    passports.journal(session, principal, passport, "credential.issued")
    audit.record_on(session, "credential.issued", credential, principal, skills=len(codes))
    return Issued(credential, qr_text, version)


def record_wallet_copy(
    session: Session,
    territory: Territory,
    passport: Passport,
    *,
    kid: str,
    skill_codes: Sequence[str],
    with_name: bool,
    issued_at: datetime,
    expires_at: datetime,
) -> Credential:
    """The row of a credential issued to a wallet (app/wallet/): a slot of the territory's status
    list, so that revoking it here revokes the wallet's copy; no QR text (the wallet holds it).

    Call it before signing: the SD-JWT carries the slot it is given.
    """
    assert territory.id is not None and passport.id is not None
    _status_row(session, territory.id)  # locks the list: two issuances never share an index
    credential = Credential(
        territory_id=territory.id,
        passport_id=passport.id,
        jti=secrets.token_urlsafe(12),
        code=_free_code(session),
        kid=kid,
        status_index=_free_index(session, territory.id),
        skill_codes=list(skill_codes),
        with_name=with_name,
        issued_at=issued_at,
        expires_at=expires_at,
        format=WALLET_FORMAT,
    )
    session.add(credential)
    session.flush()
    return credential


def validated_codes(session: Session, passport: Passport) -> list[str]:
    """Every skill with an active validation by a mediator, in the framework's order."""
    return list(
        session.exec(
            select(Validation.skill_code)
            .join(Skill, col(Skill.code) == Validation.skill_code)
            .where(
                Validation.passport_id == passport.id,
                col(Validation.withdrawn_at).is_(None),
                Validation.method != Method.SELF_ASSESSMENT,
            )
            .distinct()
            .order_by(Validation.skill_code)
        ).all()
    )


def list_for(session: Session, passport: Passport) -> Sequence[Credential]:
    return session.exec(
        select(Credential)
        .where(Credential.passport_id == passport.id)
        .order_by(col(Credential.id).desc())
    ).all()


def public(credential: Credential) -> CredentialPublic:
    """The credential as the API shows it."""
    return from_entity(
        CredentialPublic, credential, id=credential.id or 0, skills=credential.skill_codes
    )


def attestation_pdf(session: Session, settings: Settings, credential: Credential) -> bytes:
    """The printable attestation of a credential that can still be shown."""
    from app.credentials import attestation

    if credential.qr_text is None:
        raise NotFound("This credential's QR was erased.", code="unknown_credential")
    claims = fmt.parse_claims(fmt.decode_payload(_payload(credential.qr_text)))
    labels = {
        s.code: s.label_fr
        for s in session.exec(
            select(Skill).where(col(Skill.code).in_([k.code for k in claims.skills]))
        ).all()
    }
    territory = session.get(Territory, credential.territory_id)
    assert territory is not None
    return attestation.render(
        credential,
        territory,
        [(labels.get(k.code, k.code), k.level, k.date.strftime("%d/%m/%Y")) for k in claims.skills],
        holder_name=claims.name,
        public_url=settings.public_url,
    )


def _payload(qr_text: str) -> bytes:
    token = fmt.qr_text_to_jws(qr_text)
    return fmt.b64url_decode(token.split(".")[1])


def get_for(session: Session, passport: Passport, credential_id: int) -> Credential:
    credential = session.get(Credential, credential_id)
    if credential is None or credential.passport_id != passport.id:
        raise NotFound("No such credential in this passport.", code="unknown_credential")
    return credential


def _flip(session: Session, credential: Credential, reason: str) -> bool:
    if credential.revoked_at is not None:
        return False
    row = _status_row(session, credential.territory_id)
    bits = StatusList.from_bytes(row.bits)
    bits.set(credential.status_index, 1)
    row.bits = bits.to_bytes()
    row.updated_at = utcnow()
    credential.revoked_at = utcnow()
    credential.revocation_reason = reason
    return True


def revoke(
    session: Session, principal: Principal, passport: Passport, credential_id: int, reason: str
) -> Credential:
    credential = get_for(session, passport, credential_id)
    if not _flip(session, credential, reason):
        raise Conflict("This credential is already revoked.", code="already_revoked")
    passports.journal(session, principal, passport, "credential.revoked")
    audit.record_on(
        session,
        "credential.revoked",
        credential,
        principal,
        reason=reason,
        by=principal.kind.value,  # the journal names a citizen revoking their own credential
    )
    return credential


def revoke_all(session: Session, passport_id: int, reason: str) -> int:
    """Revoke every credential of a passport (erasure), and unlink them from the person.

    The QR texts go (they may carry the name). The code printed on paper and the jti inside the
    QR are replaced: the typed code then finds nothing (404, like a code never issued), and the
    QR's jti matches no row. The status bit stays set, so the paper QR still verifies as revoked.
    """
    count = 0
    for credential in session.exec(
        select(Credential).where(Credential.passport_id == passport_id)
    ).all():
        count += int(_flip(session, credential, reason))
        credential.qr_text = None
        assert credential.id is not None
        credential.code = tombstone_code(credential.id)
        credential.jti = secrets.token_hex(16)
    return count


def tombstone_code(credential_id: int) -> str:
    """What replaces an erased person's verification code: unique, never a valid code (no V-)."""
    return f"X{credential_id:09X}"


def status_list_token(session: Session, settings: Settings, territory: Territory) -> str:
    """The territory's status list as a signed statuslist+jwt, valid a little over its ttl.

    Call it in a writing transaction: a territory's first token makes its signing key.
    """
    key = keys.signing_key(session, territory, settings)[1]
    return _status_token(session, territory, key, settings.status_ttl_seconds)


def published_status_token(
    session: Session, settings: Settings, territory: Territory
) -> str | None:
    """The same, for read-only callers: None for a territory that never signed anything."""
    found = keys.existing_signing_key(session, territory, settings)
    if found is None:
        return None
    return _status_token(session, territory, found[1], settings.status_ttl_seconds)


def _status_token(session: Session, territory: Territory, key: ECKey, ttl: int) -> str:
    assert territory.id is not None
    row = session.get(StatusListRow, (territory.id, LIST_ID))
    bits = StatusList.from_bytes(row.bits) if row else StatusList(LIST_SIZE)
    now = int(utcnow().timestamp())
    return status_list_jwt(
        bits,
        key=key,
        uri=status_uri(territory),
        iat=now,
        exp=now + 24 * 3600,
        ttl=ttl,
        iss=territory.issuer_url,
    )


def qr_text_for_code(session: Session, typed: str) -> str | fmt.Outcome:
    """The QR text a typed verification code names, to verify like a scanned one; or the verdict
    when there is nothing to verify (not a code; the holder's data erased)."""
    checked = numbers.check_number(typed, CODE_PREFIX)
    code = checked.number
    if code is None:
        # "this verification code has a typing mistake: …" when the check character caught one.
        return fmt.Outcome(fmt.Result.MALFORMED, checked.explain("verification code"))
    credential = session.exec(select(Credential).where(Credential.code == code)).first()
    if credential is None:
        raise NotFound("No credential has this code here.", code="unknown_code")
    if credential.qr_text is None:
        # Not made any more (an erasure replaces the code), but rows may predate that.
        raise NotFound("No credential has this code here.", code="unknown_code")
    return credential.qr_text


def expired(credential: Credential) -> bool:
    return aware(credential.expires_at) <= utcnow()
