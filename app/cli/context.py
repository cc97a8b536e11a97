"""What every command shares: settings loading, the checked database connection, and the
translation of errors into one line for the operator."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, NoReturn

import click
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlmodel import Session

from app.core.db import (
    check_database,
    create_db_engine,
    is_sqlite,
    normalise_url,
    transaction,
)
from app.core.logging import configure_logging
from app.core.settings import ConfigurationError, Settings


def _fail(message: str) -> NoReturn:
    click.echo(f"passeport: error: {message}", err=True)
    sys.exit(2)


def one_line(error: Exception) -> str | None:
    """What an operator reads for an error they can fix themselves; None for a bug."""
    from app.core.errors import AppError  # the web stack, imported only when it failed

    if isinstance(error, ConfigurationError):
        return str(error)
    if isinstance(error, AppError):
        # The services' own refusals ("no such territory"...), as the API's detail says them.
        return error.detail
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        if error.title == "Settings":
            return (
                "PASSEPORT_"
                + "_".join(str(p) for p in first["loc"]).upper()
                + (f": {first['msg']}")
            )
        return f"invalid value: {first['msg']}"
    return None


class OperatorCommand(click.Command):
    """A command whose errors an operator can fix end in one clear line (exit 2), never a
    traceback: every command of ``passeport`` is one, through :class:`OperatorGroup`."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            message = one_line(exc)  # None for click's own exits and for bugs
            if message is None:
                raise
            _fail(message)


class OperatorGroup(click.Group):
    """A group whose commands and subgroups are operator commands and groups."""

    command_class = OperatorCommand
    group_class = type  # subgroups are OperatorGroups too


class Context:
    """What every command shares, made once per run (click's ``make_pass_decorator`` hands it
    to the commands that take it): the settings, and the checked database."""

    def __init__(self) -> None:
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        """Loaded on first use (``--help`` needs none), with the logs configured and the
        secrets checked."""
        if self._settings is None:
            self._settings = load_settings()
        return self._settings

    def connected(self, schema: str = "head") -> AbstractContextManager[Engine]:
        """The database, checked first (see :func:`connected`)."""
        return connected(self.settings, schema)

    @contextmanager
    def session(self, *, write: bool = True) -> Iterator[Session]:
        """One unit of work on the checked database."""
        with self.connected() as engine, transaction(engine, write=write) as session:
            yield session


pass_context = click.make_pass_decorator(Context, ensure=True)


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


__all__ = [
    "ConfigurationError",
    "Context",
    "OperatorGroup",
    "connected",
    "load_settings",
    "pass_context",
]
