"""Secrets: password hashing (argon2id), random tokens and their stored hashes, CSRF tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# argon2id at OWASP's baseline (19 MiB, t=2, p=1): about 40 ms on a shared 2-core machine, where
# argon2-cffi's default profile (64 MiB, t=3, p=4) took 450 ms and let a few logins stall the
# server. Older hashes are upgraded at the next sign-in (needs_rehash).
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verified when the e-mail matches no account, so that timing does not tell which e-mails exist.
_DUMMY_HASH = _hasher.hash("not a real password")

# Unambiguous characters (no 0/O, 1/I/L) for codes people read and type.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def new_token(prefix: str = "") -> str:
    """256 random bits, URL-safe."""
    return prefix + secrets.token_urlsafe(32)


def new_code(length: int = 12) -> str:
    """A short code a person can type: 12 characters of 31 are about 59 bits."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


def normalise_code(code: str) -> str:
    return code.strip().upper().replace("-", "").replace(" ", "")


def token_hash(token: str) -> str:
    """What is stored for a token: its SHA-256. The token itself is shown once and never kept."""
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token(secret_key: str, session_token: str) -> str:
    """Bound to the session, so it needs no storage and dies with the session."""
    return hmac.new(secret_key.encode(), b"csrf:" + session_token.encode(), "sha256").hexdigest()


def csrf_matches(secret_key: str, session_token: str, presented: str | None) -> bool:
    if not presented or not presented.isascii():
        # compare_digest refuses non-ASCII str (TypeError); such a header is simply wrong.
        return False
    return hmac.compare_digest(csrf_token(secret_key, session_token).encode(), presented.encode())
