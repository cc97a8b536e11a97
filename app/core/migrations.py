"""Alembic from Python: the CLI's ``db upgrade``, readiness checks and the tests use this."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection


def project_root() -> Path:
    """Where alembic.ini and migrations/ live: the source tree the app runs from."""
    override = os.environ.get("PASSEPORT_PROJECT_ROOT")
    return Path(override) if override else Path(__file__).resolve().parents[2]


def alembic_config(database_url: str | None = None) -> Config:
    root = project_root()
    config = Config(str(root / "alembic.ini"))
    config.set_main_option("script_location", str(root / "migrations"))
    # The app has configured logging (JSON lines); env.py must not replace it with the ini's.
    config.attributes["configure_logger"] = False
    if database_url is not None:
        # Percent signs in passwords would otherwise be read as ConfigParser interpolation.
        config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


@lru_cache
def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(database_url), revision)
