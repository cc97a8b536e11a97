"""The permission matrix: every route, every kind of caller, the expected answer.

Each route of the app must have a row in ROUTES, so a new route fails this file until someone
decides who may call it. Callers (see tests.factories.make_world) act on territory `ta` and its
structure `a1`; "other" callers belong to structure `a2` or territory `tb`. Expected answers:
ALLOW (any status but 401/403/404), or the refusal status. Citizens join the matrix with passports.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app import web
from app.accounts import security
from app.accounts.models import Invitation, PasswordReset, Role
from app.accounts.principal import CallerKind, Principal
from app.authz import (
    BROWSER_SESSION,
    CITIZEN,
    PASSPORT_READ,
    PASSPORT_WRITE,
    PLATFORM_ADMIN,
    PUBLIC,
    SCOPES,
    SIGNED_IN,
    TERRITORY_ADMIN,
    TRUST_ADMIN,
    Rule,
    api_routes,
    authorize,
    check_routes,
    rule_of,
    undeclared_routes,
)
from app.core.db import pk, transaction
from app.core.settings import Settings
from app.core.time import utcnow
from app.credentials import service as credentials
from app.credentials.models import Credential
from app.federation.models import TrustedIssuer
from app.main import create_app
from app.passports.models import AccessGrant, Method, Passport, Validation
from tests.conftest import make_settings
from tests.factories import ACCESS_CODE, PASSWORD, World, make_passport, make_world
from tests.federation_fixtures import matrix_issuer

ALLOW = "allow"
# What each caller gets: a status code, or ALLOW.
Expected = Mapping[str, int | str]
CALLERS = (
    "anonymous",
    "citizen",
    "mediator_of_structure",
    "mediator_other_structure",
    "mediator_other_territory",
    "territory_admin",
    "admin_other_territory",
    "platform_admin",
)
EVERYONE: Expected = dict.fromkeys(CALLERS, ALLOW)
ACCOUNTS_ONLY: Expected = {**EVERYONE, "anonymous": 401, "citizen": 403}
# A route of territory `ta` reached by its (public) code: other admins get 403.
TA_ADMINS: Expected = {
    "anonymous": 401,
    "citizen": 403,
    "mediator_of_structure": 403,
    "mediator_other_structure": 403,
    "mediator_other_territory": 403,
    "territory_admin": ALLOW,
    "admin_other_territory": 403,
    "platform_admin": ALLOW,
}
# A resource of `ta` reached by its id: callers of another territory cannot tell it exists (404).
TA_ADMINS_BY_ID: Expected = {**TA_ADMINS, "admin_other_territory": 404}
PLATFORM_ONLY: Expected = {**TA_ADMINS, "territory_admin": 403}
# The citizen's own space: accounts are refused (403), anonymous callers asked to sign in.
CITIZEN_ONLY: Expected = {**dict.fromkeys(CALLERS, 403), "anonymous": 401, "citizen": ALLOW}
# The instance's trust store: the coordinators of any of its territories, and platform admins.
ANY_ADMIN: Expected = {**TA_ADMINS, "admin_other_territory": ALLOW}
# Passport P of territory `ta`, opened in structure a1: its territory's people see it, others
# cannot tell it exists, platform admins and citizens are refused by role.
TA_PASSPORT_READ: Expected = {
    "anonymous": 401,
    "citizen": 403,
    "mediator_of_structure": ALLOW,
    "mediator_other_structure": ALLOW,
    "mediator_other_territory": 404,
    "territory_admin": ALLOW,
    "admin_other_territory": 404,
    "platform_admin": 403,
}
# Writing in structure a1: a mediator of a2 sees the passport but does not work in a1.
TA_A1_WRITE: Expected = {**TA_PASSPORT_READ, "mediator_other_structure": 403}

Setup = Callable[[World, sa.Engine, str], tuple[str, Any]]


@dataclass
class Case:
    rule: Rule
    expected: Expected
    setup: Setup = field(default=lambda w, e, c: ("", None))
    # Routes only a browser session may call: the caller signs in instead of using a token.
    session: bool = False


def _invitation(world: World, engine: sa.Engine, code: str = "INVITE2345AB") -> int:
    with transaction(engine) as session:
        invitation = Invitation(
            territory_id=pk(world.a),
            email="newcomer@example.org",
            display_name="Newcomer",
            role=Role.MEDIATOR,
            token_hash=security.token_hash(code),
            expires_at=utcnow().replace(year=utcnow().year + 1),
        )
        session.add(invitation)
        session.flush()
        return pk(invitation)


def _reset(world: World, engine: sa.Engine, code: str = "RESET2345ABC") -> None:
    with transaction(engine) as session:
        session.add(
            PasswordReset(
                account_id=pk(world.mediator_a1),
                token_hash=security.token_hash(code),
                expires_at=utcnow().replace(year=utcnow().year + 1),
            )
        )


def _complete_reset(world: World, engine: sa.Engine) -> tuple[str, Any]:
    _reset(world, engine)
    return "", {"code": "RESET2345ABC", "password": "a new long password"}


def _trusted(engine: sa.Engine) -> int:
    with transaction(engine) as session:
        row = TrustedIssuer(
            iss="https://elsewhere.test/t/x", name="Ailleurs", jwks={"keys": []}, source="manual"
        )
        session.add(row)
        session.flush()
        return pk(row)


def _lookup(world: World, engine: sa.Engine) -> tuple[str, Any]:
    _invitation(world, engine)
    return "", {"code": "INVITE2345AB"}


def _accept(world: World, engine: sa.Engine) -> tuple[str, Any]:
    _invitation(world, engine)
    return "", {"code": "INVITE2345AB", "password": "a long enough password"}


def _with_validation(world: World, engine: sa.Engine, url: str) -> tuple[str, Any]:
    """A wallet offer's request, the passport holding a validated skill to offer."""
    _validation(world, engine)
    return url, {"skills": ["crcn:4.1"]}


