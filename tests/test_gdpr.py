"""The citizen's rights: a copy of everything held, erasure that leaves nothing personal, retention.

The key test scans every column of every table after an erasure, looking for the citizen's name,
contact and birth data in any form (accented or not, escaped in JSON or not).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.core.catalogue import catalogue
from app.core.db import pk, transaction
from app.core.errors import Conflict
from app.core.time import utcnow
from app.passports import gdpr
from app.passports.models import Method, Passport, Validation
from tests.conftest import free_port
from tests.factories import ACCESS_CODE, World, make_passport, make_world
from tests.servers import passeport_env, run_cli, running_server
from tests.test_card import pdf_page_text

PROBLEM = "application/problem+json"
TODAY = date.today().isoformat()
CITIZEN = {
    "first_name": "Zéphyrine",
    "last_name": "Quintal-Ozanne",
    "birth_year": 1947,
    "commune_insee": "97302",
    "phone": "+590690123456",
    "email": "zephyrine.q@example.org",
}
# Lower-case ASCII fragments: they match the accented and unaccented forms, the search name and
# JSON's \u00e9 escapes alike.
NEEDLES = ("phyrine", "quintal", "ozanne", "590690123456", "0690123456")


@pytest.fixture
def world(engine: sa.Engine) -> World:
    return make_world(engine)


def _problem(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == code, response.json()


def _stringify(value: Any) -> str:
    if isinstance(value, bytes | memoryview):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False) + json.dumps(value)
    return str(value)


def scan(engine: sa.Engine, needles: tuple[str, ...] = NEEDLES) -> list[str]:
    """Every table.column holding one of the needles, in any row."""
    found = []
    with engine.connect() as conn:
        for table in sa.inspect(engine).get_table_names():
            rows = conn.execute(sa.text(f'SELECT * FROM "{table}"')).mappings()
            for row in rows:
                for column, value in row.items():
                    text = _stringify(value).lower()
                    found += [f"{table}.{column}: {n}" for n in needles if n in text]
    return found


class Story:
    """A citizen with a full record: validations (one withdrawn), a self-assessment, a sharing,
    sessions, a failed sign-in, and a download of her data."""

    def __init__(self, client: TestClient, world: World, engine: sa.Engine) -> None:
        self.client, self.world, self.engine = client, world, engine
        mediator = world.headers["mediator_of_structure"]
        opened = client.post(
            "/api/v1/passports",
            json={**CITIZEN, "structure_id": world.a1.id, "consent": True},
            headers=mediator,
        )
        assert opened.status_code == 201, opened.text
        self.id: int = opened.json()["id"]
        self.number: str = opened.json()["number"]
        self.code: str = opened.json()["access_code"]
        url = f"/api/v1/passports/{self.id}"
        bodies: list[tuple[str, dict[str, str | int]]] = [
            ("zephyrine-quintal-1", {"skill_code": "pp:PP-06"}),
            ("zephyrine-quintal-2", {"skill_code": "crcn:4.1", "level": 3}),
            ("zephyrine-quintal-3", {"skill_code": "crcn:1.1", "level": 2}),
        ]
        for key, body in bodies:
            made = client.post(
                f"{url}/validations",
                json={
                    "method": "observation",
                    "observed_on": TODAY,
                    "structure_id": world.a1.id,
                    "evidence": "Zéphyrine Quintal-Ozanne a écrit à zephyrine.q@example.org "
                    "depuis le +590690123456.",
                    **body,
                },
                headers={**mediator, "Idempotency-Key": key},
            )
            assert made.status_code == 201, made.text
            self.last_validation = made.json()["id"]
        withdrawn = client.post(
            f"{url}/validations/{self.last_validation}/withdraw",
            json={"reason": "Pas Zéphyrine Quintal-Ozanne : son homonyme"},
            headers=mediator,
        )
        assert withdrawn.status_code == 200, withdrawn.text
        with transaction(engine) as session:
            session.add(
                Validation(
                    passport_id=self.id,
                    skill_code="crcn:2.1",
                    level=2,
                    method=Method.SELF_ASSESSMENT,
                    observed_on=date.today(),
                )
            )
        granted = client.post(
            f"{url}/grants",
            json={"structure_id": world.b1.id, "access_code": self.code},
            headers=mediator,
        )
        assert granted.status_code == 201, granted.text
        bad = client.post("/api/v1/citizen/login", json={"number": self.number, "code": "BBBBBBBB"})
        assert bad.status_code == 401

        # A credential with her name on it: its code is on paper, its jti inside the QR.
        issued = client.post(
            f"{url}/credentials",
            json={"skills": ["pp:PP-06"], "include_name": True},
            headers=mediator,
        )
        assert issued.status_code == 201, issued.text
        self.credential: dict[str, Any] = issued.json()

        self.citizen = TestClient(client.app)
        login = self.citizen.post(
            "/api/v1/citizen/login", json={"number": self.number, "code": self.code}
        )
        assert login.status_code == 200, login.text
        self.csrf = {"X-CSRF-Token": login.json()["csrf_token"]}
        assert self.citizen.get("/api/v1/citizen/passport").status_code == 200
        exported = self.citizen.get("/api/v1/citizen/export")
        assert exported.status_code == 200, exported.text
        self.export: dict[str, Any] = exported.json()


def _passport_row(engine: sa.Engine, passport_id: int) -> dict[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(
            sa.text("SELECT * FROM passport WHERE id = :id"), {"id": passport_id}
        ).mappings()
        return dict(row.one())


# --- export --------------------------------------------------------------------------------------


def test_export_holds_everything_and_no_secret(
    client: TestClient, world: World, engine: sa.Engine
) -> None:
    story = Story(client, world, engine)
    data = story.export
    assert data["format"] == gdpr.EXPORT_FORMAT
    assert data["personal_data"] == CITIZEN
    assert data["passport"]["number"] == story.number
    assert data["passport"]["territory"] == {"code": "ta", "name": world.a.name}
    assert data["consent"]["version"] == "2026-11"
    assert data["consent"]["structure"] == world.a1.nom
    assert data["consent"]["recorded_by"] == "Test User"

    validations = data["validations"]
    assert len(validations) == 4
    by_skill = {v["skill_code"]: v for v in validations}
    assert by_skill["crcn:1.1"]["status"] == "withdrawn"
    assert "homonyme" in by_skill["crcn:1.1"]["withdrawal_reason"]
    assert by_skill["crcn:2.1"]["method"] == "self_assessment"
    assert by_skill["pp:PP-06"]["evidence"].startswith("Zéphyrine")
    assert by_skill["pp:PP-06"]["mediator"] == "Test User"
    assert by_skill["pp:PP-06"]["structure"] == world.a1.nom
    assert by_skill["pp:PP-06"]["skill_label_fr"].startswith("Envoyer et recevoir un e-mail")

    [grant] = data["access_grants"]
    assert grant["structure"] == world.b1.nom and grant["territory"] == world.b.name
    actions = [entry["action"] for entry in data["access_journal"]]
    assert actions[0] == "passport.opened"
    assert actions.count("validation.created") == 3
    assert actions[-3:] == ["citizen.signed_in", "passport.read", "passport.exported"]
    assert [e["actor_kind"] for e in data["access_journal"]][-1] == "citizen"
    [signed_in] = data["sessions"]
    assert set(signed_in) == {"signed_in_at", "last_seen_at", "expires_at", "ended_at"}
    assert {"action": "citizen.login_failed", "outcome": "failure"}.items() <= data[
        "security_events"
    ][-1].items()

    # No secret: neither the code's hash nor a session token's, under any name.
    text = json.dumps(data)
    with engine.connect() as conn:
        code_hash = conn.execute(
            sa.text("SELECT access_code_hash FROM passport WHERE id = :id"), {"id": story.id}
        ).scalar_one()
        token_hashes = conn.execute(sa.text("SELECT token_hash FROM citizen_session")).scalars()
        secrets_held = [code_hash, *token_hashes]
    assert all(secret not in text for secret in secrets_held)
    assert "hash" not in text and story.code not in text and "client_address" not in text


def test_export_downloads_for_the_citizen_and_the_holding_territory(
    client: TestClient, world: World, engine: sa.Engine
) -> None:
    story = Story(client, world, engine)
    json_answer = story.citizen.get("/api/v1/citizen/export", params={"format": "json"})
    assert json_answer.headers["content-type"] == "application/json"
    assert json_answer.headers["cache-control"] == "no-store"
    assert json_answer.headers["content-disposition"] == (
        f'attachment; filename="passeport-{story.number}.json"'
    )
    pdf_answer = story.citizen.get("/api/v1/citizen/export", params={"format": "pdf"})
    assert pdf_answer.status_code == 200
    assert pdf_answer.headers["content-type"] == "application/pdf"
    assert pdf_answer.headers["cache-control"] == "no-store"
    assert pdf_answer.headers["content-disposition"] == (
        f'attachment; filename="passeport-{story.number}.pdf"'
    )
    text = pdf_page_text(pdf_answer.content)
    for expected in (
        "Toutes les informations de mon passeport numérique",
        "(Zéphyrine) Tj",
        "(Quintal-Ozanne) Tj",
        "(1947) Tj",
        "(zephyrine.q@example.org) Tj",
        "Vos compétences",
        "Envoyer et recevoir un e-mail",
        "Retirée le",
        "Auto-évaluation",
        "Test User",
        world.b1.nom,
        "Qui a ouvert ou changé votre passeport",
        "Téléchargement des données",
        "Code d'accès faux",
    ):
        assert expected in text, expected

    # A mediator of the holding territory downloads it for a citizen who asks in person.
    for caller in ("mediator_of_structure", "mediator_other_structure", "territory_admin"):
        for fmt in ("json", "pdf"):
            answer = client.get(
                f"/api/v1/passports/{story.id}/export",
                params={"format": fmt},
                headers=world.headers[caller],
            )
            assert answer.status_code == 200, (caller, answer.text)
    exported_by = client.get(
        f"/api/v1/passports/{story.id}/export", headers=world.headers["mediator_of_structure"]
    ).json()
    assert exported_by["personal_data"] == CITIZEN
    assert exported_by["access_journal"][-1]["action"] == "passport.exported"
    assert exported_by["access_journal"][-1]["actor_kind"] == "mediator"


def test_the_pdf_speaks_french_to_a_person(
    client: TestClient, world: World, engine: sa.Engine
) -> None:
    """Every journal kind in words (the web journal's), no jti, dates on one line."""
    story = Story(client, world, engine)
    revoked = client.post(
        f"/api/v1/passports/{story.id}/credentials/{story.credential['id']}/revoke",
        json={"reason": "holder_request"},
        headers=world.headers["mediator_of_structure"],
    )
    assert revoked.status_code == 200, revoked.text
    data = story.citizen.get("/api/v1/citizen/export").json()
    pdf = story.citizen.get("/api/v1/citizen/export", params={"format": "pdf"})
    assert pdf.status_code == 200
    text = pdf_page_text(pdf.content)
    kinds = {e["action"] for e in data["access_journal"] + data["security_events"]}
    assert {"credential.issued", "credential.revoked", "citizen.login_failed"} <= kinds
    words = {lang: catalogue(lang)["citizen"] for lang in ("fr", "en")}
    for kind in kinds:
        # Every kind shown has words in both catalogues, under the key the page uses (citizen.js).
        key = f"action_{kind.replace('.', '_')}"
        assert key in words["fr"] and key in words["en"], kind
        assert gdpr.action_label(kind) == words["fr"][key]
        assert f"({kind}) Tj" not in text and kind not in text, kind
    for label in (
        "Attestation délivrée",
        "Attestation révoquée",
        "Code d'accès faux",
        "Code d'accès changé le",
    ):
        assert f"({label}) Tj" in text, label
    # A kind without words yet still reads as French, never as its code.
    assert gdpr.action_label("something.new") == "Autre opération sur le passeport"
    # The pseudonymous holder id (a jti-like hex string) means nothing to a person.
    assert data["passport"]["holder_id"] not in text
    assert "Identifiant des attestations" not in text
    # A date is never cut inside its year ("06/12/202" then "6"), nor a heading inside a word.
    assert not re.search(r"\(\d\d/\d\d/\d{1,3}\) Tj", text), text
    assert "(Niveau) Tj" in text
    assert "(Auto-évaluation) Tj" in text


def test_the_pdf_and_the_page_read_one_catalogue() -> None:
    """The PDF copy takes its French words from the page's catalogue: no Python module keeps a
    list of its own (which drifted into other words before)."""
    labels = [
        label
        for key, label in catalogue("fr")["citizen"].items()
        if key.startswith(("action_", "actor_"))
    ]
    assert len(labels) > 20
    app_dir = Path(__file__).resolve().parents[1] / "app"
    for source in app_dir.rglob("*.py"):
        text = source.read_text("utf-8")
        kept = [label for label in labels if f'"{label}"' in text]
        assert not kept, f"{source.relative_to(app_dir)} repeats {kept}"


def test_who_may_export(client: TestClient, world: World, engine: sa.Engine) -> None:
    story = Story(client, world, engine)
    url = f"/api/v1/passports/{story.id}/export"
    # The passport is shared with b1: its mediator reads it, but the whole file stays home.
    _problem(client.get(url, headers=world.headers["mediator_other_territory"]), 403, "not_holder")
    _problem(
        client.get(url, headers=world.headers["admin_other_territory"]), 404, "unknown_passport"
    )
    _problem(client.get(url, headers=world.headers["platform_admin"]), 403, "forbidden_role")
    _problem(client.get(url), 401, "unauthenticated")
    _problem(
        client.get(
            f"/api/v1/passports/{world.passport.id}/export",
            headers=world.headers["mediator_other_territory"],
        ),
        404,
        "unknown_passport",
    )
    _problem(
        client.get(url, params={"format": "xml"}, headers=world.headers["mediator_of_structure"]),
        422,
        "validation_error",
    )
    _problem(story.citizen.get(url), 403, "forbidden_role")
    _problem(client.get("/api/v1/citizen/export"), 401, "unauthenticated")
    _problem(
        client.get("/api/v1/citizen/export", headers=world.headers["mediator_of_structure"]),
        403,
        "citizen_only",
    )


# --- erasure -------------------------------------------------------------------------------------


@pytest.mark.parametrize("by", ["citizen", "coordinator"])
def test_after_erasure_no_table_holds_anything_personal(
    client: TestClient, world: World, engine: sa.Engine, by: str
) -> None:
    story = Story(client, world, engine)
    # The scan finds her everywhere she is before, so that it proves something after.
    before = scan(engine)
    paper = (story.credential["code"].lower(), story.credential["jti"].lower())
    assert {"credential.code", "credential.jti"} <= {
        hit.split(":")[0] for hit in scan(engine, paper)
    }
    for place in (
        "passport.first_name",
        "passport.last_name",
        "passport.search_name",
        "passport.phone",
        "passport.email",
        "validation.evidence",
        "validation.withdrawal_reason",
        "validation.idempotency_key",
    ):
        assert any(hit.startswith(place) for hit in before), place
    with engine.connect() as conn:
        validations_before = conn.execute(
            sa.text(
                "SELECT skill_code, level, method, observed_on, structure_id, account_id "
                "FROM validation WHERE passport_id = :p ORDER BY id"
            ),
            {"p": story.id},
        ).all()

    if by == "citizen":
        _problem(
            story.citizen.post(
                "/api/v1/citizen/erasure", json={"confirm": False}, headers=story.csrf
            ),
            422,
            "confirmation_required",
        )
        erased = story.citizen.post(
            "/api/v1/citizen/erasure", json={"confirm": True}, headers=story.csrf
        )
        assert erased.status_code == 200, erased.text
        assert 'pn_citizen=""' in erased.headers["set-cookie"]
    else:
        erased = client.post(
            f"/api/v1/passports/{story.id}/erasure",
            json={"reason": "request"},
            headers=world.headers["territory_admin"],
        )
        assert erased.status_code == 200, erased.text
    assert erased.json()["validations_kept"] == 4

    assert scan(engine) == []
    # Nothing typed from her paper attestation, nor read from its QR, finds a row any more.
    assert scan(engine, paper) == []
    _problem(
        client.post("/api/v1/verify", json={"code": story.credential["code"]}), 404, "unknown_code"
    )
    verdict = client.post("/api/v1/verify", json={"qr_text": story.credential["qr_text"]}).json()
    assert verdict["result"] == "revoked" and verdict["holder_name"] is None
    row = _passport_row(engine, story.id)
    personal = ("first_name", "last_name", "birth_year", "commune_insee", "phone", "email")
    assert {name: row[name] for name in personal} == dict.fromkeys(personal)
    assert row["search_name"] is None and row["access_code_hash"] is None
    assert row["erased_at"] is not None
    assert row["number"] == gdpr.tombstone_number(story.id)
    assert row["holder_id"] != story.export["passport"]["holder_id"]
    # The birth year and the commune are plain numbers that ids and times may contain (10:19:47):
    # they are looked for as whole values, in every column tied to this passport.
    with engine.connect() as conn:
        linked = [
            value
            for table, column in [
                ("passport", "id"),
                ("validation", "passport_id"),
                ("passport_access_grant", "passport_id"),
                ("passport_access_log", "passport_id"),
                ("citizen_session", "passport_id"),
            ]
            for record in conn.execute(
                sa.text(f"SELECT * FROM {table} WHERE {column} = :p"), {"p": story.id}
            )
            for value in record
        ]
        for details in conn.execute(
            sa.text("SELECT details FROM audit_event WHERE target_id = :p"), {"p": str(story.id)}
        ).scalars():
            linked += list((details if isinstance(details, dict) else json.loads(details)).values())
        assert not {_stringify(value) for value in linked} & {"1947", "97302"}
        # What remains counts, anonymously: the same skills, levels, dates and places.
        validations_after = conn.execute(
            sa.text(
                "SELECT skill_code, level, method, observed_on, structure_id, account_id "
                "FROM validation WHERE passport_id = :p ORDER BY id"
            ),
            {"p": story.id},
        ).all()
        assert validations_after == validations_before
        for still_open in (
            "passport_access_grant WHERE revoked_at IS NULL AND",
            "passport_access_log WHERE",
            "citizen_session WHERE",
        ):
            count = conn.execute(
                sa.text(f"SELECT count(*) FROM {still_open} passport_id = :p"), {"p": story.id}
            )
            assert count.scalar_one() == 0, still_open
        event = conn.execute(
            sa.text(
                "SELECT actor_account_id, details FROM audit_event "
                "WHERE action = 'passport.erased' AND target_id = :p"
            ),
            {"p": str(story.id)},
        ).one()
    details = event.details if isinstance(event.details, dict) else json.loads(event.details)
    assert details["reason"] == ("citizen" if by == "citizen" else "request")
    assert details["by"] == ("citizen" if by == "citizen" else "territory_admin")
    assert event.actor_account_id == (None if by == "citizen" else world.admin_a.id)
    assert details["grants_revoked"] == 1 and details["validations_kept"] == 4

    # Gone for everyone: mediators, the other territory it was shared with, the citizen.
    for caller in ("mediator_of_structure", "territory_admin", "mediator_other_territory"):
        _problem(
            client.get(f"/api/v1/passports/{story.id}", headers=world.headers[caller]),
            404,
            "unknown_passport",
        )
    _problem(story.citizen.get("/api/v1/citizen/passport"), 401, "unauthenticated")
    _problem(
        TestClient(client.app).post(
            "/api/v1/citizen/login", json={"number": story.number, "code": story.code}
        ),
        401,
        "invalid_access_code",
    )
    found = client.get(
        "/api/v1/passports",
        params={"q": story.number},
        headers=world.headers["mediator_of_structure"],
    )
    assert found.json() == []
    # Erasing again: there is nothing left to find.
    _problem(
        client.post(
            f"/api/v1/passports/{story.id}/erasure",
            json={"reason": "request"},
            headers=world.headers["territory_admin"],
        ),
        404,
        "unknown_passport",
    )


def test_who_may_erase(client: TestClient, world: World) -> None:
    url = f"/api/v1/passports/{world.passport.id}/erasure"
    body = {"reason": "request"}
    for caller, status, code in [
        ("anonymous", 401, "unauthenticated"),
        ("mediator_of_structure", 403, "forbidden_role"),
        ("mediator_other_territory", 403, "forbidden_role"),
        ("admin_other_territory", 404, "unknown_passport"),
        ("platform_admin", 403, "forbidden_role"),
    ]:
        _problem(client.post(url, json=body, headers=world.headers[caller]), status, code)
    admin = world.headers["territory_admin"]
    # The reason is chosen from a list: free text would keep names in the audit journal.
    for reason in ("Demande de Mme Lucie Martin", "retention", "citizen", ""):
        _problem(client.post(url, json={"reason": reason}, headers=admin), 422, "validation_error")
    _problem(client.post(url, json={}, headers=admin), 422, "validation_error")
    _problem(
        client.post("/api/v1/passports/999999/erasure", json=body, headers=admin),
        404,
        "unknown_passport",
    )
    _problem(client.post("/api/v1/citizen/erasure", json={"confirm": True}), 401, "unauthenticated")
    _problem(
        client.post(
            "/api/v1/citizen/erasure",
            json={"confirm": True},
            headers=world.headers["territory_admin"],
        ),
        403,
        "citizen_only",
    )
    citizen = TestClient(client.app)
    login = citizen.post(
        "/api/v1/citizen/login", json={"number": world.passport.number, "code": ACCESS_CODE}
    )
    # A cookie alone is not enough for a change: the CSRF header must come with it.
    _problem(citizen.post("/api/v1/citizen/erasure", json={"confirm": True}), 403, "csrf_failed")
    _problem(
        citizen.post(
            "/api/v1/citizen/erasure",
            json={"confirm": "yes please"},
            headers={"X-CSRF-Token": login.json()["csrf_token"]},
        ),
        422,
        "validation_error",
    )
    assert client.post(url, json={"reason": "opened_by_mistake"}, headers=admin).status_code == 200


def test_duplicates_merged_into_an_erased_passport_are_erased_too(
    world: World, engine: sa.Engine
) -> None:
    duplicate = make_passport(engine, world.a, world.a1, last_name="Quintal-Ozanne")
    with transaction(engine) as session:
        row = session.get(Passport, duplicate.id)
        assert row is not None
        row.merged_into_id = world.passport.id
    with transaction(engine) as session:
        kept = session.get(Passport, world.passport.id)
        assert kept is not None
        erasure = gdpr.erase(session, kept, actor=None, reason=gdpr.ErasureReason.REQUEST)
        assert erasure.merged_passports == 1
    assert scan(engine, ("quintal", "lucie", "martin")) == []
    erased = _passport_row(engine, pk(duplicate))
    assert erased["erased_at"] is not None
    assert erased["number"] == gdpr.tombstone_number(pk(duplicate))
    assert erased["birth_year"] is None


# --- retention -----------------------------------------------------------------------------------


def _age(engine: sa.Engine, passport_id: int | None, years: float) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE passport SET last_activity_at = :at WHERE id = :id"),
            {"at": utcnow() - timedelta(days=365.25 * years), "id": passport_id},
        )


