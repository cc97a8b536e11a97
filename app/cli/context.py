"""What every command shares: settings loading, the checked database connection, and the
translation of errors into one line for the operator."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import ValidationError
from sqlalchemy import Engine

from app.core.db import check_database, create_db_engine, is_sqlite, normalise_url
from app.core.logging import configure_logging
from app.core.settings import ConfigurationError, Settings

F = TypeVar("F", bound=Callable[..., Any])


def _fail(message: str) -> None:
    click.echo(f"passeport: error: {message}", err=True)
    sys.exit(2)


def clean_errors(func: F) -> F:
    """Operators get one clear line, never a traceback, for what they can fix themselves."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConfigurationError as exc:
            _fail(str(exc))
        except ValidationError as exc:
            first = exc.errors()[0]
            if exc.title == "Settings":
                name = "PASSEPORT_" + "_".join(str(p) for p in first["loc"]).upper()
                _fail(f"{name}: {first['msg']}")
            _fail(f"invalid value: {first['msg']}")

    return wrapper  # type: ignore[return-value]


def load_settings() -> Settings:
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    settings.check_secrets()
    return settings


@contextmanager
def connected(settings: Settings, schema: str = "head") -> Iterator[Engine]:
    """The database, checked before any command touches it, so that a wrong URL or a database
    not made yet stops with one line (exit 2) and never leaves an empty SQLite file behind.

    ``schema``: "head" (every command but two) wants the schema the code expects; "any" (``db
    current``) a database that exists; "create" (``db upgrade``) may make the SQLite file.
    """
    url = normalise_url(settings.database_url)
    if schema != "create" and is_sqlite(url) and url.database not in (None, "", ":memory:"):
        path = Path(str(url.database))
        if not path.is_file():
            raise ConfigurationError(
                f"the database file {path} does not exist; run `passeport db upgrade` to make it"
            )
    engine = create_db_engine(settings)
    try:
        check_database(engine)
        if schema == "head":
            from app.core.migrations import current_revision, head_revision

            with engine.connect() as conn:
                current, head = current_revision(conn), head_revision()
            if current != head:
                raise ConfigurationError(
                    f"the database schema is at {current or 'nothing'} but the code expects "
                    f"{head}; run `passeport db upgrade` first"
                )
        yield engine
    finally:
        engine.dispose()


__all__ = ["ConfigurationError", "clean_errors", "connected", "load_settings"]
