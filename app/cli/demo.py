"""`passeport demo`: the demo territory."""

from __future__ import annotations

import json

import click

from app.cli.context import ConfigurationError, Context, pass_context
from app.cli.root import main


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print what exists, as JSON, for scripts.")
@pass_context
def demo(ctx: Context, as_json: bool) -> None:
    """Create the demo territory and its data (idempotent; refused in production)."""
    from app import demo as demo_data

    settings = ctx.settings
    try:
        with ctx.session() as session:
            report = demo_data.seed(session, settings)
    except demo_data.DemoRefused as exc:
        raise ConfigurationError(str(exc)) from None
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
        return
    verb = "created" if report.created else "already present"
    click.echo(
        f"demo territory {report.territory['code']} {verb}: {report.territory['issuer_url']}"
    )
    for account in report.accounts:
        click.echo(f"  {account['role']:<16} {account['email']}  password: {account['password']}")
    for passport in report.passports:
        click.echo(
            f"  citizen          {passport['number']}  access code: {passport['access_code']}"
        )
