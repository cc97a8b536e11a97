"""The `passeport` command line: each command is one unit of work over the API's services."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import ValidationError
from sqlalchemy import Engine

from app.core.db import check_database, create_db_engine, is_sqlite, normalise_url, transaction
from app.core.logging import configure_logging
from app.core.settings import ConfigurationError, Settings

F = TypeVar("F", bound=Callable[..., Any])


def _fail(message: str) -> None:
    click.echo(f"passeport: error: {message}", err=True)
    sys.exit(2)


def clean_errors(func: F) -> F:
    """Operators get one clear line, never a traceback, for what they can fix themselves."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConfigurationError as exc:
            _fail(str(exc))
        except ValidationError as exc:
            first = exc.errors()[0]
            if exc.title == "Settings":
                name = "PASSEPORT_" + "_".join(str(p) for p in first["loc"]).upper()
                _fail(f"{name}: {first['msg']}")
            _fail(f"invalid value: {first['msg']}")

    return wrapper  # type: ignore[return-value]


def load_settings() -> Settings:
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    settings.check_secrets()
    return settings


@contextmanager
def connected(settings: Settings, schema: str = "head") -> Iterator[Engine]:
    """The database, checked before any command touches it, so that a wrong URL or a database
    not made yet stops with one line (exit 2) and never leaves an empty SQLite file behind.

    ``schema``: "head" (every command but two) wants the schema the code expects; "any" (``db
    current``) a database that exists; "create" (``db upgrade``) may make the SQLite file.
    """
    url = normalise_url(settings.database_url)
    if schema != "create" and is_sqlite(url) and url.database not in (None, "", ":memory:"):
        path = Path(str(url.database))
        if not path.is_file():
            raise ConfigurationError(
                f"the database file {path} does not exist; run `passeport db upgrade` to make it"
            )
    engine = create_db_engine(settings)
    try:
        check_database(engine)
        if schema == "head":
            from app.core.migrations import current_revision, head_revision

            with engine.connect() as conn:
                current, head = current_revision(conn), head_revision()
            if current != head:
                raise ConfigurationError(
                    f"the database schema is at {current or 'nothing'} but the code expects "
                    f"{head}; run `passeport db upgrade` first"
                )
        yield engine
    finally:
        engine.dispose()


