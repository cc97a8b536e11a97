"""`passeport admin`: platform administration."""

from __future__ import annotations

import click

from app.cli.context import Context, pass_context
from app.cli.root import main


@main.group()
def admin() -> None:
    """Platform administration."""


@admin.command("create")
@click.option("--email", required=True)
@click.option("--name", "display_name", required=True, help="Display name.")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Prompted for when omitted (never put it in shell history).",
)
@pass_context
def admin_create(ctx: Context, email: str, display_name: str, password: str) -> None:
    """Create a platform admin (the first account of an instance)."""
    from pydantic import TypeAdapter

    from app.accounts import service as accounts
    from app.accounts.models import Role
    from app.accounts.schemas import Password
    from app.core.validation import Email

    checked_email = TypeAdapter(Email).validate_python(email)
    TypeAdapter(Password).validate_python(password)
    with ctx.session() as session:
        account = accounts.create_account(
            session,
            email=checked_email,
            display_name=display_name,
            role=Role.PLATFORM_ADMIN,
            territory_id=None,
            password=password,
        )
    click.echo(f"platform admin {account.email} created (id {account.id})")