def _validation(world: World, engine: sa.Engine) -> int:
    with transaction(engine) as session:
        validation = Validation(
            passport_id=pk(world.passport),
            skill_code="crcn:4.1",
            level=2,
            method=Method.OBSERVATION,
            observed_on=utcnow().date(),
            account_id=world.mediator_a1.id,
            structure_id=world.a1.id,
        )
        session.add(validation)
        session.flush()
        return pk(validation)


def _grant(world: World, engine: sa.Engine) -> int:
    with transaction(engine) as session:
        grant = AccessGrant(passport_id=pk(world.passport), structure_id=pk(world.b1))
        session.add(grant)
        session.flush()
        return pk(grant)


def _duplicate(world: World, engine: sa.Engine) -> int:
    passport = make_passport(engine, world.a, world.a1, last_name="Doublon")
    return pk(passport)


def _credential(world: World, engine: sa.Engine) -> int:
    with transaction(engine) as session:
        credential = Credential(
            territory_id=pk(world.a),
            passport_id=pk(world.passport),
            jti=f"jti-{world.passport.id}",
            code="V-BCDF2345",
            qr_text="PN1:00",
            kid="test-kid",
            status_index=7,
            skill_codes=["crcn:4.1"],
            expires_at=utcnow().replace(year=utcnow().year + 1),
        )
        session.add(credential)
        session.flush()
        return pk(credential)


def _signed_credential(world: World, engine: sa.Engine) -> int:
    # A real one: the attestation reads the skills back from the signed QR.
    _validation(world, engine)
    settings = make_settings(engine.url.render_as_string(hide_password=False))
    with transaction(engine) as session:
        passport = session.get(Passport, world.passport.id)
        assert passport is not None
        operator = Principal(kind=CallerKind.OPERATOR, territory_id=passport.territory_id)
        issued = credentials.issue(
            session,
            settings,
            operator,
            passport,
            skill_codes=["crcn:4.1"],
            validity_days=30,
            with_name=False,
        )
        return pk(issued.credential)


def _foreign_qr_text(world: World, engine: sa.Engine) -> str:
    """A credential of territory `tb`'s own passport, for an import into P."""
    there = make_passport(engine, world.b, world.b1, last_name="Nguyen")
    settings = make_settings(engine.url.render_as_string(hide_password=False))
    with transaction(engine) as session:
        session.add(
            Validation(
                passport_id=pk(there),
                skill_code="crcn:4.1",
                level=2,
                method=Method.OBSERVATION,
                observed_on=utcnow().date(),
                account_id=world.mediator_b1.id,
                structure_id=world.b1.id,
            )
        )
        session.flush()
        operator = Principal(kind=CallerKind.OPERATOR, territory_id=there.territory_id)
        issued = credentials.issue(
            session,
            settings,
            operator,
            session.get(Passport, there.id) or there,
            skill_codes=["crcn:4.1"],
            validity_days=30,
            with_name=False,
        )
        return issued.qr_text


def _validated(world: World, engine: sa.Engine, url: str) -> str:
    """The route's url once the passport holds a validation (issuing needs one)."""
    _validation(world, engine)
    return url


def _passport_url(world: World, suffix: str = "") -> str:
    return f"/api/v1/passports/{world.passport.id}{suffix}"


def _token_id(world: World, engine: sa.Engine, caller: str) -> int:
    # Every caller revokes a token of its own: the one it is using (anonymous has none: any id).
    account = world.accounts.get(caller)
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.text("SELECT coalesce(max(id), 1) FROM api_token WHERE account_id = :a"),
                {"a": account.id if account else -1},
            ).scalar_one()
        )


# A page is public; while its file is not written yet it answers 404 to everyone.
NOT_YET: Expected = dict.fromkeys(CALLERS, 404)


def _page(url: str) -> Expected:
    return EVERYONE if (web.FRONTEND_DIR / web.PAGES[url]).is_file() else NOT_YET


