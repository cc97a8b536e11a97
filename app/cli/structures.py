"""`passeport structures`: places of mediation, imported and exported."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from app.cli.context import ConfigurationError, Context, pass_context
from app.cli.root import main


@main.group()
def structures() -> None:
    """Structures (places of mediation) in the national open-data schema."""


# Above the API's body limit: an operator on the server may load a whole region's file at once.
MAX_IMPORT_FILE_BYTES = 50_000_000


@structures.command("import")
@click.argument("file", type=click.Path())
@click.option("--territory", "code", required=True, help="Code of the receiving territory.")
@click.option("--dry-run", is_flag=True, help="Check and report; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON, for scripts.")
@pass_context
def structures_import(ctx: Context, file: str, code: str, dry_run: bool, as_json: bool) -> None:
    """Import a CSV or JSON file of structures (importing it again changes nothing).

    Exits 0 once the import ran, even if rows were rejected (each is listed with its line, field
    and reason); 2 when the file or the territory cannot be used, and then nothing is written.
    """

    from app.core.errors import AppError
    from app.structures import files, importer
    from app.territory import service as territories

    path = Path(file)
    try:
        if path.stat().st_size > MAX_IMPORT_FILE_BYTES:
            raise ConfigurationError(f"{file} is over {MAX_IMPORT_FILE_BYTES} bytes; split it")
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"cannot read {file}: {exc.strerror or exc}") from None
    try:
        parsed = files.parse(data, filename=path.name)
    except AppError as exc:
        raise ConfigurationError(f"{file}: {exc.detail}") from None
    with ctx.session(write=not dry_run) as session:
        territory = territories.get_by_code(session, code)
        with click.progressbar(
            length=len(parsed.rows), label="checking rows", file=sys.stderr
        ) as bar:
            report = importer.import_rows(
                session, territory, parsed, dry_run=dry_run, via="cli", progress=bar.update
            )
    if as_json:
        click.echo(report.model_dump_json(indent=2))
        return
    click.echo(
        f"{'dry run, nothing written: ' if dry_run else ''}{report.rows} rows, "
        f"{report.created} created, {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.rejected_rows} rejected"
    )
    if report.ignored_columns:
        click.echo(f"ignored columns: {', '.join(report.ignored_columns)}")
    for rejection in report.rejected:
        click.echo(f"line {rejection.line}: {rejection.field or '(row)'}: {rejection.reason}")
    if report.rejected_truncated:
        click.echo("(more problems not listed; fix these and run again)")


@structures.command("export")
@click.option("--territory", "code", required=True, help="Code of the territory.")
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True
)
@click.option("--out", type=click.Path(), help="Write here instead of stdout.")
@pass_context
def structures_export(ctx: Context, code: str, fmt: str, out: str | None) -> None:
    """Write a territory's structures in the national schema (CSV or JSON)."""

    from app.structures import service
    from app.structures.files import FileFormat

    with ctx.session(write=False) as session:
        _, content = service.export(session, code, FileFormat(fmt))
    if out is None:
        sys.stdout.buffer.write(content)
        sys.stdout.flush()
        return
    try:
        Path(out).write_bytes(content)
    except OSError as exc:
        raise ConfigurationError(f"cannot write {out}: {exc.strerror or exc}") from None
