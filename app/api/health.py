"""Liveness and readiness, for the orchestrator and the load balancer."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError

from app.api.deps import EngineDep
from app.authz import PUBLIC, authorize
from app.core.errors import AppError, DatabaseUnavailable
from app.core.migrations import current_revision, head_revision

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    database: str
    migration: str | None
    head: str | None


class NotReady(AppError):
    status, code, title = 503, "not_ready", "Not ready"


@router.get("/healthz", response_model=Health, dependencies=[authorize(PUBLIC)])
async def healthz() -> Health:
    """The process is up. Touches nothing else: also the benchmarks' baseline endpoint."""
    return Health(status="ok")


@router.get("/readyz", response_model=Readiness, dependencies=[authorize(PUBLIC)])
async def readyz(engine: EngineDep) -> Readiness:
    """The database answers and its schema is at the migrations' head."""

    def probe() -> str | None:
        with engine.connect() as conn:
            return current_revision(conn)

    try:
        current = await run_in_threadpool(probe)
    except SQLAlchemyError:
        # The same answer as any request meeting the outage, with the same Retry-After.
        raise DatabaseUnavailable(
            "The database cannot be reached.", database="unreachable"
        ) from None
    head = head_revision()
    if current != head:
        raise NotReady(
            "The database schema is not at the latest migration; run `passeport db upgrade`.",
            database="ok",
            migration=current,
            head=head,
        )
    return Readiness(status="ready", database="ok", migration=current, head=head)
