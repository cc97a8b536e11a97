"""`passeport keys`: territories' credential signing keys."""

from __future__ import annotations

from datetime import datetime

import click

from app.cli.context import Context, pass_context
from app.cli.root import main


@main.group()
def keys() -> None:
    """Territories' credential signing keys (docs/keys.md). Never prints private material."""


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value is not None else "-"


@keys.command("list")
@click.option("--territory", "code", required=True, help="Code of the territory.")
@pass_context
def keys_list(ctx: Context, code: str) -> None:
    """Each key of a territory: kid, state, created, rotated, published until, retired."""
    from app.core.time import utcnow
    from app.credentials import keys as signing_keys
    from app.territory import service as territories

    with ctx.session(write=False) as session:
        infos = signing_keys.list_keys(session, territories.get_by_code(session, code), utcnow())
    if not infos:
        click.echo(f"territory {code} has no signing key yet (one is made when it first signs)")
        return
    click.echo(
        f"{'kid':<44} {'state':<8} {'created':<26} {'rotated':<26} {'published until':<26} retired"
    )
    for info in infos:
        click.echo(
            f"{info.kid:<44} {info.state:<8} {_when(info.created_at):<26} "
            f"{_when(info.rotated_at):<26} {_when(info.publish_until):<26} "
            f"{_when(info.retired_at)}"
        )


@keys.command("rotate")
@click.option("--territory", "code", required=True, help="Code of the territory.")
@pass_context
def keys_rotate(ctx: Context, code: str) -> None:
    """Sign new credentials with a new key; the old one stays published until its credentials
    have expired (PASSEPORT_CREDENTIAL_MAX_DAYS)."""
    from app.credentials import keys as signing_keys
    from app.territory import service as territories

    settings = ctx.settings
    with ctx.session() as session:
        kid = signing_keys.rotate(session, territories.get_by_code(session, code), settings)
    click.echo(f"territory {code} now signs with {kid}")


# A kid is a base64url thumbprint: one in 64 begins with "-", which click would take for an
# option. Unknown options are passed through as the KID instead (`-- KID` works too).
@keys.command("retire", context_settings={"ignore_unknown_options": True})
@click.argument("kid")
@pass_context
def keys_retire(ctx: Context, kid: str) -> None:
    """Retire a compromised key: unpublished at once, what it signed fails with unknown_key."""
    from app.credentials import keys as signing_keys

    with ctx.session() as session:
        signing_keys.retire(session, None, kid)
    click.echo(f"retired {kid}: no longer published nor trusted")
