"""Accounts, sign-in, sessions, API tokens, invitations and password resets.

Secrets are checked *before* the request's transaction is used ("verify outside, act inside"):
a failed attempt is counted and journaled in a transaction of its own, which on SQLite must not
wait on the request's write lock, and which must survive the request's rollback.

One module a job, split along the headings the module had: ``accounts`` (reading, creating,
administering), ``signin`` (passwords and browser sessions), ``tokens`` (personal API tokens),
``codes`` (invitations and password resets). Callers use this package's names.
"""

from app.accounts.service.accounts import (
    check_structures,
    create_account,
    end_membership,
    get_account,
    get_visible_account,
    last_session_expiry,
    list_accounts,
    normalise_email,
    revoke_sessions,
    to_public,
    update_account,
)
from app.accounts.service.codes import (
    INVALID_CODE,
    accept_invitation,
    admin_password_reset,
    check_invitation_code,
    check_reset_code,
    complete_password_reset,
    create_invitation,
    invitation_public,
    link_for,
    list_invitations,
    pending_invitation_for,
    request_password_reset,
    revoke_invitation,
)
from app.accounts.service.signin import (
    StartedSession,
    authenticate,
    logout,
    start_session,
)
from app.accounts.service.tokens import (
    create_token,
    list_tokens,
    revoke_token,
    token_public,
)

__all__ = [
    "INVALID_CODE",
    "StartedSession",
    "accept_invitation",
    "admin_password_reset",
    "authenticate",
    "check_invitation_code",
    "check_reset_code",
    "check_structures",
    "complete_password_reset",
    "create_account",
    "create_invitation",
    "create_token",
    "end_membership",
    "get_account",
    "get_visible_account",
    "invitation_public",
    "last_session_expiry",
    "link_for",
    "list_accounts",
    "list_invitations",
    "list_tokens",
    "logout",
    "normalise_email",
    "pending_invitation_for",
    "request_password_reset",
    "revoke_invitation",
    "revoke_sessions",
    "revoke_token",
    "start_session",
    "to_public",
    "token_public",
    "update_account",
]
