"""`passeport audit`: the audit journal's retention."""

from __future__ import annotations

import click

from app.cli.context import Context, pass_context
from app.cli.root import main


@main.group()
def audit() -> None:
    """The audit journal's retention (PASSEPORT_AUDIT_RETENTION_DAYS, docs/deployment.md)."""


@audit.command("prune")
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; delete nothing.")
@pass_context
def audit_prune(ctx: Context, dry_run: bool) -> None:
    """Delete journal rows past their retention; the server also does this every hour."""
    from app.audit import service as audit_service
    from app.core.time import utcnow

    settings = ctx.settings
    with ctx.session(write=not dry_run) as session:
        pruned = audit_service.prune(session, settings, now=utcnow(), dry_run=dry_run)
    counts = (
        f"{pruned.security} security events older than {settings.audit_retention_days} days, "
        f"{pruned.noise} refusals naming nobody older than "
        f"{settings.audit_noise_retention_days} days"
    )
    click.echo(f"dry run, nothing deleted: {counts}" if dry_run else f"deleted {counts}")
