"""The FastAPI application factory.

``uvicorn --factory app.main:create_app`` or ``passeport serve``; tests call create_app(settings).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI

from app import __version__, web
from app.accounts import oidc_router
from app.accounts import router as accounts_router
from app.accounts.authn import BearerCache
from app.api import health
from app.audit import router as audit_router
from app.audit import service as audit
from app.authz import check_routes
from app.core.changes import ChangeFeed
from app.core.db import create_db_engine, create_loop_engine
from app.core.errors import install_error_handlers
from app.core.logging import configure_logging
from app.core.middleware import RequestContextMiddleware
from app.core.settings import Settings, get_settings
from app.credentials import keys_router
from app.credentials import router as credentials_router
from app.credentials.fast_verify import FastVerify
from app.credentials.verifier import Verifier
from app.directory import router as directory_router
from app.federation import refresher
from app.federation import router as federation_router
from app.framework import router as framework_router
from app.framework.router import FrameworkCache
from app.observatory import router as observatory_router
from app.observatory import tally
from app.passports import documents_router
from app.passports import router as passports_router
from app.structures import router as structures_router
from app.territory import router as territory_router
from app.wallet import router as wallet_router

logger = logging.getLogger("app")

API_PREFIX = "/api/v1"
# The public URLs a territory prints or publishes (issuer, key set, wallets) are not under the API.
AT_ROOT = ""

# Every router and the prefix it is mounted under, in the order the OpenAPI document lists them.
_ROUTERS: tuple[tuple[APIRouter, str], ...] = (
    (health.router, AT_ROOT),
    # At the root: the key set lives under the issuer URL ({PUBLIC_URL}/t/{code}), not the API.
    (keys_router.router, AT_ROOT),
    (credentials_router.public_router, AT_ROOT),
    (framework_router.router, API_PREFIX),
    (territory_router.router, API_PREFIX),
    (accounts_router.router, API_PREFIX),
    (oidc_router.router, API_PREFIX),
    (audit_router.router, API_PREFIX),
    (passports_router.router, API_PREFIX),
    (documents_router.router, API_PREFIX),
    (structures_router.router, API_PREFIX),
    (directory_router.router, API_PREFIX),
    (directory_router.national_router, API_PREFIX),
    (directory_router.issuer_router, AT_ROOT),
    (credentials_router.router, API_PREFIX),
    (federation_router.router, API_PREFIX),
    (federation_router.hub_router, API_PREFIX),
    (observatory_router.router, API_PREFIX),
    (observatory_router.national_router, API_PREFIX),
    # At the root too: a territory's signed figures, under its issuer URL.
    (observatory_router.issuer_router, AT_ROOT),
    # At the root: each territory's credential issuer for wallets, {PUBLIC_URL}/wallet/{code}.
    (wallet_router.issuer_router, AT_ROOT),
    (wallet_router.oauth_router, AT_ROOT),
    (wallet_router.router, API_PREFIX),
)


def create_app(settings: Settings | None = None, *, configure_logs: bool = True) -> FastAPI:
    settings = settings or get_settings()
    if configure_logs:
        configure_logging(settings.log_level, settings.log_format)
    settings.check_secrets()
    engine = create_db_engine(settings)
    loop_engine = create_loop_engine(settings, engine)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        logger.info("started", extra={"env": settings.env.value, "public_url": settings.public_url})
        await asyncio.to_thread(feed.start)
        flusher = asyncio.create_task(tally.flush_periodically(engine))
        trust_refresher = refresher.start(engine, settings, app.state.verifier)
        pruner = asyncio.create_task(audit.prune_periodically(engine, settings), name="audit")
        yield
        pruner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pruner
        await refresher.stop(trust_refresher)
        await tally.stop(flusher, engine)
        feed.close()
        if loop_engine is not None:
            await loop_engine.dispose()
        engine.dispose()

    app = FastAPI(
        title="Passeport numérique",
        version=__version__,
        description="Digital-skills passports, mediators' validations and signed QR credentials.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.loop_engine = loop_engine
    # Requests queue for a connection and, on SQLite, for the one writer's place on the event
    # loop rather than in threads: see app.api.deps._gates.
    app.state.session_slots = asyncio.Semaphore(
        max(1, settings.db_pool_size + settings.db_max_overflow - 2)
    )
    app.state.write_gate = asyncio.Lock() if engine.dialect.name == "sqlite" else None
    app.state.framework_cache = FrameworkCache(engine, settings.framework_recheck_seconds)
    # What changed in the database, learnt without a query per request (app/core/changes.py).
    feed = ChangeFeed(engine)
    app.state.change_feed = feed
    app.state.verifier = Verifier(engine, settings, feed)
    app.state.bearer_cache = BearerCache(feed)

    install_error_handlers(app)
    # Inside the request context (added first, so it runs after it): the public verification
    # answered from memory before routing, the route's contract unchanged (fast_verify.py).
    app.add_middleware(FastVerify, path=f"{API_PREFIX}/verify", verifier=app.state.verifier)
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes)

    for router, prefix in _ROUTERS:
        app.include_router(router, prefix=prefix)
    web.mount_frontend(app, settings)
    check_routes(app)
    _path_parameters_in_path_order(app)
    return app


def _path_parameters_in_path_order(app: FastAPI) -> None:
    """List each operation's path parameters in the order its path names them.

    FastAPI lists a route's own parameters before those of its dependencies, so a route whose
    passport is loaded by a dependency (app/passports/deps.py) would list ``{credential_id}``
    before ``{passport_id}``; generated clients take parameters in the listed order.
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            for path, item in schema.get("paths", {}).items():
                names = re.findall(r"{([^}:]+)", path)
                for operation in item.values():
                    params = operation.get("parameters") if isinstance(operation, dict) else None
                    if params:
                        path_params = sorted(
                            (p for p in params if p.get("in") == "path"),
                            key=lambda p: names.index(p["name"]) if p["name"] in names else 0,
                        )
                        others = iter(p for p in params if p.get("in") != "path")
                        ordered = iter(path_params)
                        operation["parameters"] = [
                            next(ordered) if p.get("in") == "path" else next(others) for p in params
                        ]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