@click.group()
@click.version_option(package_name="passeport-numerique")
def main() -> None:
    """Passeport numérique: digital-skills passports and signed QR credentials."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@clean_errors
def serve(host: str, port: int, workers: int) -> None:
    """Serve the web UI and the API."""
    import uvicorn

    settings = load_settings()
    with connected(settings):
        pass
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        server_header=False,
    )


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@clean_errors
def db_upgrade(revision: str) -> None:
    """Apply the migrations (creates the SQLite file if needed)."""
    from app.core.migrations import upgrade

    settings = load_settings()
    with connected(settings, schema="create"):
        pass
    upgrade(settings.database_url, revision)
    click.echo(f"database at {revision}", err=True)


@db.command("current")
@clean_errors
def db_current() -> None:
    """Print the schema revision of the database and of the code."""
    from app.core.migrations import current_revision, head_revision

    with connected(load_settings(), schema="any") as engine, engine.connect() as conn:
        click.echo(f"database: {current_revision(conn) or 'empty'}\ncode:     {head_revision()}")


@main.group()
def framework() -> None:
    """Skills frameworks (CRCN, DigComp 2.2, Premiers pas)."""


@framework.command("load")
@click.option("--force", is_flag=True, help="Rewrite even the files already loaded.")
@clean_errors
def framework_load(force: bool) -> None:
    """Load the framework data files shipped with this version (no-op when already loaded)."""
    from app.framework.loader import FrameworkDataError, load_frameworks

    with connected(load_settings()) as engine, engine.begin() as conn:
        try:
            report = load_frameworks(conn, force=force)
        except FrameworkDataError as exc:
            raise ConfigurationError(str(exc)) from None
    for code, version in report.loaded.items():
        click.echo(f"loaded    {code} {version}")
    for code, version in report.unchanged.items():
        click.echo(f"unchanged {code} {version}")


@framework.command("show")
@click.option("--json", "as_json", is_flag=True, help="The whole tree, as the API serves it.")
@click.option("--lang", type=click.Choice(["fr", "en"]), default="fr", show_default=True)
@clean_errors
def framework_show(as_json: bool, lang: str) -> None:
    """Print the frameworks loaded in the database."""
    from app.framework import service

    with connected(load_settings()) as engine, transaction(engine, write=False) as session:
        tree = service.tree(session)
    if as_json:
        click.echo(tree.model_dump_json(indent=2))
        return
    click.echo(f"version {tree.version}")
    for fw in tree.frameworks:
        name = fw.name_fr if lang == "fr" else fw.name_en
        count = sum(len(a.competences) for a in fw.areas) + len(fw.skills)
        click.echo(f"\n{fw.code} {fw.version}: {name} ({count} skills)")
        for area in fw.areas:
            click.echo(f"  {area.number} {area.label_fr if lang == 'fr' else area.label_en}")
            for c in area.competences:
                mapped = f"  -> {', '.join(c.digcomp)}" if c.digcomp else ""
                click.echo(f"    {c.code:<12} {c.label_fr if lang == 'fr' else c.label_en}{mapped}")
        for s in fw.skills:
            label = s.label_fr if lang == "fr" else s.label_en
            click.echo(f"    {s.code:<12} {label}  [{s.crcn}, level {s.level}]")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print what exists, as JSON, for scripts.")
@clean_errors
def demo(as_json: bool) -> None:
    """Create the demo territory and its data (idempotent; refused in production)."""
    from app import demo as demo_data

    settings = load_settings()
    try:
        with connected(settings) as engine, transaction(engine) as session:
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
@clean_errors
def admin_create(email: str, display_name: str, password: str) -> None:
    """Create a platform admin (the first account of an instance)."""
    from pydantic import TypeAdapter

    from app.accounts import service as accounts
    from app.accounts.models import Role
    from app.accounts.schemas import Password
    from app.core.errors import AppError
    from app.core.validation import Email

    checked_email = TypeAdapter(Email).validate_python(email)
    TypeAdapter(Password).validate_python(password)
    try:
        with connected(load_settings()) as engine, transaction(engine) as session:
            account = accounts.create_account(
                session,
                email=checked_email,
                display_name=display_name,
                role=Role.PLATFORM_ADMIN,
                territory_id=None,
                password=password,
            )
    except AppError as exc:
        raise ConfigurationError(exc.detail) from None
    click.echo(f"platform admin {account.email} created (id {account.id})")


@main.group()
def structures() -> None:
    """Structures (places of mediation) in the national open-data schema."""


# Above the API's body limit: an operator on the server may load a whole region's file at once.
MAX_IMPORT_FILE_BYTES = 50_000_000


@structures.command("import")
@click.argument("file", type=click.Path())
@click.option("--territory", "code", required=True, help="Code of the receiving territory.")
@click.option("--dry-run", is_flag=True, help="Check and report; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON, for scripts.")
@clean_errors
def structures_import(file: str, code: str, dry_run: bool, as_json: bool) -> None:
    """Import a CSV or JSON file of structures (importing it again changes nothing).

    Exits 0 once the import ran, even if rows were rejected (each is listed with its line, field
    and reason); 2 when the file or the territory cannot be used, and then nothing is written.
    """
    from pathlib import Path

    from app.core.errors import AppError
    from app.structures import files, importer
    from app.territory import service as territories

    settings = load_settings()
    path = Path(file)
    try:
        if path.stat().st_size > MAX_IMPORT_FILE_BYTES:
            raise ConfigurationError(f"{file} is over {MAX_IMPORT_FILE_BYTES} bytes; split it")
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"cannot read {file}: {exc.strerror or exc}") from None
    try:
        parsed = files.parse(data, filename=path.name)
    except AppError as exc:
        raise ConfigurationError(f"{file}: {exc.detail}") from None
    try:
        with connected(settings) as engine, transaction(engine, write=not dry_run) as session:
            territory = territories.get_by_code(session, code)
            with click.progressbar(
                length=len(parsed.rows), label="checking rows", file=sys.stderr
            ) as bar:
                report = importer.import_rows(
                    session, territory, parsed, dry_run=dry_run, via="cli", progress=bar.update
                )
    except AppError as exc:
        raise ConfigurationError(exc.detail) from None
    if as_json:
        click.echo(report.model_dump_json(indent=2))
        return
    click.echo(
        f"{'dry run, nothing written: ' if dry_run else ''}{report.rows} rows, "
        f"{report.created} created, {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.rejected_rows} rejected"
    )
    if report.ignored_columns:
        click.echo(f"ignored columns: {', '.join(report.ignored_columns)}")
    for rejection in report.rejected:
        click.echo(f"line {rejection.line}: {rejection.field or '(row)'}: {rejection.reason}")
    if report.rejected_truncated:
        click.echo("(more problems not listed; fix these and run again)")


@structures.command("export")
@click.option("--territory", "code", required=True, help="Code of the territory.")
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True
)
@click.option("--out", type=click.Path(), help="Write here instead of stdout.")
@clean_errors
def structures_export(code: str, fmt: str, out: str | None) -> None:
    """Write a territory's structures in the national schema (CSV or JSON)."""
    from pathlib import Path

    from app.core.errors import AppError
    from app.structures import service
    from app.structures.files import FileFormat

    with connected(load_settings()) as engine, transaction(engine, write=False) as session:
        try:
            _, content = service.export(session, code, FileFormat(fmt))
        except AppError as exc:
            raise ConfigurationError(exc.detail) from None
    if out is None:
        sys.stdout.buffer.write(content)
        sys.stdout.flush()
        return
    try:
        Path(out).write_bytes(content)
    except OSError as exc:
        raise ConfigurationError(f"cannot write {out}: {exc.strerror or exc}") from None


