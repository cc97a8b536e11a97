"""Who is calling: the subject every authorization rule looks at."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from app.accounts.models import Role


class CallerKind(StrEnum):
    ANONYMOUS = "anonymous"
    ACCOUNT = "account"
    CITIZEN = "citizen"
    # Someone at the server's command line (passeport credential issue): no route admits it.
    OPERATOR = "operator"


@dataclass(frozen=True)
class Principal:
    kind: CallerKind
    account_id: int | None = None
    role: Role | None = None
    territory_id: int | None = None
    structure_ids: frozenset[int] = field(default_factory=frozenset)
    # None for a browser session (every scope the role allows); the token's scopes otherwise.
    scopes: frozenset[str] | None = None
    session_id: int | None = None
    token_id: int | None = None
    client_address: str | None = None
    # A citizen reaches their own passport only.
    passport_id: int | None = None
    # The account's display name, as answers that name their author show it (kept with the
    # principal, so as fresh as it: the token cache follows the account's changes).
    display_name: str | None = None

    @property
    def is_platform_admin(self) -> bool:
        return self.role is Role.PLATFORM_ADMIN

    @property
    def via_cookie(self) -> bool:
        return self.session_id is not None

    def has_scope(self, scope: str | None) -> bool:
        return scope is None or self.scopes is None or scope in self.scopes


ANONYMOUS = Principal(kind=CallerKind.ANONYMOUS)
