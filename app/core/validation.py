"""Input types shared by several domains: the one input policy (docs/api.md, "Input policy").

Every value a client sends goes through one of these types, in bodies, paths, queries and the
headers that reach the database, so that the next route added cannot reopen a hole by forgetting:

- ids: :data:`Id`, 1 ≤ id ≤ 2**31 - 1 (the range of a PostgreSQL ``integer`` column), written
  as an integer (``true``, ``1.0``, ``"04"``, ``"+4"`` are refused);
- text: no NUL character (PostgreSQL refuses it in text), no lone surrogate (it cannot be
  encoded as UTF-8), and a bounded length; :data:`NoNul` is the marker that checks the first two,
  the length is each field's own;
- dates: a documented window (:class:`DateWindow`), inside the credential format's day range.

The error types are stable (clients and the French rendering of errors key on them):
``string_nul_character``, ``string_lone_surrogate``, ``date_too_early`` (context ``earliest``),
``date_too_late`` (context ``latest``); ids use pydantic's own ``greater_than_equal`` and
``less_than_equal``. Each type also marks the OpenAPI document (``x-text-policy``,
``x-date-window``) so that a test can walk it and find any field that escapes the policy.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from annotated_types import Ge, Le
from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from app.core.time import aware, utcnow

# The largest value of a PostgreSQL `integer` (and SQLite's ids stay below it too).
MAX_ID = 2**31 - 1


def _check_id_input(value: Any) -> Any:
    # Pydantic's lax integers take ``true`` as 1, ``1.0`` as 1 and the strings "04", "+4",
    # "4.0", " 4" as 4: an id is a JSON integer, or (path, query) its plain decimal digits.
    if isinstance(value, bool | float):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    if isinstance(value, str) and not (value.isascii() and value.isdigit() and value[:1] != "0"):
        raise PydanticCustomError(
            "int_parsing", "Input should be a valid integer, unable to parse string as an integer"
        )
    return value


# 1 ≤ id ≤ 2**31 - 1, for every id a client sends (path, query, body, list item), written as
# an integer (no boolean, no float, no sign, no leading zero, no decimal point).
Id = Annotated[int, Ge(1), Le(MAX_ID), BeforeValidator(_check_id_input)]

# The OpenAPI extension that says a string field obeys the text policy.
TEXT_POLICY_KEY = "x-text-policy"
TEXT_POLICY = "no-nul-no-lone-surrogate"
# The OpenAPI extension that gives a date field's window.
DATE_WINDOW_KEY = "x-date-window"

# The first day any date of the service can be: digital mediation and its records start later,
# and the credential format counts days from 1970-01-01 (app/credentials/format.py, MAX_DAY).
EARLIEST_DAY = date(1990, 1, 1)


def _string_branches(schema: JsonSchemaValue) -> list[JsonSchemaValue]:
    """The parts of a JSON schema that describe a string (the whole, or branches of anyOf)."""
    if "anyOf" in schema:
        return [branch for branch in schema["anyOf"] if branch.get("type") == "string"]
    return [schema] if schema.get("type") == "string" else []


def check_text(value: str) -> str:
    """Refuse what no text column can hold: NUL, and lone surrogates (not encodable in UTF-8)."""
    if "\x00" in value:
        raise PydanticCustomError("string_nul_character", "Text must not contain a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise PydanticCustomError(
            "string_lone_surrogate", "Text must not contain a lone surrogate"
        ) from None
    return value


def _check_text_input(value: Any) -> Any:
    # Runs before the string's own checks (length, pattern), so a NUL is reported as such.
    return check_text(value) if isinstance(value, str) else value


@dataclass(frozen=True)
class _TextPolicy:
    """Marker for ``Annotated[str, …, NoNul]``: checks the text policy, and says so in OpenAPI."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_before_validator_function(_check_text_input, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        for branch in _string_branches(json_schema):
            branch[TEXT_POLICY_KEY] = TEXT_POLICY
        return json_schema


