"""The directory's optional tile layer as the server sets it: off by default (the pages and their
CSP as every page's), on with PASSEPORT_DIRECTORY_TILE_URL (the directory's CSP allows images
from that origin only, and the page reads the template from the map's data attributes)."""

from __future__ import annotations

import html
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from app.main import create_app
from app.web import PAGES
from tests.conftest import make_settings

TILES = "https://tiles.example.org/osm/{z}/{x}/{y}.png"
ATTRIBUTION = "© OpenStreetMap contributors <script>"


def _img_src(response_csp: str) -> list[str]:
    for directive in response_csp.split(";"):
        words = directive.split()
        if words and words[0] == "img-src":
            return words[1:]
    raise AssertionError(f"no img-src in {response_csp}")


@pytest.fixture(scope="module")
def tiled(database_url: str) -> Iterator[TestClient]:
    settings = make_settings(
        database_url, directory_tile_url=TILES, directory_tile_attribution=ATTRIBUTION
    )
    app = create_app(settings, configure_logs=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
    app.state.engine.dispose()


def test_without_a_tile_url_no_page_allows_another_origin(client: TestClient) -> None:
    for url in sorted(PAGES):
        response = client.get(url)
        assert response.status_code == 200, url
        assert _img_src(response.headers["content-security-policy"]) == [
            "'self'",
            "data:",
            "blob:",
        ], url
    page = client.get("/lieux").text
    assert 'data-tile-url=""' in page
    assert 'data-tile-attribution=""' in page


@pytest.mark.parametrize("url", ["/lieux", "/lieu"])
def test_with_a_tile_url_the_directory_allows_its_origin_only(tiled: TestClient, url: str) -> None:
    response = tiled.get(url)
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert _img_src(csp) == ["'self'", "data:", "blob:", "https://tiles.example.org"]
    # Nothing else is widened: scripts, styles and connections stay on this server.
    for directive in ("script-src 'self'", "style-src 'self'", "connect-src 'self'"):
        assert f"{directive};" in csp
    assert f'data-tile-url="{html.escape(TILES)}"' in response.text
    # The attribution is text: written escaped into the attribute.
    assert 'data-tile-attribution="© OpenStreetMap contributors &lt;script&gt;"' in response.text


def test_with_a_tile_url_the_other_pages_are_unchanged(tiled: TestClient) -> None:
    # The directory's own headers are kept (geolocation for « près de moi »).
    assert "geolocation=(self)" in tiled.get("/lieux").headers["permissions-policy"]
    for url in sorted(set(PAGES) - {"/lieux", "/lieu"}):
        other = tiled.get(url)
        assert other.status_code == 200, url
        assert "tiles.example.org" not in other.headers["content-security-policy"], url
        assert "tiles.example.org" not in other.text, url


def test_leaflet_is_served_from_its_package(tiled: TestClient) -> None:
    script = tiled.get("/static/vendor/leaflet/leaflet-src.esm.js")
    assert script.status_code == 200
    assert "export" in script.text
    assert "Leaflet" in script.text
    assert tiled.get("/static/vendor/leaflet/leaflet.css").status_code == 200


@pytest.mark.parametrize(
    ("url", "attribution"),
    [
        ("http://tiles.example.org/{z}/{x}/{y}.png", "x"),  # plain http off this machine
        ("https://{s}.tile.example.org/{z}/{x}/{y}.png", "x"),  # more than one origin
        ("https://tiles.example.org/{z}/{x}.png", "x"),  # no {y}
        ("https://tiles.example.org/{z}/{x}/{y}.png; script-src *", "x"),  # ends the directive
        ("https://user:pw@tiles.example.org/{z}/{x}/{y}.png", "x"),  # credentials in the page
        ("javascript:alert(1)//{z}/{x}/{y}", "x"),
        ("https://tiles.example.org/{z}/{x}/{y}.png", ""),  # no attribution
        ("https://tiles.example.org/{z}/{x}/{y}.png", "two\nlines"),
    ],
)
def test_a_tile_setting_that_cannot_be_used_stops_the_start(
    database_url: str, url: str, attribution: str
) -> None:
    with pytest.raises(ValidationError):
        make_settings(database_url, directory_tile_url=url, directory_tile_attribution=attribution)


def test_a_local_tile_server_over_http_is_accepted(database_url: str) -> None:
    settings = make_settings(
        database_url,
        directory_tile_url="http://127.0.0.1:8700/{z}/{x}/{y}.png",
        directory_tile_attribution="Test",
    )
    assert settings.directory_tile_origin == "http://127.0.0.1:8700"
    assert make_settings(database_url).directory_tile_origin == ""
