"""Opening hours: the common part of OSM's ``opening_hours`` syntax, read into a week.

Places write ``horaires`` in the OSM syntax by convention (docs/structures.md). What is read:
rules separated by ``;``, each a set of days (``Mo-Fr``, ``Mo,We,Fr``, ``Sa``; none means every
day) followed by time ranges (``09:00-12:00,14:00-17:30``, an end past midnight such as
``22:00-02:00`` runs into the next day) or ``off``/``closed``; ``24/7``. A later rule replaces the
earlier ones for the days it names, as in OSM. A ``PH`` (public holidays) rule is skipped.
Anything else (months, weeks, comments) makes the whole text unreadable: then the place's hours
are shown as written and it is never said to be open now, rather than guessed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

DAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")

# minutes from midnight, start < end; end may exceed 24 * 60 (past midnight).
T = TypeVar("T")
Range = tuple[int, int]
Week = tuple[tuple[Range, ...], ...]

_TIME = r"([01]?\d|2[0-4]):([0-5]\d)"
_RANGE = re.compile(rf"{_TIME}-{_TIME}")
_DAY_PART = re.compile(r"(Mo|Tu|We|Th|Fr|Sa|Su)(?:-(Mo|Tu|We|Th|Fr|Sa|Su))?")


def _each(
    text: str, pattern: re.Pattern[str], read: Callable[[re.Match[str]], list[T] | None]
) -> list[T] | None:
    """What ``read`` makes of each comma-separated part of ``text``, matched whole by
    ``pattern``; None when a part does not match or ``read`` refuses it."""
    found: list[T] = []
    for part in text.split(","):
        match = pattern.fullmatch(part.strip())
        read_part = read(match) if match else None
        if read_part is None:
            return None
        found.extend(read_part)
    return found


def _day_span(match: re.Match[str]) -> list[int]:
    first = DAYS.index(match.group(1))
    last = DAYS.index(match.group(2)) if match.group(2) else first
    days = [first]
    while days[-1] != last:
        days.append((days[-1] + 1) % 7)
    return days


def _range(match: re.Match[str]) -> list[Range] | None:
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if start >= 24 * 60 or end > 24 * 60:
        return None
    if end <= start:
        end += 24 * 60
    return [(start, end)]


def _days(text: str) -> list[int] | None:
    return _each(text, _DAY_PART, _day_span)


def _ranges(text: str) -> list[Range] | None:
    return _each(text, _RANGE, _range)


def parse(text: str | None) -> Week | None:
    """The week of a ``horaires`` text, or None when empty or not read (see the module)."""
    if not text or not text.strip():
        return None
    if text.strip() == "24/7":
        return tuple(((0, 24 * 60),) for _ in DAYS)
    week: list[list[Range]] = [[] for _ in DAYS]
    for raw in text.split(";"):
        rule = raw.strip()
        if not rule:
            continue
        head, _, rest = rule.partition(" ")
        if head == "PH":
            # Public holidays: no calendar of them here; the other rules still hold.
            continue
        days = _days(head)
        if days is None:
            days, rest = list(range(7)), rule
        rest = rest.strip()
        if rest in ("off", "closed"):
            ranges: list[Range] | None = []
        else:
            ranges = _ranges(rest)
        if ranges is None:
            return None
        for day in days:
            week[day] = list(ranges)
    return tuple(tuple(sorted(day)) for day in week)


def is_open(week: Week | None, at: datetime) -> bool:
    """Whether the place is open at ``at``, a local time of its territory."""
    if week is None:
        return False
    minute = at.hour * 60 + at.minute
    today = at.weekday()
    if any(start <= minute < end for start, end in week[today]):
        return True
    # A range of yesterday that runs past midnight.
    yesterday = week[(today - 1) % 7]
    return any(end > 24 * 60 and minute < end - 24 * 60 for _, end in yesterday)


def format_range(r: Range) -> str:
    start, end = r
    end %= 24 * 60
    return f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"
