"""Statistical secrecy on crafted tables: nothing under the threshold, nothing recomputable."""

from __future__ import annotations

import random
from datetime import date
from fractions import Fraction
from typing import Any

import pytest

from app.observatory import service
from app.observatory.secrecy import Key, Line, determined, primary, suppress

T = 5


def grid(rows: list[list[int]]) -> tuple[dict[Key, int], list[Line]]:
    """A two-way table with row totals, column totals and a grand total, as cells and lines."""
    values: dict[Key, int] = {}
    lines = []
    for i, row in enumerate(rows):
        for j, value in enumerate(row):
            values[(i, j)] = value
        values[(i, "T")] = sum(row)
        lines.append(Line((i, "T"), tuple((i, j) for j in range(len(row)))))
    for j in range(len(rows[0])):
        values[("T", j)] = sum(row[j] for row in rows)
        lines.append(Line(("T", j), tuple((i, j) for i in range(len(rows)))))
    values[("T", "T")] = sum(map(sum, rows))
    lines.append(Line(("T", "T"), tuple((i, "T") for i in range(len(rows)))))
    lines.append(Line(("T", "T"), tuple(("T", j) for j in range(len(rows[0])))))
    return values, lines


def recomputable(values: dict[Key, int], lines: list[Line], hidden: set[Key]) -> set[Key]:
    """An attacker's solve, written independently of the module: for each suppressed cell, is
    there a combination of the lines that isolates it? (least-squares rank test in Fractions)"""
    unknowns = sorted(hidden, key=repr)
    equations = []
    for line in lines:
        row = {key: Fraction(0) for key in unknowns}
        for key in line.cells:
            if key in row:
                row[key] += 1
        if line.total in row:
            row[line.total] -= 1
        equations.append([row[k] for k in unknowns])

    def rank(matrix: list[list[Fraction]]) -> int:
        m = [list(r) for r in matrix]
        rk, cols = 0, len(m[0]) if m else 0
        for c in range(cols):
            pivot = next((i for i in range(rk, len(m)) if m[i][c] != 0), None)
            if pivot is None:
                continue
            m[rk], m[pivot] = m[pivot], m[rk]
            for i in range(len(m)):
                if i != rk and m[i][c] != 0:
                    f = m[i][c] / m[rk][c]
                    m[i] = [a - f * b for a, b in zip(m[i], m[rk], strict=True)]
            rk += 1
        return rk

    base = rank(equations)
    found = set()
    for k, key in enumerate(unknowns):
        unit = [Fraction(1 if j == k else 0) for j in range(len(unknowns))]
        if rank([*equations, unit]) == base:
            found.add(key)
    return found


def check(values: dict[Key, int], lines: list[Line], hidden: set[Key]) -> None:
    for key, value in values.items():
        if 0 < value < T:
            assert key in hidden, f"{key} = {value} published"
    for line in lines:
        assert sum(1 for key in line.members if key in hidden) != 1, line
    assert recomputable(values, lines, hidden) == set()


def test_zero_is_published_and_a_small_count_is_not() -> None:
    values, lines = grid([[0, 10, 12], [7, 9, 8]])
    hidden = suppress(values, lines, T)
    assert hidden == set()
    values, lines = grid([[3, 10, 12], [7, 9, 8]])
    assert primary(values, T) == {(0, 0)}


def test_a_single_suppressed_cell_in_a_row_takes_the_next_smallest_with_it() -> None:
    values, lines = grid([[3, 10, 12], [7, 9, 8]])
    hidden = suppress(values, lines, T)
    # Row 0 gives 3 back unless 10 goes too; column 0 gives it back unless 7 goes too, and so on
    # until the four corners of a rectangle are hidden.
    assert {(0, 0), (0, 1), (1, 0), (1, 1)} <= hidden
    assert (0, 2) not in hidden and (1, 2) not in hidden
    check(values, lines, hidden)


def test_a_zero_is_taken_only_when_nothing_else_is_left() -> None:
    values: dict[Key, int] = {"a": 3, "b": 0, "total": 3}
    lines = [Line("total", ("a", "b"))]
    hidden = suppress(values, lines, T)
    assert hidden == {"a", "total"} or hidden == {"a", "b"}
    check(values, lines, hidden)
    values = {"a": 3, "b": 0, "c": 9, "total": 12}
    hidden = suppress(values, [Line("total", ("a", "b", "c"))], T)
    assert hidden == {"a", "c"}


def test_a_small_total_is_suppressed_and_protected_too() -> None:
    values, lines = grid([[1, 2], [0, 0]])
    hidden = suppress(values, lines, T)
    assert ("T", "T") in hidden and (0, "T") in hidden
    check(values, lines, hidden)


def test_a_cell_recomputable_from_the_grand_total_is_caught() -> None:
    # Two one-way tables share the grand total: a by-month and a by-domain view of the same
    # validations. Suppressing 3 in one and its neighbour leaves nothing to subtract; but hiding
    # the only small cell of the other view must not leave the total able to give it back.
    values: dict[Key, int] = {"m1": 3, "m2": 20, "d1": 4, "d2": 19, "total": 23}
    lines = [Line("total", ("m1", "m2")), Line("total", ("d1", "d2"))]
    hidden = suppress(values, lines, T)
    assert {"m1", "d1"} <= hidden
    check(values, lines, hidden)


