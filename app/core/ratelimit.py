"""Fixed-window counters in the database, shared by every replica.

Used for login and every code-based access. Failures are counted in their own transaction so that
the request's rollback (the attempt failed, after all) does not erase them.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Field, SQLModel

from app.core.db import transaction
from app.core.errors import TooManyRequests
from app.core.time import aware, utcnow


class RateLimitBucket(SQLModel, table=True):
    __tablename__ = "rate_limit_bucket"

    key: str = Field(primary_key=True, max_length=200)
    window_started_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    count: int = 0


def _retry_after(bucket: RateLimitBucket, window: timedelta) -> int:
    remaining = aware(bucket.window_started_at) + window - utcnow()
    return max(1, math.ceil(remaining.total_seconds()))


def check(engine: Engine, key: str, *, limit: int, window: timedelta) -> None:
    """Refuse with 429 while `key` has reached `limit` failures in the current window."""
    with transaction(engine, write=False) as session:
        bucket = session.get(RateLimitBucket, key)
        if bucket is None or aware(bucket.window_started_at) + window <= utcnow():
            return
        if bucket.count >= limit:
            raise TooManyRequests(
                "Too many attempts; wait before trying again.",
                code="rate_limited",
                retry_after=_retry_after(bucket, window),
            )


def record_failure(engine: Engine, key: str, *, window: timedelta) -> int:
    """Count one failure for `key`; returns the count in the current window."""
    with transaction(engine) as session:
        bucket = session.get(RateLimitBucket, key, with_for_update=True)
        now = utcnow()
        if bucket is None:
            bucket = RateLimitBucket(key=key, window_started_at=now, count=0)
            session.add(bucket)
        elif aware(bucket.window_started_at) + window <= now:
            bucket.window_started_at = now
            bucket.count = 0
        bucket.count += 1
        return bucket.count


def reset(engine: Engine, key: str) -> None:
    with transaction(engine) as session:
        bucket = session.get(RateLimitBucket, key)
        if bucket is not None:
            session.delete(bucket)
