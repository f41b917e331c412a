"""Identical reads in flight at once share one database read, and none sees older data.

A caller joins the read of its key that starts *next*, never one already under way: that one
may have started before a write the caller has already seen acknowledged (a revoke answered,
then the list asked for). So every caller gets what a read started after it arrived returned,
as if it had read alone, while a crowd asking the same thing (dashboards refreshing the first
page of purchases) costs one read at a time per key instead of one each.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SharedReads(Generic[K, V]):
    def __init__(self, read: Callable[[K], Awaitable[V]]) -> None:
        self._read = read
        self._next: dict[K, asyncio.Task[V]] = {}
        self._current: dict[K, asyncio.Task[V]] = {}

    async def __call__(self, key: K) -> V:
        waiting = self._next.get(key)
        if waiting is None:
            waiting = asyncio.get_running_loop().create_task(self._after_current(key))
            self._next[key] = waiting
        # A caller that gives up (cancelled) does not cancel the read the others wait for.
        return await asyncio.shield(waiting)

    async def _after_current(self, key: K) -> V:
        current = self._current.get(key)
        if current is not None:
            with contextlib.suppress(BaseException):  # its outcome is its callers'
                await asyncio.wait([current])
        this = asyncio.current_task()
        assert this is not None
        # From here on this read is under way: callers arriving now wait for the next one.
        del self._next[key]
        self._current[key] = this
        try:
            return await self._read(key)
        finally:
            if self._current.get(key) is this:
                del self._current[key]

    @property
    def keys_in_flight(self) -> int:
        return len(self._next.keys() | self._current.keys())
