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
from fractions import Fraction
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


def _secondary(lines: Sequence[Line], hidden: set[Key], order: Callable[[Key], Any]) -> None:
    changed = True
    while changed:
        changed = False
        for line in lines:
            members = line.members
            if sum(1 for key in members if key in hidden) != 1:
                continue
            candidates = [key for key in members if key not in hidden]
            if candidates:
                hidden.add(min(candidates, key=order))
                changed = True


def determined(values: Mapping[Key, int], lines: Sequence[Line], hidden: Iterable[Key]) -> set[Key]:
    """The suppressed cells that the published cells and the lines pin to one value.

    Each line is an equation in the suppressed cells; a cell is determined exactly when its unit
    vector lies in the span of the equations, which the reduced row echelon form shows: its
    column is a pivot whose row has no other non-zero entry. The rows are kept sparse (a line
    names a few cells of thousands when the documents of a whole year are solved together), and
    which cells are determined does not depend on the order of elimination.
    """
    unknowns = set(hidden)
    order = {key: i for i, key in enumerate(sorted(unknowns, key=repr))}
    pivots: dict[Key, dict[Key, Fraction]] = {}  # pivot column -> its row, reduced
    holders: dict[Key, set[Key]] = {}  # column -> the pivot columns whose row has it
    for line in lines:
        row: dict[Key, Fraction] = {}
        for key in line.cells:
            if key in unknowns:
                row[key] = row.get(key, Fraction(0)) + 1
        if line.total in unknowns:
            row[line.total] = row.get(line.total, Fraction(0)) - 1
        for column in [k for k in row if k in pivots]:
            factor = row.get(column)
            if factor:
                _subtract(row, pivots[column], factor)
        row = {k: v for k, v in row.items() if v}
        if not row:
            continue
        column = min(row, key=order.__getitem__)
        scale = row[column]
        row = {k: v / scale for k, v in row.items()}
        for other in list(holders.get(column, ())):
            target = pivots[other]
            for k in target:
                holders[k].discard(other)
            _subtract(target, row, target[column])
            for k in target:
                holders.setdefault(k, set()).add(other)
        pivots[column] = row
        for k in row:
            holders.setdefault(k, set()).add(column)
    return {column for column, row in pivots.items() if len(row) == 1}


def _subtract(row: dict[Key, Fraction], pivot: Mapping[Key, Fraction], factor: Fraction) -> None:
    """``row -= factor * pivot``, dropping the entries that become zero."""
    for key, value in pivot.items():
        result = row.get(key, Fraction(0)) - factor * value
        if result:
            row[key] = result
        else:
            row.pop(key, None)


def suppress(
    values: Mapping[Key, int],
    lines: Sequence[Line],
    threshold: int,
    *,
    fixed: Mapping[Key, bool] | None = None,
    virtual: Iterable[Key] = (),
) -> set[Key]:
    """The cells to publish empty: primary, secondary, then until no linear solve finds one.

    ``fixed`` maps cells already given out in earlier documents to whether they were suppressed:
    a reader keeps the old documents, so complements are taken among the other cells whenever
    one is left (a fixed cell is moved only if nothing else can protect a small count).
    ``virtual`` cells are never published but must not be recomputable either: the difference
    between two documents' counts when it is below the threshold (see ``family``).
    """
    for line in lines:
        for key in line.members:
            if key not in values:
                raise KeyError(f"line refers to an unknown cell {key!r}")
    fixed = fixed or {}
    virtual = set(virtual)
    hidden = primary(values, threshold) | virtual | {key for key, gone in fixed.items() if gone}

    def order(key: Key) -> tuple[bool, bool, int, str]:
        return (key in fixed, *_order(values, key))

    while True:
        _secondary(lines, hidden, order)
        exposed = determined(values, lines, hidden)
        if not exposed:
            return hidden - virtual
        if not _widen(lines, hidden, sorted(exposed, key=repr), order):
            # Every line of every exposed cell is already fully hidden: a determined cell then
            # can only be pinned by lines with nothing published, which cannot happen.
            raise AssertionError("secondary suppression found no cell to add")  # pragma: no cover


def _widen(
    lines: Sequence[Line], hidden: set[Key], exposed: Sequence[Key], order: Callable[[Key], Any]
) -> bool:
    """Suppress one more cell beside the first exposed cell that has a published neighbour."""
    for key in exposed:
        candidates = {
            other
            for line in lines
            if key in line.members
            for other in line.members
            if other not in hidden
        }
        if candidates:
            hidden.add(min(candidates, key=order))
            return True
    return False
