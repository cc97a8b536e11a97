"""Personal API tokens."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlmodel import Session, col, select

from app import authz
from app.accounts import security
from app.accounts.models import (
    ApiToken,
)
from app.accounts.principal import Principal
from app.accounts.schemas import (
    TokenCreate,
    TokenPublic,
)
from app.audit import service as audit
from app.core.errors import (
    InvalidInput,
    NotFound,
)
from app.core.settings import Settings
from app.core.time import utcnow


def token_public(token: ApiToken) -> TokenPublic:
    return TokenPublic.model_validate(token, from_attributes=True)


def create_token(
    session: Session, settings: Settings, principal: Principal, data: TokenCreate
) -> tuple[ApiToken, str]:
    assert principal.account_id is not None and principal.role is not None
    allowed = authz.ROLE_SCOPES[principal.role]
    unknown = sorted(set(data.scopes) - allowed)
    if unknown:
        raise InvalidInput(
            f"Scopes not available to your role: {', '.join(unknown)}.", code="invalid_scope"
        )
    if data.expires_in_days > settings.api_token_max_days:
        raise InvalidInput(
            f"A token lasts at most {settings.api_token_max_days} days.",
            code="token_too_long",
            max_days=settings.api_token_max_days,
        )
    raw = security.new_token("pn_")
    token = ApiToken(
        account_id=principal.account_id,
        name=data.name,
        token_hash=security.token_hash(raw),
        prefix=raw[:8],
        scopes=sorted(set(data.scopes)),
        expires_at=utcnow() + timedelta(days=data.expires_in_days),
    )
    audit.record_on(session, "token.created", token, principal, scopes=token.scopes)
    return token, raw


def list_tokens(session: Session, principal: Principal) -> Sequence[ApiToken]:
    return session.exec(
        select(ApiToken)
        .where(ApiToken.account_id == principal.account_id)
        .order_by(col(ApiToken.id).desc())
    ).all()


def revoke_token(session: Session, principal: Principal, token_id: int) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None or token.account_id != principal.account_id:
        raise NotFound("No such token.", code="unknown_token")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record_on(session, "token.revoked", token, principal)
    return token
