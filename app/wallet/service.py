"""OpenID4VCI 1.0 issuance (pre-authorized code flow) of the passport as an SD-JWT VC.

Services know nothing of HTTP (see app/wallet/router.py). The flow (docs/wallet.md):

1. a mediator or the citizen makes an offer (:func:`create_offer`): single use, valid
   ``PASSEPORT_WALLET_OFFER_MINUTES``, opened by a six-digit PIN shown apart from its QR;
2. the wallet trades the pre-authorized code and the PIN for an access token
   (:func:`check_pin` outside the request's transaction, counted like access codes, then
   :func:`redeem`);
3. it asks for a nonce (:func:`new_nonce`), proves possession of its key with it, and receives
   the credential (:func:`issue_credential`), whose row in the credential table takes a slot of
   the territory's status list.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import qrcode
import qrcode.image.svg
from sqlalchemy import Engine
from sqlmodel import Session, col, delete, select, update

from app.accounts import security
from app.accounts.principal import ANONYMOUS, Principal
from app.audit import service as audit
from app.core import ratelimit
from app.core.db import transaction
from app.core.errors import InvalidInput, OAuthError
from app.core.settings import Settings
from app.core.time import aware, utcnow
from app.credentials import keys
from app.credentials import service as credentials
from app.framework.models import Skill
from app.passports import service as passports
from app.passports.models import Passport
from app.territory import service as territories
from app.territory.models import Territory
from app.wallet import sdjwt
from app.wallet.models import WalletNonce, WalletOffer

CONFIGURATION_ID = "passeport_numerique_competences"
PRE_AUTHORIZED_GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
PIN_LENGTH = 6
TOKEN_SECONDS = 300
NONCE_SECONDS = 300
PROOF = "proof"
PRESENTATION = "presentation"
VCT_PATH = "/wallet/vct/competences-numeriques"


# --- Names ------------------------------------------------------------------------------------


def issuer_id(public_url: str, territory_code: str) -> str:
    """The territory's credential issuer identifier (and authorization server)."""
    return f"{public_url.rstrip('/')}/wallet/{quote(territory_code, safe='')}"


def vct(public_url: str) -> str:
    return f"{public_url.rstrip('/')}{VCT_PATH}"


def qr_issuer_for(wallet_iss: str) -> str | None:
    """The issuer URL (of the QR credentials and the trust list) a wallet issuer stands for:
    ``{base}/wallet/{code}`` is the territory whose issuer URL is ``{base}/t/{code}``."""
    base, sep, code = wallet_iss.rpartition("/wallet/")
    if not sep or not base or not code or "/" in code:
        return None
    return f"{base}/t/{code}"


# --- Errors, in the OAuth and OpenID4VCI vocabulary as well as ours --------------------------


def _oauth(code: str, error: str, detail: str) -> OAuthError:
    # The problem document carries the OAuth ``error`` member that wallets react to.
    return OAuthError(detail, code=code, error=error)


def _hash(value: str) -> str:
    return security.token_hash(value)


def _pin_hash(settings: Settings, offer_code_hash: str, pin: str) -> str:
    key = settings.secret_key.get_secret_value().encode()
    return hmac.new(key, f"{offer_code_hash}:{pin}".encode(), hashlib.sha256).hexdigest()


# --- Offers -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OfferMade:
    offer: WalletOffer
    offer_uri: str
    credential_offer: dict[str, Any]
    tx_code: str


def offer_qr_svg(offer_uri: str) -> str:
    """The offer's QR code (SVG), for the wallet app's camera; error correction M, the URI as
    bytes (it is not the QR credential's digit format)."""
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=4, border=4)
    qr.add_data(offer_uri)
    qr.make(fit=True)
    svg: bytes = qr.make_image(image_factory=qrcode.image.svg.SvgPathImage).to_string(
        encoding="utf-8"
    )
    return svg.decode("utf-8")


