"""`passeport framework`: the skills frameworks."""

from __future__ import annotations

import click

from app.cli.context import ConfigurationError, Context, pass_context
from app.cli.root import main


@main.group()
def framework() -> None:
    """Skills frameworks (CRCN, DigComp 2.2, Premiers pas)."""


@framework.command("load")
@click.option("--force", is_flag=True, help="Rewrite even the files already loaded.")
@pass_context
def framework_load(ctx: Context, force: bool) -> None:
    """Load the framework data files shipped with this version (no-op when already loaded)."""
    from app.framework.loader import FrameworkDataError, load_frameworks

    with ctx.connected() as engine, engine.begin() as conn:
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
@pass_context
def framework_show(ctx: Context, as_json: bool, lang: str) -> None:
    """Print the frameworks loaded in the database."""
    from app.framework import service

    with ctx.session(write=False) as session:
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
