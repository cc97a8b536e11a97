"""Structures as the API and the import files show them: the national open-data schema's fields.

Each field type validates, normalises and explains: a rejected value gets a short reason meant for
the person fixing the file ("must be 5 digits"), with a stable error type for programs. The same
types serve the API (StructureCreate, StructureUpdate) and the import rows (StructureIn), so a
place typed in the form and one read from a file obey the same rules.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Annotated, Any, Self
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError

from app.core.time import utcnow
from app.core.validation import (
    DATE_WINDOW_KEY,
    EARLIEST_DAY,
    TEXT_POLICY,
    TEXT_POLICY_KEY,
    check_text,
)

# The separator of list items in the national schema's CSV files (and accepted in JSON strings).
LIST_SEPARATOR = "|"
MAX_LIST_ITEMS = 50
MAX_ITEM_LENGTH = 200

# Fields every structure has; a PATCH may change them but not clear them.
REQUIRED_FIELDS = ("nom", "commune", "code_postal", "adresse")

_CONTROL_MULTILINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL_LINE = re.compile(r"[\x00-\x1f\x7f]")
_SEPARATORS = re.compile(r"[\s.\-/()]")
_DIGITS = re.compile(r"[0-9]+")
# ASCII only: float() would also take other scripts' digits and "nan".
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?")

# French overseas numbers are dialled with their own country code, not +33: the first digits of
# the ten-digit national form tell which.
_OVERSEAS_PREFIXES = {
    "0590": "590",
    "0690": "590",
    "0691": "590",
    "0594": "594",
    "0694": "594",
    "0596": "596",
    "0696": "596",
    "0697": "596",
    "0262": "262",
    "0263": "262",
    "0692": "262",
    "0693": "262",
    "0269": "262",
    "0639": "262",
    "0508": "508",
}


def _error(kind: str, message: str, **context: Any) -> PydanticCustomError:
    return PydanticCustomError(kind, message, context or None)


def _shown(value: str) -> str:
    """The offending value, quoted and cut short, for a reason line."""
    shown = repr(value if len(value) <= 40 else value[:37] + "...")
    return shown.encode("utf-8", "backslashreplace").decode()


def _as_text(value: object) -> str | None:
    """Stripped text, or None for a missing or blank value; never a NUL or a lone surrogate."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise _error("text_type", "must be text")
    return check_text(value).strip() or None


@dataclass(frozen=True, slots=True)
class _Checked(BeforeValidator):
    """A before-validator that also writes what it enforces into the OpenAPI schema.

    The checks are plain functions (they explain themselves to the person fixing a file), so
    pydantic cannot see their bounds; `marks` puts them where the input policy's walk of the
    OpenAPI document looks (docs/api.md, "Input policy").
    """

    marks: tuple[tuple[str, Any], ...] = ()
    item_marks: tuple[tuple[str, Any], ...] = ()

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        for branch in json_schema.get("anyOf", [json_schema]):
            if branch.get("type") in (None, "null"):
                continue
            branch.update(dict(self.marks))
            if "items" in branch:
                branch["items"].update(dict(self.item_marks))
        return json_schema


def _text_marks(max_length: int) -> tuple[tuple[str, Any], ...]:
    return (("maxLength", max_length), (TEXT_POLICY_KEY, TEXT_POLICY))


def _bounded(value: object, max_length: int, required: bool) -> str | None:
    """The value as text (None when empty), refused when required and missing, or too long."""
    text = _as_text(value)
    if text is None:
        if required:
            raise _error("missing", "is required")
        return None
    if len(text) > max_length:
        raise _error(
            "too_long",
            "is longer than {max_length} characters ({length})",
            max_length=max_length,
            length=len(text),
        )
    return text


def _text(max_length: int, *, required: bool = False, multiline: bool = False) -> BeforeValidator:
    control = _CONTROL_MULTILINE if multiline else _CONTROL_LINE

    def check(value: object) -> str | None:
        text = _bounded(value, max_length, required)
        if text is not None and control.search(text):
            raise _error("control_characters", "contains control characters")
        return text

    return _Checked(check, marks=_text_marks(max_length))


