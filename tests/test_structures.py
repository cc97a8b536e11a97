"""Structures: the API, the import (API and CLI), the export, on the real database."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.accounts.models import Role
from tests.conftest import BACKEND
from tests.factories import World, bearer, make_account, make_structure, make_territory, make_world
from tests.servers import passeport_env, run_cli

API = "/api/v1"
PROBLEM = "application/problem+json"
CSV_TYPE = {"Content-Type": "text/csv"}
JSON_TYPE = {"Content-Type": "application/json"}

COLUMNS = (
    "id",
    "pivot",
    "nom",
    "commune",
    "code_postal",
    "code_insee",
    "adresse",
    "latitude",
    "longitude",
    "telephone",
    "courriels",
    "site_web",
    "horaires",
    "presentation_detail",
    "date_maj",
    "services",
)


@pytest.fixture
def world(engine: sa.Engine) -> World:
    return make_world(engine)


@pytest.fixture
def fresh(engine: sa.Engine) -> tuple[str, dict[str, str]]:
    """An empty territory and the headers of its coordinator."""
    territory = make_territory(engine)
    admin = make_account(engine, Role.TERRITORY_ADMIN, territory)
    return territory.code, bearer(engine, admin)


def _problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body


def _count(engine: sa.Engine, sql: str, **params: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(sql), params).scalar_one())


def _structures(engine: sa.Engine, code: str) -> int:
    return _count(
        engine,
        "SELECT count(*) FROM structure JOIN territory ON territory.id = structure.territory_id "
        "WHERE territory.code = :code",
        code=code,
    )


def _row(i: int, **overrides: str) -> dict[str, str]:
    values = {
        "id": f"lieu-{i:04d}",
        "pivot": str(10**13 + i),
        "nom": f"Médiathèque {i}",
        "commune": "Cayenne",
        "code_postal": "97300",
        "code_insee": "97302",
        "adresse": f"{i} avenue du Général de Gaulle",
        "latitude": "4.9333",
        "longitude": "-52.33",
        "telephone": "05 94 12 34 56",
        "courriels": f"accueil{i}@mediatheque-cayenne.fr|contact@mediatheque-cayenne.fr",
        "site_web": "https://mediatheque-cayenne.fr",
        "horaires": "Mo-Fr 09:00-12:00,14:00-17:00",
        # Every 50th row spans two lines, so that line numbers are the file's, not the rows'.
        "presentation_detail": "Accueil libre.\nAteliers, le mardi." if i % 50 == 0 else "",
        "date_maj": "2024-05-01",
        "services": "Aide aux démarches administratives|Accès internet et matériel informatique",
    }
    values.update(overrides)
    return values


def _csv(rows: list[dict[str, str]], *, delimiter: str = ",") -> tuple[bytes, list[int]]:
    """The file, and the line where each row starts (the header is line 1)."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    writer.writerow(COLUMNS)
    starts: list[int] = []
    line = 2
    for row in rows:
        chunk = io.StringIO(newline="")
        csv.writer(chunk, delimiter=delimiter, lineterminator="\n").writerow(
            [row.get(name, "") for name in COLUMNS]
        )
        starts.append(line)
        line += chunk.getvalue().count("\n")
        out.write(chunk.getvalue())
    return out.getvalue().encode("utf-8"), starts


# Ten broken rows of different kinds, by position in the file: the override and the field blamed.
BROKEN: dict[int, tuple[dict[str, str], str]] = {
    17: ({"code_postal": "7500"}, "code_postal"),
    101: ({"nom": ""}, "nom"),
    230: ({"latitude": "95.2"}, "latitude"),
    333: ({"courriels": "accueil@mediatheque-cayenne.fr|contact-at-mairie.fr"}, "courriels"),
    404: ({"id": "lieu-0010"}, "id"),  # the id of row 10, earlier in the file
    512: ({"date_maj": "2024-13-01"}, "date_maj"),
    600: ({"pivot": "12345"}, "pivot"),
    777: ({"nom": "N" * 251}, "nom"),
    850: ({"telephone": "12 34"}, "telephone"),
    999: ({"site_web": "www.mediatheque-cayenne.fr"}, "site_web"),
}


def _big_file() -> tuple[bytes, list[tuple[int, str]], list[int]]:
    """1,000 rows, ten of them broken; the (line, field) the report must name; each row's line."""
    rows = [_row(i, **BROKEN[i][0]) if i in BROKEN else _row(i) for i in range(1000)]
    content, starts = _csv(rows)
    return content, [(starts[i], BROKEN[i][1]) for i in sorted(BROKEN)], starts