def create_offer(
    session: Session,
    settings: Settings,
    principal: Principal,
    passport: Passport,
    *,
    skill_codes: Sequence[str],
    with_name: bool,
) -> OfferMade:
    """A single-use credential offer of the chosen skills (checked now, signed at redemption)."""
    codes = list(dict.fromkeys(skill_codes))
    if not codes:
        raise InvalidInput("Choose at least one skill.", code="no_skills")
    credentials.chosen_skills(session, passport, codes)  # each one validated by a mediator
    territory = session.get(Territory, passport.territory_id)
    assert territory is not None and territory.id is not None and passport.id is not None
    code = secrets.token_urlsafe(32)
    pin = f"{secrets.randbelow(10**PIN_LENGTH):0{PIN_LENGTH}d}"
    code_hash = _hash(code)
    offer = WalletOffer(
        territory_id=territory.id,
        passport_id=passport.id,
        code_hash=code_hash,
        pin_hash=_pin_hash(settings, code_hash, pin),
        skill_codes=codes,
        with_name=with_name,
        expires_at=utcnow() + timedelta(minutes=settings.wallet_offer_minutes),
    )
    session.add(offer)
    session.flush()
    credential_offer = {
        "credential_issuer": issuer_id(settings.public_url, territory.code),
        "credential_configuration_ids": [CONFIGURATION_ID],
        "grants": {
            PRE_AUTHORIZED_GRANT: {
                "pre-authorized_code": code,
                "tx_code": {
                    "input_mode": "numeric",
                    "length": PIN_LENGTH,
                    "description": "Code à 6 chiffres affiché à côté du QR code",
                },
            }
        },
    }
    # By value: the QR holds the whole offer, so the wallet needs no extra round trip.
    encoded = quote(json.dumps(credential_offer, separators=(",", ":")), safe="")
    passports.journal(session, principal, passport, "wallet.offer_created")
    audit.record_on(
        session,
        "wallet.offer_created",
        passport,
        principal,
        skills=len(codes),
        by=principal.kind.value,
    )
    return OfferMade(
        offer, f"openid-credential-offer://?credential_offer={encoded}", credential_offer, pin
    )


def check_pin(
    engine: Engine,
    settings: Settings,
    territory_code: str,
    code: str,
    pin: str | None,
    address: str | None,
) -> int:
    """The offer this pre-authorized code and PIN open; every wrong guess is counted (per
    offer and per address, like access codes) and journaled, even though the request fails."""
    window = timedelta(minutes=settings.login_lockout_minutes)
    ratelimit.attempt(engine, f"wallet:ip:{address}", limit=settings.ip_max_failures, window=window)
    code_hash = _hash(code)
    with transaction(engine, write=False) as session:
        offer = session.exec(select(WalletOffer).where(WalletOffer.code_hash == code_hash)).first()
        territory = session.get(Territory, offer.territory_id) if offer else None
        found = (
            (offer.id, offer.pin_hash, offer.redeemed_at, aware(offer.expires_at))
            if offer is not None and territory is not None and territory.code == territory_code
            else None
        )
        territory_id = territory.id if territory else None
    if found is None:
        audit.record_now(engine, "wallet.code_refused", outcome="failure", client_address=address)
        raise _oauth("wallet_offer_unknown", "invalid_grant", "No such offer: ask for a new one.")
    offer_id, pin_hash, redeemed_at, expires_at = found
    assert offer_id is not None
    key = f"wallet:offer:{offer_id}"
    ratelimit.attempt(engine, key, limit=settings.login_max_failures, window=window)
    right = pin is not None and hmac.compare_digest(
        pin_hash, _pin_hash(settings, code_hash, pin.strip())
    )
    if not right:
        audit.record_now(
            engine,
            "wallet.pin_refused",
            outcome="failure",
            territory_id=territory_id,
            target_type="wallet_offer",
            target_id=offer_id,
            client_address=address,
        )
        raise _oauth("wallet_wrong_pin", "invalid_grant", "This PIN is not the offer's.")
    ratelimit.succeeded(engine, key)
    ratelimit.succeeded(engine, f"wallet:ip:{address}")
    if redeemed_at is not None:
        raise _oauth("wallet_offer_used", "invalid_grant", "This offer was already redeemed.")
    if expires_at <= utcnow():
        raise _oauth("wallet_offer_expired", "invalid_grant", "This offer has expired.")
    return offer_id


@dataclass(frozen=True)
class TokenIssued:
    access_token: str
    expires_in: int


def redeem(session: Session, offer_id: int) -> TokenIssued:
    """Spend the offer's pre-authorized code, once, for a short-lived access token."""
    offer = session.get(WalletOffer, offer_id, with_for_update=True)
    if offer is None or offer.redeemed_at is not None:
        raise _oauth("wallet_offer_used", "invalid_grant", "This offer was already redeemed.")
    passport = session.get(Passport, offer.passport_id)
    if passport is None or not passport.is_live:
        # Merged into another since the offer (an erasure deletes its offers): nothing to issue.
        raise _oauth("wallet_offer_unknown", "invalid_grant", "This offer's passport is gone.")
    token = secrets.token_urlsafe(32)
    now = utcnow()
    offer.redeemed_at = now
    offer.token_hash = _hash(token)
    offer.token_expires_at = now + timedelta(seconds=TOKEN_SECONDS)
    session.add(offer)
    return TokenIssued(token, TOKEN_SECONDS)


# --- Nonces -----------------------------------------------------------------------------------


def new_nonce(session: Session, purpose: str) -> tuple[str, datetime]:
    """A fresh single-use nonce; the expired ones are swept on the way."""
    now = utcnow()
    session.exec(delete(WalletNonce).where(col(WalletNonce.expires_at) < now))
    nonce = secrets.token_urlsafe(24)
    expires = now + timedelta(seconds=NONCE_SECONDS)
    session.add(WalletNonce(nonce_hash=_hash(nonce), purpose=purpose, expires_at=expires))
    return nonce, expires


