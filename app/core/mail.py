"""Outgoing messages. No mail server in development: the console backend prints them.

Printed on the server's terminal, not logged: the links they carry are secrets, and logs travel.
The terminal is often a log too (a container's output, a systemd journal), where an erasure
cannot reach: so the recipient's address is printed masked (:func:`mask_address`), and the
messages themselves carry no citizen's name.
"""

from __future__ import annotations

import sys

from app.core.settings import Settings


def mask_address(address: str) -> str:
    """``zephyrine.q@example.org`` → ``z…@e….org``: enough to tell two test mailboxes apart."""
    local, at, domain = address.strip().rpartition("@")
    if not at:
        local, domain = domain, ""
    host, dot, tld = domain.rpartition(".")
    if not dot:
        host, tld = tld, ""
    masked = f"{local[:1]}…@{host[:1]}…" if at else f"{local[:1]}…"
    return masked + (f".{tld}" if tld and at else "")


def send(settings: Settings, *, to: str, subject: str, body: str) -> bool:
    """Deliver a message; False when no backend can (the caller then shows the link itself)."""
    if settings.mail_backend == "console":
        print(
            f"\n--- mail to {mask_address(to)}: {subject}\n{body}\n---", file=sys.stderr, flush=True
        )
        return True
    return False