@main.group()
def retention() -> None:
    """Erase the passports nobody has used for PASSEPORT_RETENTION_YEARS years."""


@retention.command("run")
@click.option("--dry-run", is_flag=True, help="Count and list what would be erased; erase nothing.")
@clean_errors
def retention_run(dry_run: bool) -> None:
    """Erase inactive passports: personal data goes, anonymous skills stay (docs/privacy.md).

    Prints counts and passport numbers only, never a name: its output may land in logs.
    """
    from sqlmodel import col, select

    from app.core.time import utcnow
    from app.passports import gdpr
    from app.passports.models import Passport

    settings = load_settings()
    cutoff = gdpr.retention_cutoff(utcnow(), settings.retention_years)
    with connected(settings) as engine, transaction(engine, write=not dry_run) as session:
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


@main.group()
def audit() -> None:
    """The audit journal's retention (PASSEPORT_AUDIT_RETENTION_DAYS, docs/deployment.md)."""


@audit.command("prune")
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; delete nothing.")
@clean_errors
def audit_prune(dry_run: bool) -> None:
    """Delete journal rows past their retention; the server also does this every hour."""
    from app.audit import service as audit_service
    from app.core.time import utcnow

    settings = load_settings()
    with connected(settings) as engine, transaction(engine, write=not dry_run) as session:
        pruned = audit_service.prune(session, settings, now=utcnow(), dry_run=dry_run)
    counts = (
        f"{pruned.security} security events older than {settings.audit_retention_days} days, "
        f"{pruned.noise} refusals naming nobody older than "
        f"{settings.audit_noise_retention_days} days"
    )
    click.echo(f"dry run, nothing deleted: {counts}" if dry_run else f"deleted {counts}")


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


@main.group()
def credential() -> None:
    """Signed QR credentials."""


