"""Input types shared by several domains."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, Field

from app.core.time import aware


def _email(value: str) -> str:
    try:
        # No DNS lookups (offline instances, and bounded work); `.test` addresses are allowed so
        # that demo and test data need no real domain.
        checked = validate_email(value, check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from None
    return checked.normalized.lower()


Email = Annotated[str, Field(max_length=320), AfterValidator(_email)]


# SQLite hands back naive datetimes; every one we store is UTC, and every one we publish says so.
UtcDateTime = Annotated[datetime, AfterValidator(aware)]