def _rejected(report: dict[str, Any]) -> list[tuple[int, str]]:
    return [(r["line"], r["field"]) for r in report["rejected"]]


# --- Create, read, update ------------------------------------------------------------------------

NEW = {
    "external_id": "mdn-cayenne-1",
    "pivot": "W973000123",
    "nom": "  Espace numérique de Cayenne ",
    "commune": "Cayenne",
    "code_postal": "97300",
    "code_insee": "97302",
    "adresse": "2 rue Lallouette",
    "latitude": 4.9372,
    "longitude": -52.326,
    "telephone": "0594 30 00 00",
    "courriels": ["Accueil@Espace-Numerique.fr"],
    "site_web": ["https://espace-numerique.fr"],
    "services": ["Aide aux démarches administratives"],
    "date_maj": "2024-06-01",
}


def test_create_get_list_update_and_journal(
    client: TestClient, engine: sa.Engine, world: World
) -> None:
    headers = world.headers["territory_admin"]
    created = client.post(f"{API}/territories/ta/structures", json=NEW, headers=headers)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["nom"] == "Espace numérique de Cayenne"
    assert body["territory_code"] == "ta"
    assert body["telephone"] == "+594594300000"  # Guyane dials +594, not +33
    assert body["courriels"] == ["Accueil@espace-numerique.fr"]

    one = client.get(f"{API}/structures/{body['id']}")
    assert one.status_code == 200
    assert one.json() == body

    page = client.get(f"{API}/territories/ta/structures", params={"q": "NUMÉRIQUE de"})
    assert page.status_code == 200
    if BACKEND == "postgresql":  # SQLite folds the case of ASCII letters only
        assert [s["id"] for s in page.json()["items"]] == [body["id"]]
    everything = client.get(f"{API}/territories/ta/structures", params={"limit": 2}).json()
    assert everything["total"] == 3 and len(everything["items"]) == 2
    second = client.get(f"{API}/territories/ta/structures", params={"limit": 2, "offset": 2})
    assert len(second.json()["items"]) == 1
    by_town = client.get(f"{API}/territories/ta/structures", params={"q": "lallouette"}).json()
    assert [s["id"] for s in by_town["items"]] == [body["id"]]

    patched = client.patch(
        f"{API}/structures/{body['id']}",
        json={"horaires": "Tu-Sa 09:00-17:00", "telephone": None, "services": []},
        headers=headers,
    )
    assert patched.status_code == 200, patched.text
    after = patched.json()
    assert after["horaires"] == "Tu-Sa 09:00-17:00"
    assert after["telephone"] is None and after["services"] == []
    assert after["nom"] == body["nom"]
    assert datetime.fromisoformat(after["updated_at"]) > datetime.fromisoformat(body["updated_at"])

    assert _count(engine, "SELECT count(*) FROM audit_event WHERE action = 'structure.created'")
    with engine.connect() as conn:
        details = conn.execute(
            sa.text("SELECT details FROM audit_event WHERE action = 'structure.updated'")
        ).scalar_one()
    fields = (json.loads(details) if isinstance(details, str) else details)["fields"]
    assert fields == ["horaires", "services", "telephone"]


def test_create_without_id_gets_one_and_the_national_schema_needs_it(
    client: TestClient, world: World
) -> None:
    data = {k: v for k, v in NEW.items() if k not in ("external_id", "pivot")}
    created = client.post(
        f"{API}/territories/ta/structures", json=data, headers=world.headers["platform_admin"]
    )
    assert created.status_code == 201, created.text
    assert len(created.json()["external_id"]) == 36


