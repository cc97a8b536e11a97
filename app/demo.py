"""Demo data, so that a newcomer sees something real at once. Idempotent: a second run adds nothing.

Each feature adds its own demo records here and reports them, since `passeport demo --json` is how
scripts and the browser tests find them. The demo passwords are published: the command refuses to
run in production.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlmodel import Session, select

from app.accounts import security
from app.accounts import service as accounts
from app.accounts.models import Account, Role
from app.accounts.principal import CallerKind, Principal
from app.core.db import pk
from app.core.settings import Environment, Settings
from app.credentials import DEFAULT_VALIDITY_DAYS
from app.credentials import service as credentials
from app.passports import service as passports
from app.passports.models import Method, Passport
from app.passports.schemas import PassportCreate, ValidationCreate
from app.structures.models import Structure
from app.territory import service as territories
from app.territory.models import Territory, issuer_url_for

DEMO_ACCOUNTS = (
    # (role, e-mail, display name, password)
    (
        Role.TERRITORY_ADMIN,
        "coordination@demo.passeport.test",
        "Camille Coordination",
        "coordination-demo-2026",
    ),
    (Role.MEDIATOR, "mediation@demo.passeport.test", "Sam Médiation", "mediation-demo-2026"),
)


# (first, last name, birth year, published access code, validations as (skill, level, days ago))
DEMO_CITIZENS = (
    (
        "Amina",
        "Diallo",
        1961,
        "BCDF2345",
        (("pp:PP-01", None, 60), ("pp:PP-06", None, 30), ("crcn:4.1", 2, 10)),
    ),
    ("Jean", "Dupont", 1950, "GHJK6789", (("pp:PP-03", None, 20), ("pp:PP-10", None, 5))),
    (
        "Lina",
        "Moreau",
        1998,
        "MNPQ2345",
        (("crcn:3.1", 3, 15), ("crcn:2.1", 3, 15), ("pp:PP-12", None, 2)),
    ),
)


class DemoRefused(Exception):
    """The demo is not for production instances."""


@dataclass
class DemoReport:
    created: bool
    territory: dict[str, Any] = field(default_factory=dict)
    structures: list[dict[str, Any]] = field(default_factory=list)
    accounts: list[dict[str, Any]] = field(default_factory=list)
    passports: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _structure(session: Session, territory: Territory) -> tuple[Structure, bool]:
    existing = session.exec(
        select(Structure).where(
            Structure.territory_id == territory.id, Structure.external_id == "demo-mediatheque"
        )
    ).first()
    if existing is not None:
        return existing, False
    structure = Structure(
        territory_id=pk(territory),
        external_id="demo-mediatheque",
        nom="Médiathèque de démonstration",
        commune="Cayenne",
        code_postal="97300",
        code_insee="97302",
        adresse="1 place de la Médiation",
        typologie=["BIB"],
        services=[
            "Aide aux démarches administratives",
            "Maîtrise des outils numériques du quotidien",
        ],
        presentation_resume="Un lieu de démonstration pour découvrir Passeport numérique.",
    )
    session.add(structure)
    session.flush()
    return structure, True


def _citizen(
    session: Session,
    territory: Territory,
    structure: Structure,
    mediator: Account,
    first: str,
    last: str,
    year: int,
    code: str,
    validations: tuple[tuple[str, int | None, int], ...],
) -> tuple[Passport, bool]:
    name = passports.search_name(first, last)
    existing = session.exec(
        select(Passport).where(Passport.territory_id == territory.id, Passport.search_name == name)
    ).first()
    if existing is not None:
        return existing, False
    principal = Principal(
        kind=CallerKind.ACCOUNT,
        account_id=mediator.id,
        role=Role.MEDIATOR,
        territory_id=territory.id,
        structure_ids=frozenset({structure.id or 0}),
    )
    opened = passports.open_passport(
        session,
        principal,
        PassportCreate(
            first_name=first,
            last_name=last,
            birth_year=year,
            structure_id=structure.id or 0,
            consent=True,
        ),
    )
    passport = opened.passport
    # The demo's codes are published, so a newcomer can sign in as a citizen at once.
    passport.access_code_hash = security.hash_password(code)
    for skill, level, days_ago in validations:
        passports.record_validation(
            session,
            principal,
            passport,
            ValidationCreate(
                skill_code=skill,
                level=level,
                method=Method.OBSERVATION,
                observed_on=date.today() - timedelta(days=days_ago),
                structure_id=structure.id or 0,
                evidence="Observé pendant un atelier de démonstration.",
            ),
            None,
        )
    return passport, True


def _demo_credential(
    session: Session,
    settings: Settings,
    territory: Territory,
    passport: Passport,
    created: bool,
) -> str | None:
    """The first citizen carries a credential, so the verifier has something to check at once:
    the citizen's page shows its QR, and its code is typed on /verify."""
    if created:
        issued = credentials.issue(
            session,
            settings,
            Principal(kind=CallerKind.OPERATOR, territory_id=territory.id),
            passport,
            skill_codes=credentials.validated_codes(session, passport),
            validity_days=DEFAULT_VALIDITY_DAYS,
            with_name=True,
        )
        return issued.credential.code
    held = credentials.list_for(session, passport)
    return held[0].code if held else None


def seed(session: Session, settings: Settings) -> DemoReport:
    if settings.env is Environment.PRODUCTION:
        raise DemoRefused("the demo data has published passwords; it is not for production")
    code = settings.demo_territory_code
    territory, created = territories.ensure(
        session,
        code=code,
        name="Territoire de démonstration",
        issuer_url=issuer_url_for(settings.public_url, code),
        contact_email="coordination@demo.passeport.test",
    )
    structure, structure_created = _structure(session, territory)
    created = created or structure_created
    report_accounts = []
    for role, email, name, password in DEMO_ACCOUNTS:
        account = session.exec(select(Account).where(Account.email == email)).first()
        if account is None:
            account = accounts.create_account(
                session,
                email=email,
                display_name=name,
                role=role,
                territory_id=territory.id,
                password=password,
                structure_ids=[structure.id] if structure.id and role is Role.MEDIATOR else [],
            )
            created = True
        report_accounts.append(
            {"id": account.id, "role": role.value, "email": email, "password": password}
        )
    mediator = session.exec(select(Account).where(Account.email == DEMO_ACCOUNTS[1][1])).one()
    report_passports: list[dict[str, Any]] = []
    for first, last, year, code, validations in DEMO_CITIZENS:
        passport, passport_created = _citizen(
            session, territory, structure, mediator, first, last, year, code, validations
        )
        created = created or passport_created
        entry: dict[str, Any] = {
            "id": passport.id,
            "number": passport.number,
            "access_code": code,
            "name": f"{first} {last}",
        }
        if not report_passports:
            entry["credential_code"] = _demo_credential(
                session, settings, territory, passport, passport_created
            )
        report_passports.append(entry)
    return DemoReport(
        created=created,
        passports=report_passports,
        territory={
            "id": territory.id,
            "code": territory.code,
            "name": territory.name,
            "issuer_url": territory.issuer_url,
        },
        structures=[
            {"id": structure.id, "external_id": structure.external_id, "nom": structure.nom}
        ],
        accounts=report_accounts,
    )
