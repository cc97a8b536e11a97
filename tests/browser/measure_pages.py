"""Page weight on a first visit: requests and bytes per page, the design system's and our own.

Not a test (no assertion on figures): `.venv/bin/python -m tests.browser.measure_pages`. It makes a
scratch SQLite database with the demo data, starts `passeport serve` and loads each page in
Chromium with an empty cache. docs/frontend.md quotes its output.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from playwright.sync_api import Request, sync_playwright

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.conftest import free_port
from tests.servers import passeport_env, run_cli, running_server

PAGES = ("/", "/mediation", "/citizen")


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    env = passeport_env(f"sqlite:///{tmp}/measure.db")
    for command in (("db", "upgrade"), ("demo",)):
        done = run_cli(*command, env=env)
        assert done.returncode == 0, done.stderr
    with (
        running_server(env, free_port(), tmp / "server.log") as server,
        sync_playwright() as driver,
    ):
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for path in PAGES:
            context = browser.new_context(base_url=server.url)
            page = context.new_page()
            sizes: list[tuple[str, int]] = []

            def finished(request: Request, sizes: list[tuple[str, int]] = sizes) -> None:
                sizes.append((request.url, request.sizes()["responseBodySize"]))

            page.on("requestfinished", finished)
            page.goto(path, wait_until="networkidle")
            total = sum(size for _, size in sizes)
            dsfr = sum(size for url, size in sizes if "/static/dsfr/" in url)
            nav = json.loads(
                page.evaluate("JSON.stringify(performance.getEntriesByType('navigation')[0])")
            )
            ours = total - dsfr
            print(
                f"{path}: {len(sizes)} requests, {total / 1024:.0f} KiB uncompressed "
                f"(DSFR and its fonts {dsfr / 1024:.0f} KiB, ours {ours / 1024:.0f} KiB); "
                f"DOMContentLoaded {nav['domContentLoadedEventEnd']:.0f} ms"
            )
            context.close()
        browser.close()


if __name__ == "__main__":
    main()
