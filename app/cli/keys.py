"""`passeport keys`: territories' credential signing keys."""

from __future__ import annotations

from datetime import datetime

import click

from app.cli.context import ConfigurationError, clean_errors, connected, load_settings
from app.cli.root import main
from app.core.db import transaction


@main.group()
def keys() -> None:
    """Territories' credential signing keys (docs/keys.md). Never prints private material."""


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value is not None else "-"


@keys.command("list")
@click.option("--territory", "code", required=True, help="Code of the territory.")
@clean_errors
def keys_list(code: str) -> None:
    """Each key of a territory: kid, state, created, rotated, published until, retired."""
    from app.core.errors import AppError
    from app.core.time import utcnow
    from app.credentials import keys as signing_keys
    from app.territory import service as territories

    with connected(load_settings()) as engine, transaction(engine, write=False) as session:
        try:
            infos = signing_keys.list_keys(
                session, territories.get_by_code(session, code), utcnow()
            )
        except AppError as exc:
            raise ConfigurationError(exc.detail) from None
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
@clean_errors
def keys_rotate(code: str) -> None:
    """Sign new credentials with a new key; the old one stays published until its credentials
    have expired (PASSEPORT_CREDENTIAL_MAX_DAYS)."""
    from app.core.errors import AppError
    from app.credentials import keys as signing_keys
    from app.territory import service as territories

    settings = load_settings()
    with connected(settings) as engine, transaction(engine) as session:
        try:
            kid = signing_keys.rotate(session, territories.get_by_code(session, code), settings)
        except AppError as exc:
            raise ConfigurationError(exc.detail) from None
    click.echo(f"territory {code} now signs with {kid}")


# A kid is a base64url thumbprint: one in 64 begins with "-", which click would take for an
# option. Unknown options are passed through as the KID instead (`-- KID` works too).
@keys.command("retire", context_settings={"ignore_unknown_options": True})
@click.argument("kid")
@clean_errors
def keys_retire(kid: str) -> None:
    """Retire a compromised key: unpublished at once, what it signed fails with unknown_key."""
    from app.core.errors import AppError
    from app.credentials import keys as signing_keys

    with connected(load_settings()) as engine, transaction(engine) as session:
        try:
            signing_keys.retire(session, None, kid)
        except AppError as exc:
            raise ConfigurationError(exc.detail) from None
    click.echo(f"retired {kid}: no longer published nor trusted")
