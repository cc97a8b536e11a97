"""Test data, each piece in its own committed transaction."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import count
from typing import Any

import httpx
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app import authz
from app.accounts import security
from app.accounts.models import Account, ApiToken, Role, StructureMembership
from app.core.db import pk, transaction
from app.core.time import utcnow
from app.passports import numbers
from app.passports.models import Passport
from app.structures.models import Structure
from app.territory.models import Territory

PASSWORD = "correct horse battery staple"
ACCESS_CODE = "BCDF2345"
# argon2id is slow on purpose; hash the shared test secrets once, not once per row.
PASSWORD_HASH = security.hash_password(PASSWORD)
ACCESS_CODE_HASH = security.hash_password(ACCESS_CODE)
_seq = count(1)


def make_territory(
    engine: sa.Engine, code: str | None = None, name: str | None = None
) -> Territory:
    code = code or f"t{next(_seq)}"
    with transaction(engine) as session:
        territory = Territory(
            code=code, name=name or f"Territoire {code}", issuer_url=f"https://issuer.test/t/{code}"
        )
        session.add(territory)
    return territory


def make_structure(engine: sa.Engine, territory: Territory, nom: str | None = None) -> Structure:
    n = next(_seq)
    with transaction(engine) as session:
        structure = Structure(
            territory_id=pk(territory),
            external_id=f"ext-{n}",
            nom=nom or f"Médiathèque {n}",
            commune="Cayenne",
            code_postal="97300",
            code_insee="97302",
            adresse=f"{n} rue de la République",
        )
        session.add(structure)
    return structure


def make_account(
    engine: sa.Engine,
    role: Role,
    territory: Territory | None = None,
    structures: Iterable[Structure] = (),
    *,
    email: str | None = None,
    password: str | None = PASSWORD,
) -> Account:
    with transaction(engine) as session:
        account = Account(
            email=email or f"user{next(_seq)}@example.org",
            display_name="Test User",
            role=role,
            territory_id=territory.id if territory else None,
            password_hash=(
                PASSWORD_HASH
                if password == PASSWORD
                else security.hash_password(password)
                if password
                else None
            ),
        )
        session.add(account)
        session.flush()
        for structure in structures:
            session.add(StructureMembership(account_id=pk(account), structure_id=pk(structure)))
    return account


def make_passport(
    engine: sa.Engine, territory: Territory, structure: Structure, *, last_name: str = "Martin"
) -> Passport:
    with transaction(engine) as session:
        passport = Passport(
            territory_id=pk(territory),
            number=numbers.new_number(),
            first_name="Lucie",
            last_name=last_name,
            birth_year=1958,
            search_name=f"{last_name.lower()} lucie",
            holder_id=secrets.token_hex(16),
            access_code_hash=ACCESS_CODE_HASH,
            consent_version="2026-11",
            consent_at=utcnow(),
            consent_structure_id=structure.id,
        )
        session.add(passport)
    return passport


def bearer(
    engine: sa.Engine, account: Account, scopes: Iterable[str] | None = None
) -> dict[str, str]:
    """Authorization headers with a fresh token (all of the role's scopes unless told)."""
    raw = security.new_token("pn_")
    with transaction(engine) as session:
        session.add(
            ApiToken(
                account_id=pk(account),
                name="test",
                token_hash=security.token_hash(raw),
                prefix=raw[:8],
                scopes=sorted(scopes if scopes is not None else authz.ROLE_SCOPES[account.role]),
                expires_at=utcnow() + timedelta(days=1),
            )
        )
    return {"Authorization": f"Bearer {raw}"}


def browser_login(client: TestClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    """Sign the test client in (it keeps the cookie); returns the CSRF header for writes."""
    response = client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return {"X-CSRF-Token": response.json()["csrf_token"]}


@dataclass
class World:
    """Two territories, with structures, mediators and admins: every kind of caller."""

    a: Territory
    b: Territory
    a1: Structure
    a2: Structure
    b1: Structure
    mediator_a1: Account
    mediator_a2: Account
    mediator_b1: Account
    admin_a: Account
    admin_b: Account
    platform_admin: Account
    passport: Passport
    headers: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def accounts(self) -> dict[str, Account]:
        return {
            "mediator_of_structure": self.mediator_a1,
            "mediator_other_structure": self.mediator_a2,
            "mediator_other_territory": self.mediator_b1,
            "territory_admin": self.admin_a,
            "admin_other_territory": self.admin_b,
            "platform_admin": self.platform_admin,
        }


def make_world(engine: sa.Engine) -> World:
    a, b = make_territory(engine, "ta"), make_territory(engine, "tb")
    a1, a2, b1 = make_structure(engine, a), make_structure(engine, a), make_structure(engine, b)
    world = World(
        a=a,
        b=b,
        a1=a1,
        a2=a2,
        b1=b1,
        mediator_a1=make_account(engine, Role.MEDIATOR, a, [a1], email="med-a1@example.org"),
        mediator_a2=make_account(engine, Role.MEDIATOR, a, [a2], email="med-a2@example.org"),
        mediator_b1=make_account(engine, Role.MEDIATOR, b, [b1], email="med-b1@example.org"),
        admin_a=make_account(engine, Role.TERRITORY_ADMIN, a, email="admin-a@example.org"),
        admin_b=make_account(engine, Role.TERRITORY_ADMIN, b, email="admin-b@example.org"),
        platform_admin=make_account(engine, Role.PLATFORM_ADMIN, email="root@example.org"),
        passport=make_passport(engine, a, a1),
    )
    world.headers = {
        "anonymous": {},
        "mediator_of_structure": bearer(engine, world.mediator_a1),
        "mediator_other_structure": bearer(engine, world.mediator_a2),
        "mediator_other_territory": bearer(engine, world.mediator_b1),
        "territory_admin": bearer(engine, world.admin_a),
        "admin_other_territory": bearer(engine, world.admin_b),
        "platform_admin": bearer(engine, world.platform_admin),
    }
    return world


def record_validation(
    client: httpx.Client,
    world: World,
    skill_code: str = "pp:PP-06",
    *,
    headers: dict[str, str] | None = None,
    api: str = "/api/v1",
) -> dict[str, Any]:
    """A validation observed today at structure a1, recorded through the API (a TestClient, or an
    httpx client with the live server's base URL) by the mediator of the passport's structure."""
    recorded = client.post(
        f"{api}/passports/{world.passport.id}/validations",
        json={
            "skill_code": skill_code,
            "method": "observation",
            "observed_on": date.today().isoformat(),
            "structure_id": world.a1.id,
        },
        headers=headers or world.headers["mediator_of_structure"],
    )
    assert recorded.status_code == 201, recorded.text
    return dict(recorded.json())


@contextmanager
def on_every_statement(app: Any, listener: Callable[..., None]) -> Iterator[None]:
    """``listener`` as SQLAlchemy's ``before_cursor_execute`` on every engine the app sends SQL
    through: its plain engine, and on PostgreSQL the event loop's (app.core.db.LoopEngine)."""
    loop = app.state.loop_engine
    engines = [app.state.engine, *([loop.engine.sync_engine] if loop is not None else [])]
    for engine in engines:
        sa.event.listen(engine, "before_cursor_execute", listener)
    try:
        yield
    finally:
        for engine in engines:
            sa.event.remove(engine, "before_cursor_execute", listener)
