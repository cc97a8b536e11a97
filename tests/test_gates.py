"""The request gates (app.api.deps): a request waits for its connection slot and, on SQLite, for
the one writer's place, but not forever: past the bound it is answered 503
``database_unavailable`` with nothing done, and the place it never got stays whole."""

from __future__ import annotations

import asyncio

import pytest

from app.api import deps
from app.core.errors import DatabaseUnavailable
from tests.conftest import run_async


def test_a_held_gate_refuses_after_its_bound_and_a_free_one_is_given_back() -> None:
    async def scenario() -> list[str]:
        seen: list[str] = []
        lock = asyncio.Lock()
        await lock.acquire()  # another request holds the writer's place
        with pytest.raises(DatabaseUnavailable) as refused:
            async with deps._bounded(lock, 0.05):
                seen.append("entered")  # never: the place was not free in time
        assert refused.value.headers == {"Retry-After": "5"}
        lock.release()
        async with deps._bounded(lock, 0.05):
            seen.append("entered")
            assert lock.locked()
        assert not lock.locked()  # given back on the way out
        with pytest.raises(RuntimeError):
            async with deps._bounded(lock, 0.05):
                raise RuntimeError("the route failed")
        assert not lock.locked()  # and when the route raises

        slots = asyncio.Semaphore(2)
        async with deps._bounded(slots, 0.05), deps._bounded(slots, 0.05):
            with pytest.raises(DatabaseUnavailable):
                async with deps._bounded(slots, 0.05):
                    pass
        async with deps._bounded(slots, 0.05), deps._bounded(slots, 0.05):
            seen.append("both slots again")
        return seen

    assert run_async(scenario()) == ["entered", "both slots again"]


def test_the_waiting_requests_take_their_turn_in_order_within_the_bound() -> None:
    """Waiting is not refused: requests queued behind a short write get the place in turn."""

    async def scenario() -> list[int]:
        lock, order = asyncio.Lock(), []

        async def request(n: int) -> None:
            async with deps._bounded(lock, 5):
                order.append(n)
                await asyncio.sleep(0.01)

        await asyncio.gather(*(request(n) for n in range(5)))
        return order

    assert run_async(scenario()) == [0, 1, 2, 3, 4]