def test_writes_validate_and_answer_precise_problems(client: TestClient, world: World) -> None:
    headers = world.headers["territory_admin"]
    bad = {
        **NEW,
        "code_postal": "7300",
        "pivot": "123",
        "courriels": ["nobody"],
        "latitude": 91,
        "date_maj": "2999-01-01",
        "site_web": ["javascript:alert(1)"],
    }
    body = _problem(
        client.post(f"{API}/territories/ta/structures", json=bad, headers=headers),
        422,
        "validation_error",
    )
    kinds = {tuple(e["loc"]): e["type"] for e in body["errors"]}
    assert kinds == {
        ("body", "code_postal"): "invalid_code_postal",
        ("body", "pivot"): "invalid_pivot",
        ("body", "courriels"): "invalid_email",
        ("body", "latitude"): "out_of_range",
        ("body", "date_maj"): "date_in_future",
        ("body", "site_web"): "invalid_url",
    }
    reasons = {e["loc"][-1]: e["msg"] for e in body["errors"]}
    assert (
        reasons["code_postal"]
        == "The postcode must be 5 digits, not '7300' (a leading 0 lost by a spreadsheet?)."
    )
    assert all("input" not in e for e in body["errors"])

    missing = _problem(
        client.post(f"{API}/territories/ta/structures", json={"nom": "x"}, headers=headers),
        422,
        "validation_error",
    )
    assert {e["loc"][-1] for e in missing["errors"]} == {"commune", "code_postal", "adresse"}

    alone = {**NEW, "longitude": None}
    pair = _problem(
        client.post(f"{API}/territories/ta/structures", json=alone, headers=headers),
        422,
        "validation_error",
    )
    assert pair["errors"][0]["type"] == "coordinates_pair"

    url = f"{API}/structures/{world.a1.id}"
    for patch, kind in (
        ({"nom": None}, "missing"),
        ({"nom": "   "}, "missing"),
        ({"code_postal": "ABCDE"}, "invalid_code_postal"),
        ({"unknown": 1}, "extra_forbidden"),
        ({"nom": "a\x00b"}, "string_nul_character"),
        ({"latitude": 4.9}, "coordinates_pair"),  # a1 has no longitude
    ):
        body = _problem(client.patch(url, json=patch, headers=headers), 422, "validation_error")
        assert body["errors"][0]["type"] == kind, (patch, body)

    _problem(client.patch(f"{API}/structures/0", json={}, headers=headers), 422, "validation_error")
    _problem(
        client.patch(f"{API}/structures/{2**31 - 1}", json={}, headers=headers),
        404,
        "unknown_structure",
    )
    _problem(client.get(f"{API}/structures/{2**31}"), 422, "validation_error")
    _problem(client.get(f"{API}/territories/nowhere/structures"), 404, "unknown_territory")


def test_a_taken_id_is_a_conflict(client: TestClient, world: World) -> None:
    headers = world.headers["territory_admin"]
    taken = {**NEW, "external_id": world.a1.external_id}
    _problem(
        client.post(f"{API}/territories/ta/structures", json=taken, headers=headers),
        409,
        "structure_exists",
    )
    _problem(
        client.patch(
            f"{API}/structures/{world.a2.id}",
            json={"external_id": world.a1.external_id},
            headers=headers,
        ),
        409,
        "structure_exists",
    )
    # Ids are per territory: tb may use the same one.
    other = client.post(
        f"{API}/territories/tb/structures",
        json=taken,
        headers=world.headers["admin_other_territory"],
    )
    assert other.status_code == 201, other.text


def test_who_may_write(client: TestClient, engine: sa.Engine, world: World) -> None:
    h = world.headers
    create = f"{API}/territories/ta/structures"
    patch_a1 = f"{API}/structures/{world.a1.id}"
    imports = f"{API}/territories/ta/structures/import"
    content, _ = _csv([_row(1)])

    for caller in ("mediator_of_structure", "mediator_other_structure", "mediator_other_territory"):
        _problem(client.post(create, json=NEW, headers=h[caller]), 403, "forbidden_role")
        _problem(
            client.patch(patch_a1, json={"nom": "x"}, headers=h[caller]), 403, "forbidden_role"
        )
        _problem(
            client.post(imports, content=content, headers={**h[caller], **CSV_TYPE}),
            403,
            "forbidden_role",
        )
    _problem(client.post(create, json=NEW), 401, "unauthenticated")
    _problem(client.patch(patch_a1, json={"nom": "x"}), 401, "unauthenticated")
    _problem(client.post(imports, content=content, headers=CSV_TYPE), 401, "unauthenticated")

    other = h["admin_other_territory"]
    _problem(client.post(create, json=NEW, headers=other), 403, "not_territory_admin")
    _problem(client.patch(patch_a1, json={"nom": "x"}, headers=other), 404, "not_found")
    _problem(
        client.post(imports, content=content, headers={**other, **CSV_TYPE}),
        403,
        "not_territory_admin",
    )
    # A token without the territory:admin scope is refused too.
    narrow = bearer(engine, world.admin_a, scopes=["account:read"])
    _problem(client.post(create, json=NEW, headers=narrow), 403, "insufficient_scope")

    assert client.patch(patch_a1, json={"nom": "Renommée"}, headers=h["platform_admin"]).is_success
    assert client.post(create, json=NEW, headers=h["territory_admin"]).status_code == 201
    # Places are open data: anyone reads them, from any territory.
    for caller in h:
        assert client.get(f"{API}/structures/{world.b1.id}", headers=h[caller]).status_code == 200
        assert client.get(f"{API}/territories/tb/structures", headers=h[caller]).status_code == 200