NoNul = _TextPolicy()

# A territory's code, as routes take it in their path (/territories/{code}/…, /t/{code}/…).
TerritoryCode = Annotated[str, NoNul, Field(min_length=1, max_length=40)]


@dataclass(frozen=True)
class SchemaMarks:
    """Adds keywords to the OpenAPI schema of a type validated by a plain function.

    A ``BeforeValidator`` that bounds a string or a number leaves no trace in the JSON schema;
    this writes the bounds it enforces there (``maxLength``, ``minimum``…), on the string or
    number part of an optional type.
    """

    marks: tuple[tuple[str, Any], ...]

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        branches = json_schema.get("anyOf", [json_schema])
        for branch in branches:
            if branch.get("type") not in (None, "null"):
                branch.update(dict(self.marks))
        return json_schema


def marks(**keywords: Any) -> SchemaMarks:
    return SchemaMarks(tuple(keywords.items()))


def text_marks(max_length: int) -> SchemaMarks:
    """What a function-validated string enforces: its length and the text policy."""
    return marks(maxLength=max_length, **{TEXT_POLICY_KEY: TEXT_POLICY})


@dataclass(frozen=True)
class DateWindow:
    """A date (or date-time, by its UTC day, and given back in UTC) between ``earliest`` and
    today + ``ahead``.

    "Today" is the server's UTC day; a day of slack by default, since a user east of UTC
    (Nouméa, UTC+11) is already on tomorrow's date.
    """

    earliest: date = EARLIEST_DAY
    ahead: timedelta = timedelta(days=1)

    def latest(self) -> date:
        return utcnow().date() + self.ahead

    def check(self, value: Any) -> Any:
        if not isinstance(value, date):
            return value
        if isinstance(value, datetime):
            # The instant, in UTC: a given offset is kept as the moment it names (SQLite stores
            # naive UTC; a fingerprint of the same moment with another offset is the same).
            # Year 1 or 9999 with an offset leaves datetime's range once in UTC: its own day is
            # then far outside any window, and refused as such below (not an OverflowError).
            with contextlib.suppress(OverflowError):
                value = aware(value).astimezone(UTC)
            day = value.date()
        else:
            day = value
        if day < self.earliest:
            raise PydanticCustomError(
                "date_too_early",
                "Date should be on or after {earliest}",
                {"earliest": self.earliest.isoformat()},
            )
        latest = self.latest()
        if day > latest:
            raise PydanticCustomError(
                "date_too_late",
                "Date should be on or before {latest}",
                {"latest": latest.isoformat()},
            )
        return value

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        window = {"earliest": self.earliest.isoformat(), "latest": f"today+{self.ahead.days}d"}
        branches = json_schema.get("anyOf", [json_schema])
        for branch in branches:
            if branch.get("type") == "string":
                branch[DATE_WINDOW_KEY] = window
        return json_schema


# The day something was observed or done (a validation, a structure's update): 1990-01-01 to
# tomorrow (UTC).
PastDate = Annotated[date, DateWindow()]
# A day bounding a period of figures: the same start, and up to a year ahead (the end of the
# current year asked in advance).
PeriodDate = Annotated[date, DateWindow(ahead=timedelta(days=366))]
# A moment in the past (a filter such as "since"): 1990-01-01 to tomorrow (UTC).
PastDateTime = Annotated[datetime, DateWindow()]


def _email(value: str) -> str:
    try:
        # No DNS lookups (offline instances, and bounded work); `.test` addresses are allowed so
        # that demo and test data need no real domain.
        checked = validate_email(value, check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from None
    return checked.normalized.lower()


Email = Annotated[str, Field(max_length=320), NoNul, AfterValidator(_email), marks(format="email")]


# SQLite hands back naive datetimes; every one we store is UTC, and every one we publish says so.
UtcDateTime = Annotated[datetime, AfterValidator(aware)]
