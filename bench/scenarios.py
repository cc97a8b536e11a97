"""The registry of scenarios: add one with :func:`register` (see docs/performance.md)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import date
from typing import Any

from bench.harness import BenchError, Scenario, SetupContext

API = "/api/v1"

# Every scenario is measured beside this one. /healthz touches neither the database nor any
# service, so it measures what uvicorn, the middleware, the routing and the client cost alone.
BASELINE = Scenario(
    name="baseline",
    method="GET",
    path="/healthz",
    description="GET /healthz: the cheapest request the app can answer",
)

SCENARIOS: dict[str, Scenario] = {}


def register(scenario: Scenario) -> Scenario:
    if scenario.name in SCENARIOS or scenario.name == BASELINE.name:
        raise ValueError(f"scenario {scenario.name!r} is already registered")
    SCENARIOS[scenario.name] = scenario
    return scenario


register(
    Scenario(
        name="framework",
        method="GET",
        path=f"{API}/framework",
        description="GET the whole framework tree (~20 kB of JSON, cached in process)",
        # Served from memory, it should cost about what a static file costs.
        min_rps_ratio=0.5,
    )
)


async def _remember_etag(ctx: SetupContext) -> None:
    response = await ctx.client.get(f"{API}/framework")
    etag = response.headers.get("etag")
    if response.status_code != 200 or not etag:
        raise BenchError(f"GET {API}/framework gave {response.status_code} without an ETag")
    ctx.headers["If-None-Match"] = etag


register(
    Scenario(
        name="framework-etag",
        method="GET",
        path=f"{API}/framework",
        expected_status=304,
        description="GET the framework tree with a matching If-None-Match: 304, no body",
        setup=_remember_etag,
    )
)


# --- passports -----------------------------------------------------------------------------------


def _make_mediator(database_url: str) -> tuple[str, int]:
    """A territory, a structure and a mediator with an API token, written to the database."""
    from datetime import timedelta

    from sqlmodel import select

    from app import authz
    from app.accounts import security
    from app.accounts.models import Account, ApiToken, Role, StructureMembership
    from app.core.db import create_db_engine, transaction
    from app.core.settings import Settings
    from app.core.time import utcnow
    from app.structures.models import Structure
    from app.territory.models import Territory

    engine = create_db_engine(Settings(database_url=database_url))
    raw = security.new_token("pn_")
    try:
        with transaction(engine) as session:
            # Every scenario's setup runs on the same server: reuse what an earlier one made.
            account = session.exec(
                select(Account).where(Account.email == "bench@example.org")
            ).first()
            if account is None:
                territory = Territory(
                    code="bench", name="Bench", issuer_url="https://bench.test/t/bench"
                )
                session.add(territory)
                session.flush()
                structure = Structure(
                    territory_id=territory.id,
                    nom="Bench",
                    commune="Cayenne",
                    code_postal="97300",
                    adresse="1 rue",
                )
                account = Account(
                    email="bench@example.org",
                    display_name="Bench",
                    role=Role.MEDIATOR,
                    territory_id=territory.id,
                )
                session.add_all([structure, account])
                session.flush()
                session.add(StructureMembership(account_id=account.id, structure_id=structure.id))
                session.flush()
            structure_id = session.exec(
                select(StructureMembership.structure_id).where(
                    StructureMembership.account_id == account.id
                )
            ).one()
            session.add(
                ApiToken(
                    account_id=account.id,
                    name="bench",
                    token_hash=security.token_hash(raw),
                    prefix=raw[:8],
                    scopes=sorted(authz.ROLE_SCOPES[Role.MEDIATOR]),
                    expires_at=utcnow() + timedelta(days=1),
                )
            )
    finally:
        engine.dispose()
    return raw, structure_id


async def _open_passport(ctx: SetupContext, last_name: str) -> int:
    response = await ctx.client.post(
        f"{API}/passports",
        json={
            "first_name": "Bench",
            "last_name": last_name,
            "structure_id": ctx.state["structure_id"],
            "consent": True,
            # Each scenario opens its own passport for the same person.
            "confirm_not_duplicate": True,
        },
        headers=ctx.headers,
    )
    if response.status_code != 201:
        raise BenchError(f"opening a passport gave {response.status_code}: {response.text}")
    return int(response.json()["id"])


async def _passport(ctx: SetupContext) -> None:
    token, structure_id = await asyncio.to_thread(_make_mediator, ctx.database_url)
    ctx.headers["Authorization"] = f"Bearer {token}"
    ctx.state["structure_id"] = structure_id
    ctx.state["passport_id"] = await _open_passport(ctx, "Citoyen")


#: Passports a spread recording writes to, each in turn.
SPREAD_PASSPORTS = 200


async def _territory_passports(ctx: SetupContext) -> None:
    """:data:`SPREAD_PASSPORTS` passports of the mediator's territory, each request to the next."""
    await _passport(ctx)
    ids = [ctx.state["passport_id"]]
    ids += [await _open_passport(ctx, f"Citoyen {n}") for n in range(1, SPREAD_PASSPORTS)]
    ctx.paths = [f"{API}/passports/{passport_id}/validations" for passport_id in ids]


