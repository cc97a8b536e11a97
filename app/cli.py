"""The `passeport` command line: each command is one unit of work over the API's services."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, TypeVar

import click
from pydantic import ValidationError
from sqlalchemy import Engine

from app.core.db import check_database, create_db_engine, transaction
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
            name = "PASSEPORT_" + "_".join(str(p) for p in first["loc"]).upper()
            _fail(f"{name}: {first['msg']}")

    return wrapper  # type: ignore[return-value]


def load_settings() -> Settings:
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    settings.check_secrets()
    return settings


@contextmanager
def connected(settings: Settings) -> Iterator[Engine]:
    engine = create_db_engine(settings)
    try:
        check_database(engine)
        yield engine
    finally:
        engine.dispose()


@click.group()
@click.version_option(package_name="passeport-numerique")
def main() -> None:
    """Passeport numérique: digital-skills passports and signed QR credentials."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@clean_errors
def serve(host: str, port: int, workers: int) -> None:
    """Serve the web UI and the API."""
    import uvicorn

    from app.core.migrations import current_revision, head_revision

    settings = load_settings()
    with connected(settings) as engine, engine.connect() as conn:
        current, head = current_revision(conn), head_revision()
    if current != head:
        raise ConfigurationError(
            f"the database schema is at {current or 'nothing'} but the code expects {head}; "
            "run `passeport db upgrade` first"
        )
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        server_header=False,
    )


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@clean_errors
def db_upgrade(revision: str) -> None:
    """Apply the migrations (creates the SQLite file if needed)."""
    from app.core.migrations import upgrade

    settings = load_settings()
    with connected(settings):
        pass
    upgrade(settings.database_url, revision)
    click.echo(f"database at {revision}", err=True)


@db.command("current")
@clean_errors
def db_current() -> None:
    """Print the schema revision of the database and of the code."""
    from app.core.migrations import current_revision, head_revision

    with connected(load_settings()) as engine, engine.connect() as conn:
        click.echo(f"database: {current_revision(conn) or 'empty'}\ncode:     {head_revision()}")


@main.group()
def framework() -> None:
    """Skills frameworks (CRCN, DigComp 2.2, Premiers pas)."""


@framework.command("load")
@click.option("--force", is_flag=True, help="Rewrite even the files already loaded.")
@clean_errors
def framework_load(force: bool) -> None:
    """Load the framework data files shipped with this version (no-op when already loaded)."""
    from app.framework.loader import FrameworkDataError, load_frameworks

    with connected(load_settings()) as engine, engine.begin() as conn:
        try:
            report = load_frameworks(conn, force=force)
        except FrameworkDataError as exc:
            raise ConfigurationError(str(exc)) from None
    for code, version in report.loaded.items():
        click.echo(f"loaded    {code} {version}")
    for code, version in report.unchanged.items():
        click.echo(f"unchanged {code} {version}")


@framework.command("show")
@click.option("--json", "as_json", is_flag=True, help="The whole tree, as the API serves it.")
@click.option("--lang", type=click.Choice(["fr", "en"]), default="fr", show_default=True)
@clean_errors
def framework_show(as_json: bool, lang: str) -> None:
    """Print the frameworks loaded in the database."""
    from app.framework import service

    with connected(load_settings()) as engine, transaction(engine, write=False) as session:
        tree = service.tree(session)
    if as_json:
        click.echo(tree.model_dump_json(indent=2))
        return
    click.echo(f"version {tree.version}")
    for fw in tree.frameworks:
        name = fw.name_fr if lang == "fr" else fw.name_en
        count = sum(len(a.competences) for a in fw.areas) + len(fw.skills)
        click.echo(f"\n{fw.code} {fw.version}: {name} ({count} skills)")
        for area in fw.areas:
            click.echo(f"  {area.number} {area.label_fr if lang == 'fr' else area.label_en}")
            for c in area.competences:
                mapped = f"  -> {', '.join(c.digcomp)}" if c.digcomp else ""
                click.echo(f"    {c.code:<12} {c.label_fr if lang == 'fr' else c.label_en}{mapped}")
        for s in fw.skills:
            label = s.label_fr if lang == "fr" else s.label_en
            click.echo(f"    {s.code:<12} {label}  [{s.crcn}, level {s.level}]")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print what exists, as JSON, for scripts.")
@clean_errors
def demo(as_json: bool) -> None:
    """Create the demo territory and its data (idempotent)."""
    from app import demo as demo_data

    settings = load_settings()
    with connected(settings) as engine, transaction(engine) as session:
        report = demo_data.seed(session, settings)
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        verb = "created" if report.created else "already present"
        click.echo(
            f"demo territory {report.territory['code']} {verb}: {report.territory['issuer_url']}"
        )
