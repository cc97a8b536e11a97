"""``POST /api/v1/verify`` answered below the framework when memory is enough.

The route of app/credentials/router.py is the contract: its rule (``PUBLIC``, app/authz.py), its
body model (``VerifyRequest``, with the input limits), its OpenAPI entry, its problem+json errors.
This plain ASGI layer sits in front of the router and answers the same request the same way when
it can do so from memory alone, which is the steady state of a verifier: a body that
``VerifyRequest`` accepts, and a verdict that needs no SQL and no network
(:func:`app.credentials.router.verdict_from_memory`, which the route calls too). Anything else, an
invalid or non-JSON body, a typed code not yet seen, a snapshot to rebuild, a remote issuer's
status list to fetch, an unexpected content type, goes on to the route with the body replayed,
unchanged: errors are always the route's.

What it saves is the framework's share of the cheapest useful request of the instance: route
matching over every route, dependency solving, the request object, the validation wrapper and the
response class (measured: about 45 % of a verification's server CPU, docs/performance.md). The
request id, the access log and the body size limit stay: this layer runs inside
:class:`app.core.middleware.RequestContextMiddleware`.
"""

from __future__ import annotations

import orjson
from pydantic import ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from app.core.middleware import replay_body
from app.credentials.router import verdict_from_memory
from app.credentials.schemas import VerifyRequest
from app.credentials.verifier import Verifier

_JSON = b"application/json"


class FastVerify:
    """Answer ``POST path`` from memory when possible; pass everything else on untouched."""

    def __init__(self, app: ASGIApp, *, path: str, verifier: Verifier) -> None:
        self.app = app
        self.path = path
        self.verifier = verifier

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] != self.path
            or scope["method"] != "POST"
            or not _json_body(scope)
        ):
            await self.app(scope, receive, send)
            return
        # The body is bounded already (RequestContextMiddleware refused a longer one).
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client left
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        answer = self._answer(body)
        if answer is None:
            await self.app(scope, replay_body(body, receive), send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-length", str(len(answer)).encode("latin-1")),
                    (b"content-type", _JSON),
                ],
            }
        )
        await send({"type": "http.response.body", "body": answer})

    def _answer(self, body: bytes) -> bytes | None:
        try:
            # FastAPI parses with the json module then validates; orjson refuses a few documents
            # json accepts (NaN, huge integers, lone surrogates): those go to the route.
            data = VerifyRequest.model_validate(orjson.loads(body))
        except (orjson.JSONDecodeError, ValidationError):
            return None
        described = verdict_from_memory(self.verifier, data)
        if described is None:
            return None
        return orjson.dumps(described)


def _json_body(scope: Scope) -> bool:
    """Whether FastAPI would read this body as JSON: no content type, or application/json."""
    for name, value in scope["headers"]:
        if name == b"content-type":
            media: bytes = value.split(b";", 1)[0].strip().lower()
            return media == _JSON
    return True
