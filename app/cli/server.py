"""`passeport serve` and `passeport db`: the web server and the database schema."""

from __future__ import annotations

import click

from app.cli.context import Context, pass_context
from app.cli.root import main


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@pass_context
def serve(ctx: Context, host: str, port: int, workers: int) -> None:
    """Serve the web UI and the API."""
    import uvicorn

    with ctx.connected():
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
@pass_context
def db_upgrade(ctx: Context, revision: str) -> None:
    """Apply the migrations (creates the SQLite file if needed)."""
    from app.core.migrations import upgrade

    settings = ctx.settings
    with ctx.connected(schema="create"):
        pass
    upgrade(settings.database_url, revision)
    click.echo(f"database at {revision}", err=True)


@db.command("current")
@pass_context
def db_current(ctx: Context) -> None:
    """Print the schema revision of the database and of the code."""
    from app.core.migrations import current_revision, head_revision

    with ctx.connected(schema="any") as engine, engine.connect() as conn:
        click.echo(f"database: {current_revision(conn) or 'empty'}\ncode:     {head_revision()}")
