"""Time each aggregate view of the observatory on the seeded database (bench.seed_observatory).

    .venv/bin/python -m bench.observatory [--url postgresql+psycopg://…/passeport_observatory]

Each view runs ``--runs`` times for the largest territory, over the default period (24 months);
the median is printed beside the median of a trivial ``SELECT 1`` on the same connection, and
then the whole publication (every view, then statistical secrecy) as a coordinator gets it; last,
the release of last year's public documents (12 months, 4 quarters and the year, suppressed
together), the release of its last month with the rest already released, and serving one.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from app.core.db import create_db_engine
from app.core.settings import Settings
from app.core.time import utcnow
from app.observatory import release, service
from app.passports.models import Passport
from app.territory.models import Territory

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/passeport_observatory"


def median_ms(work: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    engine = create_db_engine(Settings(database_url=args.url))
    with Session(engine) as session:
        territory_id, passports = session.exec(
            select(Passport.territory_id, sa.func.count())
            .group_by(col(Passport.territory_id))
            .order_by(sa.func.count().desc())
        ).first() or (0, 0)
        territory = session.get(Territory, territory_id)
        assert territory is not None, "seed the database first: python -m bench.seed_observatory"
        validations = session.execute(sa.text("SELECT count(*) FROM validation")).scalar_one()
        period = service.period(None, None)
        service.prepare(session)
        print(
            f"territory {territory.code}: {passports:,} of the passports; {validations:,} "
            f"validations in all; period {period.start} to {period.end}; median of {args.runs}"
        )
        print(f"{'view':34} {'median ms':>10} {'SELECT 1 ms':>12}")
        for name, view in service.VIEWS.items():
            # A warm-up run, so the figure is the steady state and not the first read from disk.
            view(session, territory_id, period)
            ms = median_ms(lambda v=view: v(session, territory_id, period), args.runs)  # type: ignore[misc]
            base = median_ms(lambda: session.execute(sa.text("SELECT 1")).scalar_one(), args.runs)
            print(f"{name:34} {ms:10.1f} {base:12.2f}")
        ms = median_ms(
            lambda: service.published(session, territory, period, 5).document(), args.runs
        )
        base = median_ms(lambda: session.execute(sa.text("SELECT 1")).scalar_one(), args.runs)
        print(f"{'whole publication (+ secrecy)':34} {ms:10.1f} {base:12.2f}")
    # Releasing (docs/open-data.md, "Releases"): what the background task or `passeport stats
    # release` pays, once per period; each run in a transaction rolled back, so it is repeatable.
    year = utcnow().year - 1
    start = datetime(year + 1, 1, 10, tzinfo=UTC)

    def release_year(now: datetime, before: datetime | None = None) -> float:
        with Session(engine) as session:
            if before is not None:  # the months before, released first (not timed)
                session.add_all(release.release_year(session, territory, year, 5, "", before, 0))
                session.flush()
            started = time.perf_counter()
            release.release_year(session, territory, year, 5, "", now, 0)
            elapsed = (time.perf_counter() - started) * 1000
            session.rollback()
        return elapsed

    whole = statistics.median(release_year(start) for _ in range(args.runs))
    print(f"{'release a whole year (17 documents)':34} {whole:10.1f}")
    last = statistics.median(
        release_year(start, datetime(year, 12, 1, 1, tzinfo=UTC)) for _ in range(args.runs)
    )
    print(f"{'release December, Q4 and the year':34} {last:10.1f}")
    # Serving a released document: read the stored row, write the JSON (what the route does
    # besides the HTTP), on a release kept for the measure and then deleted.
    with Session(engine) as session:
        session.add_all(release.release_year(session, territory, year, 5, "", start, 0))
        session.flush()
        p = service.year_period(year)
        ms = median_ms(
            lambda: service.to_json(release.released(session, territory, p).document()),  # type: ignore[union-attr]
            max(args.runs, 50),
        )
        session.expire_all()
        session.rollback()
    print(f"{'serve a released year (JSON)':34} {ms:10.1f}")
    engine.dispose()


if __name__ == "__main__":
    main()
