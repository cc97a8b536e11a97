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

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

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


def _secondary(values: Mapping[Key, int], lines: Sequence[Line], hidden: set[Key]) -> None:
    changed = True
    while changed:
        changed = False
        for line in lines:
            members = line.members
            if sum(1 for key in members if key in hidden) != 1:
                continue
            candidates = [key for key in members if key not in hidden]
            if candidates:
                hidden.add(min(candidates, key=lambda k: _order(values, k)))
                changed = True


def determined(values: Mapping[Key, int], lines: Sequence[Line], hidden: Iterable[Key]) -> set[Key]:
    """The suppressed cells that the published cells and the lines pin to one value.

    Each line is an equation in the suppressed cells; a cell is determined exactly when its unit
    vector lies in the span of the equations, which the reduced row echelon form shows: its
    column is a pivot whose row has no other non-zero entry.
    """
    unknowns = sorted(set(hidden), key=repr)
    index = {key: i for i, key in enumerate(unknowns)}
    rows: list[list[Fraction]] = []
    for line in lines:
        row = [Fraction(0)] * len(unknowns)
        for key in line.cells:
            if key in index:
                row[index[key]] += 1
        if line.total in index:
            row[index[line.total]] -= 1
        if any(row):
            rows.append(row)
    pivots = _reduce(rows, len(unknowns))
    found = set()
    for r, c in pivots:
        if all(value == 0 for j, value in enumerate(rows[r]) if j != c):
            found.add(unknowns[c])
    return found


def _reduce(rows: list[list[Fraction]], width: int) -> list[tuple[int, int]]:
    """Reduced row echelon form in place; the (row, column) of each pivot."""
    pivots: list[tuple[int, int]] = []
    r = 0
    for c in range(width):
        if r == len(rows):
            break
        pick = next((i for i in range(r, len(rows)) if rows[i][c] != 0), None)
        if pick is None:
            continue
        rows[r], rows[pick] = rows[pick], rows[r]
        pivot = rows[r][c]
        rows[r] = [value / pivot for value in rows[r]]
        for i in range(len(rows)):
            if i != r and rows[i][c] != 0:
                factor = rows[i][c]
                rows[i] = [a - factor * b for a, b in zip(rows[i], rows[r], strict=True)]
        pivots.append((r, c))
        r += 1
    return pivots


def suppress(values: Mapping[Key, int], lines: Sequence[Line], threshold: int) -> set[Key]:
    """The cells to publish empty: primary, secondary, then until no linear solve finds one."""
    for line in lines:
        for key in line.members:
            if key not in values:
                raise KeyError(f"line refers to an unknown cell {key!r}")
    hidden = primary(values, threshold)
    while True:
        _secondary(values, lines, hidden)
        exposed = determined(values, lines, hidden)
        if not exposed:
            return hidden
        if not _widen(values, lines, hidden, sorted(exposed, key=repr)):
            # Every line of every exposed cell is already fully hidden: a determined cell then
            # can only be pinned by lines with nothing published, which cannot happen.
            raise AssertionError("secondary suppression found no cell to add")  # pragma: no cover


def _widen(
    values: Mapping[Key, int], lines: Sequence[Line], hidden: set[Key], exposed: Sequence[Key]
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
            hidden.add(min(candidates, key=lambda k: _order(values, k)))
            return True
    return False
