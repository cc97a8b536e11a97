"""The addresses the service prints: on the access card, in the sign-in e-mail, on attestations.

One place, because paper outlives deployments: a card printed today is scanned in five years,
so these paths are stable, short and French-readable, and each one is a page the server serves
(app/web.py maps them), not a route only a script knows about.

What identifies someone travels in the fragment (after ``#``): browsers never send it, so a
passport number, a sign-in token or a credential's code stays out of the server's and any
proxy's logs, and out of the Referer header. The page reads it, then drops it from the address
bar (frontend/static/js/citizen.js, verify.js).
"""

from __future__ import annotations

from urllib.parse import quote

CITIZEN_PAGE = "/citoyen"
VERIFIER_PAGE = "/verifier"
ACCOUNT_PAGE = "/compte"


def _base(public_url: str) -> str:
    return public_url.rstrip("/")


def citizen_page(public_url: str) -> str:
    """The citizen's sign-in, as printed for someone to type it."""
    return f"{_base(public_url)}{CITIZEN_PAGE}"


def citizen_sign_in(public_url: str, number: str) -> str:
    """The card's QR code: the citizen's sign-in with the number filled in (never the code)."""
    return f"{_base(public_url)}{CITIZEN_PAGE}#numero={quote(number, safe='-')}"


def citizen_link(public_url: str, token: str) -> str:
    """The e-mailed one-time link: opening it signs the citizen in."""
    return f"{_base(public_url)}{CITIZEN_PAGE}#lien={quote(token, safe='-_')}"


def verifier(public_url: str) -> str:
    """Where a credential's code is typed, as printed for someone to type it."""
    return f"{_base(public_url)}{VERIFIER_PAGE}"


def verifier_code(public_url: str, code: str) -> str:
    """The verifier with a credential's code filled in and checked (the attestation's link)."""
    return f"{_base(public_url)}{VERIFIER_PAGE}#code={quote(code, safe='-')}"


def account_invitation(public_url: str, code: str) -> str:
    """An invitation to join a territory's team: the page to choose one's password."""
    return f"{_base(public_url)}{ACCOUNT_PAGE}#invitation={quote(code, safe='-_')}"


def account_reset(public_url: str, code: str) -> str:
    """A password reset: the page to choose a new password."""
    return f"{_base(public_url)}{ACCOUNT_PAGE}#reinitialisation={quote(code, safe='-_')}"
