"""`passeport trust`: this instance's trust store."""

from __future__ import annotations

import click

from app.cli.context import ConfigurationError, Context, pass_context
from app.cli.root import main


@main.group()
def trust() -> None:
    """This instance's trust store: other instances' issuers (docs/federation.md)."""


@trust.command("refresh")
@pass_context
def trust_refresh(ctx: Context) -> None:
    """Import the hub's trust list now, and unpin the keys manually pinned issuers no longer
    publish (the server also does both in the background)."""
    from app.core.errors import AppError
    from app.federation import store

    settings = ctx.settings
    with ctx.connected() as engine:
        for iss in store.prune_manual(engine, settings):
            click.echo(f"{iss}: keys it no longer publishes unpinned")
        if not settings.federation_hub_url:
            click.echo("no hub to follow (PASSEPORT_FEDERATION_HUB_URL is empty)")
            return
        try:
            report = store.import_trust_list(engine, settings)
        except AppError as exc:
            raise ConfigurationError(f"trust list refused: {exc.detail}") from None
    if report.outcome == "unchanged":
        click.echo(f"trust list {report.sequence} already held")
        return
    click.echo(
        f"trust list {report.sequence} imported: {len(report.added)} added, "
        f"{len(report.updated)} updated, {len(report.removed)} removed"
    )


@trust.command("list")
@pass_context
def trust_list(ctx: Context) -> None:
    """The trusted issuers of other instances: issuer URL, source, fingerprints."""
    from app.federation import store

    with ctx.session(write=False) as session:
        held = store.held_list(session)
        if held is not None:
            click.echo(
                f"trust list {held.sequence} from {held.hub}, fresh until "
                f"{held.fresh_until.isoformat(timespec='seconds')}"
            )
        for row in store.list_issuers(session):
            click.echo(f"{row.iss}\t{row.source}\t{','.join(row.fingerprints)}")
