"""The web interface: its pages, their catalogues and static files, with the headers they need.

Pages are plain HTML files in ``frontend/`` that load ES modules from ``/static/js`` (no build
step; docs/frontend.md says why). A page whose file is not there yet answers 404 problem+json, so
the routes can be declared (and covered by the permission matrix) before every page exists.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from app.authz import PUBLIC, authorize
from app.core import addresses
from app.core.errors import NotFound

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

# "Près de moi" asks the browser for its position (used in the page only, never sent).
PAGE_EXTRA_HEADERS: dict[str, dict[str, str]] = {
    "directory.html": {
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(self), payment=()"
    },
}

LANGUAGES = ("fr", "en")

# No inline script or style anywhere: a script injected into a page cannot run. The verifier
# draws camera frames (blob: media, data:/blob: images) and runs a service worker of this origin.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
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


def _add_page(app: FastAPI, url: str, filename: str) -> None:
    path = FRONTEND_DIR / filename

    extra = PAGE_EXTRA_HEADERS.get(filename)

    async def page() -> FileResponse:
        return _file(path, "text/html; charset=utf-8", extra)

    page.__name__ = f"page_{url.strip('/').replace('-', '_') or 'home'}"
    app.add_api_route(
        url,
        page,
        methods=["GET"],
        include_in_schema=False,
        dependencies=[authorize(PUBLIC)],
        response_class=FileResponse,
    )


def mount_frontend(app: FastAPI) -> None:
    """Pages, text catalogues, the verifier's service worker and the static files."""
    dsfr = FRONTEND_DIR / "node_modules" / "@gouvfr" / "dsfr" / "dist"
    # The design system changes only with its npm version: a day in the browser's cache saves
    # a dozen revalidations per page on a slow line. Our own scripts must match the page that
    # loads them, so they are revalidated (ETag) like the pages.
    if dsfr.is_dir():
        app.mount(
            "/static/dsfr",
            _Static(directory=dsfr, cache_control="public, max-age=86400"),
            name="dsfr",
        )
    else:
        logger.warning("DSFR assets missing; run `make install` (npm ci in frontend/)")
    # The verifier's QR decoder where the browser has no BarcodeDetector; mounted before
    # /static, which would otherwise answer for it.
    jsqr = FRONTEND_DIR / "node_modules" / "jsqr" / "dist"
    if jsqr.is_dir():
        app.mount(
            "/static/vendor/jsqr",
            _Static(directory=jsqr, cache_control="public, max-age=86400"),
            name="jsqr",
        )
    # The outlines of the departments for the directory's map, drawn in the page: no tile server.
    departments = FRONTEND_DIR / "node_modules" / "@svg-maps" / "france.departments"
    if departments.is_dir():
        app.mount(
            "/static/vendor/france-departments",
            _Static(directory=departments, cache_control="public, max-age=86400"),
            name="france-departments",
        )
    app.mount(
        "/static",
        _Static(directory=FRONTEND_DIR / "static", cache_control="no-cache"),
        name="static",
    )

    for url, filename in PAGES.items():
        _add_page(app, url, filename)

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
        # Served from the root so that it may control /verify (the scope cannot exceed the
        # script's own folder without this header).
        return _file(
            FRONTEND_DIR / "static" / "js" / "verify-sw.js",
            "text/javascript; charset=utf-8",
            {"Service-Worker-Allowed": "/"},
        )