@credential.command("issue")
@click.option("--passport", "number", required=True, help="The passport number, P-…")
@click.option("--skills", default="", help="Comma-separated skill codes (default: all validated).")
@click.option("--days", default=365, show_default=True, type=click.IntRange(1, 3650))
@click.option("--with-name", is_flag=True, help="Put the holder's name in the credential.")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, writable=True, path_type=Path),
)
@clean_errors
def credential_issue(number: str, skills: str, days: int, with_name: bool, out_dir: Path) -> None:
    """Issue a credential and write credential.txt, .svg, .png and attestation.pdf."""
    from sqlmodel import select

    from app.accounts.principal import CallerKind, Principal
    from app.core.errors import AppError
    from app.credentials import format as fmt
    from app.credentials import service as credentials
    from app.passports import numbers
    from app.passports.models import Passport

    settings = load_settings()
    checked = numbers.check_number(number)
    canonical = checked.number
    if canonical is None:
        raise ConfigurationError(f"{number!r}: {checked.explain()}")
    try:
        with connected(settings) as engine, transaction(engine) as session:
            passport = session.exec(select(Passport).where(Passport.number == canonical)).first()
            if passport is None or passport.erased_at is not None:
                raise ConfigurationError(f"no passport {canonical} here")
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
    except AppError as exc:
        raise ConfigurationError(exc.detail) from None
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


@main.group()
def stats() -> None:
    """The observatory's figures, as open data under statistical secrecy (docs/open-data.md)."""


@stats.command("export")
@click.option("--territory", "code", help="Code of one territory (default: every territory).")
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True
)
@click.option("--out", type=click.Path(), default=".", show_default=True, help="Directory.")
@click.option("--start", type=click.DateTime(["%Y-%m-%d"]), help="First day (default: 24 months).")
@click.option("--end", type=click.DateTime(["%Y-%m-%d"]), help="Last day (default: today).")
@clean_errors
def stats_export(
    code: str | None, fmt: str, out: str, start: datetime | None, end: datetime | None
) -> None:
    """Write each territory's figures: stats-CODE.json, or stats-CODE/TABLE.csv per table."""
    from app.core.errors import AppError
    from app.observatory import release, service
    from app.territory import service as territories

    settings = load_settings()
    root = Path(out)
    written: list[Path] = []
    try:
        with connected(settings) as engine, transaction(engine, write=False) as session:
            chosen = (
                [territories.get_by_code(session, code)] if code else territories.list_all(session)
            )
            period = service.period(start.date() if start else None, end.date() if end else None)
            for territory in chosen:
                # A released period is exported as the public route serves it, as stored
                # (docs/open-data.md, "Releases"); any other is computed now, on its own.
                published: service.Published | release.Released | None = (
                    release.released(session, territory, period) if period.id else None
                )
                if published is None:
                    published = service.published(
                        session, territory, period, settings.stats_threshold, settings.public_url
                    )
                if fmt == "json":
                    root.mkdir(parents=True, exist_ok=True)
                    path = root / f"stats-{territory.code}.json"
                    path.write_bytes(service.to_json(published.document()))
                    written.append(path)
                    continue
                folder = root / f"stats-{territory.code}"
                folder.mkdir(parents=True, exist_ok=True)
                for name in published.table_names():
                    path = folder / f"{name}.csv"
                    path.write_text(published.csv(name), encoding="utf-8")
                    written.append(path)
    except AppError as exc:
        raise ConfigurationError(exc.detail) from None
    except OSError as exc:
        raise ConfigurationError(f"cannot write in {out}: {exc.strerror or exc}") from None
    for path in written:
        click.echo(str(path))


@stats.command("release")
@click.option("--territory", "code", help="Code of one territory (default: every territory).")
@clean_errors
def stats_release(code: str | None) -> None:
    """Release the public figures of every fixed period due (PASSEPORT_STATS_RELEASE_DAYS after
    it ends) and not released yet: computed once, stored, served as stored ever after. The
    server does the same in the background; running it again releases nothing twice."""
    from app.core.errors import AppError
    from app.observatory import release

    settings = load_settings()
    try:
        with connected(settings) as engine:
            done = release.release(engine, settings, code)
    except AppError as exc:
        raise ConfigurationError(exc.detail) from None
    for territory, periods in done.items():
        if not periods:
            click.echo(f"{territory}: nothing to release")
        elif len(periods) <= 3:
            click.echo(f"{territory}: released {', '.join(periods)}")
        else:
            click.echo(
                f"{territory}: released {len(periods)} periods, {periods[0]} to {periods[-1]}"
            )


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
@clean_errors
def federation_member_add(issuer_url: str, name: str | None, status_uris: tuple[str, ...]) -> None:
    """Include an issuer in the next trust list (`passeport federation publish`)."""
    from app.core.errors import AppError
    from app.federation import hub

    with connected(load_settings()) as engine, transaction(engine) as session:
        try:
            member = hub.add_member(session, issuer_url, name=name, status_uris=status_uris)
        except AppError as exc:
            raise ConfigurationError(exc.detail) from None
        click.echo(f"member {member.iss} added; run `passeport federation publish`")


