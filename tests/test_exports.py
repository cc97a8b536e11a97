"""The exports of places, checked by the schemas' own published packages: the data·inclusion
JSON Schema made by the ``data-inclusion-schema`` package (its models are the published schema),
and the national « lieux de médiation numérique » schema's reference library
(``@gouvfr-anct/lieux-de-mediation-numerique``, run by node), never a copy typed here."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import sqlalchemy as sa
from data_inclusion.schema import v1 as di
from fastapi.testclient import TestClient
from pydantic import TypeAdapter

from app.accounts.models import Role
from tests.factories import bearer, make_account, make_territory

API = "/api/v1"

PLACES: list[dict[str, Any]] = [
    {
        "nom": "Médiathèque Bernheim.",
        "commune": "Nouméa",
        "code_postal": "98800",
        "code_insee": "98818",
        "adresse": "41 avenue du Maréchal Foch",
        "latitude": -22.2745,
        "longitude": 166.4426,
        "telephone": "+687 24 20 90",
        "courriels": ["bibliotheque@bernheim.nc", "autre@bernheim.nc"],
        "site_web": ["https://bernheim.nc"],
        "horaires": "Mo-Fr 07:30-17:00; PH off",
        "pivot": "12345678901234",
        "presentation_resume": "Aide aux démarches en ligne.",
        "services": [
            "Aide aux démarches administratives",
            "Accès internet et matériel informatique",
        ],
        "frais_a_charge": ["Gratuit"],
        "prise_rdv": "https://rdv.bernheim.nc",
        "date_maj": "2026-01-15",
    },
    # The least a place can be: names, town, postcode, address; an RNA number as pivot.
    {
        "nom": "EPN",
        "commune": "Saint-Pierre",
        "code_postal": "97500",
        "adresse": "Place du Général de Gaulle",
        "pivot": "W123456789",
        "frais_a_charge": ["Payant"],
    },
    # Too short a name for data·inclusion (3 characters at least): left out of that export.
    {"nom": "A.", "commune": "Cayenne", "code_postal": "97300", "adresse": "1 rue"},
]


@pytest.fixture
def territory(client: TestClient, engine: sa.Engine) -> str:
    territory = make_territory(engine, "988", "Nouvelle-Calédonie")
    headers = bearer(engine, make_account(engine, Role.TERRITORY_ADMIN, territory))
    for place in PLACES:
        response = client.post(f"{API}/territories/988/structures", json=place, headers=headers)
        assert response.status_code == 201, response.text
    return territory.code


def _schema(model: type[Any]) -> dict[str, Any]:
    schema: dict[str, Any] = TypeAdapter(list[model]).json_schema()  # type: ignore[valid-type]
    return schema


def test_the_data_inclusion_export_follows_the_published_schema(
    client: TestClient, territory: str
) -> None:
    response = client.get(f"{API}/territories/{territory}/structures/data-inclusion")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert "data-inclusion-988.json" in response.headers["content-disposition"]
    document = response.json()
    structures, services = document["structures"], document["services"]
    assert len(structures) == len(services) == 2
    # The JSON Schema the package publishes for each list, checked by an independent validator.
    for model, items in ((di.Structure, structures), (di.Service, services)):
        validator = jsonschema_rs.validator_for(_schema(model))
        errors = [str(e) for e in validator.iter_errors(items)]
        assert errors == [], errors
        # And the package's own models, which also run its checks beyond the JSON Schema
        # (a name ending with a period, a date in the future).
        TypeAdapter(list[model]).validate_python(items)  # type: ignore[valid-type]
    first = structures[0]
    assert first["id"].startswith("passeport-numerique--988--")
    assert first["nom"] == "Médiathèque Bernheim"
    assert first["siret"] == "12345678901234"
    assert first["courriel"] == "bibliotheque@bernheim.nc"
    assert first["date_maj"] == "2026-01-15"
    assert structures[1]["siret"] is None
    service = services[0]
    assert service["structure_id"] == first["id"]
    assert service["thematiques"] == [
        "numerique--acceder-a-des-services-en-ligne",
        "numerique--acceder-a-une-connexion-internet",
        "numerique--acquerir-un-equipement",
    ]
    assert service["frais"] == "gratuit" and services[1]["frais"] == "payant"
    assert services[1]["thematiques"] == ["numerique--maitriser-les-fondamentaux-du-numerique"]


def test_a_document_that_breaks_the_schema_is_caught() -> None:
    """The check can fail: a SIRET of 13 digits and an unknown theme are refused."""
    validator = jsonschema_rs.validator_for(_schema(di.Service))
    bad = [
        {
            "source": "x",
            "structure_id": "x--1",
            "id": "x--1--s",
            "nom": "Accompagnement",
            "date_maj": "2026-01-01",
            "description": "Une description.",
            "thematiques": ["numerique--tout"],
        }
    ]
    assert list(validator.iter_errors(bad))
    structure = jsonschema_rs.validator_for(_schema(di.Structure))
    assert list(
        structure.iter_errors(
            [{"source": "x", "id": "x", "nom": "Lieu", "date_maj": "2026-01-01", "siret": "1" * 13}]
        )
    )


def _anct_refusals(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    done = subprocess.run(
        ["node", str(Path(__file__).with_name("lieux_check.cjs"))],
        input=json.dumps(rows),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    refusals: list[dict[str, Any]] = json.loads(done.stdout)
    return refusals


def _csv_rows(text: str) -> list[dict[str, Any]]:
    """The export's CSV rows as the schema's rows: empty cells left out, coordinates numbers."""
    rows = []
    for record in csv.DictReader(io.StringIO(text)):
        row: dict[str, Any] = {k: v for k, v in record.items() if v != ""}
        for name in ("latitude", "longitude"):
            if name in row:
                row[name] = float(row[name])
        rows.append(row)
    return rows


def test_the_national_export_is_read_by_the_anct_library(
    client: TestClient, territory: str, engine: sa.Engine
) -> None:
    """The national schema's reference implementation (@gouvfr-anct/lieux-de-mediation-numerique)
    reads every row of the CSV export, overseas postcodes and INSEE codes included."""
    with engine.begin() as conn:
        # The schema's own vocabulary for the services and the date of the last update.
        conn.execute(
            sa.text("UPDATE structure SET services = :s, date_maj = :d"),
            {"s": json.dumps(["Accès internet et matériel informatique"]), "d": "2026-01-15"},
        )
    response = client.get(f"{API}/territories/{territory}/structures/export?format=csv")
    assert response.status_code == 200, response.text
    rows = _csv_rows(response.text)
    assert len(rows) == len(PLACES)
    assert _anct_refusals(rows) == []
    # The check can fail: a service outside the vocabulary, a postcode of four digits.
    bad = [{**rows[0], "services": "Faire la cuisine"}, {**rows[1], "code_postal": "9750"}]
    assert [r["error"] for r in _anct_refusals(bad)] == ["ServicesError", "CodePostalError"]