def _validation_body(ctx: SetupContext, index: int) -> dict[str, Any]:
    return {
        "skill_code": ("pp:PP-06", "pp:PP-12", "crcn:4.1")[index % 3],
        "level": None if index % 3 < 2 else 2,
        "method": "observation",
        "observed_on": date.today().isoformat(),
        "structure_id": ctx.state["structure_id"],
        "evidence": "Observé en atelier.",
    }


async def _passport_with_200(ctx: SetupContext) -> None:
    await _passport(ctx)
    path = f"{API}/passports/{ctx.state['passport_id']}/validations"
    for index in range(200):
        response = await ctx.client.post(
            path, json=_validation_body(ctx, index), headers=ctx.headers
        )
        if response.status_code != 201:
            raise BenchError(f"recording a validation gave {response.status_code}")


RECORD_VALIDATION = register(
    Scenario(
        name="record-validation",
        method="POST",
        path=f"{API}/passports/{{passport_id}}/validations",
        expected_status=201,
        description=f"POST validations spread over {SPREAD_PASSPORTS} passports of the territory "
        "(authz, checks, insert, journal), as many mediators record at once",
        setup=_territory_passports,
        body=_validation_body,
        # Issue 14's targets: a write costs a commit, more so on PostgreSQL.
        min_rps_ratio={"sqlite": 0.08, "postgres": 0.06},
    )
)

# The same requests, all to one passport. No target: every request waits for that passport's
# lock (PostgreSQL's row lock), which is what this shows; a citizen sits with one mediator.
register(
    replace(
        RECORD_VALIDATION,
        name="record-validation-one-passport",
        description="POST every validation to one passport: the writes queue on its lock",
        setup=_passport,
        min_rps_ratio=None,
    )
)

register(
    Scenario(
        name="view-passport-200",
        method="GET",
        path=f"{API}/passports/{{passport_id}}",
        description="GET a passport with 200 validations (journaled, coalesced; served from the "
        "per-process cache of serialised views while the passport is unchanged)",
        setup=_passport_with_200,
        min_rps_ratio=0.10,
    )
)


# --- credentials ---------------------------------------------------------------------------------


TWELVE = [f"pp:PP-{n:02d}" for n in range(1, 13)]


async def _credential(
    ctx: SetupContext, *, revoke: bool = False, keep_account: bool = False
) -> None:
    """A passport with twelve validated skills, and a 12-skill credential issued from it."""
    await _passport(ctx)
    codes = TWELVE
    for code in codes:
        response = await ctx.client.post(
            f"{API}/passports/{ctx.state['passport_id']}/validations",
            json={
                "skill_code": code,
                "method": "observation",
                "observed_on": date.today().isoformat(),
                "structure_id": ctx.state["structure_id"],
            },
            headers=ctx.headers,
        )
        if response.status_code != 201:
            raise BenchError(f"recording a validation gave {response.status_code}")
    issued = await ctx.client.post(
        f"{API}/passports/{ctx.state['passport_id']}/credentials",
        json={"skills": codes},
        headers=ctx.headers,
    )
    if issued.status_code != 201:
        raise BenchError(f"issuing a credential gave {issued.status_code}: {issued.text}")
    ctx.state["qr_text"] = issued.json()["qr_text"]
    ctx.state["credential_id"] = issued.json()["id"]
    ctx.state["credential_code"] = issued.json()["code"]
    if revoke:
        await ctx.client.post(
            f"{API}/passports/{ctx.state['passport_id']}/credentials/{issued.json()['id']}/revoke",
            json={},
            headers=ctx.headers,
        )
    if not keep_account:
        # Verifiers need no account.
        ctx.headers.pop("Authorization")


async def _revoked_credential(ctx: SetupContext) -> None:
    await _credential(ctx, revoke=True)


register(
    Scenario(
        name="verify-valid",
        method="POST",
        path=f"{API}/verify",
        description="POST /verify a valid 12-skill credential (keys and status from the database)",
        setup=_credential,
        body=lambda ctx, index: {"qr_text": ctx.state["qr_text"]},
        # Issue 14's target: at least 30 % of the baseline's requests per second.
        min_rps_ratio=0.30,
    )
)

register(
    Scenario(
        name="verify-code",
        method="POST",
        path=f"{API}/verify",
        description="POST /verify the typed code of a valid 12-skill credential (V-…)",
        setup=_credential,
        body=lambda ctx, index: {"code": ctx.state["credential_code"]},
        min_rps_ratio=0.20,
    )
)

