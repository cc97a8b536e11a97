"""`passeport credential`: issuing a credential from the server."""

from __future__ import annotations

from pathlib import Path

import click

from app.cli.context import ConfigurationError, Context, pass_context
from app.cli.root import main
from app.credentials import DEFAULT_VALIDITY_DAYS


@main.group()
def credential() -> None:
    """Signed QR credentials."""


@credential.command("issue")
@click.option("--passport", "number", required=True, help="The passport number, P-…")
@click.option("--skills", default="", help="Comma-separated skill codes (default: all validated).")
@click.option(
    "--days",
    default=DEFAULT_VALIDITY_DAYS,
    show_default=True,
    type=click.IntRange(1, 3650),
)
@click.option("--with-name", is_flag=True, help="Put the holder's name in the credential.")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, writable=True, path_type=Path),
)
@pass_context
def credential_issue(
    ctx: Context, number: str, skills: str, days: int, with_name: bool, out_dir: Path
) -> None:
    """Issue a credential and write credential.txt, .svg, .png and attestation.pdf."""
    from sqlmodel import select

    from app.accounts.principal import CallerKind, Principal
    from app.credentials import format as fmt
    from app.credentials import service as credentials
    from app.passports import numbers
    from app.passports import service as passports
    from app.passports.models import Passport

    settings = ctx.settings
    checked = numbers.check_number(number)
    canonical = checked.number
    if canonical is None:
        raise ConfigurationError(f"{number!r}: {checked.explain()}")
    with ctx.session() as session:
        passport = session.exec(select(Passport).where(Passport.number == canonical)).first()
        if passport is None or passport.erased_at is not None:
            raise ConfigurationError(f"no passport {canonical} here")
        # A merged passport names the one it was merged into (an AppError: one line, see context).
        passports.ensure_live(session, passport)
        operator = Principal(kind=CallerKind.OPERATOR, territory_id=passport.territory_id)
        codes = [c.strip() for c in skills.split(",") if c.strip()] or (
            credentials.validated_codes(session, passport)
        )
        issued = credentials.issue(
            session,
            settings,
            operator,
            passport,
            skill_codes=codes,
            validity_days=days,
            with_name=with_name,
        )
        pdf = credentials.attestation_pdf(session, settings, issued.credential)
        code = issued.credential.code
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "credential.txt").write_text(issued.qr_text + "\n", encoding="ascii")
    (out_dir / "credential.svg").write_text(fmt.qr_svg(issued.qr_text), encoding="utf-8")
    (out_dir / "credential.png").write_bytes(fmt.qr_png(issued.qr_text, box_size=8))
    (out_dir / "attestation.pdf").write_bytes(pdf)
    click.echo(
        f"credential {code}: {len(codes)} skill(s), QR version {issued.qr_version}, in {out_dir}"
    )
    if issued.qr_version > fmt.TARGET_QR_VERSION:
        click.echo(
            f"warning: QR version {issued.qr_version} is above {fmt.TARGET_QR_VERSION}: print it "
            "at least 6 cm wide, or issue fewer skills",
            err=True,
        )
