"""The one registry of error codes: every code raised in app/ has a status, French and English
text and its line in docs/api.md; validation errors read as one plain sentence per field."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.core import problems
from app.core.problems import PROBLEMS, negotiate, validation_message
from tests.factories import World, make_world

ROOT = Path(__file__).resolve().parent.parent
PROBLEM = "application/problem+json"

# How app/ raises a code: AppError(…, code="x") and the classes that fix their own,
# ``status, code, title = 404, "x", "…"`` or ``code, title = "x", "…"``.
_RAISED = re.compile(r'\bcode="([a-z_]+)"|\bcode, title = (?:\d+, )?"([a-z_]+)"')


def raised_codes() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT / "app").rglob("*.py")):
        for match in _RAISED.finditer(path.read_text(encoding="utf-8")):
            code = match.group(1) or match.group(2)
            found.setdefault(code, []).append(str(path.relative_to(ROOT)))
    return found


def test_the_scan_finds_the_codes_it_should() -> None:
    # A scan that found nothing would pass every check below.
    codes = raised_codes()
    assert {"email_taken", "not_withdrawable", "import_encoding", "period_not_public"} <= set(codes)
    assert {"issuer_unreachable", "key_decryption_failed", "not_ready"} <= set(codes)
    assert len(codes) > 80


def test_every_code_raised_is_registered_in_both_languages() -> None:
    missing = {code: where for code, where in raised_codes().items() if code not in PROBLEMS}
    assert missing == {}, f"codes raised but not in app/core/problems.py: {missing}"
    for code, problem in PROBLEMS.items():
        assert 400 <= problem.status <= 599, code
        assert problem.fr.strip() and problem.en.strip(), code
        assert problem.fr != problem.en, f"{code}: the French text is the English one"


def test_single_sign_on_refusals_are_registered_with_their_status() -> None:
    from app.accounts.oidc import REFUSALS

    assert set(REFUSALS) <= set(PROBLEMS)
    assert {code: kind.status for code, kind in REFUSALS.items()} == {
        code: PROBLEMS[code].status for code in REFUSALS
    }


def test_every_registered_code_has_its_line_in_the_api_doc() -> None:
    doc = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    rows = [line for line in doc.splitlines() if line.startswith("| `")]
    documented = {code for row in rows for code in re.findall(r"`([a-z_]+)`", row.split("|")[1])}
    undocumented = sorted(set(PROBLEMS) - documented)
    assert undocumented == [], f"codes without their line in docs/api.md: {undocumented}"


def test_a_code_has_the_registrys_status_wherever_it_is_raised() -> None:
    from app.core.errors import InvalidInput, NotFound

    assert InvalidInput("x", code="unknown_skill").status == PROBLEMS["unknown_skill"].status
    assert NotFound("x", code="unknown_structure").status == PROBLEMS["unknown_structure"].status
    assert NotFound("x", code="unregistered_here").status == 404


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "en"),
        ("", "en"),
        ("fr", "fr"),
        ("fr-FR,fr;q=0.9,en;q=0.8", "fr"),
        ("en-GB,en;q=0.9,fr;q=0.8", "en"),
        ("de-DE,fr;q=0.5,en;q=0.4", "fr"),
        ("fr;q=0.2, en;q=0.9", "en"),
        ("de", "en"),
        ("fr;q=0", "en"),
        ("*", "en"),
        (";;;,,=", "en"),
    ],
)
def test_the_language_is_negotiated(header: str | None, expected: str) -> None:
    assert negotiate(header) == expected


def _error(field: str, kind: str, **ctx: Any) -> dict[str, Any]:
    return {"loc": ("body", field), "type": kind, "ctx": ctx}


@pytest.mark.parametrize(
    ("error", "fr", "en"),
    [
        (
            _error("first_name", "string_too_long", max_length=100),
            "Le prénom doit faire au plus 100 caractères.",
            "The first name must be at most 100 characters long.",
        ),
        (
            _error("birth_year", "greater_than_equal", ge=1900),
            "L'année de naissance doit valoir au moins 1900.",
            "The year of birth must be at least 1900.",
        ),
        (
            _error("level", "less_than_equal", le=8),
            "Le niveau doit valoir au plus 8.",
            "The level must be at most 8.",
        ),
        (
            _error("email", "value_error", reason="An email address must have an @-sign."),
            "L'adresse électronique n'est pas une adresse électronique valable (nom@exemple.fr).",
            "The e-mail address is not a valid e-mail address (name@example.org).",
        ),
        (
            _error("phone", "string_pattern_mismatch", pattern="^x$"),
            "Le numéro de téléphone n'a pas la forme attendue.",
            "The phone number is not in the expected form.",
        ),
        (
            _error("observed_on", "date_from_datetime_parsing", error="input is too short"),
            "La date d'observation doit être une date, par exemple 2026-12-31.",
            "The date observed must be a date, for example 2026-12-31.",
        ),
        (
            {"loc": ("query", "q"), "type": "string_too_long", "ctx": {"max_length": 100}},
            "La recherche doit faire au plus 100 caractères.",
            "The search must be at most 100 characters long.",
        ),
        (
            _error("last_name", "missing"),
            "Le nom est obligatoire.",
            "The last name is required.",
        ),
        (
            _error("skills", "too_short", min_length=1),
            "La liste des compétences compte trop peu d'éléments (au moins 1).",
            "The list of skills has too few items (at least 1).",
        ),
        (
            _error("last_name", "string_too_short", min_length=1),
            "Le nom ne peut pas être vide.",
            "The last name cannot be empty.",
        ),
        # The custom types of app/core/validation.py.
        (
            _error("evidence", "string_nul_character"),
            "La preuve ne peut pas contenir le caractère nul.",
            "The evidence cannot hold the NUL character.",
        ),
        (
            _error("first_name", "string_lone_surrogate"),
            "Le prénom contient un caractère qui n'existe pas.",
            "The first name holds a character that does not exist.",
        ),
        (
            _error("observed_on", "date_too_early", earliest=date(2000, 1, 1)),
            "La date d'observation ne peut pas être avant le 01/01/2000.",
            "The date observed cannot be before 2000-01-01.",
        ),
        (
            _error("observed_on", "date_too_late", latest=date(2026, 12, 6)),
            "La date d'observation ne peut pas être après le 06/12/2026.",
            "The date observed cannot be after 2026-12-06.",
        ),
        # As the input policy sends it: the bound as ISO text.
        (
            _error("observed_on", "date_too_early", earliest="1990-01-01"),
            "La date d'observation ne peut pas être avant le 01/01/1990.",
            "The date observed cannot be before 1990-01-01.",
        ),
        (
            _error("method", "literal_error", expected="'observation' or 'declaration'"),
            "La méthode doit valoir : 'observation' ou 'declaration'.",
            "The method must be one of: 'observation' or 'declaration'.",
        ),
        # The structures' own checks keep their precise English reason.
        (
            {
                "loc": ("body", "code_postal"),
                "type": "invalid_code_postal",
                "msg": "must be 5 digits, not '7300'",
            },
            "Le code postal doit faire 5 chiffres.",
            "The postcode must be 5 digits, not '7300'.",
        ),
        (
            _error("nom", "too_long", max_length=250, length=300),
            "Le nom de la structure doit faire au plus 250 caractères.",
            "The structure's name must be at most 250 characters long.",
        ),
        (
            _error("mystery", "some_type_pydantic_adds_one_day"),
            "Le champ « mystery » n'est pas valable.",
            "The field “mystery” is not valid.",
        ),
        (
            _error("first_name", "string_too_long"),  # a context that lacks its value
            "Le prénom n'est pas valable.",
            "The first name is not valid.",
        ),
    ],
)
def test_a_validation_error_is_one_plain_sentence(error: dict[str, Any], fr: str, en: str) -> None:
    assert validation_message(error, "fr") == fr
    assert validation_message(error, "en") == en


def test_every_french_sentence_is_french() -> None:
    # No pydantic English slips through a sentence's context in French.
    for kind, (fr, en) in problems._SENTENCES.items():
        assert fr != en, kind
        assert "{label" in fr or kind.startswith("json") or kind == "coordinates_pair", kind


@pytest.fixture
def world(engine: sa.Engine) -> World:
    return make_world(engine)


def _passport(client: TestClient, world: World, lang: str | None, **body: Any) -> dict[str, Any]:
    data = {"first_name": "Amina", "last_name": "Diallo", "birth_year": 1961, "consent": True}
    data.update(structure_id=world.a1.id, **body)
    headers = dict(world.headers["mediator_of_structure"])
    if lang:
        headers["Accept-Language"] = lang
    response = client.post("/api/v1/passports", json=data, headers=headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    return dict(response.json())


def test_the_api_speaks_french_to_a_french_caller(client: TestClient, world: World) -> None:
    body = _passport(
        client,
        world,
        "fr-FR,fr;q=0.9",
        first_name="x" * 101,
        birth_year=1800,
        email="pas-une-adresse",
        phone="appelez-moi",
    )
    assert body["code"] == "validation_error"
    assert body["title"] == "Certaines informations ne sont pas valables."
    assert body["detail"] == (
        "Le prénom doit faire au plus 100 caractères. "
        "L'année de naissance doit valoir au moins 1900. "
        "Le numéro de téléphone n'a pas la forme attendue. "
        "L'adresse électronique n'est pas une adresse électronique valable (nom@exemple.fr)."
    )
    assert {e["field"] for e in body["errors"]} == {"first_name", "birth_year", "email", "phone"}
    assert "x" * 101 not in str(body) and "appelez-moi" not in str(body)

    english = _passport(client, world, "en", first_name="x" * 101)
    assert english["detail"] == "The first name must be at most 100 characters long."


def test_a_service_error_reads_in_the_callers_language(client: TestClient, world: World) -> None:
    headers = dict(world.headers["mediator_of_structure"])
    data = {"first_name": "Amina", "last_name": "Diallo", "birth_year": 1961, "consent": False}
    data["structure_id"] = world.a1.id
    french = client.post(
        "/api/v1/passports", json=data, headers={**headers, "Accept-Language": "fr"}
    )
    assert french.status_code == 422 and french.json()["code"] == "consent_required"
    assert french.headers["content-language"] == "fr"
    assert french.json()["title"] == french.json()["detail"] == PROBLEMS["consent_required"].fr
    english = client.post("/api/v1/passports", json=data, headers=headers)
    assert english.json()["title"] == PROBLEMS["consent_required"].en
    assert english.headers["content-language"] == "en"

    missing = client.get("/api/v1/nowhere", headers={"Accept-Language": "fr"})
    assert missing.status_code == 404 and missing.json()["title"] == "Introuvable."


def test_unknown_skill_is_one_status_everywhere(client: TestClient, world: World) -> None:
    assert client.get("/api/v1/framework/skills/crcn:9.9").status_code == 404
    headers = world.headers["mediator_of_structure"]
    data = {"first_name": "Amina", "last_name": "Diallo", "birth_year": 1961, "consent": True}
    created = client.post(
        "/api/v1/passports", json={**data, "structure_id": world.a1.id}, headers=headers
    )
    assert created.status_code == 201, created.text
    recorded = client.post(
        f"/api/v1/passports/{created.json()['id']}/validations",
        json={
            "skill_code": "crcn:9.9",
            "level": 2,
            "method": "observation",
            "observed_on": date.today().isoformat(),
            "structure_id": world.a1.id,
        },
        headers=headers,
    )
    assert recorded.status_code == 404 and recorded.json()["code"] == "unknown_skill"


def test_a_french_detail_carries_the_specifics(client: TestClient, world: World) -> None:
    headers = {**world.headers["mediator_of_structure"], "Accept-Language": "fr"}
    refused = client.post(
        f"/api/v1/passports/{world.passport.id}/credentials",
        json={"skills": ["crcn:4.1", "pp:PP-12"]},
        headers=headers,
    )
    assert refused.status_code == 422 and refused.json()["code"] == "skill_not_validated"
    assert refused.json()["skills"] == ["crcn:4.1", "pp:PP-12"]
    assert refused.json()["detail"] == (
        "Ces compétences ne sont pas validées dans ce passeport : crcn:4.1, pp:PP-12."
    )
    assert refused.json()["title"] == PROBLEMS["skill_not_validated"].fr


def test_a_code_the_registry_lacks_never_claims_a_language() -> None:
    from app.core.errors import problem_response

    unknown = problem_response(
        status=409, code="not_registered_yet", title="T", detail="English.", lang="fr"
    )
    assert "content-language" not in unknown.headers
    assert b'"detail":"English."' in unknown.body
    known = problem_response(
        status=409, code="email_taken", title="T", detail="English.", lang="fr"
    )
    assert known.headers["content-language"] == "fr"
    assert PROBLEMS["email_taken"].fr.encode() in known.body