# --- Import ------------------------------------------------------------------------------------


def test_import_1000_rows_with_10_broken_then_again_changes_nothing(
    client: TestClient, engine: sa.Engine, fresh: tuple[str, dict[str, str]]
) -> None:
    code, headers = fresh
    content, expected, starts = _big_file()
    url = f"{API}/territories/{code}/structures/import"

    first = client.post(url, content=content, headers={**headers, **CSV_TYPE})
    assert first.status_code == 200, first.text
    report = first.json()
    assert report["format"] == "csv" and report["rows"] == 1000
    assert (report["created"], report["updated"], report["unchanged"]) == (990, 0, 0)
    assert report["rejected_rows"] == 10
    assert _rejected(report) == expected
    reasons = {r["line"]: r["reason"] for r in report["rejected"]}
    assert reasons[starts[17]] == (
        "must be 5 digits, not '7500' (a leading 0 lost by a spreadsheet?)"
    )
    assert reasons[starts[101]] == "is required"
    assert reasons[starts[404]] == f"the same id is on line {starts[10]}"
    assert reasons[starts[777]] == "is longer than 250 characters (251)"
    assert _structures(engine, code) == 990

    again = client.post(url, content=content, headers={**headers, **CSV_TYPE}).json()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 990)
    assert again["rejected"] == report["rejected"]
    assert _structures(engine, code) == 990
    assert (
        _count(engine, "SELECT count(*) FROM audit_event WHERE action = 'structures.imported'") == 2
    )

    listed = client.get(f"{API}/territories/{code}/structures", params={"q": "Médiathèque 50"})
    stored = next(s for s in listed.json()["items"] if s["external_id"] == "lieu-0050")
    assert stored["presentation_detail"] == "Accueil libre.\nAteliers, le mardi."
    assert stored["telephone"] == "+594594123456"
    assert stored["services"] == [
        "Aide aux démarches administratives",
        "Accès internet et matériel informatique",
    ]

    # One changed row is one update; the rest stay as they are.
    changed = content.replace(b"97302,5 avenue du G", b"97302,5 bis avenue du G")
    third = client.post(url, content=changed, headers={**headers, **CSV_TYPE}).json()
    assert (third["created"], third["updated"], third["unchanged"]) == (0, 1, 989)


def test_dry_run_reports_and_writes_nothing(
    client: TestClient, engine: sa.Engine, fresh: tuple[str, dict[str, str]]
) -> None:
    code, headers = fresh
    content, expected, _ = _big_file()
    response = client.post(
        f"{API}/territories/{code}/structures/import",
        params={"dry_run": "true"},
        content=content,
        headers={**headers, **CSV_TYPE},
    )
    report = response.json()
    assert report["dry_run"] is True
    assert (report["created"], report["rejected_rows"]) == (990, 10)
    assert _rejected(report) == expected
    assert _structures(engine, code) == 0
    assert _count(engine, "SELECT count(*) FROM audit_event") == 0


