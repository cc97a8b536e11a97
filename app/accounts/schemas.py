"""What the accounts API takes and gives. Secrets appear only in the *Created answers, once."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints, field_validator

from app.accounts.models import Role
from app.accounts.security import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from app.core.validation import Email, Id, NoNul, UtcDateTime

Password = Annotated[
    str, Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH), NoNul
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), NoNul]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=6, max_length=100), NoNul]


class LoginRequest(BaseModel):
    email: Email
    # No minimum here: a wrong short password is a failed login, not a validation error.
    password: Annotated[str, Field(max_length=MAX_PASSWORD_LENGTH), NoNul]


class AccountPublic(BaseModel):
    id: int
    email: str
    display_name: str
    role: Role
    territory_code: str | None
    structure_ids: list[int]
    is_active: bool
    has_password: bool
    created_at: UtcDateTime
    last_login_at: UtcDateTime | None


class LoginResponse(BaseModel):
    account: AccountPublic
    csrf_token: str = Field(description="Send it as X-CSRF-Token on every change")
    idle_timeout_seconds: int
    expires_at: UtcDateTime


class TokenCreate(BaseModel):
    name: Name
    scopes: list[Annotated[str, Field(max_length=64), NoNul]] = Field(min_length=1, max_length=10)
    expires_in_days: int = Field(default=90, ge=1, le=3650)


class TokenPublic(BaseModel):
    id: int
    name: str
    prefix: str
    scopes: list[str]
    created_at: UtcDateTime
    expires_at: UtcDateTime
    revoked_at: UtcDateTime | None
    last_used_at: UtcDateTime | None


class TokenCreated(TokenPublic):
    token: str = Field(description="Shown once; only its hash is kept")


class InvitationCreate(BaseModel):
    email: Email
    display_name: Name
    role: Role = Role.MEDIATOR
    structure_ids: list[Id] = Field(default_factory=list, max_length=50)

    @field_validator("role")
    @classmethod
    def _not_platform(cls, role: Role) -> Role:
        if role is Role.PLATFORM_ADMIN:
            raise ValueError("platform admins are made with `passeport admin create`")
        return role


class InvitationPublic(BaseModel):
    id: int
    email: str
    display_name: str
    role: Role
    territory_code: str
    structure_ids: list[int]
    created_at: UtcDateTime
    expires_at: UtcDateTime
    accepted_at: UtcDateTime | None
    revoked_at: UtcDateTime | None


class InvitationCreated(InvitationPublic):
    code: str = Field(description="One-time code, shown once")
    link: str = Field(description="The same code as a link, shown once")


class InvitationLookup(BaseModel):
    code: Code


class InvitationAccept(BaseModel):
    code: Code
    password: Password
    display_name: Name | None = None


class PasswordResetRequest(BaseModel):
    email: Email


class PasswordResetComplete(BaseModel):
    code: Code
    password: Password


class PasswordResetCreated(BaseModel):
    account_id: int
    code: str
    link: str
    expires_at: UtcDateTime


class AccountUpdate(BaseModel):
    display_name: Name | None = None
    role: Role | None = None
    structure_ids: list[Id] | None = Field(default=None, max_length=50)
    is_active: bool | None = None


class SsoStatus(BaseModel):
    enabled: bool
    provider_name: str
    login_url: str | None = Field(description="Send the browser here, with ?return_to=/path")


class SessionPublic(BaseModel):
    account: AccountPublic
    via: Literal["session", "token"]
    csrf_token: str | None = Field(
        description="For a browser session: send it as X-CSRF-Token on every change"
    )
    idle_timeout_seconds: int | None
    expires_at: datetime | None
