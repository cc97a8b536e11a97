"""One clock for the whole app: timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; every one we store is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