def test_json_import_list_or_object_with_ignored_keys(
    client: TestClient, engine: sa.Engine, fresh: tuple[str, dict[str, str]]
) -> None:
    code, headers = fresh
    rows: list[Any] = [
        {
            "id": "j1",
            "nom": "Tiers-lieu",
            "commune": "Kourou",
            "code_postal": "97310",
            "adresse": "1 rue",
            "latitude": 5.16,
            "longitude": -52.65,
            "services": ["Accès internet", "Ateliers"],
            "typologie": "TIERS_LIEUX|ASSO",
            "aidants_connect": True,
        },
        "not an object",
        {"id": "j3", "nom": "Sans adresse", "commune": "Kourou", "code_postal": 97310},
        {
            "pivot": "12345678901234",
            "nom": "Sans id",
            "commune": "Macouria",
            "code_postal": "97355",
            "adresse": "PK 10",
            "presentation_detail": "a\x00b",
        },
        {
            "pivot": "12345678901234",
            "nom": "Sans id",
            "commune": "Macouria",
            "code_postal": "97355",
            "adresse": "PK 10",
        },
        {
            "id": "j6",
            "nom": "Point",
            "commune": "Kourou",
            "code_postal": "97310",
            "adresse": "3 rue",
            "latitude": 5.16,
        },
    ]
    url = f"{API}/territories/{code}/structures/import"
    report = client.post(url, content=json.dumps(rows), headers={**headers, **JSON_TYPE}).json()
    assert report["format"] == "json"
    assert (report["created"], report["rejected_rows"]) == (2, 4)
    assert _rejected(report) == [
        (2, None),
        (3, "code_postal"),
        (3, "adresse"),
        (4, "presentation_detail"),
        (6, "longitude"),
    ]
    assert report["rejected"][1]["reason"] == "must be text"
    assert report["rejected"][1]["reason_fr"] == "Le code postal doit être un texte."
    assert (
        report["rejected"][4]["reason"]
        == "latitude and longitude go together: longitude is missing"
    )
    assert report["ignored_columns"] == ["aidants_connect"]

    wrapped = json.dumps({"structures": [rows[0], rows[4]]})
    # Without Content-Type the content decides.
    again = client.post(url, content=wrapped, headers=headers).json()
    assert (again["format"], again["created"], again["unchanged"]) == ("json", 0, 2)
    page = client.get(f"{API}/territories/{code}/structures").json()["items"]
    by_name = {s["nom"]: s for s in page}
    assert by_name["Tiers-lieu"]["typologie"] == ["TIERS_LIEUX", "ASSO"]
    assert len(by_name["Sans id"]["external_id"]) == 36  # given one, for the national schema


def test_upsert_keys_and_columns_left_out(
    client: TestClient, engine: sa.Engine, fresh: tuple[str, dict[str, str]]
) -> None:
    code, headers = fresh
    url = f"{API}/territories/{code}/structures/import"

    def send(text: str) -> dict[str, Any]:
        response = client.post(url, content=text.encode(), headers={**headers, **CSV_TYPE})
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    first = send(
        "pivot;nom;commune;code_postal;adresse;horaires;latitude;longitude\n"
        "W973000001;Association A;Cayenne;97300;1 rue;Mo 10:00-12:00;4,93;-52,33\n"
        "00000000000000;Sans SIRET;Cayenne;97300;2 rue;;;\n"
    )
    # Fourteen zeros is "no SIRET": without id or pivot a row cannot be found again.
    assert (first["created"], _rejected(first)) == (1, [(3, "id")])

    # Without the horaires column, the stored hours stay; the same pivot finds the same place.
    second = send(
        "pivot,nom,commune,code_postal,adresse\nW973000001,Association A,Cayenne,97300,1 rue\n"
    )
    assert (second["created"], second["updated"], second["unchanged"]) == (0, 0, 1)
    stored = client.get(f"{API}/territories/{code}/structures").json()["items"][0]
    assert (stored["horaires"], stored["latitude"]) == ("Mo 10:00-12:00", 4.93)

    # An empty cell clears it.
    third = send(
        "pivot,nom,commune,code_postal,adresse,horaires\n"
        "W973000001,Association A,Cayenne,97300,1 rue,\n"
    )
    assert third["updated"] == 1
    stored = client.get(f"{API}/structures/{stored['id']}").json()
    assert stored["horaires"] is None

    # With its id, the row is that structure whatever its pivot; two rows for one place clash.
    fourth = send(
        "id,pivot,nom,commune,code_postal,adresse\n"
        f"{stored['external_id']},W973000002,Association A,Cayenne,97300,1 rue\n"
        ",W973000002,Autre,Cayenne,97300,3 rue\n"
    )
    assert fourth["updated"] == 1
    assert fourth["rejected"] == [
        {
            "line": 3,
            "field": "pivot",
            "reason": "the same pivot is on line 2; a row without id needs a pivot of its own "
            "(or an id)",
            "reason_fr": "Le même SIRET est déjà à la ligne 2 ; une ligne sans identifiant a "
            "besoin d'un SIRET à elle (ou d'un identifiant).",
        }
    ]
    # Two rows that reach one structure by different keys: the second is refused.
    fifth = send(
        "id,pivot,nom,commune,code_postal,adresse\n"
        f"{stored['external_id']},,Association A,Cayenne,97300,1 rue\n"
        ",W973000002,Association A,Cayenne,97300,1 rue\n"
    )
    assert fifth["updated"] == 1
    assert _rejected(fifth) == [(3, "pivot")]
    assert fifth["rejected"][0]["reason"] == "describes the same structure as line 2"
    assert _structures(engine, code) == 1


