"""Every territory of the Republic: its department code and its IANA time zone.

A place's department comes from its INSEE code (``97411`` → ``974``, ``2A004`` → ``2A``) or,
without one, from its postcode (``97133`` is Saint-Barthélemy, ``97150`` Saint-Martin, whose INSEE
codes start 977 and 978, ``20xxx`` is Corsica). The time zone follows the department: what a page
calls "today" or "open now" in Nouméa is Nouméa's, not Paris's nor UTC's. One table, used by the
directory, the journal's dates and anything else that shows a local day.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

METROPOLE = "Europe/Paris"

# The overseas departments and collectivities: code → (name, IANA zone).
OVERSEAS: dict[str, tuple[str, str]] = {
    "971": ("Guadeloupe", "America/Guadeloupe"),
    "972": ("Martinique", "America/Martinique"),
    "973": ("Guyane", "America/Cayenne"),
    "974": ("La Réunion", "Indian/Reunion"),
    "975": ("Saint-Pierre-et-Miquelon", "America/Miquelon"),
    "976": ("Mayotte", "Indian/Mayotte"),
    "977": ("Saint-Barthélemy", "America/St_Barthelemy"),
    "978": ("Saint-Martin", "America/Marigot"),
    "984": ("Terres australes et antarctiques françaises", "Indian/Kerguelen"),
    "986": ("Wallis-et-Futuna", "Pacific/Wallis"),
    "987": ("Polynésie française", "Pacific/Tahiti"),
    "988": ("Nouvelle-Calédonie", "Pacific/Noumea"),
}

# Postcodes whose first three digits are not the INSEE department.
_POSTCODE_EXCEPTIONS = {"97133": "977", "97150": "978"}

# Territory codes that are slugs rather than department codes.
_SLUGS = {
    "guadeloupe": "971",
    "martinique": "972",
    "guyane": "973",
    "la-reunion": "974",
    "reunion": "974",
    "saint-pierre-et-miquelon": "975",
    "mayotte": "976",
    "saint-barthelemy": "977",
    "saint-martin": "978",
    "wallis-et-futuna": "986",
    "polynesie-francaise": "987",
    "polynesie": "987",
    "nouvelle-caledonie": "988",
}


def department(code_insee: str | None, code_postal: str | None) -> str | None:
    """The department (or overseas collectivity) code of a place, or None when unknown."""
    if code_insee and len(code_insee) == 5:
        code = code_insee.upper()
        return code[:3] if code.startswith(("97", "98")) else code[:2]
    if code_postal and len(code_postal) == 5 and code_postal.isdigit():
        if code_postal in _POSTCODE_EXCEPTIONS:
            return _POSTCODE_EXCEPTIONS[code_postal]
        if code_postal.startswith(("97", "98")):
            return code_postal[:3]
        if code_postal.startswith("20"):
            return "2A" if int(code_postal) < 20200 else "2B"
        return code_postal[:2]
    return None


def department_of_territory(code: str) -> str | None:
    """A territory's department when its code names one (``973``, ``2A``, a slug)."""
    code = code.strip().lower()
    if code in _SLUGS:
        return _SLUGS[code]
    if code.upper() in OVERSEAS or code.upper() in ("2A", "2B"):
        return code.upper()
    if len(code) == 2 and code.isdigit():
        return code
    return None


def zone_name(dept: str | None) -> str:
    """The IANA zone of a department; metropolitan France (Paris) when unknown."""
    if dept and dept in OVERSEAS:
        return OVERSEAS[dept][1]
    return METROPOLE


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local(now: datetime, dept: str | None) -> datetime:
    """``now`` (aware) on the clocks of the department."""
    return now.astimezone(zone(zone_name(dept)))
