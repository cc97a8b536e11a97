"""The schema is made by Alembic alone, matches the models, and round-trips."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import app.models  # noqa: F401
from app.core.db import NAMING_CONVENTION, create_db_engine, metadata
from app.core.migrations import current_revision, downgrade, head_revision, upgrade
from tests.conftest import make_settings


def _diff(url: str) -> list[object]:
    engine = create_db_engine(make_settings(url))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "compare_server_default": True}
            )
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def _tables_and_counts(url: str) -> tuple[set[str], dict[str, int]]:
    engine = create_db_engine(make_settings(url))
    try:
        with engine.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names())
            counts = {}
            if "skill" in tables:
                for fw in ("crcn", "digcomp", "pp"):
                    counts[fw] = conn.execute(
                        sa.text("SELECT count(*) FROM skill WHERE framework_code = :fw"), {"fw": fw}
                    ).scalar_one()
            return tables, counts
    finally:
        engine.dispose()


def test_upgrade_head_leaves_no_autogenerate_difference(
    scratch_database: Callable[[str], str],
) -> None:
    url = scratch_database("diff")
    upgrade(url)
    assert _diff(url) == []


def test_downgrade_to_base_then_upgrade_again(scratch_database: Callable[[str], str]) -> None:
    url = scratch_database("roundtrip")
    upgrade(url)
    tables, counts = _tables_and_counts(url)
    assert {"framework", "skill", "skill_mapping", "territory"} <= tables
    assert counts == {"crcn": 16, "digcomp": 21, "pp": 20}

    downgrade(url, "base")
    tables, _ = _tables_and_counts(url)
    assert tables <= {"alembic_version"}

    upgrade(url)
    tables, counts = _tables_and_counts(url)
    assert counts == {"crcn": 16, "digcomp": 21, "pp": 20}
    assert _diff(url) == []
    engine = create_db_engine(make_settings(url))
    with engine.connect() as conn:
        assert current_revision(conn) == head_revision()
    engine.dispose()


def test_each_step_downgrades_cleanly(scratch_database: Callable[[str], str]) -> None:
    """Every revision, one at a time, down and up again (catches a broken intermediate step)."""
    url = scratch_database("steps")
    upgrade(url)
    engine = create_db_engine(make_settings(url))
    try:
        while True:
            with engine.connect() as conn:
                rev = current_revision(conn)
            if rev is None:
                break
            downgrade(url, "-1")
            upgrade(url, "+1")
            downgrade(url, "-1")
    finally:
        engine.dispose()
    upgrade(url)
    assert _diff(url) == []


def test_constraints_follow_the_naming_convention(database_url: str) -> None:
    assert metadata.naming_convention == NAMING_CONVENTION
    engine = create_db_engine(make_settings(database_url))
    try:
        inspector = sa.inspect(engine)
        for table in ("skill", "framework_level", "skill_mapping"):
            for fk in inspector.get_foreign_keys(table):
                if engine.dialect.name == "postgresql":  # SQLite does not keep FK names
                    assert (fk["name"] or "").startswith(f"fk_{table}_"), fk
            if engine.dialect.name == "postgresql":
                assert inspector.get_pk_constraint(table)["name"] == f"pk_{table}"
        checks = {c["name"] for c in inspector.get_check_constraints("skill")}
        assert "ck_skill_level_range" in checks
    finally:
        engine.dispose()
