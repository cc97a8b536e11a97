"""`passeport federation`: the hub's side of a federation."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from app.cli.context import ConfigurationError, Context, pass_context
from app.cli.root import main


@main.group()
def federation() -> None:
    """The hub's side of a federation: member issuers and the signed trust list."""


@federation.group("member")
def federation_member() -> None:
    """Issuers the trust list includes."""


@federation_member.command("add")
@click.argument("issuer_url")
@click.option("--name", help="Name shown to verifiers (default: the URL).")
@click.option("--status-uri", "status_uris", multiple=True, help="Default: ISSUER_URL/status/1.")
@pass_context
def federation_member_add(
    ctx: Context, issuer_url: str, name: str | None, status_uris: tuple[str, ...]
) -> None:
    """Include an issuer in the next trust list (`passeport federation publish`)."""
    from app.federation import hub

    with ctx.session() as session:
        member = hub.add_member(session, issuer_url, name=name, status_uris=status_uris)
        click.echo(f"member {member.iss} added; run `passeport federation publish`")


@federation_member.command("remove")
@click.argument("issuer_url")
@pass_context
def federation_member_remove(ctx: Context, issuer_url: str) -> None:
    """Leave an issuer out of the next trust list."""
    from app.federation import hub

    with ctx.session() as session:
        hub.remove_member(session, issuer_url)
    click.echo(f"member {issuer_url} removed; run `passeport federation publish`")


@federation_member.command("list")
@pass_context
def federation_member_list(ctx: Context) -> None:
    """The members, one per line: issuer URL, name."""
    from app.federation import hub

    with ctx.session(write=False) as session:
        for member in hub.members(session):
            click.echo(f"{member.iss}\t{member.name}")


@federation.command("publish")
@pass_context
def federation_publish(ctx: Context) -> None:
    """Refetch every member's key set and sign a new trust list with the next sequence number."""
    from app.core.errors import AppError
    from app.federation import hub

    settings = ctx.settings
    with ctx.connected() as engine:
        try:
            row = hub.publish(engine, settings)
        except AppError as exc:
            raise ConfigurationError(f"not published: {exc.detail}") from None
    click.echo(
        f"trust list {row.sequence} published, fresh until "
        f"{row.fresh_until.isoformat(timespec='seconds')}"
    )


@federation.group("stats")
def federation_stats() -> None:
    """The hub's national figures: each member's signed figures, summed."""


@federation_stats.command("collect")
@pass_context
def federation_stats_collect(ctx: Context) -> None:
    """Fetch each member's signed figures, check them against the key set the hub holds for it
    (the last trust list published) and keep the latest valid ones. Exit 2 if any is refused."""
    from app.federation import stats

    settings = ctx.settings
    with ctx.connected() as engine:
        outcomes = stats.collect(engine, settings)
    _report(outcomes, "collected")


@federation.group("places")
def federation_places() -> None:
    """The national directory: each member's signed public places."""


@federation_places.command("collect")
@pass_context
def federation_places_collect(ctx: Context) -> None:
    """Hub side: fetch each member's signed places, check them against the key set the hub
    holds for it and keep the latest valid ones. Exit 2 if any is refused."""
    from app.federation import places

    with ctx.connected() as engine:
        outcomes = places.collect(engine, ctx.settings)
    _report(outcomes, "collected")


@federation_places.command("receive")
@pass_context
def federation_places_receive(ctx: Context) -> None:
    """Member side: the hub's collection, each document checked with this instance's trust
    store. Exit 2 if any is refused."""
    from app.federation import places

    with ctx.connected() as engine:
        outcomes = places.receive(engine, ctx.settings)
    _report(outcomes, "received")


def _report(outcomes: Sequence[Any], verb: str) -> None:
    """One line per member document, a total, and exit 2 if any was refused."""
    for outcome in outcomes:
        if outcome.ok:
            click.echo(f"{verb} {outcome.iss}: {outcome.detail}")
        else:
            click.echo(f"refused {outcome.iss} ({outcome.reason}): {outcome.detail}", err=True)
    refused = sum(not o.ok for o in outcomes)
    click.echo(f"{len(outcomes) - refused} {verb}, {refused} refused")
    if refused:
        sys.exit(2)


@federation.command("anchor-key")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="File for the private JWK (created with mode 600).",
)
def federation_anchor_key(out: Path) -> None:
    """Make a federation anchor key: the private JWK goes to --out (the hub's
    PASSEPORT_FEDERATION_ANCHOR_KEY), the public JWK, for members, to standard output."""
    import os

    from joserfc.jwk import ECKey

    from app.credentials.format import public_jwk

    if out.exists():
        raise ConfigurationError(f"{out} exists; not overwritten")
    key = ECKey.generate_key("P-256", private=True)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(key.as_dict(private=True), handle)
    click.echo(json.dumps(public_jwk(key)))
