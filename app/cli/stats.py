"""`passeport stats`: the observatory's open data."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from app.cli.context import ConfigurationError, Context, pass_context
from app.cli.root import main


@main.group()
def stats() -> None:
    """The observatory's figures, as open data under statistical secrecy (docs/open-data.md)."""


@stats.command("export")
@click.option("--territory", "code", help="Code of one territory (default: every territory).")
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True
)
@click.option("--out", type=click.Path(), default=".", show_default=True, help="Directory.")
@click.option("--start", type=click.DateTime(["%Y-%m-%d"]), help="First day (default: 24 months).")
@click.option("--end", type=click.DateTime(["%Y-%m-%d"]), help="Last day (default: today).")
@pass_context
def stats_export(
    ctx: Context, code: str | None, fmt: str, out: str, start: datetime | None, end: datetime | None
) -> None:
    """Write each territory's figures: stats-CODE.json, or stats-CODE/TABLE.csv per table."""
    from app.observatory import release, service
    from app.territory import service as territories

    settings = ctx.settings
    root = Path(out)
    written: list[Path] = []
    try:
        with ctx.session(write=False) as session:
            chosen = (
                [territories.get_by_code(session, code)] if code else territories.list_all(session)
            )
            period = service.period(start.date() if start else None, end.date() if end else None)
            for territory in chosen:
                # A released period is exported as the public route serves it, as stored
                # (docs/open-data.md, "Releases"); any other is computed now, on its own.
                published: service.Published | release.Released | None = (
                    release.released(session, territory, period) if period.id else None
                )
                if published is None:
                    published = service.published(
                        session, territory, period, settings.stats_threshold, settings.public_url
                    )
                if fmt == "json":
                    root.mkdir(parents=True, exist_ok=True)
                    path = root / f"stats-{territory.code}.json"
                    path.write_bytes(service.to_json(published.document()))
                    written.append(path)
                    continue
                folder = root / f"stats-{territory.code}"
                folder.mkdir(parents=True, exist_ok=True)
                for name in published.table_names():
                    path = folder / f"{name}.csv"
                    path.write_text(published.csv(name), encoding="utf-8")
                    written.append(path)
    except OSError as exc:
        raise ConfigurationError(f"cannot write in {out}: {exc.strerror or exc}") from None
    for path in written:
        click.echo(str(path))


@stats.command("release")
@click.option("--territory", "code", help="Code of one territory (default: every territory).")
@pass_context
def stats_release(ctx: Context, code: str | None) -> None:
    """Release the public figures of every fixed period due (PASSEPORT_STATS_RELEASE_DAYS after
    it ends) and not released yet: computed once, stored, served as stored ever after. The
    server does the same in the background; running it again releases nothing twice."""
    from app.observatory import release

    settings = ctx.settings
    with ctx.connected() as engine:
        done = release.release(engine, settings, code)
    for territory, periods in done.items():
        if not periods:
            click.echo(f"{territory}: nothing to release")
        elif len(periods) <= 3:
            click.echo(f"{territory}: released {', '.join(periods)}")
        else:
            click.echo(
                f"{territory}: released {len(periods)} periods, {periods[0]} to {periods[-1]}"
            )
