"""A credential issued to the independent wallet by territory A verifies at instance B through the
federation trust list: three real instances (a hub, A and B), each with its own database, as the
QR credentials' federation test does (test_federation_multi.py).

B refuses A's wallet credential as untrusted until the hub lists A and B imports the list; then
B accepts a presentation made for B (B's nonce and audience) and reports only the disclosed
skills; a presentation made for A is refused at B; once A revokes the credential in its UI, B
says revoked when its copy of A's status list expires.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from app.core.db import create_db_engine
from app.core.migrations import upgrade
from tests.conftest import create_database, drop_database, free_port, make_settings
from tests.factories import make_world
from tests.servers import passeport_env, run_cli, running_server
from tests.wallet import driver

SKILLS = {"pp:PP-06": None, "pp:PP-01": None, "crcn:1.1": 2, "crcn:4.1": 3, "crcn:2.1": 1}
SHOWN = ["pp:PP-01", "crcn:1.1"]
# A's status lists live 2 s: B sees a revocation within seconds, polled, never slept for.
STATUS_TTL = "2"


@pytest.fixture
def databases(tmp_path: Path, worker_id_safe: str) -> Iterator[dict[str, str]]:
    names = {
        role: f"passeport_test_{worker_id_safe}_{os.getpid()}_wfed_{role}"
        for role in ("hub", "a", "b")
    }
    urls = {role: create_database(name, tmp_path) for role, name in names.items()}
    try:
        for url in urls.values():
            upgrade(url)
        yield urls
    finally:
        for name in names.values():
            drop_database(name)


def _poll(what: Callable[[], dict[str, Any]], result: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        value = what()
        if value["result"] == result or time.monotonic() > deadline:
            return value
        time.sleep(0.3)


def test_a_wallet_credential_of_territory_a_verifies_at_instance_b(
    databases: dict[str, str], tmp_path: Path
) -> None:
    ports = {role: free_port() for role in ("hub", "a", "b")}
    urls = {role: f"http://127.0.0.1:{port}" for role, port in ports.items()}

    engines = {role: create_db_engine(make_settings(databases[role])) for role in ("a", "b")}
    world_a = make_world(engines["a"])
    make_world(engines["b"])
    issuer_a = f"{urls['a']}/t/ta"
    with engines["a"].begin() as conn:
        conn.execute(
            sa.text("UPDATE territory SET issuer_url = :u WHERE code = 'ta'"), {"u": issuer_a}
        )
    for engine in engines.values():
        engine.dispose()

    anchor_file = tmp_path / "anchor.jwk"
    made = run_cli(
        "federation", "anchor-key", "--out", str(anchor_file), env=passeport_env(databases["hub"])
    )
    assert made.returncode == 0, made.stderr
    env = {
        "hub": passeport_env(
            databases["hub"],
            PASSEPORT_PUBLIC_URL=urls["hub"],
            PASSEPORT_FEDERATION_ANCHOR_KEY=str(anchor_file),
        ),
        "a": passeport_env(
            databases["a"], PASSEPORT_PUBLIC_URL=urls["a"], PASSEPORT_STATUS_TTL_SECONDS=STATUS_TTL
        ),
        "b": passeport_env(
            databases["b"],
            PASSEPORT_PUBLIC_URL=urls["b"],
            PASSEPORT_FEDERATION_HUB_URL=urls["hub"],
            PASSEPORT_FEDERATION_ANCHOR_PUBLIC_KEY=made.stdout.strip(),
        ),
    }
    state = str(tmp_path / "wallet.json")
    mediator = world_a.headers["mediator_of_structure"]

    def present_to(role: str, skills: list[str]) -> str:
        """A presentation for the verifier of `role`: its nonce, its audience."""
        issued = httpx.get(f"{urls[role]}/api/v1/verify/nonce", timeout=10).json()
        assert issued["audience"] == urls[role], issued
        shown = driver.ok(
            "present", "--state", state, "--disclose", ",".join(skills),
            f"--nonce={issued['nonce']}", f"--aud={issued['audience']}",
        )  # fmt: skip
        return str(shown["presentation"])

    def verify_at(role: str, presentation: str) -> dict[str, Any]:
        answer = httpx.post(
            f"{urls[role]}/api/v1/verify", json={"presentation": presentation}, timeout=30
        )
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    with ExitStack() as stack:
        for role in ("hub", "a", "b"):
            stack.enter_context(
                running_server(env[role], ports[role], tmp_path / f"{role}.log", timeout=90)
            )

        # A's mediator records the skills and makes an offer; the wallet takes it from A.
        levels = {}
        for code, level in SKILLS.items():
            recorded = httpx.post(
                f"{urls['a']}/api/v1/passports/{world_a.passport.id}/validations",
                json={
                    "skill_code": code,
                    "method": "observation",
                    "observed_on": date.today().isoformat(),
                    "structure_id": world_a.a1.id,
                    **({"level": level} if level is not None else {}),
                },
                headers=mediator,
                timeout=30,
            )
            assert recorded.status_code == 201, recorded.text
            levels[code] = recorded.json()["level"]
        offer = httpx.post(
            f"{urls['a']}/api/v1/passports/{world_a.passport.id}/wallet-offers",
            json={"skills": list(SKILLS), "include_name": False},
            headers=mediator,
            timeout=30,
        )
        assert offer.status_code == 201, offer.text
        got = driver.ok(
            "receive", "--offer", offer.json()["offer_uri"], "--pin", offer.json()["tx_code"],
            "--out", state,
        )  # fmt: skip
        assert got["iss"] == f"{urls['a']}/wallet/ta" and got["status"] == "valid", got

        # 1. B knows nothing of A: untrusted, and nothing of what was disclosed is reported.
        unknown = verify_at("b", present_to("b", SHOWN))
        assert unknown["result"] == "untrusted_issuer", unknown
        assert not unknown.get("skills"), unknown

        # 2. The hub lists A (its issuer URL, the one of A's QR credentials) and publishes; B
        # imports the list.
        added = run_cli("federation", "member", "add", issuer_a, "--name", "Guyane", env=env["hub"])
        assert added.returncode == 0, added.stderr
        published = run_cli("federation", "publish", env=env["hub"])
        assert published.returncode == 0, published.stderr
        refreshed = run_cli("trust", "refresh", env=env["b"])
        assert refreshed.returncode == 0, refreshed.stderr

        # 3. B accepts a presentation made for B, with exactly the two disclosed skills.
        valid = _poll(lambda: verify_at("b", present_to("b", SHOWN)), "valid")
        assert valid["result"] == "valid", valid
        assert valid["issuer"] == f"{urls['a']}/wallet/ta" and valid["territory"] == "Guyane"
        assert sorted(s["code"] for s in valid["skills"]) == sorted(SHOWN)
        assert {s["code"]: s["level"] for s in valid["skills"]} == {c: levels[c] for c in SHOWN}

        # 4. A presentation made for A (A's nonce and audience) is no good at B.
        for_a = verify_at("b", present_to("a", SHOWN))
        assert for_a["result"] == "invalid_presentation", for_a

        # 5. A revokes the wallet copy in its UI: B says revoked once A's list is re-read.
        listed = httpx.get(
            f"{urls['a']}/api/v1/passports/{world_a.passport.id}/credentials",
            headers=mediator,
            timeout=10,
        )
        assert listed.status_code == 200, listed.text
        (copy,) = [c for c in listed.json() if c.get("format") == "dc+sd-jwt"]
        revoked = httpx.post(
            f"{urls['a']}/api/v1/passports/{world_a.passport.id}/credentials/{copy['id']}/revoke",
            json={},
            headers=mediator,
            timeout=10,
        )
        assert revoked.status_code == 200, revoked.text
        gone = _poll(lambda: verify_at("b", present_to("b", SHOWN)), "revoked")
        assert gone["result"] == "revoked", gone
        assert gone["skills"] == [] and gone["holder_name"] is None
        # The wallet reads the same bit from A's list through its library.
        assert driver.ok("status", "--state", state)["status"] == "invalid"
