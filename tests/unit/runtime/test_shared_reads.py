"""Identical reads at once share one read, and each caller's read started after it arrived."""

from __future__ import annotations

import asyncio

import pytest

from graceperiod.runtime.shared_reads import SharedReads


class Store:
    """A value a writer changes; each read takes a moment and says what it saw."""

    def __init__(self) -> None:
        self.value = 0
        self.reads = 0
        self.release = asyncio.Event()

    async def read(self, key: str) -> tuple[str, int]:
        self.reads += 1
        seen = self.value
        await self.release.wait()
        return key, seen


async def test_callers_arriving_together_share_one_read() -> None:
    store = Store()
    shared = SharedReads(store.read)
    callers = [asyncio.create_task(shared("page-1")) for _ in range(16)]
    other = asyncio.create_task(shared("page-2"))
    await asyncio.sleep(0)
    store.release.set()

    assert await asyncio.gather(*callers) == [("page-1", 0)] * 16
    assert await other == ("page-2", 0)
    assert store.reads == 2
    assert shared.keys_in_flight == 0


async def test_a_caller_never_gets_a_read_that_started_before_it_arrived() -> None:
    store = Store()
    shared = SharedReads(store.read)
    early = asyncio.create_task(shared("page"))
    await asyncio.sleep(0.01)  # the early read is under way and has seen 0
    store.value = 1  # a write the late callers have seen acknowledged
    late = [asyncio.create_task(shared("page")) for _ in range(5)]
    await asyncio.sleep(0.01)
    store.release.set()

    assert await early == ("page", 0)
    assert await asyncio.gather(*late) == [("page", 1)] * 5
    assert store.reads == 2  # the late ones shared the read after the early one


async def test_a_failed_read_fails_its_callers_only_and_the_next_read_runs() -> None:
    calls = 0

    async def read(key: str) -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        if calls == 1:
            raise ConnectionError("database down")
        return calls

    shared = SharedReads(read)
    first = [asyncio.create_task(shared("k")) for _ in range(3)]
    for task in first:
        with pytest.raises(ConnectionError):
            await task
    assert await shared("k") == 2


async def test_a_cancelled_caller_does_not_cancel_the_others_read() -> None:
    store = Store()
    shared = SharedReads(store.read)
    quitter, stayer = asyncio.create_task(shared("k")), asyncio.create_task(shared("k"))
    await asyncio.sleep(0)
    quitter.cancel()
    store.release.set()

    assert await stayer == ("k", 0)
    assert quitter.cancelled()
