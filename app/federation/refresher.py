"""The server's background refresher: the federation trust list, pinned keys, status lists.

One asyncio task per server process (started in app.main's lifespan), whose work runs in a
thread. Every PASSEPORT_TRUST_REFRESH_SECONDS it imports the hub's trust list (when the instance
follows one), unpins the keys that manually pinned issuers no longer publish, releases the
territories' public figures of the periods due (app.observatory.release) and, on a hub, collects
the members' signed figures for the national view; at each tick it refetches the remote status
lists due within the tick, so that requests find them fresh and make no network call. Failures
are logged and journaled by the services; the loop goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence

from sqlalchemy import Engine

from app.core.errors import AppError
from app.core.settings import ConfigurationError, Settings
from app.credentials.statuslist import StatusListError
from app.credentials.verifier import Verifier
from app.federation import fetch, places, stats, store
from app.observatory import release

logger = logging.getLogger(__name__)

MAX_TICK_SECONDS = 60.0


def _log_outcomes(message: str, outcomes: Sequence[stats.Outcome]) -> None:
    logger.info(
        message, extra={"members": len(outcomes), "refused": sum(not o.ok for o in outcomes)}
    )


class Refresher:
    def __init__(self, engine: Engine, settings: Settings, verifier: Verifier) -> None:
        self._engine = engine
        self._settings = settings
        self._verifier = verifier
        self.interval = settings.trust_refresh_interval
        self.tick = min(self.interval, MAX_TICK_SECONDS)
        self._last_import = float("-inf")

    def run_once(self) -> None:
        now = time.monotonic()
        settings = self._settings
        hourly = now - self._last_import >= self.interval
        if hourly:
            self._last_import = now
            if settings.federation_hub_url:
                try:
                    report = store.import_trust_list(self._engine, settings)
                    if report.outcome == "imported":
                        logger.info("trust list imported", extra={"sequence": report.sequence})
                except (AppError, ConfigurationError) as exc:
                    logger.warning("trust list not imported", extra={"why": str(exc)})
            store.prune_manual(self._engine, settings)
            if settings.federation_anchor_key.get_secret_value():
                self.collect_figures()
                self.collect_places()
            elif settings.federation_hub_url:
                self.receive_places()
        self.refresh_status_lists()
        if hourly:
            # Last: the first release of an instance computes ten years of every territory's
            # figures, and status lists must not wait for it.
            self.release_figures()

    def release_figures(self) -> None:
        """Each territory's public figures of the fixed periods due (docs/open-data.md,
        "Releases"), before a hub collects them."""
        try:
            done = release.release(self._engine, self._settings)
        except AppError as exc:
            logger.warning("figures not released", extra={"why": str(exc)})
            return
        periods = sum(len(ids) for ids in done.values())
        if periods:
            logger.info("figures released", extra={"periods": periods})

    def collect_figures(self) -> None:
        """On a hub, the members' signed figures for the national view, at the same pace."""
        self._collect("figures", stats.collect)

    def collect_places(self) -> None:
        """On a hub, the members' signed places for the national directory."""
        self._collect("places", places.collect)

    def _collect(
        self, what: str, collect: Callable[[Engine, Settings], Sequence[stats.Outcome]]
    ) -> None:
        try:
            outcomes = collect(self._engine, self._settings)
        except (AppError, ConfigurationError) as exc:
            logger.warning(f"members' {what} not collected", extra={"why": str(exc)})
            return
        _log_outcomes(f"members' {what} collected", outcomes)

    def receive_places(self) -> None:
        """On a member, the neighbours' places the hub collected, checked with our trust store."""
        _log_outcomes("neighbours' places received", places.receive(self._engine, self._settings))

    def refresh_status_lists(self) -> None:
        with self._engine.connect() as connection:
            snapshot = self._verifier.trusted.current(connection)
        cache = self._verifier.status_cache
        due = time.time() + self.tick
        for issuer in snapshot.issuers.values():
            if issuer.territory_id is not None:
                continue
            for uri in issuer.status_uris:
                held = cache.held(uri)
                if held is not None and held.fresh_until > due and held.kid in issuer.keys:
                    continue
                try:
                    cache.refresh(issuer.iss, issuer.keys, uri)
                except (fetch.FetchError, StatusListError) as exc:
                    logger.warning("status list not refreshed", extra={"uri": uri, "why": str(exc)})

    async def loop(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.run_once)
            except Exception:  # the refresher must outlive a bad round (a database restart…)
                logger.exception("trust refresh failed")
            await asyncio.sleep(self.tick)


def start(engine: Engine, settings: Settings, verifier: Verifier) -> asyncio.Task[None] | None:
    """The refresher's task, or None when PASSEPORT_TRUST_REFRESH_SECONDS turns it off."""
    refresher = Refresher(engine, settings, verifier)
    if refresher.interval <= 0:
        return None
    return asyncio.create_task(refresher.loop(), name="trust-refresher")


async def stop(task: asyncio.Task[None] | None) -> None:
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