def spend_nonce(session: Session, nonce: str, purpose: str) -> bool:
    """True once for a nonce we handed out for this purpose and that has not expired."""
    result = session.exec(
        update(WalletNonce)
        .where(
            col(WalletNonce.nonce_hash) == _hash(nonce),
            col(WalletNonce.purpose) == purpose,
            col(WalletNonce.used_at).is_(None),
            col(WalletNonce.expires_at) > utcnow(),
        )
        .values(used_at=utcnow())
    )
    return bool(result.rowcount == 1)


# --- The credential ---------------------------------------------------------------------------


def _offer_for_token(session: Session, token: str) -> WalletOffer:
    offer = session.exec(
        select(WalletOffer).where(WalletOffer.token_hash == _hash(token)).with_for_update()
    ).first()
    if (
        offer is None
        or offer.token_expires_at is None
        or aware(offer.token_expires_at) <= utcnow()
        or offer.credential_id is not None
    ):
        raise _oauth(
            "wallet_invalid_token", "invalid_token", "This access token is unknown, spent or old."
        )
    return offer


def issue_credential(
    session: Session,
    settings: Settings,
    territory_code: str,
    token: str,
    *,
    configuration_id: str | None,
    proof_jwt: str,
) -> str:
    """The SD-JWT VC of the offer's skills, bound to the key the proof shows."""
    offer = _offer_for_token(session, token)
    territory = territories.get_by_code(session, territory_code)
    if territory.id != offer.territory_id:
        raise _oauth(
            "wallet_invalid_token", "invalid_token", "This access token is not for this issuer."
        )
    if configuration_id is not None and configuration_id != CONFIGURATION_ID:
        raise _oauth(
            "wallet_unknown_configuration",
            "unknown_credential_configuration",
            f"The only credential configuration is {CONFIGURATION_ID}.",
        )
    issuer = issuer_id(settings.public_url, territory.code)
    now = utcnow()
    try:
        proof = sdjwt.check_proof(proof_jwt, audience=issuer, now=int(now.timestamp()))
    except sdjwt.FormatError as exc:
        raise _oauth("wallet_invalid_proof", "invalid_proof", str(exc)) from None
    if not spend_nonce(session, proof.nonce, PROOF):
        raise _oauth(
            "wallet_invalid_nonce",
            "invalid_nonce",
            "The proof's nonce is not one this issuer gave, or it was already used.",
        )
    passport = session.get(Passport, offer.passport_id)
    if passport is None or not passport.is_live:
        raise _oauth("wallet_invalid_token", "invalid_token", "This offer's passport is gone.")
    # The skills as validated now: a validation withdrawn since the offer is refused here.
    chosen = credentials.chosen_skills(session, passport, offer.skill_codes)
    labels = dict(
        session.exec(
            select(col(Skill.code), col(Skill.label_fr)).where(
                col(Skill.code).in_([c.code for c in chosen])
            )
        ).all()
    )
    kid, key = keys.signing_key(session, territory, settings)
    days = min(settings.wallet_credential_days, settings.credential_max_days)
    expires = now + timedelta(days=days)
    row = credentials.record_wallet_copy(
        session,
        territory,
        passport,
        kid=kid,
        skill_codes=offer.skill_codes,
        with_name=offer.with_name,
        issued_at=now,
        expires_at=expires,
    )
    names: dict[str, str] = {}
    if offer.with_name:
        if passport.first_name:
            names["given_name"] = passport.first_name
        if passport.last_name:
            names["family_name"] = passport.last_name
    claims = {
        "iss": issuer,
        "iat": int(now.timestamp()),
        "exp": int(expires.timestamp()),
        "vct": vct(settings.public_url),
        "cnf": {"jwk": proof.jwk},
        "status": {
            "status_list": {"idx": row.status_index, "uri": credentials.status_uri(territory)}
        },
        "territoire": {"code": territory.code, "nom": territory.name},
    }
    skills = [
        {
            "code": c.code,
            "libelle": labels.get(c.code, c.code),
            "niveau": c.level,
            "date": c.on.isoformat(),
            "lieu": c.structure,
        }
        for c in chosen
    ]
    issued = sdjwt.issue(claims, skills=skills, names=names, key=key, kid=kid)
    offer.credential_id = row.id
    session.add(offer)
    # The wallet redeems with no account: journaled as anonymous, like a verifier would be.
    passports.journal(session, ANONYMOUS, passport, "wallet.credential_issued")
    audit.record_on(session, "wallet.credential_issued", row, skills=len(chosen))
    return issued


def forget_offers(session: Session, passport_id: int) -> int:
    """Erasure: the passport's offers go (they name it and its skills)."""
    result = session.exec(delete(WalletOffer).where(col(WalletOffer.passport_id) == passport_id))
    return int(result.rowcount or 0)
