"""The yearly return count a view shows is counted once for a crowd of views, kept a few
seconds, refreshed in the background while it is not too old, and waited for when it is."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from graceperiod.revocation.return_counts import FRESH_SECONDS, STALE_SECONDS, ReturnCounts

YEAR = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))


class _Store:
    """A count that takes a moment, as a scan does, and says how often it ran."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.value = 1
        self.failing = False

    async def count(self, accounts: list[str], between: tuple[datetime, datetime]) -> int:
        assert between == YEAR
        self.calls.append(tuple(accounts))
        await asyncio.sleep(0.01)
        if self.failing:
            raise ConnectionError("database away")
        return self.value


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_crowd_of_views_costs_one_count_and_views_within_seconds_none() -> None:
    store, clock = _Store(), _Clock()
    counts = ReturnCounts(store.count, monotonic=clock)
    got = await asyncio.gather(*(counts(["222", "111"], YEAR) for _ in range(50)))
    assert got == [1] * 50
    assert store.calls == [("111", "222")]
    clock.now += FRESH_SECONDS - 0.1
    assert await counts(["111", "222"], YEAR) == 1
    assert len(store.calls) == 1


async def test_an_older_count_is_shown_while_it_is_counted_again() -> None:
    store, clock = _Store(), _Clock()
    counts = ReturnCounts(store.count, monotonic=clock)
    await counts(["111"], YEAR)
    store.value = 2
    clock.now += FRESH_SECONDS
    assert await asyncio.gather(*(counts(["111"], YEAR) for _ in range(10))) == [1] * 10
    await asyncio.sleep(0.05)  # the one refresh ends
    assert len(store.calls) == 2
    assert await counts(["111"], YEAR) == 2


async def test_a_count_too_old_is_waited_for_and_families_are_counted_apart() -> None:
    store, clock = _Store(), _Clock()
    counts = ReturnCounts(store.count, monotonic=clock)
    await counts(["111"], YEAR)
    await counts(["333"], YEAR)
    store.value = 3
    clock.now += STALE_SECONDS
    assert await counts(["111"], YEAR) == 3
    assert store.calls == [("111",), ("333",), ("111",)]


async def test_a_failed_refresh_keeps_the_last_count() -> None:
    store, clock = _Store(), _Clock()
    counts = ReturnCounts(store.count, monotonic=clock)
    await counts(["111"], YEAR)
    store.failing = True
    clock.now += FRESH_SECONDS
    assert await counts(["111"], YEAR) == 1
    await asyncio.sleep(0.05)
    assert await counts(["111"], YEAR) == 1
    await asyncio.sleep(0.05)
    assert len(store.calls) == 3  # failed, and tried again by the next view