def _formatted(
    normalise: Callable[[str], str | None], max_length: int, *, required: bool = False
) -> BeforeValidator:
    """A single-line code (postcode, phone, URL…): stripped, then checked by `normalise`."""

    def check(value: object) -> str | None:
        text = _bounded(value, max_length, required)
        return None if text is None else normalise(text)

    return _Checked(check, marks=_text_marks(max_length))


def _code_postal(text: str) -> str:
    if not re.fullmatch(r"[0-9]{5}", text):
        hint = " (a leading 0 lost by a spreadsheet?)" if re.fullmatch(r"[0-9]{4}", text) else ""
        raise _error("invalid_code_postal", f"must be 5 digits, not {_shown(text)}{hint}")
    return text


def _code_insee(text: str) -> str:
    code = text.upper()
    if not re.fullmatch(r"[0-9]{5}|2[AB][0-9]{3}", code):
        raise _error(
            "invalid_code_insee", f"must be 5 digits (or 2A/2B and 3 digits), not {_shown(text)}"
        )
    return code


def _pivot(text: str) -> str | None:
    pivot = re.sub(r"\s", "", text).upper()
    # Producers of the national data write fourteen zeros for "no SIRET known"; as a key it would
    # merge every such place into one.
    if pivot == "0" * 14:
        return None
    if not re.fullmatch(r"[0-9]{14}|W[0-9]{9}", pivot):
        raise _error(
            "invalid_pivot",
            f"must be a SIRET (14 digits) or an RNA number (W and 9 digits), not {_shown(text)}",
        )
    return pivot


def _telephone(text: str) -> str:
    compact = _SEPARATORS.sub("", text)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if re.fullmatch(r"1[0-9]{1,2}|3[0-9]{3}", compact):
        return compact  # short national numbers (3939, 115) are dialled as they are
    if compact.startswith("+") and _DIGITS.fullmatch(compact[1:]):
        digits = compact[1:]
        if digits.startswith("330") and len(digits) == 12:
            digits = "33" + digits[3:]  # "+33 (0)1 …"
        if 8 <= len(digits) <= 15:
            return "+" + digits
    elif re.fullmatch(r"0[0-9]{9}", compact):
        return "+" + _OVERSEAS_PREFIXES.get(compact[:4], "33") + compact[1:]
    raise _error(
        "invalid_telephone",
        f"must be a French number (01 23 45 67 89) or an international one (+687 …), "
        f"not {_shown(text)}",
    )


def _url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise _error("invalid_url", f"must be an http:// or https:// address, not {_shown(text)}")
    if _CONTROL_LINE.search(text) or " " in text:
        raise _error("invalid_url", "must not contain spaces or control characters")
    return text


