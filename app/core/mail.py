"""Outgoing messages. No mail server in development: the console backend prints them.

Printed on the server's terminal, not logged: the links they carry are secrets, and logs travel.
"""

from __future__ import annotations

import sys

from app.core.settings import Settings


def send(settings: Settings, *, to: str, subject: str, body: str) -> bool:
    """Deliver a message; False when no backend can (the caller then shows the link itself)."""
    if settings.mail_backend == "console":
        print(f"\n--- mail to {to}: {subject}\n{body}\n---", file=sys.stderr, flush=True)
        return True
    return False