@federation_member.command("remove")
@click.argument("issuer_url")
@clean_errors
def federation_member_remove(issuer_url: str) -> None:
    """Leave an issuer out of the next trust list."""
    from app.core.errors import AppError
    from app.federation import hub

    with connected(load_settings()) as engine, transaction(engine) as session:
        try:
            hub.remove_member(session, issuer_url)
        except AppError as exc:
            raise ConfigurationError(exc.detail) from None
    click.echo(f"member {issuer_url} removed; run `passeport federation publish`")


@federation_member.command("list")
@clean_errors
def federation_member_list() -> None:
    """The members, one per line: issuer URL, name."""
    from app.federation import hub

    with connected(load_settings()) as engine, transaction(engine, write=False) as session:
        for member in hub.members(session):
            click.echo(f"{member.iss}\t{member.name}")


@federation.command("publish")
@clean_errors
def federation_publish() -> None:
    """Refetch every member's key set and sign a new trust list with the next sequence number."""
    from app.core.errors import AppError
    from app.federation import hub

    settings = load_settings()
    with connected(settings) as engine:
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
@clean_errors
def federation_stats_collect() -> None:
    """Fetch each member's signed figures, check them against the key set the hub holds for it
    (the last trust list published) and keep the latest valid ones. Exit 2 if any is refused."""
    from app.federation import stats

    settings = load_settings()
    with connected(settings) as engine:
        outcomes = stats.collect(engine, settings)
    for outcome in outcomes:
        if outcome.ok:
            click.echo(f"collected {outcome.iss}: {outcome.detail}")
        else:
            click.echo(f"refused {outcome.iss} ({outcome.reason}): {outcome.detail}", err=True)
    refused = sum(not o.ok for o in outcomes)
    click.echo(f"{len(outcomes) - refused} collected, {refused} refused")
    if refused:
        sys.exit(2)


@federation.group("places")
def federation_places() -> None:
    """The national directory: each member's signed public places."""


@federation_places.command("collect")
@clean_errors
def federation_places_collect() -> None:
    """Hub side: fetch each member's signed places, check them against the key set the hub
    holds for it and keep the latest valid ones. Exit 2 if any is refused."""
    from app.federation import places

    settings = load_settings()
    with connected(settings) as engine:
        outcomes = places.collect(engine, settings)
    _places_report(outcomes, "collected")


@federation_places.command("receive")
@clean_errors
def federation_places_receive() -> None:
    """Member side: the hub's collection, each document checked with this instance's trust
    store. Exit 2 if any is refused."""
    from app.federation import places

    settings = load_settings()
    with connected(settings) as engine:
        outcomes = places.receive(engine, settings)
    _places_report(outcomes, "received")


def _places_report(outcomes: Sequence[Any], verb: str) -> None:
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
@clean_errors
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


@main.group()
def trust() -> None:
    """This instance's trust store: other instances' issuers (docs/federation.md)."""


@trust.command("refresh")
@clean_errors
def trust_refresh() -> None:
    """Import the hub's trust list now, and unpin the keys manually pinned issuers no longer
    publish (the server also does both in the background)."""
    from app.core.errors import AppError
    from app.federation import store

    settings = load_settings()
    with connected(settings) as engine:
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
@clean_errors
def trust_list() -> None:
    """The trusted issuers of other instances: issuer URL, source, fingerprints."""
    from app.federation import store

    with connected(load_settings()) as engine, transaction(engine, write=False) as session:
        held = store.held_list(session)
        if held is not None:
            click.echo(
                f"trust list {held.sequence} from {held.hub}, fresh until "
                f"{held.fresh_until.isoformat(timespec='seconds')}"
            )
        for row in store.list_issuers(session):
            click.echo(f"{row.iss}\t{row.source}\t{','.join(row.fingerprints)}")
