"""`passeport retention`: erasing passports nobody used for the retention period."""

from __future__ import annotations

import click

from app.cli.context import Context, pass_context
from app.cli.root import main


@main.group()
def retention() -> None:
    """Erase the passports nobody has used for PASSEPORT_RETENTION_YEARS years."""


@retention.command("run")
@click.option("--dry-run", is_flag=True, help="Count and list what would be erased; erase nothing.")
@pass_context
def retention_run(ctx: Context, dry_run: bool) -> None:
    """Erase inactive passports: personal data goes, anonymous skills stay (docs/privacy.md).

    Prints counts and passport numbers only, never a name: its output may land in logs.
    """
    from sqlmodel import col, select

    from app.core.time import utcnow
    from app.passports import gdpr
    from app.passports.models import Passport

    settings = ctx.settings
    cutoff = gdpr.retention_cutoff(utcnow(), settings.retention_years)
    with ctx.session(write=not dry_run) as session:
        ids = gdpr.purge_inactive(session, older_than=cutoff, dry_run=dry_run)
        # After a real run the numbers are gone with the rest: there is nothing left to list.
        numbers = (
            session.exec(
                select(Passport.number).where(col(Passport.id).in_(ids)).order_by(Passport.number)
            ).all()
            if dry_run
            else []
        )
    since = f"inactive since before {cutoff.date().isoformat()}"
    if dry_run:
        click.echo(f"dry run, nothing erased: {len(ids)} passports {since} would be erased")
        for number in numbers:
            click.echo(number)
    else:
        click.echo(f"erased {len(ids)} passports {since}")
