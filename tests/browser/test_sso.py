"""Signing in through the identity provider from the mediator's page, in the browser.

The provider is the real oidc-provider process of tests/test_oidc.py; the app a second
`passeport serve` on the same database, configured for SSO.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, expect

from app.accounts.models import Role
from tests.conftest import free_port
from tests.factories import make_account, make_structure, make_territory
from tests.servers import Server, running_server
from tests.test_oidc import CALLBACK_PATH, _app_env, _install_provider, running_provider


@pytest.fixture(scope="module")
def sso_server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    _install_provider()
    tmp: Path = tmp_path_factory.mktemp("sso-browser")
    provider_port, app_port = free_port(), free_port()
    callback = f"http://127.0.0.1:{app_port}{CALLBACK_PATH}"
    with (
        running_provider(provider_port, [callback], tmp / "provider.log") as issuer,
        running_server(
            _app_env(database_url, issuer, "passeport"), app_port, tmp / "app.log"
        ) as app,
    ):
        yield app


def test_the_sso_button_signs_a_mediator_in(
    browser: Browser, sso_server: Server, engine: sa.Engine
) -> None:
    territory = make_territory(engine)
    structure = make_structure(engine, territory)
    make_account(engine, Role.MEDIATOR, territory, [structure], email="agent@example.test")

    context = browser.new_context(base_url=sso_server.url)
    page = context.new_page()
    page.goto("/mediation")
    button = page.get_by_role("link", name="Se connecter avec Test provider")
    expect(button).to_be_visible()
    button.click()

    # The provider's own (development) pages: sign in with the e-mail, then consent.
    page.locator("input[name=login]").fill("agent@example.test")
    page.locator("input[name=password]").fill("any password")
    page.locator("button[type=submit]").click()
    page.locator("button[type=submit]").click()

    expect(page.get_by_role("heading", name="Trouver ou ouvrir un passeport")).to_be_visible()
    assert page.url.startswith(f"{sso_server.url}/mediation")
    # The page learnt its CSRF token from /auth/session: a change goes through.
    page.get_by_label("Prénom *", exact=True).fill("Awa")
    page.get_by_label("Nom *", exact=True).fill("Traoré")
    page.get_by_text("La personne a entendu ce texte et donne son accord").click()
    page.get_by_role("button", name="Ouvrir le passeport").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Awa Traoré")
    context.close()
