"""The passport-loading dependencies (app/passports/deps.py): one rule each, the route's session."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.accounts.principal import Principal
from app.api.deps import SessionDep, WriteSessionDep
from app.authz import PASSPORT_READ, authorize, undeclared_routes
from app.core.settings import Settings
from app.main import create_app
from app.passports.deps import HeldExportPassport, ReadPassport
from tests.factories import World, make_world


@pytest.fixture(scope="module")
def probe_app(settings: Settings) -> Iterator[FastAPI]:
    """The real app plus probes that say which session the loaded passport belongs to."""
    application = create_app(settings, configure_logs=False)

    @application.get("/api/v1/_probe/{passport_id}/read")
    def read(access: ReadPassport, session: SessionDep) -> dict[str, bool]:
        return {"in_route_session": access.passport in session}

    @application.get("/api/v1/_probe/{passport_id}/export")
    def export(access: HeldExportPassport, session: WriteSessionDep) -> dict[str, bool]:
        return {"in_route_session": access.passport in session}

    yield application
    application.state.engine.dispose()


def test_the_loaded_passport_lives_in_the_routes_own_session(
    probe_app: FastAPI, engine: sa.Engine
) -> None:
    world: World = make_world(engine)
    with TestClient(probe_app) as client:
        for kind in ("read", "export"):
            answer = client.get(
                f"/api/v1/_probe/{world.passport.id}/{kind}",
                headers=world.headers["mediator_of_structure"],
            )
            assert answer.status_code == 200, answer.text
            assert answer.json() == {"in_route_session": True}
        # The dependency enforces its rule and its visibility: another territory sees nothing.
        refused = client.get(
            f"/api/v1/_probe/{world.passport.id}/read",
            headers=world.headers["mediator_other_territory"],
        )
        assert refused.status_code == 404
        assert refused.json()["code"] == "unknown_passport"
        assert client.get(f"/api/v1/_probe/{world.passport.id}/read").status_code == 401


def test_a_route_taking_a_loader_declares_no_rule_of_its_own(probe_app: FastAPI) -> None:
    # The probes above declare their rule through the loader only: the app is well formed.
    assert undeclared_routes(probe_app) == []

    @probe_app.get("/api/v1/_probe/{passport_id}/twice")
    def twice(
        access: ReadPassport, principal: Annotated[Principal, authorize(PASSPORT_READ)]
    ) -> None:
        """A second rule beside the loader's: check_routes must refuse it."""

    assert undeclared_routes(probe_app) == ["GET /api/v1/_probe/{passport_id}/twice"]
