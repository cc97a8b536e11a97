"""Time each aggregate view of the observatory on the seeded database (bench.seed_observatory).

    .venv/bin/python -m bench.observatory [--url postgresql+psycopg://…/passeport_observatory]

Each view runs ``--runs`` times for the largest territory, over the default period (24 months);
the median is printed beside the median of a trivial ``SELECT 1`` on the same connection, and
then the whole publication (every view, then statistical secrecy) as the API serves it, and last
the public documents of last year (12 months, 4 quarters and the year, suppressed together).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import sqlalchemy as sa
from sqlmodel import Session, col, select

from app.core.db import create_db_engine
from app.core.settings import Settings
from app.observatory import service
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
        # What a public request costs when the year's documents are not cached: every month,
        # quarter and the year, suppressed together (docs/open-data.md, "Documents read together").
        last_year = service.public_period(str(service.utcnow().year - 1))
        ms = median_ms(
            lambda: service.published_family(session, territory, last_year, 5), args.runs
        )
        base = median_ms(lambda: session.execute(sa.text("SELECT 1")).scalar_one(), args.runs)
        print(f"{'a year of public documents (17)':34} {ms:10.1f} {base:12.2f}")
    engine.dispose()


if __name__ == "__main__":
    main()