def test_csv_conventions_bom_semicolon_multiline(
    client: TestClient, fresh: tuple[str, dict[str, str]]
) -> None:
    code, headers = fresh
    rows = [_row(i, presentation_detail='Ligne 1\nLigne 2; avec "guillemets"') for i in range(3)]
    rows[2]["code_postal"] = "123"
    content, starts = _csv(rows, delimiter=";")
    report = client.post(
        f"{API}/territories/{code}/structures/import",
        content=b"\xef\xbb\xbf" + content + b"\n\n",
        headers={**headers, "Content-Type": "text/csv; charset=utf-8"},
    ).json()
    assert report["created"] == 2
    assert starts == [2, 4, 6]
    assert _rejected(report) == [(6, "code_postal")]


def test_unusable_files_are_refused_whole_never_with_a_500(
    client: TestClient, engine: sa.Engine, fresh: tuple[str, dict[str, str]]
) -> None:
    code, headers = fresh
    url = f"{API}/territories/{code}/structures/import"
    header = "id,nom,commune,code_postal,adresse\n"
    cases: list[tuple[bytes, dict[str, str], int, str]] = [
        (b"", CSV_TYPE, 422, "import_empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", {}, 422, "import_encoding"),
        ("id,nom\ncafé".encode("latin-1"), CSV_TYPE, 422, "import_encoding"),
        (b"[{]", JSON_TYPE, 422, "import_unreadable"),
        (b"[" * 100_000, JSON_TYPE, 422, "import_unreadable"),
        (b'{"nom": "x"}', JSON_TYPE, 422, "import_not_structures"),
        (b"42", JSON_TYPE, 422, "import_not_structures"),
        (b"hello,world\n1,2\n", CSV_TYPE, 422, "import_not_structures"),
        (b"nom,commune\nx,y\n", CSV_TYPE, 422, "import_missing_columns"),
        (b"id,nom,nom,commune,code_postal,adresse\n", CSV_TYPE, 422, "import_bad_header"),
        (
            (header + '1,"open quote,a,b,c\n2,x,y,97300,z\n').encode(),
            CSV_TYPE,
            422,
            "import_unreadable",
        ),
        ((header + "x,a,b,97300,c\n" * 20_001).encode(), CSV_TYPE, 422, "import_too_many_rows"),
        (b"<xml/>", {"Content-Type": "application/xml"}, 415, "unsupported_media_type"),
    ]
    for content, extra, status, problem in cases:
        _problem(client.post(url, content=content, headers={**headers, **extra}), status, problem)
    _problem(
        client.post(f"{API}/territories/nowhere/structures/import", content=b"x", headers=headers),
        404,
        "unknown_territory",
    )

    # Rows that read but are hostile are rejected one by one.
    hostile = (
        header
        + "a,\x00,b,97300,c\n"
        + f"b,{'é' * 10_000},b,97300,c\n"
        + "c,x,y,97300\n"
        + "d,x,y,97300,z,extra\n"
    ).encode()
    report = client.post(url, content=hostile, headers={**headers, **CSV_TYPE}).json()
    assert _rejected(report) == [(2, "nom"), (3, "nom"), (4, None), (5, None)]
    assert report["rejected"][2]["reason"] == "has 4 cells where the header has 5"
    assert report["rejected"][2]["reason_fr"] == "La ligne a 4 cellules, l'en-tête en a 5."
    assert _structures(engine, code) == 0


def test_oversized_body_is_refused_before_it_is_read(
    client: TestClient, fresh: tuple[str, dict[str, str]]
) -> None:
    code, headers = fresh
    content = b"id,nom,commune,code_postal,adresse\n" + b"x" * 2_000_001
    _problem(
        client.post(
            f"{API}/territories/{code}/structures/import",
            content=content,
            headers={**headers, **CSV_TYPE},
        ),
        413,
        "payload_too_large",
    )