# Validation is most of an import's time, and files repeat addresses (a network's contact).
@lru_cache(maxsize=4096)
def _email(text: str) -> str:
    try:
        # No DNS lookups: imports run offline and must stay bounded in time.
        checked = validate_email(text, check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        raise _error("invalid_email", f"{_shown(text)} is not an e-mail address: {exc}") from None
    return checked.normalized


def _date_maj(value: object) -> date | None:
    if isinstance(value, datetime):
        raise _error("invalid_date", "must be a date (YYYY-MM-DD), without a time")
    if isinstance(value, date):
        day = value
    else:
        text = _as_text(value)
        if text is None:
            return None
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
            raise _error("invalid_date", f"must be a date as YYYY-MM-DD, not {_shown(text)}")
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise _error("invalid_date", f"{_shown(text)} is not a calendar date") from None
    # One day of slack: a producer east of UTC (Nouméa, UTC+11) is already on tomorrow's date.
    if day > utcnow().date() + timedelta(days=1):
        raise _error("date_in_future", f"{day.isoformat()} is in the future")
    if day < EARLIEST_DAY:
        raise _error(
            "date_too_early",
            "Date should be on or after {earliest}",
            earliest=EARLIEST_DAY.isoformat(),
        )
    return day


def _coordinate(bound: float) -> BeforeValidator:
    def check(value: object) -> float | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise _error("invalid_number", "must be a number")
        if isinstance(value, str):
            text = value.strip().replace(",", ".", 1)  # French spreadsheets write 4,9333
            if not text:
                return None
            if len(text) > 40 or not _NUMBER.fullmatch(text):
                raise _error("invalid_number", f"must be a decimal number, not {_shown(value)}")
            number = float(text)
        else:
            try:
                number = float(value)
            except OverflowError:  # a JSON integer of hundreds of digits
                number = float("inf")
        if not -bound <= number <= bound:
            raise _error(
                "out_of_range", "must be between -{bound} and {bound}", bound=format(bound, "g")
            )
        return number

    return _Checked(check, marks=(("minimum", -bound), ("maximum", bound)))


def _items(
    check_item: Callable[[str], str | None], max_length: int = MAX_ITEM_LENGTH
) -> BeforeValidator:
    """A list of strings, given as a list or as one '|'-separated string; blanks are dropped."""

    def check(value: object) -> list[str]:
        if value is None:
            return []
        if isinstance(value, str):
            raw: list[object] = list(value.split(LIST_SEPARATOR))
        elif isinstance(value, list):
            raw = value
        else:
            raise _error("list_type", "must be a list of texts, or texts separated by '|'")
        items: list[str] = []
        for index, element in enumerate(raw, start=1):
            if not isinstance(element, str):
                raise _error("text_type", "item {index} must be text", index=index)
            text = check_text(element).strip()
            if not text:
                continue
            if len(text) > max_length:
                raise _error(
                    "too_long",
                    "item {index} is longer than {max_length} characters",
                    index=index,
                    max_length=max_length,
                )
            if LIST_SEPARATOR in text or _CONTROL_LINE.search(text):
                raise _error(
                    "invalid_item", "item {index} contains '|' or control characters", index=index
                )
            checked = check_item(text)
            if checked is not None:
                items.append(checked)
        if len(items) > MAX_LIST_ITEMS:
            raise _error("too_many_items", "has more than {limit} items", limit=MAX_LIST_ITEMS)
        return items

    return _Checked(
        check, marks=(("maxItems", MAX_LIST_ITEMS),), item_marks=_text_marks(max_length)
    )


def _plain(text: str) -> str:
    return text


ExternalId = Annotated[str | None, _text(100)]
Pivot = Annotated[str | None, _formatted(_pivot, 20)]
Nom = Annotated[str, _text(250, required=True)]
Commune = Annotated[str, _text(100, required=True)]
CodePostal = Annotated[str, _formatted(_code_postal, 5, required=True)]
Adresse = Annotated[str, _text(250, required=True)]
CodeInsee = Annotated[str | None, _formatted(_code_insee, 20)]
Line250 = Annotated[str | None, _text(250)]
Line100 = Annotated[str | None, _text(100)]
Latitude = Annotated[float | None, _coordinate(90)]
Longitude = Annotated[float | None, _coordinate(180)]
Telephone = Annotated[str | None, _formatted(_telephone, 40)]
Horaires = Annotated[str | None, _text(500)]
Url = Annotated[str | None, _formatted(_url, 500)]
Resume = Annotated[str | None, _text(280, multiline=True)]
Detail = Annotated[str | None, _text(5000, multiline=True)]
DateMaj = Annotated[
    date | None,
    _Checked(
        _date_maj,
        marks=((DATE_WINDOW_KEY, {"earliest": EARLIEST_DAY.isoformat(), "latest": "today+1d"}),),
    ),
]
Emails = Annotated[list[str], _items(_email, 320)]
Urls = Annotated[list[str], _items(_url, 500)]
Labels = Annotated[list[str], _items(_plain)]

# In PATCH, a required field may be omitted but not cleared: the check runs on null too.
NomPatch = Annotated[str | None, _text(250, required=True)]
CommunePatch = Annotated[str | None, _text(100, required=True)]
CodePostalPatch = Annotated[str | None, _formatted(_code_postal, 5, required=True)]
AdressePatch = Annotated[str | None, _text(250, required=True)]
ExternalIdPatch = Annotated[str | None, _text(100, required=True)]


class _OptionalFields(BaseModel):
    """The schema's optional fields, shared by every input model."""

    pivot: Pivot = None
    code_insee: CodeInsee = None
    complement_adresse: Line250 = None
    latitude: Latitude = None
    longitude: Longitude = None
    telephone: Telephone = None
    horaires: Horaires = None
    prise_rdv: Url = None
    presentation_resume: Resume = None
    presentation_detail: Detail = None
    date_maj: DateMaj = None
    source: Line100 = None
    structure_parente: Line100 = None
    courriels: Emails = Field(default_factory=list)
    site_web: Urls = Field(default_factory=list)
    typologie: Labels = Field(default_factory=list)
    services: Labels = Field(default_factory=list)
    publics_specifiquement_adresses: Labels = Field(default_factory=list)
    prise_en_charge_specifique: Labels = Field(default_factory=list)
    frais_a_charge: Labels = Field(default_factory=list)
    dispositif_programmes_nationaux: Labels = Field(default_factory=list)
    formations_labels: Labels = Field(default_factory=list)
    modalites_acces: Labels = Field(default_factory=list)
    modalites_accompagnement: Labels = Field(default_factory=list)
    itinerance: Labels = Field(default_factory=list)


def check_coordinates(latitude: float | None, longitude: float | None) -> str | None:
    """The field to blame when only one coordinate is given: a point needs both."""
    if latitude is not None and longitude is None:
        return "longitude"
    if longitude is not None and latitude is None:
        return "latitude"
    return None


class StructureCreate(_OptionalFields):
    """A new structure. Without `external_id`, one is made (the national schema requires an id)."""

    model_config = ConfigDict(extra="forbid")

    external_id: ExternalId = None
    nom: Nom
    commune: Commune
    code_postal: CodePostal
    adresse: Adresse

    @model_validator(mode="after")
    def _both_coordinates(self) -> Self:
        missing = check_coordinates(self.latitude, self.longitude)
        if missing:
            raise _error(
                "coordinates_pair",
                "latitude and longitude go together: {field} is missing",
                field=missing,
            )
        return self


class StructureIn(StructureCreate):
    """One row of an import file, with the national schema's names (`id` is our external_id)."""

    # Files carry columns of later schema versions or of the producer's own; they are ignored
    # (and listed in the import report) rather than failing every row.
    model_config = ConfigDict(extra="ignore")

    external_id: ExternalId = Field(default=None, validation_alias="id")


class StructureUpdate(_OptionalFields):
    """A PATCH: only the fields sent change; null clears an optional field."""

    model_config = ConfigDict(extra="forbid")

    external_id: ExternalIdPatch = None
    nom: NomPatch = None
    commune: CommunePatch = None
    code_postal: CodePostalPatch = None
    adresse: AdressePatch = None


class StructurePublic(BaseModel):
    id: int
    external_id: str | None
    territory_code: str
    pivot: str | None
    nom: str
    commune: str
    code_postal: str
    code_insee: str | None
    adresse: str
    complement_adresse: str | None
    latitude: float | None
    longitude: float | None
    telephone: str | None
    courriels: list[str]
    site_web: list[str]
    horaires: str | None
    prise_rdv: str | None
    presentation_resume: str | None
    presentation_detail: str | None
    date_maj: date | None
    source: str | None
    structure_parente: str | None
    typologie: list[str]
    services: list[str]
    publics_specifiquement_adresses: list[str]
    prise_en_charge_specifique: list[str]
    frais_a_charge: list[str]
    dispositif_programmes_nationaux: list[str]
    formations_labels: list[str]
    modalites_acces: list[str]
    modalites_accompagnement: list[str]
    itinerance: list[str]
    created_at: datetime
    updated_at: datetime


class StructurePage(BaseModel):
    total: int = Field(description="How many structures match, over every page")
    limit: int
    offset: int
    items: list[StructurePublic]


class Rejection(BaseModel):
    line: int = Field(
        description="Line of the CSV file where the row starts (header: 1), or "
        "position of the object in the JSON list (first: 1)"
    )
    field: str | None = Field(description="The schema field at fault; null for the whole row")
    reason: str
    reason_fr: str | None = Field(
        default=None,
        description="The same in French, one sentence naming the field "
        "(« Le code postal doit faire 5 chiffres. »), for the coordinator's page",
    )


class ImportReport(BaseModel):
    format: str
    dry_run: bool
    rows: int = Field(description="Data rows read from the file")
    created: int
    updated: int
    unchanged: int
    rejected_rows: int
    rejected: list[Rejection] = Field(description="One entry per problem, in file order")
    rejected_truncated: bool = Field(description="True when the list stops before the end")
    ignored_columns: list[str] = Field(description="Columns or keys outside the schema")