register(
    Scenario(
        name="verify-revoked",
        method="POST",
        path=f"{API}/verify",
        description="POST /verify a revoked credential (the whole pipeline, then the status bit)",
        setup=_revoked_credential,
        body=lambda ctx, index: {"qr_text": ctx.state["qr_text"]},
    )
)

register(
    Scenario(
        name="verify-garbage",
        method="POST",
        path=f"{API}/verify",
        description="POST /verify a malformed QR text (refused before any decoding work)",
        body=lambda ctx, index: {"qr_text": "PN1:" + "9" * 3999},
    )
)


async def _mediator_credential(ctx: SetupContext) -> None:
    await _credential(ctx, keep_account=True)


register(
    Scenario(
        name="issue-credential",
        method="POST",
        path=f"{API}/passports/{{passport_id}}/credentials",
        expected_status=201,
        description="POST a 12-skill credential (choose, sign, QR version check, journal)",
        setup=_mediator_credential,
        body=lambda ctx, index: {"skills": TWELVE},
    )
)

for _image in ("png", "svg"):
    register(
        Scenario(
            name=f"credential-{_image}",
            method="GET",
            path=f"{API}/passports/{{passport_id}}/credentials/{{credential_id}}/qr.{_image}",
            description=f"GET a 12-skill credential's QR as {_image.upper()} (drawn per request)",
            setup=_mediator_credential,
        )
    )

register(
    Scenario(
        name="attestation-pdf",
        method="GET",
        path=f"{API}/passports/{{passport_id}}/credentials/{{credential_id}}/attestation.pdf",
        description="GET the printable attestation of a 12-skill credential (QR, skills, code)",
        setup=_mediator_credential,
    )
)


# --- the public directory (docs/directory.md) ----------------------------------------------------

DIRECTORY_PLACES = 10_000
_TOWNS = ("Nouméa", "Koné", "Lifou", "Bourail", "Dumbéa", "Païta", "Poindimié", "Koumac")
_KINDS = ("Médiathèque", "Maison France Services", "EPN", "Tiers-lieu")
_SERVICES = (
    "Aide aux démarches administratives",
    "Accès internet et matériel informatique",
    "Prendre en main un smartphone ou une tablette",
    "Maîtriser les bases du numérique",
)


def _seed_directory(database_url: str) -> None:
    """A territory of 10,000 places, varied enough for every filter, written in one insert."""
    import random

    import sqlalchemy as sa

    from app.core.db import create_db_engine, transaction
    from app.core.settings import Settings
    from app.structures.models import Structure
    from app.territory.models import Territory

    engine = create_db_engine(Settings(database_url=database_url))
    rng = random.Random(2026)
    try:
        with transaction(engine) as session:
            if session.exec(sa.select(Territory).where(Territory.code == "988")).first():
                return
            territory = Territory(
                code="988", name="Nouvelle-Calédonie", issuer_url="https://bench.test/t/988"
            )
            session.add(territory)
            session.flush()
            rows = []
            for n in range(DIRECTORY_PLACES):
                town = _TOWNS[n % len(_TOWNS)]
                rows.append(
                    {
                        "territory_id": territory.id,
                        "external_id": f"lieu-{n}",
                        "nom": f"{rng.choice(_KINDS)} {n}",
                        "commune": town,
                        "code_postal": f"988{rng.randrange(0, 99):02d}",
                        "code_insee": f"988{rng.randrange(0, 33):02d}",
                        "adresse": f"{n} rue de l'Alma",
                        "latitude": -22.3 + rng.random(),
                        "longitude": 166.4 + rng.random(),
                        "horaires": "Mo-Fr 07:30-11:30,12:30-16:00; Sa 08:00-11:00; PH off",
                        "services": rng.sample(_SERVICES, rng.randrange(1, 4)),
                        "frais_a_charge": [rng.choice(("Gratuit", "Payant"))],
                        "prise_en_charge_specifique": (
                            ["Handicaps moteurs"] if rng.random() < 0.3 else []
                        ),
                        "courriels": [],
                        "site_web": [],
                        "typologie": [],
                        "publics_specifiquement_adresses": [],
                        "dispositif_programmes_nationaux": [],
                        "formations_labels": [],
                        "modalites_acces": [],
                        "modalites_accompagnement": [],
                        "itinerance": [],
                    }
                )
            session.execute(sa.insert(Structure), rows)
    finally:
        engine.dispose()


async def _directory(ctx: SetupContext) -> None:
    await asyncio.to_thread(_seed_directory, ctx.database_url)


register(
    Scenario(
        name="directory-list",
        method="GET",
        path=f"{API}/directory/places?territory=988&limit=20",
        description="GET the first page of a 10,000-place territory's directory",
        setup=_directory,
    )
)
register(
    Scenario(
        name="directory-search",
        method="GET",
        path=f"{API}/directory/places?q=mediatheque%20noumea&free=true&open_now=true&limit=20",
        description="search a 10,000-place directory by name and town, free and open now",
        setup=_directory,
    )
)
