"""The audit journal cannot be grown at will, and keeps what it holds for a documented time."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta
from pathlib import Path

import httpx
import sqlalchemy as sa

from app.accounts.models import ApiToken, Role
from app.accounts.principal import CallerKind, Principal
from app.audit import service as audit
from app.audit.models import AuditEvent
from app.core.db import pk, transaction
from app.core.time import utcnow
from tests.conftest import free_port, run_async
from tests.factories import make_account, make_territory
from tests.servers import passeport_env, run_cli, running_server


def test_an_action_on_a_row_names_its_table_id_territory_and_actor(engine: sa.Engine) -> None:
    """audit.record_on: the row's table and id (a new row is flushed for its id); the territory
    is the row's own, even none, or a territory's id, else the actor's; the actor a principal,
    an account or an account id."""
    territory, elsewhere = make_territory(engine), make_territory(engine)
    admin = make_account(engine, Role.TERRITORY_ADMIN, territory)
    platform = make_account(engine, Role.PLATFORM_ADMIN)
    # A caller whose territory differs from every row's, to see whose territory is written.
    caller = Principal(kind=CallerKind.ACCOUNT, account_id=pk(platform), territory_id=pk(elsewhere))
    with transaction(engine) as session:
        token = ApiToken(
            account_id=pk(admin), name="n", token_hash="h" * 64, prefix="p", expires_at=utcnow()
        )
        events = [
            audit.record_on(session, "token.created", token, caller, scopes=["a"]),
            audit.record_on(session, "auth.login", token, admin, client_address="192.0.2.1"),
            audit.record_on(session, "account.updated", admin, caller),
            audit.record_on(session, "account.updated", platform, caller),
            audit.record_on(session, "territory.updated", territory, pk(admin)),
            audit.record_on(session, "x.y", token, outcome="denied", target_type="issuer"),
        ]
        written = [
            (e.action, e.outcome, e.actor_account_id, e.territory_id, e.target_type, e.target_id)
            for e in events
        ]
        extras = [(e.client_address, e.details) for e in events[:2]]
    assert token.id is not None
    t, e, a, p, k = pk(territory), pk(elsewhere), pk(admin), pk(platform), str(token.id)
    assert written == [
        ("token.created", "success", p, e, "api_token", k),  # no territory of its own: the caller's
        ("auth.login", "success", a, t, "api_token", k),  # an account acting: its own territory
        ("account.updated", "success", p, t, "account", str(a)),  # the row's territory first
        ("account.updated", "success", p, None, "account", str(p)),  # even when it has none
        ("territory.updated", "success", a, t, "territory", str(t)),  # an account id: no territory
        ("x.y", "denied", None, None, "issuer", k),  # nobody, and the journal's own word
    ]
    assert extras == [(None, {"scopes": ["a"]}), ("192.0.2.1", {})]


def _old_and_new_rows(engine: sa.Engine) -> None:
    """Security events and refusals naming nobody, each just past and just within retention."""
    now = utcnow()
    with transaction(engine) as session:
        for days, action, account, outcome in [
            (400, "account.created", 1, "success"),  # security, past 365 days: goes
            (300, "account.created", 1, "success"),  # security, within 365 days: stays
            (300, "auth.login_failed", 1, "failure"),  # names an account: security, stays
            (40, "auth.session_refused", None, "denied"),  # noise, past 30 days: goes
            (20, "auth.session_refused", None, "denied"),  # noise, within 30 days: stays
        ]:
            session.add(
                AuditEvent(
                    at=now - timedelta(days=days),
                    action=action,
                    outcome=outcome,
                    actor_account_id=account,
                    details={"days": days},
                )
            )


def _left(engine: sa.Engine) -> list[tuple[str, int]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT action, details FROM audit_event ORDER BY id")).all()
    days = [(a, d if isinstance(d, dict) else json.loads(d)) for a, d in rows]
    return [(a, d["days"]) for a, d in days]


KEPT = [("account.created", 300), ("auth.login_failed", 300), ("auth.session_refused", 20)]


def test_prune_keeps_security_events_longer_than_noise(
    database_url: str, engine: sa.Engine
) -> None:
    _old_and_new_rows(engine)
    env = passeport_env(database_url)
    dry = run_cli("audit", "prune", "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith("dry run, nothing deleted: 1 security events older than 365 days")
    assert "1 refusals naming nobody older than 30 days" in dry.stdout
    assert len(_left(engine)) == 5
    done = run_cli("audit", "prune", env=env)
    assert done.returncode == 0 and done.stdout.startswith("deleted 1 security events"), done
    assert _left(engine) == KEPT
    # The two retentions are settings.
    shorter = run_cli(
        "audit",
        "prune",
        env={
            **env,
            "PASSEPORT_AUDIT_RETENTION_DAYS": "200",
            "PASSEPORT_AUDIT_NOISE_RETENTION_DAYS": "10",
        },
    )
    assert shorter.stdout.startswith("deleted 2 security events"), shorter
    assert _left(engine) == []


def test_the_server_prunes_the_journal_by_itself(
    database_url: str, engine: sa.Engine, tmp_path: Path
) -> None:
    _old_and_new_rows(engine)
    with running_server(passeport_env(database_url), free_port(), tmp_path / "server.log"):
        # The background task prunes once at start, then hourly: wait for the first run.
        deadline = time.monotonic() + 20
        while len(_left(engine)) != len(KEPT) and time.monotonic() < deadline:
            time.sleep(0.2)
    assert _left(engine) == KEPT


async def _bad_tokens(url: str, n: int) -> list[int]:
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        answers = await asyncio.gather(
            *(
                client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer pn_x{i:04d}"})
                for i in range(n)
            )
        )
    return [a.status_code for a in answers]


def test_parallel_made_up_tokens_add_up_in_one_row(
    database_url: str, engine: sa.Engine, tmp_path: Path
) -> None:
    with running_server(
        passeport_env(database_url), free_port(), tmp_path / "server.log"
    ) as server:
        statuses = run_async(_bad_tokens(server.url, 50))
    assert statuses == [401] * 50
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT count, client_address FROM audit_event WHERE action = :a"),
            {"a": "auth.token_refused"},
        ).all()
    assert [tuple(r) for r in rows] == [(50, "127.0.0.1")]
