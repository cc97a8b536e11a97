"""Seed PostgreSQL with 100,000 passports and 1,000,000 validations for the observatory benchmark.

    .venv/bin/python -m bench.seed_observatory    # (re)creates the database passeport_observatory
    .venv/bin/python -m bench.seed_observatory --admin-url postgresql://postgres@host/postgres

The database is dropped and recreated, migrated by Alembic, then filled with COPY (no ORM): five
territories, 100 structures, 100 mediators, passports opened over 24 months, validations spread
over the CRCN competences and Premiers pas skills, every method, 24 months, some withdrawn and
some erased passports, credentials and a verification tally. Deterministic (a fixed seed).
"""

from __future__ import annotations

import argparse
import random
import secrets
import time
from datetime import UTC, date, datetime, timedelta

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from app.core.migrations import upgrade

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_NAME = "passeport_observatory"
TERRITORIES = 5
STRUCTURES_PER_TERRITORY = 20
MONTHS = 24
METHODS = (
    ("observation", 0.45),
    ("situation", 0.25),
    ("exercise", 0.15),
    ("self_assessment", 0.08),
    ("pix", 0.05),
    ("credential", 0.02),
)
RESULTS = ("valid", "revoked", "expired", "bad_signature", "untrusted_issuer")


def _urls(admin_url: str, name: str) -> tuple[str, str]:
    admin = make_url(admin_url)
    conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    app_url = admin.set(drivername="postgresql+psycopg", database=name)
    return conninfo, app_url.render_as_string(hide_password=False)


