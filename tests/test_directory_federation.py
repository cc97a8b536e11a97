"""The national directory over three real instances: territory A serves its places signed with
its key, the hub collects them, and B's directory lists A's places after the hub collects; a
member serving forged, misattributed, malformed or oversized places is refused and the places
the hub held kept."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from joserfc.jwk import ECKey
from sqlmodel import col, select

from app.audit.models import AuditEvent
from app.core.db import create_db_engine, transaction
from app.core.time import utcnow
from app.credentials.format import key_id
from app.federation import places
from tests.conftest import free_port, make_settings
from tests.factories import make_structure, make_world
from tests.federation_fixtures import Site, serving
from tests.servers import passeport_env, run_cli, running_server

# The three per-instance databases (hub, a, b), made and dropped the same way on both databases.
from tests.test_federation_multi import databases  # noqa: F401

NAME = "Tiers-lieu fédéré de Kourou"
JOSE = "application/jose"


@pytest.fixture
def forger() -> Iterator[Site]:
    with serving() as site:
        yield site


def _cli(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    done = run_cli("federation", "places", *args, env=env)
    return done.returncode, done.stdout, done.stderr


def _names(url: str, **params: Any) -> list[str]:
    body = httpx.get(f"{url}/api/v1/directory/places", params={"limit": 200, **params}).json()
    return [item["nom"] for item in body["items"]]


def test_b_lists_a_places_once_the_hub_collects(
    databases: dict[str, str],  # noqa: F811
    forger: Site,
    tmp_path: Path,
) -> None:
    ports = {role: free_port() for role in ("hub", "a", "b")}
    urls = {role: f"http://127.0.0.1:{port}" for role, port in ports.items()}
    issuer_a = f"{urls['a']}/t/ta"
    worlds = {}
    for role in ("a", "b"):
        engine = create_db_engine(make_settings(databases[role]))
        worlds[role] = make_world(engine)
        if role == "a":
            make_structure(engine, worlds["a"].a, NAME)
            with engine.begin() as conn:
                conn.execute(
                    sa.text("UPDATE territory SET issuer_url = :u WHERE code = 'ta'"),
                    {"u": issuer_a},
                )
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
        "a": passeport_env(databases["a"], PASSEPORT_PUBLIC_URL=urls["a"]),
        "b": passeport_env(
            databases["b"],
            PASSEPORT_PUBLIC_URL=urls["b"],
            PASSEPORT_FEDERATION_HUB_URL=urls["hub"],
            PASSEPORT_FEDERATION_ANCHOR_PUBLIC_KEY=made.stdout.strip(),
        ),
    }

    with ExitStack() as stack:
        for role in ("hub", "a", "b"):
            stack.enter_context(
                running_server(env[role], ports[role], tmp_path / f"{role}.log", timeout=90)
            )
        # Before A has a key it signs nothing.
        assert httpx.get(f"{issuer_a}/places.jws").json()["code"] == "no_signing_key"
        admin = worlds["a"].headers["territory_admin"]
        rotated = httpx.post(f"{urls['a']}/api/v1/territories/ta/keys/rotate", headers=admin)
        assert rotated.status_code == 201, rotated.text
        signed = httpx.get(f"{issuer_a}/places.jws")
        assert signed.status_code == 200 and signed.headers["content-type"] == JOSE

        # The hub lists A (and a third member C, served by the test), publishes its trust list,
        # and B imports it.
        key_c = ECKey.generate_key("P-256", private=True)
        forger.put_keys("/t/c", key_c)
        issuer_c = f"{forger.url}/t/c"
        for iss in (issuer_a, issuer_c):
            assert run_cli("federation", "member", "add", iss, env=env["hub"]).returncode == 0
        assert run_cli("federation", "publish", env=env["hub"]).returncode == 0
        assert run_cli("trust", "refresh", env=env["b"]).returncode == 0

        honest_c = {
            "territory": {"code": "c", "name": "Territoire C"},
            "places": [
                {
                    "id": 7,
                    "nom": "Case numérique de C",
                    "adresse": "1 route",
                    "commune": "Mata-Utu",
                    "code_postal": "98600",
                    "department": "986",
                    "latitude": -13.28,
                    "longitude": -176.17,
                    "services": ["Accès internet"],
                    "free": True,
                    "accessible": False,
                    "horaires": "Mo-Fr 08:00-12:00",
                }
            ],
        }

        def serve_c(body: dict[str, Any], signer: ECKey, iss: str = issuer_c, **kw: Any) -> None:
            token = places.sign_places(
                body, iss=iss, kid=kw.get("kid") or key_id(signer), key=signer, now=utcnow()
            )
            forger.put("/t/c/places.jws", token, content_type=JOSE)

        serve_c(honest_c, key_c)

        # Before the hub collects, B lists only its own places.
        assert NAME not in _names(urls["b"])
        code, out, err = _cli(env["hub"], "collect")
        assert code == 0 and "2 collected, 0 refused" in out, (out, err)
        national = httpx.get(f"{urls['hub']}/api/v1/federation/places").json()
        assert [m["iss"] for m in national["members"]] == sorted([issuer_a, issuer_c])

        # B checks each document with its own trust store, then lists A's places, with a link
        # to their page on A.
        code, out, err = _cli(env["b"], "receive")
        assert code == 0 and "2 received" in out, (out, err)
        body = httpx.get(f"{urls['b']}/api/v1/directory/places", params={"q": "Kourou"}).json()
        assert [i["nom"] for i in body["items"]] == [NAME]
        remote = body["items"][0]
        assert remote["url"].startswith(f"{urls['a']}/lieu?id=")
        assert httpx.get(remote["url"]).status_code == 200
        assert "Case numérique de C" in _names(urls["b"], department="986")
        # B's own places are not doubled by the hub's copy, and can be asked for alone.
        assert NAME not in _names(urls["b"], neighbours="false")
        before = {m["iss"]: m["document"] for m in national["members"]}

        # Whatever C serves that is not its own signed places is refused, and the hub keeps
        # the places it held.
        other = ECKey.generate_key("P-256", private=True)
        attempts: dict[str, Callable[[], object]] = {
            "unknown_key": lambda: serve_c(honest_c, other),
            "bad_signature": lambda: serve_c(honest_c, other, kid=key_id(key_c)),
            "wrong_issuer": lambda: serve_c(honest_c, key_c, iss=issuer_a),
            "malformed": lambda: serve_c({**honest_c, "places": [{"nom": "?"}]}, key_c),
            "too_large": lambda: forger.put(
                "/t/c/places.jws", b"x" * (places.MAX_PLACES_BYTES + 1), declare_length=False
            ),
        }
        for reason, attempt in attempts.items():
            attempt()
            code, out, err = _cli(env["hub"], "collect")
            assert code == 2, (reason, out, err)
            assert f"refused {issuer_c} ({reason})" in err and "1 collected, 1 refused" in out
            after = httpx.get(f"{urls['hub']}/api/v1/federation/places").json()
            held = {m["iss"]: m["document"] for m in after["members"]}
            assert held[issuer_c] == before[issuer_c], reason

    hub_engine = create_db_engine(make_settings(databases["hub"]))
    try:
        with transaction(hub_engine, write=False) as session:
            refusals = session.exec(
                select(AuditEvent)
                .where(AuditEvent.action == "federation.places_refused")
                .order_by(col(AuditEvent.id))
            ).all()
            assert [e.details["reason"] for e in refusals] == list(attempts)
    finally:
        hub_engine.dispose()
