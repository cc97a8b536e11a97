"""Passport numbers and citizens' access codes: short, unambiguous, typed by people.

The alphabet has no 0/O, 1/I/L and no vowels (so no words form by chance), like Pix's codes. A
number is `P-` and eight characters, the last a check character that catches any single typo and
any swap of two neighbours: :func:`check_number` says which mistake a typed number holds, so that
people read "a typing mistake" rather than "malformed". frontend/static/js/common.js
(``checkNumber``) runs the same check in the browser; tests/browser/test_citizen.py compares them.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from enum import StrEnum

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


class Mistake(StrEnum):
    """Why what a person typed is not a number (or code), to tell them in plain words."""

    LENGTH = "length"  # not 8 characters after the prefix
    CHARACTER = "character"  # a character no number has (O, I, L, 0, 1, a vowel…)
    TYPO = "typo"  # the right shape, but the check character caught a typing mistake


@dataclass(frozen=True)
class Checked:
    number: str | None  # the canonical number, when it is one
    mistake: Mistake | None = None
    length: int = 0  # characters typed after the prefix
    characters: str = ""  # those that no number has, in the order typed

    def explain(self, what: str = "passport number") -> str:
        """One English sentence for the command line and the API's reasons."""
        size = BODY + 1
        if self.mistake is Mistake.LENGTH:
            return f"a {what} has {size} characters after its prefix, not {self.length}"
        if self.mistake is Mistake.CHARACTER:
            return f"a {what} never holds {', '.join(self.characters)} (check the card again)"
        if self.mistake is Mistake.TYPO:
            return f"this {what} has a typing mistake: its last character does not match the others"
        return f"a valid {what}"


def check_number(raw: str, prefix: str = PREFIX) -> Checked:
    """What a person typed, checked: the canonical number, or the mistake it holds."""
    text = raw.strip().upper().replace(" ", "").replace("-", "")
    if text.startswith(prefix[0]):
        text = text[1:]
    if len(text) != BODY + 1:
        return Checked(None, Mistake.LENGTH, length=len(text))
    # People type O for 0 and I or L for 1; neither exists in numbers, so map them to nothing
    # valid rather than guessing.
    wrong = "".join(dict.fromkeys(c for c in text if c not in ALPHABET))
    if wrong:
        return Checked(None, Mistake.CHARACTER, length=len(text), characters=wrong)
    if check_character(text[:BODY]) != text[BODY]:
        return Checked(None, Mistake.TYPO, length=len(text))
    return Checked(prefix + text, length=len(text))


def normalise_number(raw: str, prefix: str = PREFIX) -> str | None:
    """The canonical number (or code) for what a person typed, or None if it cannot be one."""
    return check_number(raw, prefix).number


def new_access_code() -> str:
    """Eight characters, shown as two groups of four on the card: about 38 bits, rate-limited."""
    return "".join(secrets.choice(ALPHABET) for _ in range(8))