ROUTES: dict[tuple[str, str], Case] = {
    ("GET", "/"): Case(PUBLIC, EVERYONE),
    ("GET", "/mediation"): Case(PUBLIC, _page("/mediation")),
    ("GET", "/citizen"): Case(PUBLIC, _page("/citizen")),
    ("GET", "/citoyen"): Case(PUBLIC, _page("/citoyen")),
    ("GET", "/verify"): Case(PUBLIC, _page("/verify")),
    ("GET", "/verifier"): Case(PUBLIC, _page("/verifier")),
    ("GET", "/favicon.ico"): Case(PUBLIC, EVERYONE),
    ("GET", "/coordination"): Case(PUBLIC, _page("/coordination")),
    ("GET", "/compte"): Case(PUBLIC, _page("/compte")),
    ("GET", "/figures"): Case(PUBLIC, _page("/figures")),
    ("GET", "/lieux"): Case(PUBLIC, _page("/lieux")),
    ("GET", "/lieu"): Case(PUBLIC, _page("/lieu")),
    ("GET", "/i18n/{lang}.json"): Case(PUBLIC, EVERYONE, lambda w, e, c: ("/i18n/fr.json", None)),
    ("GET", "/verify-sw.js"): Case(
        PUBLIC,
        EVERYONE if (web.FRONTEND_DIR / "static/js/verify-sw.js").is_file() else NOT_YET,
    ),
    ("GET", "/mediation-sw.js"): Case(
        PUBLIC,
        EVERYONE if (web.FRONTEND_DIR / "static/js/mediation-sw.js").is_file() else NOT_YET,
    ),
    ("GET", "/healthz"): Case(PUBLIC, EVERYONE),
    ("GET", "/readyz"): Case(PUBLIC, EVERYONE),
    ("GET", "/api/v1/framework"): Case(PUBLIC, EVERYONE),
    ("GET", "/api/v1/framework/skills/{code}"): Case(
        PUBLIC, EVERYONE, lambda w, e, c: ("/api/v1/framework/skills/crcn:4.1", None)
    ),
    ("GET", "/api/v1/territories"): Case(PUBLIC, EVERYONE),
    ("GET", "/api/v1/territories/{code}"): Case(
        PUBLIC, EVERYONE, lambda w, e, c: ("/api/v1/territories/ta", None)
    ),
    ("POST", "/api/v1/territories"): Case(
        PLATFORM_ADMIN, PLATFORM_ONLY, lambda w, e, c: ("", {"code": "tz", "name": "Nouveau"})
    ),
    ("PATCH", "/api/v1/territories/{code}"): Case(
        TERRITORY_ADMIN, TA_ADMINS, lambda w, e, c: ("/api/v1/territories/ta", {"name": "Renamed"})
    ),
    # The figures are public once the territory opts in; `ta` has not, so they are its admins'.
    ("GET", "/api/v1/territories/{code}/stats"): Case(
        PUBLIC, TA_ADMINS, lambda w, e, c: ("/api/v1/territories/ta/stats", None)
    ),
    ("GET", "/api/v1/territories/{code}/stats/{table}.csv"): Case(
        PUBLIC, TA_ADMINS, lambda w, e, c: ("/api/v1/territories/ta/stats/summary.csv", None)
    ),
    ("GET", "/api/v1/territories/{code}/stats/periods"): Case(
        PUBLIC, EVERYONE, lambda w, e, c: ("/api/v1/territories/ta/stats/periods", None)
    ),
    ("GET", "/api/v1/territories/{code}/stats/publication"): Case(
        PUBLIC, EVERYONE, lambda w, e, c: ("/api/v1/territories/ta/stats/publication", None)
    ),
    ("PUT", "/api/v1/territories/{code}/stats/publication"): Case(
        TERRITORY_ADMIN,
        TA_ADMINS,
        lambda w, e, c: ("/api/v1/territories/ta/stats/publication", {"public": True}),
    ),
    ("POST", "/api/v1/auth/login"): Case(
        PUBLIC,
        EVERYONE,
        lambda w, e, c: ("", {"email": "med-a1@example.org", "password": PASSWORD}),
    ),
    ("POST", "/api/v1/auth/logout"): Case(BROWSER_SESSION, ACCOUNTS_ONLY, session=True),
    ("GET", "/api/v1/auth/session"): Case(SIGNED_IN, ACCOUNTS_ONLY),
    ("GET", "/api/v1/auth/oidc"): Case(PUBLIC, EVERYONE),
    # SSO is not configured in this app: the SSO routes answer 404 sso_disabled to everyone.
    # tests/test_oidc.py covers them against a real provider.
    ("GET", "/api/v1/auth/oidc/login"): Case(PUBLIC, dict.fromkeys(CALLERS, 404)),
    ("GET", "/api/v1/auth/oidc/callback"): Case(PUBLIC, dict.fromkeys(CALLERS, 404)),
    ("GET", "/api/v1/auth/me"): Case(SIGNED_IN, ACCOUNTS_ONLY),
    ("GET", "/api/v1/auth/tokens"): Case(SIGNED_IN, ACCOUNTS_ONLY),
    ("POST", "/api/v1/auth/tokens"): Case(
        BROWSER_SESSION,
        ACCOUNTS_ONLY,
        lambda w, e, c: ("", {"name": "script", "scopes": ["account:read"]}),
        session=True,
    ),
    ("DELETE", "/api/v1/auth/tokens/{token_id}"): Case(
        SIGNED_IN,
        ACCOUNTS_ONLY,
        lambda w, e, c: (f"/api/v1/auth/tokens/{_token_id(w, e, c)}", None),
    ),
    ("POST", "/api/v1/auth/password-reset"): Case(
        PUBLIC, EVERYONE, lambda w, e, c: ("", {"email": "med-a1@example.org"})
    ),
    ("POST", "/api/v1/auth/password-reset/complete"): Case(
        PUBLIC, EVERYONE, lambda w, e, c: _complete_reset(w, e)
    ),
    ("POST", "/api/v1/invitations/lookup"): Case(PUBLIC, EVERYONE, lambda w, e, c: _lookup(w, e)),
    ("POST", "/api/v1/invitations/accept"): Case(PUBLIC, EVERYONE, lambda w, e, c: _accept(w, e)),
    ("GET", "/api/v1/territories/{code}/invitations"): Case(
        TERRITORY_ADMIN, TA_ADMINS, lambda w, e, c: ("/api/v1/territories/ta/invitations", None)
    ),
    ("POST", "/api/v1/territories/{code}/invitations"): Case(
        TERRITORY_ADMIN,
        TA_ADMINS,
        lambda w, e, c: (
            "/api/v1/territories/ta/invitations",
            {"email": "new@example.org", "display_name": "New", "structure_ids": [w.a1.id]},
        ),
    ),
    ("DELETE", "/api/v1/invitations/{invitation_id}"): Case(
        TERRITORY_ADMIN,
        TA_ADMINS_BY_ID,
        lambda w, e, c: (f"/api/v1/invitations/{_invitation(w, e)}", None),
    ),
    ("GET", "/api/v1/territories/{code}/accounts"): Case(
        TERRITORY_ADMIN, TA_ADMINS, lambda w, e, c: ("/api/v1/territories/ta/accounts", None)
    ),
    ("PATCH", "/api/v1/accounts/{account_id}"): Case(
        TERRITORY_ADMIN,
        TA_ADMINS_BY_ID,
        lambda w, e, c: (f"/api/v1/accounts/{w.mediator_a1.id}", {"display_name": "Renamed"}),
    ),
    ("POST", "/api/v1/accounts/{account_id}/departure"): Case(
        TERRITORY_ADMIN,
        TA_ADMINS_BY_ID,
        lambda w, e, c: (f"/api/v1/accounts/{w.mediator_a1.id}/departure", None),
    ),
    ("POST", "/api/v1/accounts/{account_id}/password-reset"): Case(
        TERRITORY_ADMIN,
        TA_ADMINS_BY_ID,
        lambda w, e, c: (f"/api/v1/accounts/{w.mediator_a1.id}/password-reset", None),
    ),
    ("GET", "/api/v1/territories/{code}/audit"): Case(
        TERRITORY_ADMIN, TA_ADMINS, lambda w, e, c: ("/api/v1/territories/ta/audit", None)
    ),
    # Places of mediation are open data: anyone reads and exports them; coordinators write.
    ("GET", "/api/v1/territories/{code}/structures"): Case(
        PUBLIC, EVERYONE, lambda w, e, c: ("/api/v1/territories/ta/structures", None)
    ),
    ("GET", "/api/v1/structures/{structure_id}"): Case(
        PUBLIC, EVERYONE, lambda w, e, c: (f"/api/v1/structures/{w.a1.id}", None)
    ),
    ("GET", "/api/v1/directory/places"): Case(PUBLIC, EVERYONE),
    ("GET", "/api/v1/federation/places"): Case(PUBLIC, EVERYONE),
    # 404 no_signing_key: the world's territories have made no key.
    ("GET", "/t/{code}/places.jws"): Case(
        PUBLIC, dict.fromkeys(CALLERS, 404), lambda w, e, c: ("/t/ta/places.jws", None)
    ),
    ("GET", "/api/v1/directory/places/{place_id}"): Case(
        PUBLIC, EVERYONE, lambda w, e, c: (f"/api/v1/directory/places/{w.a1.id}", None)
    ),
    ("GET", "/api/v1/territories/{code}/structures/data-inclusion"): Case(
        PUBLIC,
        EVERYONE,
        lambda w, e, c: ("/api/v1/territories/ta/structures/data-inclusion", None),
    ),
    ("GET", "/api/v1/territories/{code}/structures/export"): Case(
        PUBLIC, EVERYONE, lambda w, e, c: ("/api/v1/territories/ta/structures/export", None)
    ),
    ("POST", "/api/v1/territories/{code}/structures"): Case(
        TERRITORY_ADMIN,
        TA_ADMINS,
        lambda w, e, c: (
            "/api/v1/territories/ta/structures",
            {
                "nom": "Espace public numérique",
                "commune": "Kourou",
                "code_postal": "97310",
                "adresse": "2 rue du Port",
            },
        ),
    ),
    ("PATCH", "/api/v1/structures/{structure_id}"): Case(
        TERRITORY_ADMIN,
        TA_ADMINS_BY_ID,
        lambda w, e, c: (f"/api/v1/structures/{w.a1.id}", {"nom": "Renamed"}),
    ),
    ("POST", "/api/v1/territories/{code}/structures/import"): Case(
        TERRITORY_ADMIN, TA_ADMINS, lambda w, e, c: ("/api/v1/territories/ta/structures/import", [])
    ),
    ("POST", "/api/v1/passports"): Case(
        PASSPORT_WRITE,
        TA_A1_WRITE,
        lambda w, e, c: (
            "",
            {
                "first_name": "Nour",
                "last_name": f"Essai {c}",
                "structure_id": w.a1.id,
                "consent": True,
            },
        ),
    ),
    ("GET", "/api/v1/passports"): Case(
        PASSPORT_READ,
        {**TA_PASSPORT_READ, "mediator_other_territory": ALLOW, "admin_other_territory": ALLOW},
    ),
    ("GET", "/api/v1/passports/{passport_id}"): Case(
        PASSPORT_READ, TA_PASSPORT_READ, lambda w, e, c: (_passport_url(w), None)
    ),
    # No structure is involved: anyone who may write in the passport may import.
    ("POST", "/api/v1/passports/{passport_id}/imports"): Case(
        PASSPORT_WRITE,
        TA_PASSPORT_READ,
        lambda w, e, c: (_passport_url(w, "/imports"), {"qr_text": _foreign_qr_text(w, e)}),
    ),
    ("POST", "/api/v1/passports/{passport_id}/validations"): Case(
        PASSPORT_WRITE,
        TA_A1_WRITE,
        lambda w, e, c: (
            _passport_url(w, "/validations"),
            {
                "skill_code": "pp:PP-12",
                "method": "observation",
                "observed_on": utcnow().date().isoformat(),
                "structure_id": w.a1.id,
            },
        ),
    ),
    ("POST", "/api/v1/passports/{passport_id}/validations/{validation_id}/withdraw"): Case(
        PASSPORT_WRITE,
        TA_A1_WRITE,
        lambda w, e, c: (
            _passport_url(w, f"/validations/{_validation(w, e)}/withdraw"),
            {"reason": "recorded by mistake"},
        ),
    ),
    ("POST", "/api/v1/passports/{passport_id}/access-code"): Case(
        PASSPORT_WRITE, TA_PASSPORT_READ, lambda w, e, c: (_passport_url(w, "/access-code"), None)
    ),
    ("GET", "/api/v1/passports/{passport_id}/access-log"): Case(
        PASSPORT_READ, TA_PASSPORT_READ, lambda w, e, c: (_passport_url(w, "/access-log"), None)
    ),
    ("POST", "/api/v1/passports/{passport_id}/grants"): Case(
        PASSPORT_WRITE,
        TA_PASSPORT_READ,
        lambda w, e, c: (
            _passport_url(w, "/grants"),
            {"structure_id": w.b1.id, "access_code": ACCESS_CODE},
        ),
    ),
    # Once shared with b1, its mediator sees the passport but only its holder manages sharing.
    ("DELETE", "/api/v1/passports/{passport_id}/grants/{grant_id}"): Case(
        PASSPORT_WRITE,
        {**TA_PASSPORT_READ, "mediator_other_territory": 403},
        lambda w, e, c: (_passport_url(w, f"/grants/{_grant(w, e)}"), None),
    ),
    ("POST", "/api/v1/passports/{passport_id}/card"): Case(
        PASSPORT_WRITE, TA_PASSPORT_READ, lambda w, e, c: (_passport_url(w, "/card"), None)
    ),
    ("GET", "/api/v1/passports/{passport_id}/export"): Case(
        PASSPORT_READ, TA_PASSPORT_READ, lambda w, e, c: (_passport_url(w, "/export"), None)
    ),
    # A coordinator erases on a request received on paper; platform admins are refused by role.
    ("POST", "/api/v1/passports/{passport_id}/erasure"): Case(
        TERRITORY_ADMIN,
        {**TA_ADMINS_BY_ID, "platform_admin": 403},
        lambda w, e, c: (_passport_url(w, "/erasure"), {"reason": "request"}),
    ),
    ("GET", "/api/v1/citizen/export"): Case(CITIZEN, CITIZEN_ONLY),
    ("POST", "/api/v1/citizen/erasure"): Case(
        CITIZEN, CITIZEN_ONLY, lambda w, e, c: ("", {"confirm": True})
    ),
    # Credentials: the holding territory issues and revokes; anyone verifies and reads what a
    # verifier needs (key sets, status lists).
    ("POST", "/api/v1/passports/{passport_id}/credentials"): Case(
        PASSPORT_WRITE,
        TA_PASSPORT_READ,
        lambda w, e, c: (
            _validated(w, e, _passport_url(w, "/credentials")),
            {"skills": ["crcn:4.1"]},
        ),
    ),
    ("GET", "/api/v1/passports/{passport_id}/credentials"): Case(
        PASSPORT_READ, TA_PASSPORT_READ, lambda w, e, c: (_passport_url(w, "/credentials"), None)
    ),
    ("POST", "/api/v1/passports/{passport_id}/credentials/{credential_id}/revoke"): Case(
        PASSPORT_WRITE,
        TA_PASSPORT_READ,
        lambda w, e, c: (_passport_url(w, f"/credentials/{_credential(w, e)}/revoke"), {}),
    ),
    ("POST", "/api/v1/citizen/credentials"): Case(
        CITIZEN, CITIZEN_ONLY, lambda w, e, c: (_validated(w, e, ""), {"skills": ["crcn:4.1"]})
    ),
    ("GET", "/api/v1/citizen/credentials"): Case(CITIZEN, CITIZEN_ONLY),
    ("POST", "/api/v1/citizen/credentials/{credential_id}/revoke"): Case(
        CITIZEN,
        CITIZEN_ONLY,
        lambda w, e, c: (f"/api/v1/citizen/credentials/{_credential(w, e)}/revoke", {}),
    ),
    ("GET", "/api/v1/passports/{passport_id}/credentials/{credential_id}/qr.{image}"): Case(
        PASSPORT_READ,
        TA_PASSPORT_READ,
        lambda w, e, c: (_passport_url(w, f"/credentials/{_credential(w, e)}/qr.svg"), None),
    ),
    ("GET", "/api/v1/citizen/credentials/{credential_id}/qr.{image}"): Case(
        CITIZEN,
        CITIZEN_ONLY,
        lambda w, e, c: (f"/api/v1/citizen/credentials/{_credential(w, e)}/qr.png", None),
    ),
    ("GET", "/api/v1/passports/{passport_id}/credentials/{credential_id}/attestation.pdf"): Case(
        PASSPORT_READ,
        TA_PASSPORT_READ,
        lambda w, e, c: (
            _passport_url(w, f"/credentials/{_signed_credential(w, e)}/attestation.pdf"),
            None,
        ),
    ),
    ("GET", "/api/v1/citizen/credentials/{credential_id}/attestation.pdf"): Case(
        CITIZEN,
        CITIZEN_ONLY,
        lambda w, e, c: (
            f"/api/v1/citizen/credentials/{_signed_credential(w, e)}/attestation.pdf",
            None,
        ),
    ),
    ("POST", "/api/v1/verify"): Case(PUBLIC, EVERYONE, lambda w, e, c: ("", {"qr_text": "PN1:00"})),
    ("GET", "/api/v1/verify/nonce"): Case(PUBLIC, EVERYONE),
    # The wallet (issue 15): offers as credentials are issued; the issuer's OAuth endpoints are
    # public, their own credentials (pre-authorized code, access token) decide.
    ("POST", "/api/v1/passports/{passport_id}/wallet-offers"): Case(
        PASSPORT_WRITE,
        TA_PASSPORT_READ,
        lambda w, e, c: _with_validation(w, e, _passport_url(w, "/wallet-offers")),
    ),
    ("POST", "/api/v1/citizen/wallet-offers"): Case(
        CITIZEN, CITIZEN_ONLY, lambda w, e, c: _with_validation(w, e, "")
    ),
    ("GET", "/.well-known/openid-credential-issuer/wallet/{code}"): Case(
        PUBLIC, EVERYONE, lambda w, e, c: ("/.well-known/openid-credential-issuer/wallet/ta", None)
    ),
    ("GET", "/wallet/{code}/.well-known/openid-credential-issuer"): Case(
        PUBLIC, EVERYONE, lambda w, e, c: ("/wallet/ta/.well-known/openid-credential-issuer", None)
    ),
    ("GET", "/.well-known/oauth-authorization-server/wallet/{code}"): Case(
        PUBLIC,
        EVERYONE,
        lambda w, e, c: ("/.well-known/oauth-authorization-server/wallet/ta", None),
    ),
    ("GET", "/wallet/{code}/.well-known/oauth-authorization-server"): Case(
        PUBLIC,
        EVERYONE,
        lambda w, e, c: ("/wallet/ta/.well-known/oauth-authorization-server", None),
    ),
    ("GET", "/.well-known/jwt-vc-issuer/wallet/{code}"): Case(
        PUBLIC, EVERYONE, lambda w, e, c: ("/.well-known/jwt-vc-issuer/wallet/ta", None)
    ),
    ("GET", "/wallet/vct/competences-numeriques"): Case(PUBLIC, EVERYONE),
    ("POST", "/wallet/{code}/nonce"): Case(
        PUBLIC, EVERYONE, lambda w, e, c: ("/wallet/ta/nonce", None)
    ),
    # A JSON body is not a token request; nobody's session or API token is an access token.
    ("POST", "/wallet/{code}/token"): Case(
        PUBLIC, dict.fromkeys(CALLERS, 400), lambda w, e, c: ("/wallet/ta/token", {})
    ),
    ("POST", "/wallet/{code}/credential"): Case(
        PUBLIC,
        dict.fromkeys(CALLERS, 401),
        lambda w, e, c: ("/wallet/ta/credential", {"proofs": {"jwt": ["x.y.z"]}}),
    ),
    ("GET", "/api/v1/trust/bundle"): Case(PUBLIC, EVERYONE, lambda w, e, c: ("", None)),
    ("GET", "/api/v1/trust/issuers"): Case(TRUST_ADMIN, ANY_ADMIN),
    ("GET", "/api/v1/trust/list"): Case(TRUST_ADMIN, ANY_ADMIN),
    ("GET", "/api/v1/trust/journal"): Case(TRUST_ADMIN, ANY_ADMIN),
    ("POST", "/api/v1/trust/issuers/preview"): Case(
        TRUST_ADMIN, ANY_ADMIN, lambda w, e, c: ("", {"iss": matrix_issuer()[0]})
    ),
    ("POST", "/api/v1/trust/issuers"): Case(
        TRUST_ADMIN,
        ANY_ADMIN,
        lambda w, e, c: ("", {"iss": matrix_issuer()[0], "fingerprints": matrix_issuer()[1]}),
    ),
    ("DELETE", "/api/v1/trust/issuers/{issuer_id}"): Case(
        TRUST_ADMIN, ANY_ADMIN, lambda w, e, c: (f"/api/v1/trust/issuers/{_trusted(e)}", None)
    ),
    # Not a hub: no list was ever published here; anyone is told so.
    ("GET", "/api/v1/federation/trust-list"): Case(PUBLIC, dict.fromkeys(CALLERS, 404)),
    ("GET", "/t/{code}/status/{list_id}"): Case(
        PUBLIC, EVERYONE, lambda w, e, c: ("/t/ta/status/1", None)
    ),
    ("GET", "/t/{code}/.well-known/jwks.json"): Case(
        PUBLIC, EVERYONE, lambda w, e, c: ("/t/ta/.well-known/jwks.json", None)
    ),
    # `ta` has not opted in to publishing its figures: no signed figures, for anyone.
    ("GET", "/t/{code}/stats.jws"): Case(
        PUBLIC, dict.fromkeys(CALLERS, 404), lambda w, e, c: ("/t/ta/stats.jws", None)
    ),
    # Not a hub: the national view has no members, and says so to anyone.
    ("GET", "/api/v1/federation/stats"): Case(PUBLIC, EVERYONE),
    ("GET", "/api/v1/federation/stats/{table}.csv"): Case(
        PUBLIC, EVERYONE, lambda w, e, c: ("/api/v1/federation/stats/summary.csv", None)
    ),
    ("GET", "/api/v1/territories/{code}/keys"): Case(
        TERRITORY_ADMIN, TA_ADMINS, lambda w, e, c: ("/api/v1/territories/ta/keys", None)
    ),
    ("POST", "/api/v1/territories/{code}/keys/rotate"): Case(
        TERRITORY_ADMIN, TA_ADMINS, lambda w, e, c: ("/api/v1/territories/ta/keys/rotate", None)
    ),
    ("POST", "/api/v1/citizen/login"): Case(
        PUBLIC, EVERYONE, lambda w, e, c: ("", {"number": w.passport.number, "code": ACCESS_CODE})
    ),
    ("POST", "/api/v1/passports/{passport_id}/merge"): Case(
        TERRITORY_ADMIN,
        {
            **TA_PASSPORT_READ,
            "mediator_of_structure": 403,
            "mediator_other_structure": 403,
            "mediator_other_territory": 403,
            # Admits platform admins by rule, then they cannot see passports: 404.
            "platform_admin": 404,
        },
        lambda w, e, c: (_passport_url(w, "/merge"), {"absorb_id": _duplicate(w, e)}),
    ),
    ("POST", "/api/v1/citizen/self-assessments"): Case(
        CITIZEN, CITIZEN_ONLY, lambda w, e, c: ("", {"skill_code": "crcn:2.1", "level": 2})
    ),
    ("POST", "/api/v1/citizen/link"): Case(
        PUBLIC, EVERYONE, lambda w, e, c: ("", {"email": "someone@example.org"})
    ),
    # Anyone may try a link; an unknown one is refused the same way for everybody.
    ("POST", "/api/v1/citizen/link/login"): Case(
        PUBLIC, dict.fromkeys(CALLERS, 401), lambda w, e, c: ("", {"token": "n" * 43})
    ),
    ("POST", "/api/v1/citizen/logout"): Case(CITIZEN, CITIZEN_ONLY),
    ("GET", "/api/v1/citizen/passport"): Case(CITIZEN, CITIZEN_ONLY),
    ("GET", "/api/v1/citizen/access-log"): Case(CITIZEN, CITIZEN_ONLY),
    ("GET", "/api/v1/citizen/grants"): Case(CITIZEN, CITIZEN_ONLY),
    ("POST", "/api/v1/citizen/grants"): Case(
        CITIZEN, CITIZEN_ONLY, lambda w, e, c: ("", {"structure_id": w.b1.id})
    ),
    ("DELETE", "/api/v1/citizen/grants/{grant_id}"): Case(
        CITIZEN, CITIZEN_ONLY, lambda w, e, c: (f"/api/v1/citizen/grants/{_grant(w, e)}", None)
    ),
}

