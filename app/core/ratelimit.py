"""Fixed-window counters in the database, shared by every replica.

Used for login and every code-based access. A guess is counted *before* it is checked, by one
atomic statement (:func:`attempt`), and given back if it was right (:func:`succeeded`): so that
40 guesses sent at once cannot all read "4 failures so far" and all be checked, as they could
when the count was read first and written after the check. The counts are written in their own
transaction so that the request's rollback (the attempt failed, after all) does not erase them.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Field, SQLModel, col, update

from app.core.db import transaction
from app.core.errors import TooManyRequests
from app.core.time import aware, utcnow


class RateLimitBucket(SQLModel, table=True):
    __tablename__ = "rate_limit_bucket"

    key: str = Field(primary_key=True, max_length=200)
    window_started_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    count: int = 0


def _seconds_left(window_started_at: datetime, window: timedelta) -> int:
    remaining = aware(window_started_at) + window - utcnow()
    return max(1, math.ceil(remaining.total_seconds()))


def refusal(retry_after: int, *, code: str = "rate_limited", what: str = "") -> TooManyRequests:
    """The 429, saying how long to wait in minutes too (the web page shows the same figure)."""
    minutes = max(1, math.ceil(retry_after / 60))
    return TooManyRequests(
        f"Too many attempts{what}; try again in {minutes} minute{'s' if minutes > 1 else ''}.",
        code=code,
        retry_after=retry_after,
        retry_after_minutes=minutes,
    )


def attempt(engine: Engine, key: str, *, limit: int, window: timedelta) -> None:
    """Count one attempt for `key` before it is checked; 429 if it is past `limit` in the window.

    One INSERT … ON CONFLICT DO UPDATE … RETURNING, on both databases: the row is created,
    reset when its window is over, or incremented, and the count read back, in one statement
    that concurrent attempts cannot interleave. Give the attempt back with :func:`succeeded`
    once it turns out right: only wrong guesses count.
    """
    table = RateLimitBucket.__table__  # type: ignore[attr-defined]
    now = utcnow()
    started = table.c.window_started_at
    expired = started <= sa.literal(now - window, type_=started.type)
    insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(table)
        .values(key=key, window_started_at=now, count=1)
        .on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "count": sa.case((expired, 1), else_=table.c.count + 1),
                "window_started_at": sa.case(
                    (expired, sa.literal(now, type_=started.type)), else_=started
                ),
            },
        )
        .returning(table.c.count, started)
    )
    with transaction(engine) as session:
        count, window_started_at = session.execute(statement).one()
    if count > limit:
        raise refusal(_seconds_left(window_started_at, window))


def succeeded(engine: Engine, key: str) -> None:
    """Give back an attempt counted by :func:`attempt` that was right."""
    with transaction(engine) as session:
        session.execute(
            update(RateLimitBucket)
            .where(col(RateLimitBucket.key) == key, col(RateLimitBucket.count) > 0)
            .values(count=col(RateLimitBucket.count) - 1)
        )


def reset(engine: Engine, key: str) -> None:
    with transaction(engine) as session:
        bucket = session.get(RateLimitBucket, key)
        if bucket is not None:
            session.delete(bucket)
