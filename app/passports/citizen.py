"""The citizen's own access: number and access code, no e-mail needed.

Codes are checked outside the request's transaction (as passwords are, see app.accounts.service):
every guess is counted per passport and per client address before it is checked, given back if
it was right, and journaled if wrong, even though the request fails (app.core.ratelimit).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.accounts import authn, security
from app.accounts.principal import CallerKind, Principal
from app.audit import service as audit
from app.core import addresses, mail, ratelimit
from app.core.db import transaction
from app.core.errors import Unauthenticated
from app.core.settings import Settings
from app.core.time import aware, utcnow
from app.passports import numbers, service
from app.passports.models import AccessGrant, CitizenLink, CitizenSession, Passport
from app.passports.service import journal

WRONG = "This number and code do not match. Check the card, or ask your mediator for a new code."


def _window(settings: Settings) -> timedelta:
    return timedelta(minutes=settings.login_lockout_minutes)


def check_code(
    engine: Engine, settings: Settings, number: str, code: str, address: str | None
) -> int:
    """The id of the passport this number and code open; refusals are counted and journaled."""
    window = _window(settings)
    canonical = numbers.normalise_number(number)
    keys = [f"citizen:ip:{address}"]
    ratelimit.attempt(engine, keys[0], limit=settings.ip_max_failures, window=window)
    if canonical:
        keys.append(f"citizen:passport:{canonical}")
        ratelimit.attempt(engine, keys[1], limit=settings.login_max_failures, window=window)
    with transaction(engine, write=False) as session:
        passport = (
            session.exec(select(Passport).where(Passport.number == canonical)).first()
            if canonical
            else None
        )
        usable = passport is not None and passport.is_live
        code_hash = passport.access_code_hash if passport and usable else None
        passport_id = passport.id if passport and usable else None
        territory_id = passport.territory_id if passport else None
    valid = security.verify_password(code_hash, normalise_code(code))
    if not valid or passport_id is None:
        audit.record_now(
            engine,
            "citizen.login_failed",
            outcome="failure",
            territory_id=territory_id,
            target_type="passport",
            target_id=passport_id,
            client_address=address,
        )
        raise Unauthenticated(WRONG, code="invalid_access_code")
    for key in keys:
        ratelimit.succeeded(engine, key)
    return passport_id


LINK_MINUTES = 30


def send_link(session: Session, settings: Settings, email: str) -> None:
    """Mail a one-time sign-in link to the citizen with this address, if there is one.

    The answer is the same either way, so it does not tell whether the address is known.
    """
    address = email.strip().lower()
    passport = session.exec(
        select(Passport).where(
            Passport.email == address,
            Passport.is_live,
        )
    ).first()
    if passport is None or passport.id is None:
        return
    raw = security.new_token()
    session.add(
        CitizenLink(
            token_hash=security.token_hash(raw),
            passport_id=passport.id,
            expires_at=utcnow() + timedelta(minutes=LINK_MINUTES),
        )
    )
    # In the fragment, so the token never reaches a server log or a Referer header.
    link = addresses.citizen_link(settings.public_url, raw)
    mail.send(
        settings,
        to=address,
        subject="Votre lien pour ouvrir votre passeport numérique",
        body=(
            "Bonjour,\n\nPour ouvrir votre passeport numérique, cliquez sur ce lien.\n"
            f"Il marche une seule fois, pendant {LINK_MINUTES} minutes :\n{link}\n\n"
            "Si vous n'avez rien demandé, ne faites rien.\n"
        ),
    )


def check_link(engine: Engine, settings: Settings, token: str, address: str | None) -> int:
    """The passport a sign-in link opens; a wrong or used link is counted and journaled."""
    window = _window(settings)
    key = f"citizen:ip:{address}"
    ratelimit.attempt(engine, key, limit=settings.ip_max_failures, window=window)
    with transaction(engine, write=False) as session:
        link = session.exec(
            select(CitizenLink).where(CitizenLink.token_hash == security.token_hash(token))
        ).first()
        usable = link is not None and link.used_at is None and aware(link.expires_at) > utcnow()
        passport_id = link.passport_id if link is not None and usable else None
    if passport_id is None:
        audit.record_now(engine, "citizen.link_refused", outcome="failure", client_address=address)
        raise Unauthenticated(
            "This link does not work any more: ask for a new one.", code="invalid_link"
        )
    ratelimit.succeeded(engine, key)
    return passport_id


def use_link(session: Session, token: str) -> None:
    """Spend the link, once: a second tab with the same link is refused."""
    link = session.exec(
        select(CitizenLink)
        .where(CitizenLink.token_hash == security.token_hash(token))
        .with_for_update()
    ).first()
    if link is None or link.used_at is not None:
        raise Unauthenticated(
            "This link does not work any more: ask for a new one.", code="invalid_link"
        )
    link.used_at = utcnow()


def normalise_code(code: str) -> str:
    return code.strip().upper().replace(" ", "").replace("-", "")


@dataclass
class CitizenLogin:
    token: str
    csrf_token: str
    expires_at_hours: int


def start_session(
    session: Session, settings: Settings, passport_id: int, address: str | None
) -> CitizenLogin:
    passport = session.get(Passport, passport_id)
    assert passport is not None
    raw = security.new_token()
    now = utcnow()
    citizen_session = CitizenSession(
        token_hash=security.token_hash(raw),
        passport_id=passport_id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=settings.session_max_hours),
    )
    session.add(citizen_session)
    session.flush()
    principal = Principal(
        kind=CallerKind.CITIZEN,
        passport_id=passport_id,
        territory_id=passport.territory_id,
        session_id=citizen_session.id,
        client_address=address,
    )
    journal(session, principal, passport, "citizen.signed_in")
    return CitizenLogin(
        raw,
        security.csrf_token(settings.secret_key.get_secret_value(), raw),
        settings.session_max_hours,
    )


def renew_code(session: Session, principal: Principal, passport: Passport) -> str:
    """A new access code; the old one stops working, and the citizen's sessions end."""
    code = numbers.new_access_code()
    passport.access_code_hash = security.hash_password(code)
    passport.access_code_set_at = utcnow()
    now = utcnow()
    for citizen_session in session.exec(
        select(CitizenSession).where(
            CitizenSession.passport_id == passport.id, col(CitizenSession.revoked_at).is_(None)
        )
    ).all():
        citizen_session.revoked_at = now
    journal(session, principal, passport, "access_code.renewed")
    return code


def logout(session: Session, principal: Principal) -> None:
    authn.end_session(session, principal)


def grant_with_code(
    session: Session,
    engine: Engine,
    settings: Settings,
    principal: Principal,
    passport_id: int,
    *,
    structure_id: int,
    code: str,
    address: str | None,
) -> AccessGrant:
    """Share a passport with a structure of another territory, the citizen present: a mediator
    proves it, and the citizen's consent, with the citizen's access code.

    Visibility first (404), then the code, both before ``session`` (the request's transaction)
    is used: a wrong code is counted and journaled in a transaction of its own
    (:func:`check_code`), which on SQLite could not write while ``session`` held the lock.
    """
    with transaction(engine, write=False) as peek:
        number = service.load(peek, principal, passport_id).number
    check_code(engine, settings, number, code, address)
    passport = service.load(session, principal, passport_id)
    service.ensure_holder(principal, passport)
    return service.grant(session, principal, passport, structure_id)