EMAILS = {
    "mediator_of_structure": "med-a1@example.org",
    "mediator_other_structure": "med-a2@example.org",
    "mediator_other_territory": "med-b1@example.org",
    "territory_admin": "admin-a@example.org",
    "admin_other_territory": "admin-b@example.org",
    "platform_admin": "root@example.org",
}


def test_every_route_is_in_the_matrix_with_its_rule(app: FastAPI) -> None:
    seen: dict[tuple[str, str], Rule] = {}
    for route in api_routes(app):
        rules = rule_of(route)
        assert len(rules) == 1, f"{route.methods} {route.path} declares {len(rules)} rules"
        for method in route.methods:
            seen[(method, route.path)] = rules[0]
    missing = sorted(set(seen) - set(ROUTES))
    assert not missing, f"routes with no row in the permission matrix: {missing}"
    assert not sorted(set(ROUTES) - set(seen)), "matrix rows for routes that no longer exist"
    for key, rule in seen.items():
        assert ROUTES[key].rule == rule, (
            f"{key} declares {rule.name}, matrix says {ROUTES[key].rule.name}"
        )


def test_a_route_without_a_rule_is_caught(settings: Settings) -> None:
    application = create_app(settings, configure_logs=False)
    assert undeclared_routes(application) == []

    @application.get("/api/v1/forgotten")
    def forgotten() -> None:
        return None

    @application.get("/api/v1/doubled", dependencies=[authorize(PUBLIC), authorize(PUBLIC)])
    def doubled() -> None:
        return None

    assert undeclared_routes(application) == ["GET /api/v1/forgotten", "GET /api/v1/doubled"]
    with pytest.raises(RuntimeError, match="forgotten"):
        check_routes(application)
    application.state.engine.dispose()


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize(("method", "path"), sorted(ROUTES))
def test_matrix(client: TestClient, engine: sa.Engine, method: str, path: str, caller: str) -> None:
    case = ROUTES[(method, path)]
    world = make_world(engine)
    url, body = case.setup(world, engine, caller)
    url = url or path
    headers: dict[str, str] = {}
    if caller == "citizen":
        login = client.post(
            "/api/v1/citizen/login",
            json={"number": world.passport.number, "code": ACCESS_CODE},
        )
        assert login.status_code == 200, login.text
        headers["X-CSRF-Token"] = login.json()["csrf_token"]
    elif case.session and caller != "anonymous":
        login = client.post(
            "/api/v1/auth/login", json={"email": EMAILS[caller], "password": PASSWORD}
        )
        assert login.status_code == 200, login.text
        headers["X-CSRF-Token"] = login.json()["csrf_token"]
    else:
        headers.update(world.headers[caller])
    response = client.request(method, url, json=body, headers=headers)
    expected = case.expected[caller]
    if expected == ALLOW:
        assert response.status_code < 400, (method, url, caller, response.text)
    else:
        assert response.status_code == expected, (method, url, caller, response.text)
        # A wallet's OAuth endpoints answer the same problem members as application/json, with
        # the OAuth ``error`` (RFC 6749 5.2; docs/wallet.md).
        oauth = path.startswith("/wallet/{code}/") and "error" in response.json()
        assert response.headers["content-type"] == (
            "application/json" if oauth else "application/problem+json"
        )


def test_the_access_guide_names_every_token_scope() -> None:
    """A token made from docs/access.md must be able to do what the guide says: every scope a
    token can carry is named there (a reviewer followed the guide and got 403 on recording)."""
    guide = (Path(__file__).resolve().parent.parent / "docs" / "access.md").read_text()
    assert [scope for scope in SCOPES if f"`{scope}`" not in guide] == []