def test_retention_erases_only_passports_unused_for_the_period(
    world: World, engine: sa.Engine
) -> None:
    old = make_passport(engine, world.a, world.a1, last_name="Ancien")
    recent = make_passport(engine, world.a, world.a1, last_name="Recent")
    _age(engine, old.id, 3.2)
    _age(engine, recent.id, 2.8)
    _age(engine, world.passport.id, 0.1)
    cutoff = gdpr.retention_cutoff(utcnow(), 3)

    with transaction(engine, write=False) as session:
        assert gdpr.purge_inactive(session, older_than=cutoff, dry_run=True) == [old.id]
    assert _passport_row(engine, old.id or 0)["last_name"] == "Ancien"  # a dry run changes nothing

    with transaction(engine) as session:
        assert gdpr.purge_inactive(session, older_than=cutoff, dry_run=False) == [old.id]
    assert _passport_row(engine, old.id or 0)["last_name"] is None
    assert _passport_row(engine, recent.id or 0)["last_name"] == "Recent"
    assert _passport_row(engine, world.passport.id or 0)["last_name"] == "Martin"
    with engine.connect() as conn:
        reason = conn.execute(
            sa.text("SELECT details FROM audit_event WHERE action = 'passport.erased'")
        ).scalar_one()
    assert (reason if isinstance(reason, dict) else json.loads(reason))["reason"] == "retention"
    # Already erased: not erased again.
    with transaction(engine) as session:
        assert gdpr.purge_inactive(session, older_than=cutoff, dry_run=False) == []


