"""Browser tests: the real server, driven by Debian's Chromium through Playwright.

Fixtures (use them in any tests/browser/test_*.py):

- ``live_server`` (session): a ``passeport serve`` process on the worker's test database
  (tests/servers.py); ``live_server.url`` is its base URL. Tables are wiped after each test that
  uses ``engine``/``database_url`` (tests/conftest.py), so seed what a test needs in the test.
- ``world``: ``tests.factories.make_world(engine)`` — territories ta/tb, structures a1/a2/b1,
  mediators (password ``tests.factories.PASSWORD``), a passport with access code "BCDF2345".
- ``browser`` (session): one headless Chromium per worker.
- ``context`` / ``page``: a fresh browser context per test (no cookies, no storage), French
  locale, ``base_url`` set to the server, so ``page.goto("/mediation")`` works. The page fails
  the test at teardown if the browser reported a Content-Security-Policy violation or an
  uncaught script error.
- ``english_page``: the same with the English interface chosen (localStorage), for
  language checks.

Helpers:

- ``check_axe(page, context_name)``: runs axe-core (frontend/node_modules/axe-core) on the page
  and fails on any violation of impact serious or critical, listing them readably.
- ``screenshot(page, name, full_page=True)``: writes var/screenshots/NAME.png always, and
  docs/screenshots/NAME.png when PASSEPORT_UPDATE_SCREENSHOTS=1 (commit-worthy images are
  refreshed on purpose, not by every CI run).
- ``sign_in_mediator(page, email)`` / ``sign_in_citizen(page, number, code)``: through the forms.

No sleeps: wait on locators (``expect``) and responses.

Mind: Playwright's sync API keeps an asyncio event loop running in the worker's main thread for
the whole session (one browser per worker). A test elsewhere that calls ``asyncio.run`` must run
it in a thread of its own (see tests/test_observatory.py).
"""

from __future__ import annotations

import json
import os
from collections.abc import Generator, Iterator
from pathlib import Path

import pluggy
import pytest
import sqlalchemy as sa
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    ViewportSize,
    expect,
    sync_playwright,
)

from tests.conftest import free_port
from tests.factories import PASSWORD, World, make_world
from tests.servers import Server, passeport_env, running_server

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = ROOT / "var" / "screenshots"
DOC_SCREENSHOTS = ROOT / "docs" / "screenshots"
VIEWPORT: ViewportSize = {"width": 1280, "height": 900}
# How long an `expect` waits for the page to get there: a bound, not a measure. Playwright's 5 s
# default was too short for a page waiting on the server while the suite runs 2 workers and 2
# databases' servers on 2 cores (a wallet offer drew its QR past it once).
expect.set_options(timeout=20_000)


@pytest.fixture(scope="session")
def live_server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("server") / "server.log"
    with running_server(passeport_env(database_url), free_port(), log) as server:
        yield server


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pluggy.Result[pytest.TestReport], None]:
    """On a failed browser test, attach the end of the server's log: what the page cannot say."""
    outcome = yield
    report = outcome.get_result()
    server = item.funcargs.get("live_server") if hasattr(item, "funcargs") else None
    if report.failed and isinstance(server, Server):
        tail = "\n".join(server.log().splitlines()[-60:])
        report.sections.append(("server log (last 60 lines)", tail))


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


def _new_context(browser: Browser, server: Server, lang: str = "fr") -> BrowserContext:
    context = browser.new_context(
        base_url=server.url, locale="fr-FR" if lang == "fr" else "en-GB", viewport=VIEWPORT
    )
    # A bound on waiting, not a speed check: in CI the other worker may be running three
    # server processes of the federation tests on the same two cores (a sign-in once took
    # longer than 10 s there).
    context.set_default_timeout(30_000)
    if lang != "fr":
        context.add_init_script(f"localStorage.setItem('passeport.lang', {json.dumps(lang)})")
    return context


def _watched(context: BrowserContext) -> tuple[Page, list[str]]:
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
    page.on(
        "console",
        lambda message: (
            problems.append(f"console: {message.text}")
            if "Content Security Policy" in message.text
            else None
        ),
    )
    return page, problems


@pytest.fixture
def context(browser: Browser, live_server: Server) -> Iterator[BrowserContext]:
    context = _new_context(browser, live_server)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    page, problems = _watched(context)
    yield page
    assert not problems, "\n".join(problems)


@pytest.fixture
def english_page(browser: Browser, live_server: Server) -> Iterator[Page]:
    context = _new_context(browser, live_server, "en")
    page, problems = _watched(context)
    yield page
    context.close()
    assert not problems, "\n".join(problems)


@pytest.fixture
def world(engine: sa.Engine) -> World:
    return make_world(engine)


def check_axe(page: Page, context_name: str = "") -> None:
    """Fail on axe-core violations of impact serious or critical on the page as it is now."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # Through evaluate, not add_script_tag: the page's CSP forbids inline scripts.
        page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    bad = [v for v in result if v.get("impact") in ("serious", "critical")]
    if bad:
        lines = [f"axe: {len(bad)} serious/critical violation(s) on {context_name or page.url}"]
        for violation in bad:
            lines.append(f"- [{violation['impact']}] {violation['id']}: {violation['help']}")
            for node in violation["nodes"][:5]:
                lines.append(f"    {' '.join(node['target'])}: {node['failureSummary']}")
        pytest.fail("\n".join(lines), pytrace=False)


def screenshot(page: Page, name: str, *, full_page: bool = True) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    if os.environ.get("PASSEPORT_UPDATE_SCREENSHOTS") == "1":
        DOC_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        (DOC_SCREENSHOTS / f"{name}.png").write_bytes(path.read_bytes())
    return path


def sign_in_mediator(page: Page, email: str, password: str = PASSWORD) -> None:
    page.goto("/mediation")
    # The page has finished starting (its sign-in view shown by the script, the offline queue set
    # up): typing earlier, on a loaded machine, could land in a form the start then re-shows.
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    page.get_by_label("Adresse électronique", exact=True).fill(email)
    page.get_by_label("Mot de passe", exact=True).fill(password)
    page.get_by_role("button", name="Se connecter").click()
    heading = page.get_by_role("heading", name="Trouver ou ouvrir un passeport")
    refusal = page.locator("#signin-error:not(:empty)")
    # Either the passport search or the form's own alert: a refusal fails at once with what the
    # page said, rather than as a 30 s wait for a heading that will never come.
    heading.or_(refusal).first.wait_for()
    if refusal.count():
        pytest.fail(f"sign-in of {email} refused by the page: {refusal.inner_text()}")


def sign_in_citizen(page: Page, number: str, code: str) -> None:
    page.goto("/citizen")
    page.get_by_label("Numéro de passeport").fill(number)
    page.get_by_label("Code d'accès").fill(code)
    page.get_by_role("button", name="Voir mon passeport").click()
    page.get_by_role("heading", name="Mon passeport numérique", exact=True).wait_for()
