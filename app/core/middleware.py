"""ASGI middleware: request id, access log and the request body size limit.

Written as plain ASGI rather than BaseHTTPMiddleware: it runs on every request, and the plain form
costs little and does not buffer streaming responses.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import problem_response
from app.core.logging import reset_request_id, set_request_id
from app.core.problems import Lang, negotiate

access_logger = logging.getLogger("app.access")
logger = logging.getLogger("app.errors")

# A caller (a reverse proxy) may pass its own id; accept it only if it is short and plain, since it
# ends up in every log line.
_INCOMING_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestContextMiddleware:
    """Give each request an id (X-Request-ID), log it once it is answered, and bound its body."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        headers = dict(scope.get("headers") or [])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _INCOMING_ID.match(incoming) else uuid.uuid4().hex
        token = set_request_id(request_id)
        started = time.perf_counter()
        status_holder: dict[str, int] = {"status": 500}
        started_response = False

        async def send_with_id(message: Message) -> None:
            nonlocal started_response
            if message["type"] == "http.response.start":
                started_response = True
                status_holder["status"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"x-request-id", request_id.encode("latin-1")),
                ]
            await send(message)

        try:
            receive_bounded = await self._bounded_receive(scope, receive, headers, send_with_id)
            if receive_bounded is not None:
                await self.app(scope, receive_bounded, send_with_id)
        except Exception:
            # Caught here rather than by Starlette's outermost handler so that the log line and
            # the answer both carry the request id. The traceback stays in the log.
            logger.exception("unhandled error", extra={"path": scope.get("path")})
            if not started_response:
                await problem_response(
                    status=500,
                    code="internal_error",
                    title="Internal error",
                    detail="An unexpected error occurred; quote the request id when reporting it.",
                    instance=scope.get("path"),
                    lang=_scope_lang(scope),
                )(scope, receive, send_with_id)
        finally:
            access_logger.info(
                "request",
                extra={
                    "method": scope.get("method"),
                    # The path only: query strings can carry one-time tokens.
                    "path": scope.get("path"),
                    "status": status_holder["status"],
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            reset_request_id(token)

    async def _bounded_receive(
        self, scope: Scope, receive: Receive, headers: dict[bytes, bytes], send: Send
    ) -> Receive | None:
        """Return the receive callable to use, or None once a 413 has been sent."""
        length = headers.get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                declared = -1
            if declared < 0 or declared > self.max_body_bytes:
                await self._refuse(scope, send)
                return None
            return receive
        if scope.get("method") in {"GET", "HEAD", "OPTIONS", "DELETE"}:
            return receive
        # A chunked body has no declared length: read it up to the limit, then replay it.
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return receive
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await self._refuse(scope, send)
                return None
            chunks.append(chunk)
            more = message.get("more_body", False)
        return replay_body(b"".join(chunks), receive)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        response = problem_response(
            status=413,
            code="payload_too_large",
            title="Request body too large",
            detail=f"The request body exceeds {self.max_body_bytes} bytes.",
            instance=scope.get("path"),
            lang=_scope_lang(scope),
        )

        async def no_body() -> dict[str, Any]:
            return {"type": "http.disconnect"}

        await response(scope, no_body, send)


def replay_body(body: bytes, receive: Receive) -> Receive:
    """A receive that gives ``body`` (already read) as one message, then the client's own."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        message: Message = await receive()
        return message

    return replay


def _scope_lang(scope: Scope) -> Lang:
    for name, value in scope.get("headers", ()):
        if name == b"accept-language":
            return negotiate(value.decode("latin-1"))
    return negotiate(None)
