"""Three real instances on 127.0.0.1, each with its own database: a hub and territories A and B.

A issues a credential; the hub's signed trust list includes A; B imports the list and verifies A's
credential; A revokes it and B sees it once its status cache expires; A rotates its key and both
credentials verify at B, then A retires the old key and its credential stops verifying at B; the
hub stops and B verifies from what it holds until the list goes stale; B imports the skills into
a passport of its own.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import sqlalchemy as sa

from app.core.db import create_db_engine
from app.core.migrations import upgrade
from tests.conftest import create_database, drop_database, free_port, make_settings
from tests.factories import World, make_world
from tests.servers import passeport_env, run_cli, running_server

# Short periods so that the test waits seconds, not minutes: A's status lists live 2 s, B's
# refresher ticks every second, the hub's lists are fresh for FRESH seconds after publication.
# FRESH bounds steps 5 to 7 (CLI runs and imports after the last publication): on a loaded CI
# machine those took more than 15 s, so the list went stale before step 8 meant it to.
STATUS_TTL = "2"
REFRESH = "1"
FRESH = 45


@pytest.fixture
def databases(tmp_path: Path, worker_id_safe: str) -> Iterator[dict[str, str]]:
    names = {
        role: f"passeport_test_{worker_id_safe}_{os.getpid()}_fed_{role}"
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


T = TypeVar("T")


def poll(what: Callable[[], T], until: Callable[[T], bool], timeout: float = 30) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = what()
        if until(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def _issue(url: str, world: World, skill: str) -> dict[str, Any]:
    headers = world.headers["mediator_of_structure"]
    recorded = httpx.post(
        f"{url}/api/v1/passports/{world.passport.id}/validations",
        json={
            "skill_code": skill,
            "method": "observation",
            "observed_on": date.today().isoformat(),
            "structure_id": world.a1.id,
            **({"level": 2} if skill.startswith("crcn:") else {}),
        },
        headers=headers,
    )
    assert recorded.status_code == 201, recorded.text
    issued = httpx.post(
        f"{url}/api/v1/passports/{world.passport.id}/credentials",
        json={"skills": [skill]},
        headers=headers,
    )
    assert issued.status_code == 201, issued.text
    return dict(issued.json())


def test_three_instances_federate(databases: dict[str, str], tmp_path: Path) -> None:
    ports = {role: free_port() for role in ("hub", "a", "b")}
    urls = {role: f"http://127.0.0.1:{port}" for role, port in ports.items()}

    # The worlds of A and B, each in its own database; A's territory gets an issuer URL that its
    # server answers, B's stays another one.
    engines = {role: create_db_engine(make_settings(databases[role])) for role in ("a", "b")}
    world_a, world_b = make_world(engines["a"]), make_world(engines["b"])
    issuer_a = f"{urls['a']}/t/ta"
    with engines["a"].begin() as conn:
        conn.execute(
            sa.text("UPDATE territory SET issuer_url = :u WHERE code = 'ta'"), {"u": issuer_a}
        )
    for engine in engines.values():
        engine.dispose()

    # The hub's anchor key, made by the CLI: private JWK in a file, public JWK printed.
    anchor_file = tmp_path / "anchor.jwk"
    made = run_cli(
        "federation", "anchor-key", "--out", str(anchor_file), env=passeport_env(databases["hub"])
    )
    assert made.returncode == 0, made.stderr
    anchor_public = made.stdout.strip()
    assert '"d"' not in anchor_public and oct(anchor_file.stat().st_mode)[-3:] == "600"

    env = {
        "hub": passeport_env(
            databases["hub"],
            PASSEPORT_PUBLIC_URL=urls["hub"],
            PASSEPORT_FEDERATION_ANCHOR_KEY=str(anchor_file),
            PASSEPORT_FEDERATION_FRESH_SECONDS=str(FRESH),
        ),
        "a": passeport_env(
            databases["a"], PASSEPORT_PUBLIC_URL=urls["a"], PASSEPORT_STATUS_TTL_SECONDS=STATUS_TTL
        ),
        "b": passeport_env(
            databases["b"],
            PASSEPORT_PUBLIC_URL=urls["b"],
            PASSEPORT_FEDERATION_HUB_URL=urls["hub"],
            PASSEPORT_FEDERATION_ANCHOR_PUBLIC_KEY=anchor_public,
            PASSEPORT_TRUST_REFRESH_SECONDS=REFRESH,
        ),
    }

    def verify_at_b(qr_text: str) -> dict[str, Any]:
        answer = httpx.post(f"{urls['b']}/api/v1/verify", json={"qr_text": qr_text}, timeout=10)
        assert answer.status_code == 200, answer.text
        verdict: dict[str, Any] = answer.json()
        return verdict

    def result_at_b(qr_text: str, expected: str) -> dict[str, Any]:
        return poll(
            lambda: verify_at_b(qr_text), lambda v: v["result"] == expected, timeout=FRESH + 30
        )

    with ExitStack() as stack:
        servers = {
            role: stack.enter_context(
                running_server(env[role], ports[role], tmp_path / f"{role}.log", timeout=90)
            )
            for role in ("a", "b")
        }
        hub_server = ExitStack()
        stack.enter_context(hub_server)
        hub_server.enter_context(
            running_server(env["hub"], ports["hub"], tmp_path / "hub.log", timeout=90)
        )

        # 1. A issues two credentials (one to revoke, one to outlive the rotation).
        first = _issue(urls["a"], world_a, "pp:PP-06")
        kept = _issue(urls["a"], world_a, "crcn:1.1")
        # B knows nothing of A yet.
        assert verify_at_b(first["qr_text"])["result"] == "untrusted_issuer"

        # 2. The hub lists A and publishes.
        added = run_cli("federation", "member", "add", issuer_a, "--name", "Guyane", env=env["hub"])
        assert added.returncode == 0, added.stderr
        published = run_cli("federation", "publish", env=env["hub"])
        assert published.returncode == 0, published.stderr
        assert "trust list 1 published" in published.stdout
        served = httpx.get(f"{urls['hub']}/api/v1/federation/trust-list")
        assert served.status_code == 200 and served.text.count(".") == 2

        # 3. B imports it (the CLI now, or its refresher within a second) and verifies A's.
        refreshed = run_cli("trust", "refresh", env=env["b"])
        assert refreshed.returncode == 0, refreshed.stderr
        valid = result_at_b(first["qr_text"], "valid")
        assert valid["result"] == "valid", valid
        assert valid["territory"] == "Guyane" and valid["issuer"] == issuer_a
        bundle = httpx.get(f"{urls['b']}/api/v1/trust/bundle").json()
        assert bundle["trust_list"]["sequence"] == 1 and bundle["trust_list"]["hub"] == urls["hub"]
        (remote,) = [i for i in bundle["issuers"] if i["iss"] == issuer_a]
        assert remote["source"] == "trust_list" and remote["status_lists"], remote
        store = httpx.get(
            f"{urls['b']}/api/v1/trust/issuers", headers=world_b.headers["territory_admin"]
        ).json()
        assert [i["iss"] for i in store["issuers"]] == [issuer_a]

        # 4. A revokes the first: B says revoked once its 2-second status cache expires.
        revoked = httpx.post(
            f"{urls['a']}/api/v1/passports/{world_a.passport.id}/credentials/{first['id']}/revoke",
            json={},
            headers=world_a.headers["mediator_of_structure"],
        )
        assert revoked.status_code == 200, revoked.text
        assert result_at_b(first["qr_text"], "revoked")["result"] == "revoked"

        # 5. A rotates; the hub republishes; old and new credentials verify at B.
        old_kid = json.loads(httpx.get(f"{issuer_a}/.well-known/jwks.json").text)["keys"][0]["kid"]
        rotated = httpx.post(
            f"{urls['a']}/api/v1/territories/ta/keys/rotate",
            headers=world_a.headers["territory_admin"],
        )
        assert rotated.status_code == 201, rotated.text
        fresh = _issue(urls["a"], world_a, "crcn:1.2")
        assert verify_at_b(fresh["qr_text"])["result"] == "unknown_key"
        assert run_cli("federation", "publish", env=env["hub"]).returncode == 0
        assert result_at_b(fresh["qr_text"], "valid")["result"] == "valid"
        assert verify_at_b(kept["qr_text"])["result"] == "valid"

        # A retires the old key: once the hub republishes, what it signed stops verifying at B.
        retired = run_cli("keys", "retire", old_kid, env=env["a"])
        assert retired.returncode == 0, retired.stderr
        assert run_cli("federation", "publish", env=env["hub"]).returncode == 0
        assert result_at_b(kept["qr_text"], "unknown_key")["result"] == "unknown_key"
        assert verify_at_b(fresh["qr_text"])["result"] == "valid"

        # 6. The hub stops: B still verifies from what it holds, and a refresh is refused with
        # the store unchanged.
        hub_server.close()
        down = run_cli("trust", "refresh", env=env["b"])
        assert down.returncode == 2 and "does not answer" in down.stderr, down.stderr
        assert verify_at_b(fresh["qr_text"])["result"] == "valid"

        # 7. B imports the skills into a passport of its own while the list is fresh.
        imported = httpx.post(
            f"{urls['b']}/api/v1/passports/{world_b.passport.id}/imports",
            json={"qr_text": fresh["qr_text"]},
            headers=world_b.headers["mediator_of_structure"],
        )
        assert imported.status_code == 201, imported.text
        assert [v["skill_code"] for v in imported.json()["imported"]] == ["crcn:1.2"]
        again = httpx.post(
            f"{urls['b']}/api/v1/passports/{world_b.passport.id}/imports",
            json={"qr_text": fresh["qr_text"]},
            headers=world_b.headers["mediator_of_structure"],
        )
        assert again.status_code == 200 and again.json()["imported"] == [], again.text

        # 8. Past its freshness period the list turns B's verdicts to stale_trust_list.
        stale = result_at_b(fresh["qr_text"], "stale_trust_list")
        assert stale["result"] == "stale_trust_list", stale
        assert "stale since" in stale["reason"]
        # ... and what a stale list vouches for is not written into a passport.
        refused = httpx.post(
            f"{urls['b']}/api/v1/passports/{world_b.passport.id}/imports",
            json={"qr_text": fresh["qr_text"]},
            headers=world_b.headers["mediator_of_structure"],
        )
        assert refused.status_code == 422, refused.text
        assert (refused.json()["code"], refused.json()["result"]) == (
            "credential_not_valid",
            "stale_trust_list",
        )
        state = httpx.get(
            f"{urls['b']}/api/v1/trust/list", headers=world_b.headers["territory_admin"]
        ).json()
        assert state["sequence"] == 3 and state["stale"] is True

        # Every change of B's trust store is in the journal its coordinators read.
        journal = httpx.get(
            f"{urls['b']}/api/v1/trust/journal", headers=world_b.headers["territory_admin"]
        ).json()
        actions = [e["action"] for e in journal]
        assert actions.count("trust.list_imported") == 3 and "trust.list_refused" in actions
        assert servers["a"].process.poll() is None and servers["b"].process.poll() is None
