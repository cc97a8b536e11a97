"""Structure files in the national schema: reading CSV and JSON into rows, writing them back.

Reading refuses a whole file only when it cannot be read as rows at all (not UTF-8, broken CSV
quoting, malformed JSON, no schema header, too many rows); a row that reads but does not validate is
the importer's business, reported with its line.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from app.core.errors import AppError, InvalidInput
from app.structures.models import LIST_FIELDS, Structure
from app.structures.schemas import LIST_SEPARATOR, REQUIRED_FIELDS

# The national schema's fields, in its order: the columns we read and write.
SCHEMA_FIELDS = (
    "id",
    "pivot",
    "nom",
    "commune",
    "code_postal",
    "code_insee",
    "adresse",
    "complement_adresse",
    "latitude",
    "longitude",
    "telephone",
    "courriels",
    "site_web",
    "horaires",
    "prise_rdv",
    "presentation_resume",
    "presentation_detail",
    "date_maj",
    "source",
    "structure_parente",
    "typologie",
    "services",
    "publics_specifiquement_adresses",
    "prise_en_charge_specifique",
    "frais_a_charge",
    "dispositif_programmes_nationaux",
    "formations_labels",
    "modalites_acces",
    "modalites_accompagnement",
    "itinerance",
)

# Work stays bounded whatever the file: the API body limit caps the bytes, this caps the rows.
MAX_ROWS = 20_000

_JSON_TYPES = {"application/json", "text/json"}
_CSV_TYPES = {"text/csv", "application/csv", "text/comma-separated-values"}
# Types that say nothing about the content: the content decides.
_NEUTRAL_TYPES = {"", "application/octet-stream", "text/plain"}


class FileFormat(StrEnum):
    CSV = "csv"
    JSON = "json"


@dataclass(frozen=True)
class SourceRow:
    """One row as read: its line, and its values by schema name (None for an empty cell)."""

    line: int
    values: dict[str, object]
    # Set when the row cannot even be handed to validation (wrong cell count, not an object);
    # problem_fr is the same, a French sentence, for the coordinator's page.
    problem: str | None = None
    problem_fr: str | None = None


@dataclass
class ParsedFile:
    format: FileFormat
    rows: list[SourceRow]
    ignored_columns: list[str] = field(default_factory=list)


def _unsupported(media_type: str) -> AppError:
    return AppError(
        f"Send the file as text/csv or application/json, not {media_type}.",
        status=415,
        code="unsupported_media_type",
        title="Unsupported media type",
    )


def detect_format(data: bytes, *, media_type: str | None, filename: str | None) -> FileFormat:
    """The declared type first, then the file name, then the first character of the content."""
    declared = (media_type or "").split(";", 1)[0].strip().lower()
    if declared in _JSON_TYPES or declared.endswith("+json"):
        return FileFormat.JSON
    if declared in _CSV_TYPES:
        return FileFormat.CSV
    if declared not in _NEUTRAL_TYPES:
        raise _unsupported(declared)
    suffix = (filename or "").rsplit(".", 1)[-1].lower() if filename and "." in filename else ""
    if suffix in ("json", "csv"):
        return FileFormat(suffix)
    start = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    return FileFormat.JSON if start in (b"[", b"{") else FileFormat.CSV


def parse(data: bytes, *, media_type: str | None = None, filename: str | None = None) -> ParsedFile:
    """Read a structures file into rows; raise InvalidInput when the file as a whole is unusable."""
    fmt = detect_format(data, media_type=media_type, filename=filename)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InvalidInput(
            f"The file is not UTF-8 text (line {line}); save it again as UTF-8.",
            code="import_encoding",
            line=line,
        ) from None
    if not text.strip():
        raise InvalidInput("The file is empty.", code="import_empty")
    return _parse_json(text) if fmt is FileFormat.JSON else _parse_csv(text)


def _too_many_rows() -> InvalidInput:
    return InvalidInput(
        f"The file has more than {MAX_ROWS} rows; split it.",
        code="import_too_many_rows",
        max_rows=MAX_ROWS,
    )


def _parse_json(text: str) -> ParsedFile:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"The file is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}).",
            code="import_unreadable",
        ) from None
    except (ValueError, RecursionError):
        # Integers of thousands of digits, or nesting deeper than the parser goes.
        raise InvalidInput(
            "The file is not JSON the importer can read.", code="import_unreadable"
        ) from None
    if isinstance(document, dict) and isinstance(document.get("structures"), list):
        document = document["structures"]
    if not isinstance(document, list):
        raise InvalidInput(
            'A JSON structures file is a list of objects, or {"structures": [...]}.',
            code="import_not_structures",
        )
    if len(document) > MAX_ROWS:
        raise _too_many_rows()
    known = set(SCHEMA_FIELDS)
    ignored: set[str] = set()
    rows: list[SourceRow] = []
    for index, item in enumerate(document, start=1):
        if not isinstance(item, dict):
            rows.append(
                SourceRow(
                    index,
                    {},
                    problem="is not a JSON object",
                    problem_fr="Cet élément n'est pas un objet JSON.",
                )
            )
            continue
        ignored.update(key for key in item if key not in known)
        rows.append(SourceRow(index, {k: v for k, v in item.items() if k in known}))
    # A key is shown back to the client: one with a lone surrogate could not be written as UTF-8.
    shown = [name[:100].encode("utf-8", "backslashreplace").decode() for name in sorted(ignored)]
    return ParsedFile(FileFormat.JSON, rows, shown[:50])


def _delimiter(header_line: str) -> str:
    # French spreadsheets save with ';'; the national files use ','. Header names contain
    # neither, so counting them in the first line is enough.
    return ";" if header_line.count(";") > header_line.count(",") else ","


def _parse_csv(text: str) -> ParsedFile:
    delimiter = _delimiter(text.split("\n", 1)[0])
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows: list[SourceRow] = []
    start = 1
    try:
        header = [name.strip().lower() for name in next(reader)]
        columns = _check_header(header)
        start = reader.line_num + 1
        for cells in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue
            if len(rows) >= MAX_ROWS:
                raise _too_many_rows()
            if len(cells) != len(header):
                problem = f"has {len(cells)} cells where the header has {len(header)}"
                problem_fr = f"La ligne a {len(cells)} cellules, l'en-tête en a {len(header)}."
                rows.append(SourceRow(line, {}, problem=problem, problem_fr=problem_fr))
                continue
            values: dict[str, object] = {
                name: (cells[i] if cells[i].strip() else None) for i, name in columns
            }
            rows.append(SourceRow(line, values))
    except csv.Error as exc:
        raise InvalidInput(
            f"The CSV cannot be read from line {start}: {exc} (a quote left open?).",
            code="import_unreadable",
        ) from None
    ignored = sorted({name for name in header if name not in SCHEMA_FIELDS and name})
    return ParsedFile(FileFormat.CSV, rows, [name[:100] for name in ignored[:50]])


def _check_header(header: Sequence[str]) -> list[tuple[int, str]]:
    """The schema columns and their positions; refuse a header the rows could not satisfy."""
    columns = [(i, name) for i, name in enumerate(header) if name in SCHEMA_FIELDS]
    if not columns:
        raise InvalidInput(
            "The first line names none of the schema's columns (id, nom, commune, …): "
            "is this a structures file?",
            code="import_not_structures",
        )
    names = [name for _, name in columns]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise InvalidInput(
            f"The header repeats the columns: {', '.join(repeated)}.",
            code="import_bad_header",
            columns=repeated,
        )
    missing = [name for name in REQUIRED_FIELDS if name not in names]
    if "id" not in names and "pivot" not in names:
        missing.insert(0, "id (or pivot)")
    if missing:
        raise InvalidInput(
            f"The header lacks the columns: {', '.join(missing)}.",
            code="import_missing_columns",
            columns=missing,
        )
    return columns


# --- Writing ---------------------------------------------------------------------------------


def as_record(structure: Structure) -> dict[str, object]:
    """A structure with the schema's names, as JSON export writes it."""
    record: dict[str, object] = {}
    for name in SCHEMA_FIELDS:
        value = structure.external_id if name == "id" else getattr(structure, name)
        record[name] = value.isoformat() if isinstance(value, date) else value
    return record


def _cell(name: str, value: object) -> str:
    if value is None:
        return ""
    if name in LIST_FIELDS:
        assert isinstance(value, list)
        return LIST_SEPARATOR.join(str(item) for item in value)
    return str(value)


# The national schema requires a pivot; its producers write fourteen zeros for "unknown", which
# the import reads back as empty (so an export re-imports unchanged).
UNKNOWN_PIVOT = "0" * 14


def _exported(structure: Structure) -> dict[str, Any]:
    record = as_record(structure)
    record["pivot"] = record["pivot"] or UNKNOWN_PIVOT
    return record


def render_csv(structures: Iterable[Structure]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(SCHEMA_FIELDS)
    for structure in structures:
        record = _exported(structure)
        writer.writerow([_cell(name, record[name]) for name in SCHEMA_FIELDS])
    return out.getvalue().encode("utf-8")


def render_json(structures: Iterable[Structure]) -> bytes:
    records = [_exported(structure) for structure in structures]
    return json.dumps(records, ensure_ascii=False, indent=1).encode("utf-8")