def test_retention_cutoff_counts_calendar_years() -> None:
    now = datetime(2028, 2, 29, 12, 0, tzinfo=UTC)
    assert gdpr.retention_cutoff(now, 3) == datetime(2025, 2, 28, 12, 0, tzinfo=UTC)
    assert gdpr.retention_cutoff(now, 4) == datetime(2024, 2, 29, 12, 0, tzinfo=UTC)
    assert gdpr.retention_cutoff(datetime(2026, 11, 28, tzinfo=UTC), 1) == datetime(
        2025, 11, 28, tzinfo=UTC
    )


def test_retention_command(world: World, engine: sa.Engine, database_url: str) -> None:
    old = make_passport(engine, world.a, world.a1, last_name="Quintal-Ozanne")
    _age(engine, old.id, 5)
    env = passeport_env(database_url, PASSEPORT_RETENTION_YEARS="4")

    dry = run_cli("retention", "run", "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert "dry run, nothing erased: 1 passports" in dry.stdout
    assert old.number in dry.stdout.split()
    assert _passport_row(engine, old.id or 0)["erased_at"] is None

    real = run_cli("retention", "run", env=env)
    assert real.returncode == 0, real.stderr
    assert real.stdout.startswith("erased 1 passports inactive since before ")
    assert _passport_row(engine, old.id or 0)["erased_at"] is not None
    for output in (dry.stdout + dry.stderr, real.stdout + real.stderr):
        assert "Quintal" not in output and "Lucie" not in output

    again = run_cli("retention", "run", env=env)
    assert again.returncode == 0 and again.stdout.startswith("erased 0 passports")

    refused = run_cli("retention", "run", env={**env, "PASSEPORT_RETENTION_YEARS": "0"})
    assert refused.returncode == 2
    assert refused.stderr.startswith("passeport: error: PASSEPORT_RETENTION_YEARS:")
    assert "Traceback" not in refused.stderr


def test_erasure_is_refused_twice_at_the_service(world: World, engine: sa.Engine) -> None:
    with transaction(engine) as session:
        passport = session.get(Passport, world.passport.id)
        assert passport is not None
        gdpr.erase(session, passport, actor=None, reason=gdpr.ErasureReason.OPENED_BY_MISTAKE)
    with pytest.raises(Conflict) as refused, transaction(engine) as session:
        passport = session.get(Passport, world.passport.id)
        assert passport is not None
        gdpr.erase(session, passport, actor=None, reason=gdpr.ErasureReason.REQUEST)
    assert refused.value.code == "already_erased"


def test_the_server_log_holds_no_personal_data(
    database_url: str, engine: sa.Engine, world: World, tmp_path: Path
) -> None:
    """The development mail backend prints to the server's output, a log erasure cannot reach."""
    env = passeport_env(database_url, PASSEPORT_MAIL_BACKEND="console")
    with running_server(env, free_port(), tmp_path / "server.log") as server:
        opened = httpx.post(
            f"{server.url}/api/v1/passports",
            json={**CITIZEN, "structure_id": world.a1.id, "consent": True},
            headers=world.headers["mediator_of_structure"],
        )
        assert opened.status_code == 201, opened.text
        asked = httpx.post(f"{server.url}/api/v1/citizen/link", json={"email": CITIZEN["email"]})
        assert asked.status_code == 202
        log = server.log()
    assert "--- mail to z…@e….org: " in log  # the mail was printed, to a masked address
    assert [needle for needle in NEEDLES if needle in log.lower()] == []
