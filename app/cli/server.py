"""`passeport serve` and `passeport db`: the web server and the database schema."""

from __future__ import annotations

import click

from app.cli.context import clean_errors, connected, load_settings
from app.cli.root import main


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@clean_errors
def serve(host: str, port: int, workers: int) -> None:
    """Serve the web UI and the API."""
    import uvicorn

    settings = load_settings()
    with connected(settings):
        pass
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
    with connected(settings, schema="create"):
        pass
    upgrade(settings.database_url, revision)
    click.echo(f"database at {revision}", err=True)


@db.command("current")
@clean_errors
def db_current() -> None:
    """Print the schema revision of the database and of the code."""
    from app.core.migrations import current_revision, head_revision

    with connected(load_settings(), schema="any") as engine, engine.connect() as conn:
        click.echo(f"database: {current_revision(conn) or 'empty'}\ncode:     {head_revision()}")
