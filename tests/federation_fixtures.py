"""A tiny real HTTP server on 127.0.0.1, in a thread, serving what a test puts in it: an issuer's
key set, a hostile one (huge, not JSON), a status list, a trust list."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from joserfc.jwk import ECKey

from app.credentials.format import public_jwk


@dataclass
class Answer:
    body: bytes
    status: int = 200
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    # False: no Content-Length, the body ends when the connection closes (HTTP/1.0), so only a
    # cap counted while reading can stop a huge one.
    declare_length: bool = True


class Site:
    """Paths to answers; anything else is a 404."""

    def __init__(self, server: ThreadingHTTPServer) -> None:
        self.server = server
        self.answers: dict[str, Answer] = {}
        self.hits: list[str] = []

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def put(self, path: str, body: bytes | str | Any, **kwargs: Any) -> None:
        if isinstance(body, str):
            body = body.encode()
        elif not isinstance(body, bytes):
            body = json.dumps(body).encode()
        self.answers[path] = Answer(body, **kwargs)

    def put_keys(self, issuer_path: str, *keys: ECKey) -> list[str]:
        """Publish a key set at {issuer}/.well-known/jwks.json; returns the kids."""
        jwks = {"keys": [public_jwk(k) for k in keys]}
        self.put(f"{issuer_path}/.well-known/jwks.json", jwks)
        return [k["kid"] for k in jwks["keys"]]


def _handler(site_ref: list[Site]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            site = site_ref[0]
            site.hits.append(self.path)
            answer = site.answers.get(self.path)
            if answer is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            if answer.declare_length:
                self.send_header("Content-Length", str(len(answer.body)))
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.end_headers()
            # The client may stop reading at its cap: what a test of a huge answer wants.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(answer.body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@contextmanager
def serving() -> Iterator[Site]:
    ref: list[Site] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(ref))
    server.daemon_threads = True
    site = Site(server)
    ref.append(site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


_shared: Site | None = None
_shared_lock = threading.Lock()


def shared_site() -> Site:
    """One server for the whole test process (the permission matrix's trust rows)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            ref: list[Site] = []
            server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(ref))
            server.daemon_threads = True
            _shared = Site(server)
            ref.append(_shared)
            threading.Thread(target=server.serve_forever, daemon=True).start()
        return _shared


MATRIX_KEY = ECKey.generate_key("P-256", private=True)


def matrix_issuer() -> tuple[str, list[str]]:
    """An issuer URL on the shared server, with its key set published; and its kids."""
    site = shared_site()
    kids = site.put_keys("/t/elsewhere", MATRIX_KEY)
    return f"{site.url}/t/elsewhere", kids
