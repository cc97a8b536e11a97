"""The `passeport` command group, which every command module adds to."""

from __future__ import annotations

import click

from app.cli.context import OperatorGroup


@click.group(cls=OperatorGroup)
@click.version_option(package_name="passeport-numerique")
def main() -> None:
    """Passeport numérique: digital-skills passports and signed QR credentials."""