@pytest.fixture
def failing_inserts(engine: sa.Engine) -> Iterator[None]:
    """A trigger that makes the database refuse a structure named 'Boom': a real write failure."""
    with engine.begin() as conn:
        if BACKEND == "postgresql":
            conn.execute(
                sa.text(
                    "CREATE FUNCTION test_refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$ "
                    "BEGIN IF NEW.nom = 'Boom' THEN RAISE EXCEPTION 'refused by the test'; "
                    "END IF; RETURN NEW; END $$"
                )
            )
            conn.execute(
                sa.text(
                    "CREATE TRIGGER test_refuse_boom BEFORE INSERT ON structure "
                    "FOR EACH ROW EXECUTE FUNCTION test_refuse_boom()"
                )
            )
        else:
            conn.execute(
                sa.text(
                    "CREATE TRIGGER test_refuse_boom BEFORE INSERT ON structure "
                    "WHEN NEW.nom = 'Boom' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
                )
            )
    try:
        yield
    finally:
        with engine.begin() as conn:
            if BACKEND == "postgresql":
                conn.execute(sa.text("DROP TRIGGER test_refuse_boom ON structure"))
                conn.execute(sa.text("DROP FUNCTION test_refuse_boom()"))
            else:
                conn.execute(sa.text("DROP TRIGGER test_refuse_boom"))


def test_a_write_failing_mid_import_leaves_nothing(
    client: TestClient, engine: sa.Engine, fresh: tuple[str, dict[str, str]], failing_inserts: None
) -> None:
    code, headers = fresh
    url = f"{API}/territories/{code}/structures/import"
    before = _csv([_row(1, nom="Avant")])[0]
    assert client.post(url, content=before, headers={**headers, **CSV_TYPE}).json()["created"] == 1

    # The update of row 1 is written first, then the inserts, the last of which fails.
    content = _csv([_row(1, nom="Après"), _row(2), _row(3, nom="Boom")])[0]
    failed = client.post(url, content=content, headers={**headers, **CSV_TYPE})
    _problem(failed, 500, "internal_error")
    assert _structures(engine, code) == 1
    assert _count(engine, "SELECT count(*) FROM structure WHERE nom = 'Après'") == 0
    assert (
        _count(engine, "SELECT count(*) FROM audit_event WHERE action = 'structures.imported'") == 1
    )

    fixed = content.replace(b"Boom", b"Bloom")
    report = client.post(url, content=fixed, headers={**headers, **CSV_TYPE}).json()
    assert (report["created"], report["updated"]) == (2, 1)


# --- Export ------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_export_reimports_as_unchanged(
    client: TestClient, engine: sa.Engine, fresh: tuple[str, dict[str, str]], fmt: str
) -> None:
    code, headers = fresh
    content, _, _ = _big_file()
    client.post(
        f"{API}/territories/{code}/structures/import",
        content=content,
        headers={**headers, **CSV_TYPE},
    )
    made = client.post(
        f"{API}/territories/{code}/structures",
        json={**NEW, "presentation_resume": "Court.", "itinerance": ["Itinérant"]},
        headers=headers,
    )
    assert made.status_code == 201

    exported = client.get(f"{API}/territories/{code}/structures/export", params={"format": fmt})
    assert exported.status_code == 200
    media = "text/csv; charset=utf-8" if fmt == "csv" else "application/json"
    assert exported.headers["content-type"] == media
    assert exported.headers["content-disposition"] == (
        f'attachment; filename="structures-{code}.{fmt}"'
    )
    if fmt == "csv":
        lines = exported.text.splitlines()
        assert lines[0].startswith("id,pivot,nom,commune,code_postal,code_insee,adresse,")
    else:
        records = exported.json()
        assert len(records) == 991
        assert next(r for r in records if r["id"] == "mdn-cayenne-1")["courriels"] == [
            "Accueil@espace-numerique.fr"
        ]

    report = client.post(
        f"{API}/territories/{code}/structures/import",
        content=exported.content,
        headers={**headers, "Content-Type": exported.headers["content-type"]},
    ).json()
    assert (report["created"], report["updated"], report["unchanged"]) == (0, 0, 991)
    assert report["rejected"] == []

    # Into another territory, the same file creates the same places.
    other_code, other_headers = make_other(engine)
    copied = client.post(
        f"{API}/territories/{other_code}/structures/import",
        content=exported.content,
        headers={**other_headers, "Content-Type": exported.headers["content-type"]},
    ).json()
    assert copied["created"] == 991
    again = client.get(f"{API}/territories/{other_code}/structures/export", params={"format": fmt})
    assert again.content == exported.content


