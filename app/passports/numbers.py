"""Passport numbers and citizens' access codes: short, unambiguous, typed by people.

The alphabet has no 0/O, 1/I/L and no vowels (so no words form by chance), like Pix's codes. A
number is `P-` and eight characters, the last a check character that catches any single typo and
any swap of two neighbours.
"""

from __future__ import annotations

import secrets

ALPHABET = "23456789BCDFGHJKMNPQRSTVWXZ"  # 27 characters
PREFIX = "P-"
BODY = 7


def check_character(body: str) -> str:
    # A weighted sum modulo 27 = 3^3. No weight is a multiple of 3, so a single substitution
    # (a difference of 1..26) always changes the sum; neighbouring weights differ by 1 or 2, so
    # a swap of two neighbours does too.
    total = 0
    for position, char in enumerate(body):
        weight = (1, 2, 4, 5, 7, 8, 10)[position % 7]
        total += weight * ALPHABET.index(char)
    return ALPHABET[total % len(ALPHABET)]


def new_number(prefix: str = PREFIX) -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(BODY))
    return prefix + body + check_character(body)


def normalise_number(raw: str, prefix: str = PREFIX) -> str | None:
    """The canonical number (or code) for what a person typed, or None if it cannot be one."""
    text = raw.strip().upper().replace(" ", "").replace("-", "")
    if text.startswith(prefix[0]):
        text = text[1:]
    # People type O for 0 and I or L for 1; neither exists in numbers, so map them to nothing
    # valid rather than guessing.
    if len(text) != BODY + 1 or any(c not in ALPHABET for c in text):
        return None
    body, check = text[:BODY], text[BODY]
    if check_character(body) != check:
        return None
    return prefix + text


def new_access_code() -> str:
    """Eight characters, shown as two groups of four on the card: about 38 bits, rate-limited."""
    return "".join(secrets.choice(ALPHABET) for _ in range(8))