def test_a_bridge_between_two_hidden_blocks_is_caught_by_the_solve() -> None:
    """Every line has two suppressed cells, yet the bridge cell is the difference of two sums."""
    rows = [
        [2, 2, 50, 50],
        [2, 2, 1, 50],
        [50, 50, 2, 2],
        [50, 50, 2, 2],
    ]
    values, lines = grid(rows)
    hidden: set[Key] = {(0, 0), (0, 1), (1, 0), (1, 1), (2, 2), (2, 3), (3, 2), (3, 3), (1, 2)}
    # The bridge (1, 2) sits in row 1 and column 2 with other hidden cells, yet is determined.
    assert (1, 2) in recomputable(values, lines, hidden)
    assert (1, 2) in determined(values, lines, hidden)
    check(values, lines, suppress(values, lines, T))


def test_a_line_naming_an_unknown_cell_is_refused() -> None:
    with pytest.raises(KeyError):
        suppress({"a": 1}, [Line("total", ("a",))], T)


@pytest.mark.parametrize("seed", range(60))
def test_random_tables_never_give_back_a_suppressed_cell(seed: int) -> None:
    rng = random.Random(seed)  # noqa: S311 (test data, not secrets)
    n, m = rng.randint(1, 6), rng.randint(1, 6)
    rows = [[rng.choice([0, 0, 1, 2, 3, 4, 5, 7, 12, 30]) for _ in range(m)] for _ in range(n)]
    values, lines = grid(rows)
    if rng.random() < 0.5:
        # A second view of the same grand total, as by-month beside by-domain.
        extra = [rng.choice([0, 1, 3, 6, 20]) for _ in range(rng.randint(1, 4))]
        extra[-1] = max(0, values[("T", "T")] - sum(extra[:-1]))
        if sum(extra) == values[("T", "T")]:
            for k, value in enumerate(extra):
                values[("x", k)] = value
            lines.append(Line(("T", "T"), tuple(("x", k) for k in range(len(extra)))))
    hidden = suppress(values, lines, T)
    check(values, lines, hidden)


@pytest.mark.parametrize("seed", range(8))
def test_a_whole_random_publication_gives_nothing_back(seed: int) -> None:
    """Every table of a territory's document at once, with their shared totals."""
    rng = random.Random(seed)  # noqa: S311 (test data, not secrets)
    p = service.Period(date(2026, 1, 1), date(2026, 3, 31))
    competences = {f"crcn:{a}.{b}": (f"crcn:{a}", "") for a in (1, 2) for b in (1, 2)}
    ref = service.Reference(
        competences=competences,
        domains={"crcn:1": "", "crcn:2": ""},
        first_steps={"pp:PP-01": "", "pp:PP-02": ""},
        structures={1: "a", 2: "b"},
    )

    def small() -> int:
        return rng.choice([0, 0, 1, 2, 3, 4, 6, 9, 15])

    levels = {(c, lv): small() for c in competences for lv in (1, 2, 3)}
    total = sum(levels.values())

    def spread(keys: list[Any]) -> dict[Any, int]:
        out = dict.fromkeys(keys, 0)
        for _ in range(total):
            out[rng.choice(keys)] += 1
        return out

    figures = service.Figures(
        passports={m: small() for m in p.months()},
        competence_level=levels,
        methods=spread(list(service.COUNTED_METHODS)),
        structures=spread([1, 2, None]),
        validation_months=spread(p.months()),
        first_steps={"pp:PP-01": small(), "pp:PP-02": small()},
        progress={c: small() for c in competences},
        progressed=small(),
        credentials={m: small() for m in p.months()},
        verifications={(m, "valid", ch): small() for m in p.months() for ch in ("qr", "code")},
    )
    book = service.book(figures, ref, p)
    hidden = suppress(book.values, book.lines, T)
    published = service.publish(book, T)
    for _, rows in published:
        for _, value in rows:
            assert value is None or value == 0 or value >= T
    for key, value in book.values.items():
        if 0 < value < T:
            assert key in hidden
    assert recomputable(book.values, book.lines, hidden) == set()


def test_a_frozen_cell_is_never_suppressed_the_complement_is_found_elsewhere() -> None:
    """A cell of a released document is out for good: a later solve takes another complement,
    even where the frozen one would be the first choice."""
    values: dict[Key, int] = {"t": 20, "a": 2, "b": 9, "c": 9, "u": 30, "d": 21}
    lines = [Line("t", ("a", "b", "c")), Line("u", ("b", "d"))]
    assert suppress(values, lines, T) == {"a", "b", "d"}
    hidden = suppress(values, lines, T, frozen={"b"})
    assert hidden == {"a", "c"}
    assert determined(values, lines, hidden) == set()
    # A cell fixed as published and frozen stays published, whatever else is fixed.
    assert "b" not in suppress(values, lines, T, fixed={"b": False, "a": True}, frozen={"b"})
