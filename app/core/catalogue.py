"""The web UI's text catalogues (``frontend/i18n/{fr,en}.json``), for the few places where the
server itself writes for people (the PDF copy of a passport): one catalogue, so that a citizen
reads the same words on the page and on paper."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Literal

CATALOGUE_DIR = Path(__file__).resolve().parents[2] / "frontend" / "i18n"


@cache
def catalogue(lang: Literal["fr", "en"]) -> dict[str, dict[str, str]]:
    """The catalogue's sections (``citizen``, ``passport``...), each a key -> text mapping."""
    data: dict[str, dict[str, str]] = json.loads(
        (CATALOGUE_DIR / f"{lang}.json").read_text("utf-8")
    )
    return data