def make_other(engine: sa.Engine) -> tuple[str, dict[str, str]]:
    territory = make_territory(engine)
    return territory.code, bearer(engine, make_account(engine, Role.TERRITORY_ADMIN, territory))


def test_export_of_unknown_territory_is_404(client: TestClient) -> None:
    _problem(client.get(f"{API}/territories/nowhere/structures/export"), 404, "unknown_territory")
    _problem(
        client.get(f"{API}/territories/ta/structures/export", params={"format": "xls"}),
        422,
        "validation_error",
    )


# --- Command line --------------------------------------------------------------------------------


def test_cli_import_reports_rows_and_second_run_changes_nothing(
    engine: sa.Engine, database_url: str, tmp_path: Path
) -> None:
    territory = make_territory(engine)
    make_structure(engine, territory, nom="Déjà là")
    content, expected, _ = _big_file()
    path = tmp_path / "lieux.csv"
    path.write_bytes(content)
    env = passeport_env(database_url)

    dry = run_cli(
        "structures", "import", str(path), "--territory", territory.code, "--dry-run", env=env
    )
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines()[0] == (
        "dry run, nothing written: 1000 rows, 990 created, 0 updated, 0 unchanged, 10 rejected"
    )
    assert _structures(engine, territory.code) == 1

    first = run_cli("structures", "import", str(path), "--territory", territory.code, env=env)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert lines[0] == "1000 rows, 990 created, 0 updated, 0 unchanged, 10 rejected"
    assert [line.split(":")[:2] for line in lines[1:]] == [
        [f"line {line}", f" {field}"] for line, field in expected
    ]
    assert "checking rows" in first.stderr
    assert _structures(engine, territory.code) == 991

    second = run_cli(
        "structures", "import", str(path), "--territory", territory.code, "--json", env=env
    )
    assert second.returncode == 0, second.stderr
    report = json.loads(second.stdout)
    assert (report["created"], report["updated"], report["unchanged"]) == (0, 0, 990)
    assert _rejected(report) == expected
    with engine.connect() as conn:
        via = (
            conn.execute(
                sa.text("SELECT details FROM audit_event WHERE action = 'structures.imported'")
            )
            .scalars()
            .all()
        )
    assert [(json.loads(d) if isinstance(d, str) else d)["via"] for d in via] == ["cli", "cli"]


def test_cli_unusable_input_is_one_line_and_exit_2(
    engine: sa.Engine, database_url: str, tmp_path: Path
) -> None:
    territory = make_territory(engine)
    env = passeport_env(database_url)
    good = tmp_path / "ok.csv"
    good.write_bytes(_csv([_row(1)])[0])
    garbage = tmp_path / "photo.csv"
    garbage.write_bytes(b"\xff\xd8\xff\xe0 not text")
    for args, words in (
        (("import", str(good), "--territory", "nowhere"), "No territory has the code"),
        (("import", str(tmp_path / "missing.csv"), "--territory", territory.code), "cannot read"),
        (("import", str(tmp_path), "--territory", territory.code), "cannot read"),
        (("import", str(garbage), "--territory", territory.code), "not UTF-8"),
        (("export", "--territory", "nowhere"), "No territory has the code"),
    ):
        result = run_cli("structures", *args, env=env)
        assert result.returncode == 2, result
        errors = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(errors) == 1 and errors[0].startswith("passeport: error: "), result.stderr
        assert words in errors[0]
    assert _structures(engine, territory.code) == 0


def test_cli_export_to_stdout_and_file(
    engine: sa.Engine, database_url: str, tmp_path: Path
) -> None:
    territory = make_territory(engine)
    make_structure(engine, territory, nom="Médiathèque Franconie")
    env = passeport_env(database_url)
    csv_out = run_cli("structures", "export", "--territory", territory.code, env=env)
    assert csv_out.returncode == 0, csv_out.stderr
    assert "Médiathèque Franconie" in csv_out.stdout
    target = tmp_path / "out.json"
    json_out = run_cli(
        "structures",
        "export",
        "--territory",
        territory.code,
        "--format",
        "json",
        "--out",
        str(target),
        env=env,
    )
    assert json_out.returncode == 0, json_out.stderr
    assert json.loads(target.read_text("utf-8"))[0]["nom"] == "Médiathèque Franconie"
