"""Statistical secrecy: which published counts to suppress so that no small count shows.

The figures form a set of cells (any hashable key → a count) tied by additive lines: a line says
that its cells add up to its total, which is itself a cell. Tables that share a total (the
validations by month and by domain both add up to all the validations) share that cell's key, so
the lines of every table are solved together, as a reader with every published file would.

The rule, in three steps:

1. *Primary*: a cell with 0 < count < threshold is suppressed. A zero is published: it is about
   nobody, and hiding zeros would hide most of a sparse table.
2. *Secondary*: a line with exactly one suppressed cell (its total included) gives it back by
   subtraction, so the smallest other published cell of that line is suppressed too, non-zero
   cells first. Repeated until no line has exactly one.
3. *Audit*: step 2 is not enough in general (a suppressed cell bridging two groups of suppressed
   cells is still the difference of sums of lines). Each suppressed cell is checked by an exact
   linear solve of the published lines; one still determined gets a further suppression in one of
   its lines, and steps 2 and 3 run again until no suppressed cell is determined.

Only equalities are used: a reader who also uses that counts are non-negative and that a
suppressed cell is below the threshold can bound it, never pin it (the rule is documented in
docs/open-data.md).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from math import gcd
from typing import Any

Key = Hashable


@dataclass(frozen=True)
class Line:
    """``sum(cells) == total``: a row, a column or a margin of a published table."""

    total: Key
    cells: tuple[Key, ...]

    @property
    def members(self) -> tuple[Key, ...]:
        return (self.total, *self.cells)


def primary(values: Mapping[Key, int], threshold: int) -> set[Key]:
    return {key for key, value in values.items() if 0 < value < threshold}


def _order(values: Mapping[Key, int], key: Key) -> tuple[bool, int, str]:
    # Smallest first, zeros last (hiding a zero protects less), then a stable order.
    return (values[key] == 0, values[key], repr(key))


def _secondary(
    lines: Sequence[Line],
    hidden: set[Key],
    order: Callable[[Key], Any],
    frozen: frozenset[Key] = frozenset(),
) -> None:
    changed = True
    while changed:
        changed = False
        for line in lines:
            members = line.members
            if sum(1 for key in members if key in hidden) != 1:
                continue
            candidates = [key for key in members if key not in hidden and key not in frozen]
            if candidates:
                hidden.add(min(candidates, key=order))
                changed = True


def determined(values: Mapping[Key, int], lines: Sequence[Line], hidden: Iterable[Key]) -> set[Key]:
    """The suppressed cells that the published cells and the lines pin to one value.

    Each line is an equation in the suppressed cells; a cell is determined exactly when its unit
    vector lies in the span of the equations, which the reduced row echelon form shows: its
    column is a pivot whose row has no other non-zero entry. The rows are kept sparse (a line
    names a few cells of thousands when the documents of a whole year are solved together) and
    in integers, each divided by the gcd of its entries (exact, and much faster than fractions);
    which cells are determined does not depend on the order of elimination.
    """
    unknowns = set(hidden)
    order = {key: i for i, key in enumerate(sorted(unknowns, key=repr))}
    pivots: dict[Key, dict[Key, int]] = {}  # pivot column -> its row, reduced
    holders: dict[Key, set[Key]] = {}  # column -> the pivot columns whose row has it
    for line in lines:
        row: dict[Key, int] = {}
        for key in line.cells:
            if key in unknowns:
                row[key] = row.get(key, 0) + 1
        if line.total in unknowns:
            row[line.total] = row.get(line.total, 0) - 1
        row = {k: v for k, v in row.items() if v}
        for column in [k for k in row if k in pivots]:
            row = _eliminate(row, pivots[column], column)
        if not row:
            continue
        # The pivot that the fewest reduced rows hold: the least fill-in (the result does not
        # depend on the choice, the time does: tenfold on a year of a large territory).
        column = min(row, key=lambda k: (len(holders.get(k, ())), order[k]))
        for other in list(holders.get(column, ())):
            target = pivots[other]
            for k in target:
                holders[k].discard(other)
            target = pivots[other] = _eliminate(target, row, column)
            for k in target:
                holders.setdefault(k, set()).add(other)
        pivots[column] = row
        for k in row:
            holders.setdefault(k, set()).add(column)
    return {column for column, row in pivots.items() if len(row) == 1}


def _eliminate(row: dict[Key, int], pivot: Mapping[Key, int], column: Key) -> dict[Key, int]:
    """``row`` with ``column`` cleared by the pivot row: p*row - r*pivot, divided by its gcd."""
    p, r = pivot[column], row[column]
    out = {k: v * p for k, v in row.items()} if p != 1 else dict(row)
    for key, value in pivot.items():
        result = out.get(key, 0) - r * value
        if result:
            out[key] = result
        else:
            out.pop(key, None)
    divisor = gcd(*out.values()) if out else 1
    if divisor > 1:
        out = {k: v // divisor for k, v in out.items()}
    return out


def suppress(
    values: Mapping[Key, int],
    lines: Sequence[Line],
    threshold: int,
    *,
    fixed: Mapping[Key, bool] | None = None,
    virtual: Iterable[Key] = (),
    frozen: Iterable[Key] = (),
) -> set[Key]:
    """The cells to publish empty: primary, secondary, then until no linear solve finds one.

    ``fixed`` maps cells already given out in earlier documents to whether they were suppressed:
    a reader keeps the old documents, so complements are taken among the other cells whenever
    one is left (a fixed cell is moved only if nothing else can protect a small count).
    ``virtual`` cells are never published but must not be recomputable either: the difference
    between two documents' counts when it is below the threshold (see ``family``).
    ``frozen`` cells are published already and for good (released documents): never suppressed,
    the complements are found among the other cells.
    """
    for line in lines:
        for key in line.members:
            if key not in values:
                raise KeyError(f"line refers to an unknown cell {key!r}")
    fixed = fixed or {}
    virtual = set(virtual)
    out = frozenset(frozen)
    hidden = primary(values, threshold) | virtual | {key for key, gone in fixed.items() if gone}

    def order(key: Key) -> tuple[bool, bool, int, str]:
        return (key in fixed, *_order(values, key))

    while True:
        _secondary(lines, hidden, order, out)
        exposed = determined(values, lines, hidden)
        if not exposed:
            return hidden - virtual
        if not _widen(lines, hidden, sorted(exposed, key=repr), order, out):
            # Every line of every exposed cell is already fully hidden: a determined cell then
            # can only be pinned by lines with nothing published, which cannot happen.
            raise AssertionError("secondary suppression found no cell to add")  # pragma: no cover


def _widen(
    lines: Sequence[Line],
    hidden: set[Key],
    exposed: Sequence[Key],
    order: Callable[[Key], Any],
    frozen: frozenset[Key] = frozenset(),
) -> bool:
    """Suppress one more cell near the first exposed cell: in one of its lines, or, when those
    are all suppressed already (a difference pinned through other lines), in the nearest line
    reached through suppressed cells."""
    by_cell: dict[Key, list[Line]] = {}
    for line in lines:
        for key in line.members:
            by_cell.setdefault(key, []).append(line)
    for key in exposed:
        reached, frontier = {key}, [key]
        while frontier:
            near = [line for cell in frontier for line in by_cell.get(cell, ())]
            candidates = {
                other
                for line in near
                for other in line.members
                if other not in hidden and other not in frozen
            }
            if candidates:
                hidden.add(min(candidates, key=order))
                return True
            frontier = [other for line in near for other in line.members if other not in reached]
            reached.update(frontier)
    return False


# --- documents read together ---------------------------------------------------------------------
# A reader may fetch several documents and combine them: a month and the quarter holding it, a
# quarter and its year. Their cells are tied by more lines (a quarter's count is the sum of its
# months'), and the difference of two documents' counts is itself a count of people or events (the
# quarter's count less the month's is the other two months'), which must not be small either. The
# documents of a family are solved as one set of cells, in the order they were given out: each new
# document is suppressed with the earlier ones fixed, since a reader keeps what was published.


@dataclass(frozen=True)
class Document:
    """One document of a family: its cells and lines, keyed as in the document."""

    name: Hashable
    values: Mapping[Key, int]
    lines: Sequence[Line]


@dataclass(frozen=True)
class Relations:
    """How the documents of a family are tied to one another."""

    #: The family-wide cell of a document's cell: documents that show the same count (a month's
    #: row in its quarter's table and in the month's own document) map it to one cell.
    canonical: Callable[[Hashable, Key], Key]
    #: A document whose additive counts are the sums of its parts' (a quarter: its three months).
    parts: Mapping[Hashable, Sequence[Hashable]]
    #: (outer, inner): whatever ``inner`` counts, ``outer`` counts too (a month in its year).
    nested: Sequence[tuple[Hashable, Hashable]]
    #: Whether a cell adds up over parts (a count of events); progress of people does not.
    additive: Callable[[Key], bool]


def system(
    documents: Sequence[Document], relations: Relations, threshold: int
) -> tuple[dict[Key, int], list[Line], set[Key]]:
    """The documents as one set of cells and lines, and the virtual cells: each difference
    between a document's count and the same count of a document nested in it, when the
    difference is below the threshold (and not zero), tied to both by a line."""
    by_name = {doc.name: doc for doc in documents}
    values: dict[Key, int] = {}
    lines: list[Line] = []
    seen: set[Line] = set()

    def add(line: Line) -> None:
        if line not in seen and (line.cells != (line.total,)):
            seen.add(line)
            lines.append(line)

    def cell(name: Hashable, key: Key) -> Key:
        return relations.canonical(name, key)

    for doc in documents:
        for key, value in doc.values.items():
            values.setdefault(cell(doc.name, key), value)
        for line in doc.lines:
            add(Line(cell(doc.name, line.total), tuple(cell(doc.name, k) for k in line.cells)))
    for doc in documents:
        names = relations.parts.get(doc.name, ())
        parts = [by_name[p] for p in names if p in by_name]
        if not names or len(parts) != len(names):
            continue  # a month has no parts; a line never leaves a part out
        for key in doc.values:
            if relations.additive(key):
                add(
                    Line(
                        cell(doc.name, key),
                        tuple(cell(p.name, key) for p in parts if key in p.values),
                    )
                )
    virtual: set[Key] = set()
    for outer_name, inner_name in relations.nested:
        outer, inner = by_name.get(outer_name), by_name.get(inner_name)
        if outer is None or inner is None:
            continue
        for key, value in outer.values.items():
            if key not in inner.values:
                continue
            big, small = cell(outer.name, key), cell(inner.name, key)
            difference = value - inner.values[key]
            if big != small and 0 < abs(difference) < threshold:
                v = ("difference", big, small)
                values[v] = difference
                virtual.add(v)
                add(Line(big, (small, v)))
    return values, lines, virtual


def family(
    stages: Sequence[Sequence[Document]],
    relations: Relations,
    threshold: int,
    given: Mapping[Hashable, set[Key]] | None = None,
) -> dict[Hashable, set[Key]]:
    """The cells to publish empty in each document, given out stage after stage.

    ``given`` holds the suppressed cells of documents given out already (released and stored):
    a stage whose documents are all given is not solved again, its cells are fixed as given, and
    the later stages are suppressed around them: a cell those documents publish is never
    suppressed (``frozen``), while the documents of earlier stages solved in the same call may
    still have one moved (they are given out together).
    """
    given = given or {}
    documents: list[Document] = []
    fixed: dict[Key, bool] = {}
    frozen: set[Key] = set()
    hidden: set[Key] = set()
    for stage in stages:
        documents.extend(stage)
        if stage and all(doc.name in given for doc in stage):
            for doc in stage:
                for key in doc.values:
                    cell = relations.canonical(doc.name, key)
                    fixed[cell] = fixed.get(cell, False) or key in given[doc.name]
            frozen = {key for key, gone in fixed.items() if not gone}
            hidden = {key for key, gone in fixed.items() if gone}
            continue
        values, lines, virtual = system(documents, relations, threshold)
        hidden = suppress(values, lines, threshold, fixed=fixed, virtual=virtual, frozen=frozen)
        fixed = {key: key in hidden for key in values if key not in virtual}
    return {
        doc.name: {key for key in doc.values if relations.canonical(doc.name, key) in hidden}
        for doc in documents
    }


def exposed(
    documents: Sequence[Document],
    hidden: Mapping[Hashable, set[Key]],
    relations: Relations,
    threshold: int,
) -> set[Key]:
    """The audit of documents read together: every suppressed cell, and every difference below
    the threshold, that the published cells and all the lines pin to one value."""
    values, lines, virtual = system(documents, relations, threshold)
    unknown = {relations.canonical(doc.name, key) for doc in documents for key in hidden[doc.name]}
    return determined(values, lines, unknown | virtual)
