"""Read-only framework API: the whole tree (cached, with ETag) and one skill."""

from __future__ import annotations

import gzip
import hashlib
import threading
import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Header, Path, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine

from app.api.deps import SessionDep
from app.authz import PUBLIC, authorize
from app.core.db import transaction
from app.core.validation import NoNul
from app.framework import service
from app.framework.schemas import FrameworkTree, SkillDetail

router = APIRouter(prefix="/framework", tags=["framework"])


@dataclass
class _Entry:
    revision: str
    body: bytes
    gzipped: bytes
    etag: str


class FrameworkCache:
    """The serialised tree, kept per process and rechecked against the database now and then.

    The tree changes only when a framework file is loaded, yet it is the first thing every client
    fetches; serving it from memory makes it cost about what a static file costs. Every
    ``recheck_seconds`` one small query compares the stored revision, so a load made by another
    process (a migration, ``passeport framework load``) shows within that delay.
    """

    def __init__(self, engine: Engine, recheck_seconds: float) -> None:
        self._engine = engine
        self._recheck = recheck_seconds
        self._entry: _Entry | None = None
        self._checked_at = 0.0
        self._lock = threading.Lock()

    def _refresh(self) -> _Entry:
        with self._lock:
            if self._entry and time.monotonic() - self._checked_at < self._recheck:
                return self._entry
            with transaction(self._engine, write=False) as session:
                revision = service.revision(session)
                if self._entry is None or self._entry.revision != revision:
                    body = service.tree(session).model_dump_json().encode()
                    # Weak: the plain and the gzipped bodies are one representation.
                    etag = 'W/"' + hashlib.sha256(body).hexdigest()[:32] + '"'
                    # Compressed once here: ~20 kB becomes ~4 kB for phones on poor networks.
                    self._entry = _Entry(revision, body, gzip.compress(body, mtime=0), etag)
            self._checked_at = time.monotonic()
            return self._entry

    async def get(self) -> _Entry:
        entry = self._entry
        if entry is not None and time.monotonic() - self._checked_at < self._recheck:
            return entry
        return await run_in_threadpool(self._refresh)


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    # Weak comparison (RFC 9110 §13.1.2): W/"x" matches "x".
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return etag.removeprefix("W/") in tags


@router.get(
    "",
    response_model=FrameworkTree,
    dependencies=[authorize(PUBLIC)],
    responses={304: {"description": "Not modified (If-None-Match matched the ETag)"}},
)
async def get_framework(
    request: Request,
    if_none_match: Annotated[str | None, NoNul, Header(max_length=1024)] = None,
    accept_encoding: Annotated[str | None, NoNul, Header(max_length=1024)] = None,
) -> Response:
    """The whole framework tree: CRCN, DigComp 2.2 with the mapping, and the Premiers pas."""
    cache: FrameworkCache = request.app.state.framework_cache
    entry = await cache.get()
    max_age = request.app.state.settings.framework_cache_seconds
    headers = {
        "ETag": entry.etag,
        "Cache-Control": f"public, max-age={max_age}",
        "Vary": "Accept-Encoding",
    }
    if _matches(if_none_match, entry.etag):
        return Response(status_code=304, headers=headers)
    if accept_encoding and "gzip" in accept_encoding.lower():
        headers["Content-Encoding"] = "gzip"
        return Response(entry.gzipped, media_type="application/json", headers=headers)
    return Response(entry.body, media_type="application/json", headers=headers)


@router.get("/skills/{code}", response_model=SkillDetail, dependencies=[authorize(PUBLIC)])
def get_skill(
    code: Annotated[str, NoNul, Path(max_length=32, pattern=r"^[a-z]+:[A-Za-z0-9.\-]+$")],
    session: SessionDep,
) -> SkillDetail:
    """One skill by its code (``crcn:4.1``, ``digcomp:2.5``, ``pp:PP-12``)."""
    return service.skill_detail(session, code)
