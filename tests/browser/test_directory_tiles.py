"""The directory's optional tile layer in Chromium, with a tile server of the test's own on
127.0.0.1: set, the map is its tiles with the listed places as markers; unset, no tile request."""

from __future__ import annotations

import re
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import _new_context, _watched, check_axe, screenshot
from tests.browser.test_directory import places  # noqa: F401 (the fixture, used by name)
from tests.conftest import free_port
from tests.servers import Server, passeport_env, running_server

ATTRIBUTION = "© Tuiles du test"


def _png() -> bytes:
    """A grey 256 px PNG made here: a tile the browser decodes (the page counts loaded tiles)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    header = (256).to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])  # 8-bit greyscale
    rows = b"".join(b"\x00" + b"\xc8" * 256 for _ in range(256))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


class TileServer:
    """Answers one PNG for every /{z}/{x}/{y}.png, and remembers the paths it was asked."""

    TILE = re.compile(r"^/\d+/-?\d+/-?\d+\.png$")

    def __init__(self) -> None:
        self.asked: list[str] = []
        png = _png()
        asked = self.asked

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                asked.append(self.path)
                if not TileServer.TILE.match(self.path):
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(png)))
                self.end_headers()
                self.wfile.write(png)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def made(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The places of the directory's browser tests (their fixture ``places``, by name)."""
    found: dict[str, Any] = request.getfixturevalue("places")
    return found


@pytest.fixture(scope="module")
def tiles() -> Iterator[TileServer]:
    server = TileServer()
    yield server
    server.close()


@pytest.fixture(scope="module")
def tiled_server(
    database_url: str, tiles: TileServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    log: Path = tmp_path_factory.mktemp("tiled") / "server.log"
    env = passeport_env(
        database_url,
        PASSEPORT_DIRECTORY_TILE_URL=f"{tiles.url}/{{z}}/{{x}}/{{y}}.png",
        PASSEPORT_DIRECTORY_TILE_ATTRIBUTION=ATTRIBUTION,
    )
    with running_server(env, free_port(), log) as server:
        yield server


@pytest.fixture
def tiled_page(browser: Browser, tiled_server: Server) -> Iterator[Page]:
    context = _new_context(browser, tiled_server)
    page, problems = _watched(context)
    yield page
    context.close()
    # No script error, and no Content-Security-Policy refusal (the tiles' origin is allowed).
    assert not problems, "\n".join(problems)


@pytest.mark.usefixtures("places")
def test_the_tile_layer_draws_the_places_on_the_configured_tiles(
    tiled_page: Page, tiles: TileServer, tiled_server: Server
) -> None:
    page = tiled_page
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    tiles.asked.clear()
    page.goto("/lieux")
    expect(page.locator("#directory-status")).to_contain_text("3 lieux trouvés")
    # The map is not shown yet: no tile asked for, Leaflet not even loaded.
    assert tiles.asked == []
    assert not [url for url in asked if "leaflet" in url]
    page.get_by_role("button", name="Afficher la carte").click()
    expect(page.get_by_role("heading", name="Carte des lieux")).to_be_visible()
    # One marker per place of the list (all three have a position).
    expect(page.locator("#directory-map-canvas path.directory-marker")).to_have_count(3)
    expect(page.locator("#directory-map-canvas img.leaflet-tile-loaded").first).to_be_visible()
    assert tiles.asked, "no tile was asked for"
    assert all(TileServer.TILE.match(path) for path in tiles.asked), tiles.asked
    expect(page.locator(".leaflet-control-attribution")).to_have_text(ATTRIBUTION)
    # The departments' list stays below the map, for every reader.
    expect(page.locator("#directory-map-list a")).to_have_text(
        ["Nouvelle-Calédonie : 2 lieux", "Guyane : 1 lieu"]
    )
    check_axe(page, "directory with the tile layer")
    # Only this server and the configured tile server were asked anything.
    assert all(url.startswith((tiled_server.url, tiles.url)) for url in asked), asked
    # A search redraws the markers: the places of the list.
    search = page.get_by_label("Commune, code postal ou nom du lieu")
    search.fill("98860")
    search.press("Enter")
    expect(page.locator("#directory-list li h3")).to_have_text(["Maison des services de Koné"])
    expect(page.locator("#directory-map-canvas path.directory-marker")).to_have_count(1)
    # A 360 px phone: the map fits, the page scrolls vertically only.
    page.set_viewport_size({"width": 360, "height": 740})
    search.fill("")
    search.press("Enter")
    expect(page.locator("#directory-map-canvas path.directory-marker")).to_have_count(3)
    check_axe(page, "directory with the tile layer, 360 px")
    screenshot(page, "directory-tiles-360")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


def test_a_places_page_shows_it_on_the_tiles(
    tiled_page: Page, tiles: TileServer, made: dict[str, Any]
) -> None:
    page = tiled_page
    tiles.asked.clear()
    page.goto(f"/lieu?id={made['kone'].id}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Maison des services de Koné")
    expect(page.locator("#place-where #place-map path.directory-marker")).to_have_count(1)
    expect(page.locator("#place-map img.leaflet-tile-loaded").first).to_be_visible()
    assert tiles.asked, "no tile was asked for"
    expect(page.locator("#place-map .leaflet-control-attribution")).to_have_text(ATTRIBUTION)
    check_axe(page, "place page with the tile layer")
    # A click on the marker opens its link (the name as text, no English close button).
    page.locator("#place-map path.directory-marker").click()
    expect(page.locator("#place-map .leaflet-popup a")).to_have_text(
        ["Maison des services de Koné"]
    )
    screenshot(page, "place-tiles-1280")


@pytest.mark.usefixtures("places")
def test_the_tile_layer_in_english(
    browser: Browser, tiled_server: Server, tiles: TileServer
) -> None:
    context = _new_context(browser, tiled_server, "en")
    page, problems = _watched(context)
    page.goto("/lieux")
    expect(page.locator("#directory-status")).to_contain_text("3 places found")
    page.get_by_role("button", name="Show the map").click()
    expect(page.get_by_role("heading", name="Map of the places")).to_be_visible()
    expect(page.get_by_role("button", name="Zoom in")).to_be_visible()
    expect(page.locator("#directory-map-canvas path.directory-marker")).to_have_count(3)
    check_axe(page, "directory with the tile layer, in English")
    screenshot(page, "directory-tiles-1280-en")
    context.close()
    assert not problems, "\n".join(problems)


def test_without_the_setting_no_tile_is_asked_for(
    page: Page, tiles: TileServer, live_server: Server, made: dict[str, Any]
) -> None:
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    tiles.asked.clear()
    page.goto("/lieux")
    expect(page.locator("#directory-status")).to_contain_text("3 lieux trouvés")
    page.get_by_role("button", name="Afficher la carte").click()
    expect(page.locator("#directory-map svg.directory-outlines path")).to_have_count(96)
    expect(page.get_by_role("heading", name="Carte des départements")).to_be_visible()
    expect(page.locator(".leaflet-container")).to_have_count(0)
    assert tiles.asked == []
    assert all(url.startswith(live_server.url) for url in asked), asked
    assert not [url for url in asked if "leaflet" in url]
    # Nor on a place's page.
    page.goto(f"/lieu?id={made['bernheim'].id}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Médiathèque Bernheim")
    expect(page.locator("#place-map")).to_have_count(0)
    assert tiles.asked == []
    assert all(url.startswith(live_server.url) for url in asked), asked
