"""Verifications counted in memory, written to the database in batches.

A verification is public and anonymous, and may come in bursts (a job fair, a training session):
it must not cost a database write. ``record_verification`` adds one to a counter keyed by day,
verdict and channel, nothing else, and the app flushes the counters at most every
``FLUSH_SECONDS`` and when it stops. A crash loses at most the last interval's counts, which is
acceptable for a statistic. One tally per process; each flush adds to the stored rows, so several
processes share the database without overwriting one another.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import Counter
from datetime import date

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from app.core.time import utcnow
from app.observatory.models import VerificationTally

logger = logging.getLogger("app.observatory")

FLUSH_SECONDS = 30.0
CHANNELS = frozenset({"qr", "code"})
_MAX = 32  # the columns' width


class Tally:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: Counter[tuple[date, str, str]] = Counter()

    def record(self, result: str, channel: str) -> None:
        # Only the verdict's code and the channel: never the credential, nor who asked.
        key = (utcnow().date(), result[:_MAX], channel[:_MAX])
        with self._lock:
            self._pending[key] += 1

    def pending(self) -> dict[tuple[date, str, str], int]:
        with self._lock:
            return dict(self._pending)

    def take(self) -> Counter[tuple[date, str, str]]:
        with self._lock:
            taken, self._pending = self._pending, Counter()
        return taken

    def give_back(self, counts: Counter[tuple[date, str, str]]) -> None:
        with self._lock:
            self._pending.update(counts)

    def flush(self, engine: sa.Engine) -> int:
        """Add the pending counts to the stored ones; the number of verifications written."""
        counts = self.take()
        if not counts:
            return 0
        rows = [
            {"day": day, "result": result, "channel": channel, "count": n}
            for (day, result, channel), n in sorted(counts.items())
        ]
        table = VerificationTally.__table__  # type: ignore[attr-defined]
        insert = (postgresql if engine.dialect.name == "postgresql" else sqlite).insert(table)
        statement = insert.on_conflict_do_update(
            index_elements=["day", "result", "channel"],
            set_={"count": table.c["count"] + insert.excluded["count"]},
        )
        try:
            with engine.begin() as conn:
                conn.execute(statement, rows)
        except Exception:
            # Kept for the next flush: a busy or briefly unreachable database loses nothing.
            self.give_back(counts)
            raise
        return sum(counts.values())


TALLY = Tally()


def record_verification(result: str, channel: str) -> None:
    """Count one verification answered by this instance (channel: ``qr``, ``code`` or
    ``wallet``)."""
    TALLY.record(result, channel)


async def flush_periodically(engine: sa.Engine, every: float = FLUSH_SECONDS) -> None:
    """The app's background task: flush, sleep, until cancelled (the app then flushes once more)."""
    while True:
        await asyncio.sleep(every)
        try:
            await asyncio.to_thread(TALLY.flush, engine)
        except Exception:
            logger.exception("verification tally flush failed; kept for the next one")


async def stop(task: asyncio.Task[None], engine: sa.Engine) -> None:
    """Stop the background task and write what it had not written yet."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    try:
        await asyncio.to_thread(TALLY.flush, engine)
    except Exception:
        logger.exception("verification tally lost at shutdown")
