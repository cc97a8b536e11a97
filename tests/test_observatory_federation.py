"""National figures over three real instances: territories A and B publish their figures signed
with their keys, the hub collects them and its national view is their cell by cell sum; a member
serving forged, misattributed, oversized or no figures is refused and the national view kept.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from joserfc.jwk import ECKey
from sqlmodel import col, select

from app.audit.models import AuditEvent
from app.core.db import create_db_engine, pk, transaction
from app.core.time import utcnow
from app.credentials.format import b64url_decode, key_id
from app.credentials.verifier import Verifier
from app.federation import stats
from app.federation.refresher import Refresher
from app.observatory import service as observatory
from app.passports.models import Method, Validation
from tests.conftest import free_port, make_settings
from tests.factories import World, make_world
from tests.federation_fixtures import Site, serving
from tests.servers import passeport_env, run_cli, running_server

# The three per-instance databases of the federation test (hub, a, b), made and dropped the same
# way on SQLite and PostgreSQL.
from tests.test_federation_multi import databases  # noqa: F401

JOSE = "application/jose"
# (skill, level, how many) per territory: most cells above the default threshold of 5, and one
# below it at each member, in a different competence, so that suppression shows nationally.
SEEDS = {
    "a": [("crcn:1.1", 2, 7), ("crcn:1.2", 1, 9), ("crcn:2.1", 3, 2)],
    "b": [("crcn:1.1", 2, 6), ("crcn:1.2", 1, 3), ("crcn:2.1", 3, 8)],
}


def _month() -> observatory.Period:
    """The last month due for release (the members' settings are the default ones)."""
    return observatory.latest_public_period(days=make_settings("sqlite://").stats_release_days)


def _seed(engine: sa.Engine, world: World, seeds: list[tuple[str, int, int]]) -> None:
    # In the last month released: the period public figures, and the hub's sum, default to.
    on = _month().start + timedelta(days=9)
    with transaction(engine) as session:
        for skill, level, count in seeds:
            for _ in range(count):
                session.add(
                    Validation(
                        passport_id=pk(world.passport),
                        skill_code=skill,
                        level=level,
                        method=Method.OBSERVATION,
                        observed_on=on,
                        account_id=world.mediator_a1.id,
                        structure_id=world.a1.id,
                    )
                )


def _cells(document: dict[str, Any]) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Every cell of the summed tables, keyed by table and codes (labels left out)."""
    out = {}
    for name in stats.table_names():
        dims = [d for d in stats.TABLES[name] if d not in stats.LABELS]
        for row in document["tables"][name]["rows"]:
            out[(name, *(row[d] for d in dims))] = row
    return out


def _level(cells: dict[tuple[Any, ...], dict[str, Any]], competence: str, level: int) -> Any:
    (cell,) = [
        c
        for k, c in cells.items()
        if k[0] == "validations_by_competence_level" and k[2:] == (competence, level)
    ]
    return cell


def _collect(env: dict[str, str]) -> tuple[int, str, str]:
    done = run_cli("federation", "stats", "collect", env=env)
    return done.returncode, done.stdout, done.stderr


@pytest.fixture
def forger() -> Iterator[Site]:
    with serving() as site:
        yield site


def test_the_hub_sums_its_members_signed_figures(
    databases: dict[str, str],  # noqa: F811
    forger: Site,
    tmp_path: Path,
) -> None:
    ports = {role: free_port() for role in ("hub", "a", "b")}
    urls = {role: f"http://127.0.0.1:{port}" for role, port in ports.items()}
    issuers = {role: f"{urls[role]}/t/ta" for role in ("a", "b")}

    worlds = {}
    for role in ("a", "b"):
        engine = create_db_engine(make_settings(databases[role]))
        worlds[role] = make_world(engine)
        _seed(engine, worlds[role], SEEDS[role])
        with engine.begin() as conn:
            conn.execute(
                sa.text("UPDATE territory SET issuer_url = :u WHERE code = 'ta'"),
                {"u": issuers[role]},
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
        **{r: passeport_env(databases[r], PASSEPORT_PUBLIC_URL=urls[r]) for r in ("a", "b")},
    }

    with ExitStack() as stack:
        for role in ("hub", "a", "b"):
            stack.enter_context(
                running_server(env[role], ports[role], tmp_path / f"{role}.log", timeout=90)
            )

        # Before a territory opts in, it serves no signed figures.
        closed = httpx.get(f"{issuers['a']}/stats.jws")
        assert closed.status_code == 404, closed.text
        assert closed.headers["content-type"] == "application/problem+json"
        assert closed.json()["code"] == "stats_not_published"

        # Both territories get a signing key and opt in; the hub lists both and publishes.
        for role in ("a", "b"):
            admin = worlds[role].headers["territory_admin"]
            base = f"{urls[role]}/api/v1/territories/ta"
            assert httpx.post(f"{base}/keys/rotate", headers=admin).status_code == 201
            opened = httpx.put(f"{base}/stats/publication", json={"public": True}, headers=admin)
            assert opened.status_code == 200, opened.text
            added = run_cli("federation", "member", "add", issuers[role], env=env["hub"])
            assert added.returncode == 0, added.stderr
        assert run_cli("federation", "publish", env=env["hub"]).returncode == 0

        # Published, but not released yet: nothing to sign, and the hub collects nothing.
        early = httpx.get(f"{issuers['a']}/stats.jws")
        assert early.status_code == 404 and early.json()["code"] == "period_not_released"
        code, out, err = _collect(env["hub"])
        assert code == 2 and "0 collected, 2 refused" in out, (out, err)
        for role in ("a", "b"):
            done = run_cli("stats", "release", "--territory", "ta", env=env[role], timeout=300)
            assert done.returncode == 0 and done.stdout.startswith("ta: released "), done.stderr

        signed = httpx.get(f"{issuers['a']}/stats.jws")
        assert signed.status_code == 200 and signed.headers["content-type"] == "application/jose"
        header = json.loads(b64url_decode(signed.text.split(".")[0]))
        assert header["typ"] == stats.TYP and header["alg"] == "ES256"

        code, out, err = _collect(env["hub"])
        assert code == 0, err
        assert "2 collected, 0 refused" in out

        # The national figures are the sum of A's and B's, as each publishes them itself.
        published = {
            role: httpx.get(f"{urls[role]}/api/v1/territories/ta/stats").json()
            for role in ("a", "b")
        }
        national = httpx.get(f"{urls['hub']}/api/v1/federation/stats").json()
        assert [m["iss"] for m in national["members"]] == sorted(issuers.values())
        assert national["periods_agree"] is True
        assert "validations_by_structure" not in national["tables"]
        cells = {role: _cells(published[role]) for role in ("a", "b")}
        summed = _cells(national)
        assert set(summed) == set(cells["a"]) == set(cells["b"])
        complete = incomplete = 0
        for cell_key, cell in summed.items():
            parts = [cells["a"][cell_key]["count"], cells["b"][cell_key]["count"]]
            known = sum(p for p in parts if p is not None)
            assert cell["members"] == 2 and cell["known"] == known, cell_key
            if None in parts:
                incomplete += 1
                assert cell["incomplete"] is True and cell["count"] is None, cell_key
                assert cell["suppressed_members"] == parts.count(None), cell_key
            else:
                complete += 1
                assert cell["incomplete"] is False and cell["count"] == known, cell_key
        # Every validation seeded, once.
        assert summed[("summary", "validations")]["count"] == 18 + 17
        assert _level(summed, "crcn:1.2", 1)["incomplete"] is True
        assert _level(summed, "crcn:2.1", 3)["incomplete"] is True
        assert complete > 0 and incomplete > 0

        # The same as CSV, an incomplete cell's count empty.
        table = httpx.get(
            f"{urls['hub']}/api/v1/federation/stats/validations_by_competence_level.csv"
        )
        assert table.status_code == 200, table.text
        lines = table.text.splitlines()
        assert lines[0].endswith("count,incomplete,known,members,suppressed_members")
        assert any(
            ",crcn:1.2," in line and line.split(",")[3] == "1" and ",,true," in line
            for line in lines
        )
        # Every table at once, as a zip named after the period (not after its last table).
        bundle = httpx.get(f"{urls['hub']}/api/v1/federation/stats", params={"format": "csv"})
        assert bundle.status_code == 200, bundle.text
        assert bundle.headers["content-type"] == "application/zip"
        period_id = national["period"]["id"]
        assert bundle.headers["content-disposition"] == (
            f'inline; filename="stats-national-{period_id}.zip"'
        )
        with zipfile.ZipFile(io.BytesIO(bundle.content)) as archive:
            assert archive.read("validations_by_competence_level.csv").decode() == table.text

        # A third member, served by a small server of the test's: its own key in the list.
        key = ECKey.generate_key("P-256", private=True)
        forger.put_keys("/t/c", key)
        issuer_c = f"{forger.url}/t/c"
        assert run_cli("federation", "member", "add", issuer_c, env=env["hub"]).returncode == 0
        assert run_cli("federation", "publish", env=env["hub"]).returncode == 0

        # The hub asks each member for its last month released, then the quarter and year
        # released with it or before.
        periods = [str(p.id) for p in stats.collected_periods(_month())]
        paths = ["/t/c/stats.jws", *(f"/t/c/stats.jws?period={p}" for p in periods[1:])]
        by_period = {
            p: httpx.get(f"{urls['a']}/api/v1/territories/ta/stats?period={p}").json()
            for p in periods
        }

        def serve(body: dict[str, Any], signer: ECKey, kid: str | None = None) -> None:
            for p, path in zip(periods, paths, strict=True):
                document = {**body, "period": by_period[p]["period"]}
                if body.get("tables"):
                    document["tables"] = by_period[p]["tables"]
                token = stats.sign_stats(
                    document,
                    iss=body["iss"],
                    kid=kid or key_id(signer),
                    key=signer,
                    now=utcnow(),
                )
                forger.put(path, token, content_type="application/jose")

        # Its honest figures (A's, under its name) are collected and counted.
        honest = {**published["a"], "iss": issuer_c}
        serve(honest, key)
        code, out, err = _collect(env["hub"])
        assert code == 0 and "3 collected" in out, err
        before = httpx.get(f"{urls['hub']}/api/v1/federation/stats").json()
        assert _cells(before)[("summary", "validations")]["count"] == 18 + 17 + 18
        kept_c = [m for m in before["members"] if m["iss"] == issuer_c]

        # Then whatever it serves that is not its own signed figures is refused, and the
        # national figures stay those it had.
        other = ECKey.generate_key("P-256", private=True)

        def wrong_period() -> None:
            serve(honest, key)
            forger.put(paths[0], forger.answers[paths[1]].body, content_type=JOSE)

        attempts: dict[str, Callable[[], None]] = {
            "unknown_key": lambda: serve(honest, other),
            "bad_signature": lambda: serve(honest, other, kid=key_id(key)),
            "wrong_issuer": lambda: serve({**honest, "iss": issuers["a"]}, key),
            "malformed": lambda: serve({**honest, "tables": {}}, key),
            "wrong_period": wrong_period,
            "too_large": lambda: forger.put(
                paths[0], b"x" * (stats.MAX_STATS_BYTES + 1), declare_length=False
            ),
            "unreachable": lambda: forger.answers.clear(),
        }
        for reason, attempt in attempts.items():
            attempt()
            code, out, err = _collect(env["hub"])
            assert code == 2, (reason, out, err)
            assert f"refused {issuer_c} ({reason})" in err and "2 collected, 1 refused" in out
            after = httpx.get(f"{urls['hub']}/api/v1/federation/stats").json()
            assert after["tables"] == before["tables"], reason
            assert [m for m in after["members"] if m["iss"] == issuer_c] == kept_c, reason

    # Each refusal is in the hub's journal, with its reason.
    hub_engine = create_db_engine(make_settings(databases["hub"]))
    try:
        with transaction(hub_engine, write=False) as session:
            refusals = session.exec(
                select(AuditEvent)
                .where(AuditEvent.action == "federation.stats_refused")
                .order_by(col(AuditEvent.id))
            ).all()
            reasons = [event.details["reason"] for event in refusals]
        # Both members before their release (the member answered 404), then C's attempts.
        assert reasons == ["unreachable", "unreachable", *attempts]

        # The hub's background refresher collects too (members are down now): each member is
        # refused as unreachable, journaled, and the national figures are kept.
        hub_settings = make_settings(databases["hub"], federation_anchor_key=str(anchor_file))
        refresher = Refresher(hub_engine, hub_settings, Verifier(hub_engine, hub_settings))
        refresher.collect_figures()
        with transaction(hub_engine, write=False) as session:
            later = session.exec(
                select(AuditEvent)
                .where(AuditEvent.action == "federation.stats_refused")
                .order_by(col(AuditEvent.id))
            ).all()
            held = session.exec(select(stats.MemberStats)).all()
        assert [e.details["reason"] for e in later[len(refusals) :]] == ["unreachable"] * 3
        assert len(held) == 3 * 3  # each member's month, quarter and year
    finally:
        hub_engine.dispose()