def recreate(admin_conninfo: str, name: str) -> None:
    with psycopg.connect(admin_conninfo, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _copy(
    conn: psycopg.Connection, table: str, columns: list[str], rows: list[tuple[object, ...]]
) -> None:
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with conn.cursor() as cur, cur.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def seed(conninfo: str, passports: int, validations: int, seed_value: int = 2026) -> dict[str, int]:
    rng = random.Random(seed_value)
    today = datetime.now(UTC).date()
    # The 24 calendar months up to this one, as in the observatory's default period.
    index = today.year * 12 + today.month - 1 - (MONTHS - 1)
    first_month = date(index // 12, index % 12 + 1, 1)
    span_days = (today - first_month).days + 1
    now = datetime.now(UTC)
    with psycopg.connect(conninfo) as conn:
        skills = conn.execute(
            "SELECT code, level FROM skill WHERE framework_code IN ('crcn', 'pp') ORDER BY code"
        ).fetchall()
        territories = []
        for t in range(TERRITORIES):
            row = conn.execute(
                "INSERT INTO territory (code, name, issuer_url, created_at) "
                "VALUES (%s, %s, %s, %s) RETURNING id",
                (f"obs{t + 1}", f"Territoire {t + 1}", f"https://obs.example/t/obs{t + 1}", now),
            ).fetchone()
            assert row is not None
            territories.append(row[0])
        structures: list[tuple[int, int]] = []  # (structure id, territory id)
        mediators: dict[int, int] = {}  # structure id -> account id
        for territory_id in territories:
            for s in range(STRUCTURES_PER_TERRITORY):
                row = conn.execute(
                    "INSERT INTO structure (territory_id, nom, commune, code_postal, adresse, "
                    "courriels, site_web, typologie, services, publics_specifiquement_adresses, "
                    "prise_en_charge_specifique, frais_a_charge, dispositif_programmes_nationaux, "
                    "formations_labels, modalites_acces, modalites_accompagnement, itinerance, "
                    "created_at, updated_at) VALUES (%s, %s, 'Commune', '97300', '1 rue', "
                    + "'[]', "
                    * 12
                    + "%s, %s) "
                    "RETURNING id",
                    (territory_id, f"Lieu {territory_id}-{s}", now, now),
                ).fetchone()
                assert row is not None
                account = conn.execute(
                    "INSERT INTO account (email, display_name, role, territory_id, is_active, "
                    "failed_logins, created_at) VALUES (%s, %s, 'mediator', %s, true, 0, %s) "
                    "RETURNING id",
                    (f"m{row[0]}@obs.example", f"Médiateur {row[0]}", territory_id, now),
                ).fetchone()
                assert account is not None
                structures.append((row[0], territory_id))
                mediators[row[0]] = account[0]

        # Passports: territory by weight (the first territory is the largest), dates over 24 months.
        weights = [5, 3, 2, 1, 1]
        passport_rows = []
        passport_territory: list[int] = []
        for i in range(passports):
            territory_id = rng.choices(territories, weights)[0]
            created = datetime.combine(
                first_month + timedelta(days=rng.randrange(span_days)), datetime.min.time(), UTC
            ) + timedelta(seconds=rng.randrange(86400))
            erased = rng.random() < 0.02
            passport_rows.append(
                (
                    territory_id,
                    f"P-{i:08d}",
                    None if erased else "Prénom",
                    None if erased else f"Nom{i}",
                    secrets.token_hex(16),
                    "2026-11",
                    created,
                    created,
                    created,
                    created if erased else None,
                )
            )
            passport_territory.append(territory_id)
        _copy(
            conn,
            "passport",
            [
                "territory_id",
                "number",
                "first_name",
                "last_name",
                "holder_id",
                "consent_version",
                "consent_at",
                "created_at",
                "last_activity_at",
                "erased_at",
            ],
            passport_rows,
        )
        first_id = conn.execute("SELECT min(id) FROM passport").fetchone()
        assert first_id is not None
        base = first_id[0]
        by_territory: dict[int, list[int]] = {t: [] for t in territories}
        for sid, tid in structures:
            by_territory[tid].append(sid)

        # Validations: ten per passport on average, each person progressing over time.
        methods, method_weights = zip(*METHODS, strict=True)
        validation_rows = []
        for n in range(validations):
            p = rng.randrange(passports)
            territory_id = passport_territory[p]
            created = passport_rows[p][6]
            assert isinstance(created, datetime)
            days_left = max(1, (today - created.date()).days + 1)
            observed = created.date() + timedelta(days=rng.randrange(days_left))
            code, skill_level = skills[rng.randrange(len(skills))]
            method = rng.choices(methods, method_weights)[0]
            level = skill_level or min(8, 1 + int(rng.expovariate(0.6)))
            mediator = method not in ("self_assessment",)
            structure = rng.choice(by_territory[territory_id]) if mediator else None
            if method in ("pix", "credential"):
                structure = None
            withdrawn = now if mediator and rng.random() < 0.03 else None
            validation_rows.append(
                (
                    base + p,
                    code,
                    level,
                    method,
                    observed,
                    mediators.get(structure) if structure else None,
                    structure,
                    now,
                    withdrawn,
                )
            )
            if len(validation_rows) == 200_000 or n == validations - 1:
                _copy(
                    conn,
                    "validation",
                    [
                        "passport_id",
                        "skill_code",
                        "level",
                        "method",
                        "observed_on",
                        "account_id",
                        "structure_id",
                        "created_at",
                        "withdrawn_at",
                    ],
                    validation_rows,
                )
                validation_rows = []

        # Credentials: one in five passports holds one.
        credential_rows = []
        slots = dict.fromkeys(territories, 0)
        for p in range(0, passports, 5):
            territory_id = passport_territory[p]
            issued = passport_rows[p][6]
            assert isinstance(issued, datetime)
            issued += timedelta(days=rng.randrange(30))
            credential_rows.append(
                (
                    territory_id,
                    base + p,
                    secrets.token_hex(8),
                    f"V-{p:08d}",
                    "kid",
                    slots[territory_id],
                    "[]",
                    False,
                    issued,
                    issued + timedelta(days=730),
                )
            )
            slots[territory_id] += 1
        _copy(
            conn,
            "credential",
            [
                "territory_id",
                "passport_id",
                "jti",
                "code",
                "kid",
                "status_index",
                "skill_codes",
                "with_name",
                "issued_at",
                "expires_at",
            ],
            credential_rows,
        )

        tally_rows = [
            (first_month + timedelta(days=d), result, channel, rng.randrange(0, 40))
            for d in range(span_days)
            for result in RESULTS
            for channel in ("qr", "code")
        ]
        _copy(conn, "verification_tally", ["day", "result", "channel", "count"], tally_rows)
        conn.commit()
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return {
        "territories": len(territories),
        "structures": len(structures),
        "passports": passports,
        "validations": validations,
        "credentials": len(credential_rows),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL)
    parser.add_argument("--name", default=DEFAULT_NAME, help="Database to (re)create.")
    parser.add_argument("--passports", type=int, default=100_000)
    parser.add_argument("--validations", type=int, default=1_000_000)
    args = parser.parse_args()
    admin_conninfo, app_url = _urls(args.admin_url, args.name)
    started = time.perf_counter()
    recreate(admin_conninfo, args.name)
    upgrade(app_url)
    conninfo = make_url(app_url).set(drivername="postgresql").render_as_string(hide_password=False)
    counts = seed(conninfo, args.passports, args.validations)
    elapsed = time.perf_counter() - started
    print(", ".join(f"{v:,} {k}" for k, v in counts.items()) + f" in {elapsed:.0f} s")
    print(f"database: {app_url}")


if __name__ == "__main__":
    main()
