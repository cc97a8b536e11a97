"""The `passeport` command and a real server process: what an operator sees."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx

from app.core.migrations import head_revision
from tests.conftest import free_port
from tests.servers import passeport_env, run_cli, running_server


def _one_clear_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result
    stderr = result.stderr
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("passeport: error: ")
    return lines[0]


def test_unreachable_database_stops_with_one_line(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    env = passeport_env(f"postgresql+psycopg://nobody@127.0.0.1:{port}/nothing")
    line = _one_clear_line(run_cli("serve", "--port", str(free_port()), env=env))
    assert "cannot reach the database" in line
    assert _one_clear_line(run_cli("db", "upgrade", env=env))


def test_malformed_database_url_stops_with_one_line() -> None:
    for url in (
        "not a url at all",
        "mysql://root@localhost/x",
        "postgresql+psycopg://u@h:notaport/db",
    ):
        line = _one_clear_line(run_cli("serve", env=passeport_env(url)))
        assert "PASSEPORT_DATABASE_URL" in line or "database" in line, line


def test_default_secret_outside_development_stops_with_one_line(database_url: str) -> None:
    env = passeport_env(database_url, PASSEPORT_ENV="production")
    del env["PASSEPORT_SECRET_KEY"]
    line = _one_clear_line(run_cli("serve", env=env))
    assert "PASSEPORT_SECRET_KEY" in line
    # The secret's value never appears, only its name.
    assert "dev-secret-key" not in line


def test_bad_setting_value_stops_with_one_line(database_url: str) -> None:
    line = _one_clear_line(
        run_cli("serve", env=passeport_env(database_url, PASSEPORT_PUBLIC_URL="ftp://x"))
    )
    assert "PASSEPORT_PUBLIC_URL" in line


def test_serve_refuses_a_database_that_is_not_migrated(
    scratch_database: Callable[[str], str],
) -> None:
    line = _one_clear_line(run_cli("serve", env=passeport_env(scratch_database("empty"))))
    assert "passeport db upgrade" in line


def test_db_upgrade_framework_and_demo_are_idempotent(
    scratch_database: Callable[[str], str],
) -> None:
    env = passeport_env(scratch_database("cli"))
    for _ in range(2):
        result = run_cli("db", "upgrade", env=env)
        assert result.returncode == 0, result.stderr
    current = run_cli("db", "current", env=env)
    assert f"database: {head_revision()}" in current.stdout

    loaded = run_cli("framework", "load", env=env)
    assert loaded.returncode == 0
    assert loaded.stdout.split() == [
        "unchanged",
        "digcomp",
        "2.2",
        "unchanged",
        "crcn",
        "2019",
        "unchanged",
        "pp",
        "1",
    ]

    shown = run_cli("framework", "show", env=env)
    assert "crcn:4.1" in shown.stdout and "pp:PP-20" in shown.stdout
    tree = json.loads(run_cli("framework", "show", "--json", env=env).stdout)
    assert [f["code"] for f in tree["frameworks"]] == ["crcn", "digcomp", "pp"]

    first = json.loads(run_cli("demo", "--json", env=env).stdout)
    second = json.loads(run_cli("demo", "--json", env=env).stdout)
    assert first["created"] is True and second["created"] is False
    assert first["territory"] == second["territory"]
    assert first["territory"]["issuer_url"].endswith("/t/demo")
    assert first["passports"] == second["passports"] and len(first["passports"]) == 3
    assert {a["role"] for a in first["accounts"]} == {"territory_admin", "mediator"}


def test_real_server_answers_and_logs_json_with_request_ids(
    database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    demo = json.loads(run_cli("demo", "--json", env=passeport_env(database_url)).stdout)
    with running_server(passeport_env(database_url), port, tmp_path / "server.log") as server:
        # The demo's published logins work, for a mediator and for a citizen.
        mediator = next(a for a in demo["accounts"] if a["role"] == "mediator")
        with httpx.Client(base_url=server.url) as browser:
            login = browser.post(
                "/api/v1/auth/login",
                json={"email": mediator["email"], "password": mediator["password"]},
            )
            assert login.status_code == 200, login.text
            found = browser.get("/api/v1/passports").json()
            assert len(found) == 3
        citizen = demo["passports"][0]
        with httpx.Client(base_url=server.url) as phone:
            signed = phone.post(
                "/api/v1/citizen/login",
                json={"number": citizen["number"], "code": citizen["access_code"]},
            )
            assert signed.status_code == 200, signed.text
            assert phone.get("/api/v1/citizen/passport").json()["validations"]
            # ... and carries a credential, which anyone can check by its typed code.
            held = phone.get("/api/v1/citizen/credentials").json()
            assert [c["code"] for c in held] == [citizen["credential_code"]]
        verdict = httpx.post(
            f"{server.url}/api/v1/verify", json={"code": citizen["credential_code"]}
        )
        assert (
            verdict.json()["result"] == "valid" and verdict.json()["holder_name"] == citizen["name"]
        )
        assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
        ready = httpx.get(f"{server.url}/readyz").json()
        assert ready["status"] == "ready" and ready["migration"] == ready["head"]
        framework = httpx.get(f"{server.url}/api/v1/framework")
        assert framework.status_code == 200
        request_id = framework.headers["x-request-id"]
        assert httpx.get(f"{server.url}/api/v1/openapi.json").json()["info"]["title"]
        home = httpx.get(f"{server.url}/")
        assert home.status_code == 200 and "Passeport numérique" in home.text
        missing = httpx.get(f"{server.url}/api/v1/framework/skills/crcn:0.0")
        assert missing.headers["content-type"] == "application/problem+json"
    lines = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
    access = [entry for entry in lines if entry["logger"] == "app.access"]
    assert any(e["request_id"] == request_id and e["path"] == "/api/v1/framework" for e in access)
    assert all(e["request_id"] for e in access)
    assert all({"ts", "level", "msg", "status", "duration_ms"} <= set(e) for e in access)
    assert "Traceback" not in server.log()


# A representative command of each group that touches the database (db upgrade makes it).
DATABASE_COMMANDS = [
    ("serve", "--port", "1"),
    ("framework", "load"),
    ("framework", "show"),
    ("demo",),
    ("keys", "list", "--territory", "demo"),
    ("structures", "export", "--territory", "demo"),
    ("stats", "export"),
    ("stats", "release"),
    ("federation", "member", "list"),
    ("federation", "member", "add", "https://example.org/t/x"),
    ("federation", "stats", "collect"),
    ("trust", "list"),
]


def test_commands_on_a_missing_database_stop_with_one_line_and_make_nothing(
    tmp_path: Path, database_url: str
) -> None:
    if database_url.startswith("sqlite"):
        missing = tmp_path / "nowhere" / "passeport.db"
        url = f"sqlite:///{missing}"
    else:
        url = database_url.rsplit("/", 1)[0] + "/passeport_never_made"
    env = passeport_env(url)
    for command in [*DATABASE_COMMANDS, ("db", "current")]:
        line = _one_clear_line(run_cli(*command, env=env, cwd=tmp_path))
        assert "does not exist" in line, (command, line)
    # Not even an empty file, nor its folder.
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_commands_on_a_database_not_migrated_stop_with_one_line(
    tmp_path: Path, scratch_database: Callable[[str], str]
) -> None:
    url = scratch_database("bare")
    if url.startswith("sqlite"):
        sqlite3.connect(url.removeprefix("sqlite:///")).close()  # an empty file
    env = passeport_env(url)
    for command in DATABASE_COMMANDS:
        line = _one_clear_line(run_cli(*command, env=env, cwd=tmp_path))
        assert "schema is at nothing" in line and "passeport db upgrade" in line, (command, line)
    current = run_cli("db", "current", env=env)
    assert current.returncode == 0 and "database: empty" in current.stdout
    assert list(tmp_path.iterdir()) == []
