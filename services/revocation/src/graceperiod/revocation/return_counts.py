"""The Savings Plan returns counted against a management account's yearly limit, as a purchase's
view shows them ("at least N of 10"), kept a few seconds instead of counted on every view.

Counting is a scan of the family's purchases of the year (no index on FerretDB); the email-link
page shows it on every view, so a crowd of views (a mail scanner, 200 link views a second) made
one scan each and the views timed out. The figure is a hint (AWS reports no such number), not
what a return is decided on, so it may lag a return by up to :data:`FRESH_SECONDS`: a count that
old is counted again in the background while the views keep showing it, up to
:data:`STALE_SECONDS`; older than that, a view waits for a new count. Views asking at once share
one count (:class:`~graceperiod.runtime.shared_reads.SharedReads`). The phase and the deadlines
are not kept here: the view works them out from the purchase read on each view.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime

from graceperiod.runtime.shared_reads import SharedReads

FRESH_SECONDS = 5.0
STALE_SECONDS = 60.0

#: The accounts of the family (sorted) and the year's bounds.
CountKey = tuple[tuple[str, ...], tuple[datetime, datetime]]


class ReturnCounts:
    def __init__(
        self,
        count: Callable[[list[str], tuple[datetime, datetime]], Awaitable[int]],
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._count = count
        self._monotonic = monotonic
        self._kept: dict[CountKey, tuple[float, int]] = {}
        self._reads: SharedReads[CountKey, int] = SharedReads(self._read)
        self._refreshing: dict[CountKey, asyncio.Task[int]] = {}

    async def __call__(self, accounts: list[str], between: tuple[datetime, datetime]) -> int:
        key: CountKey = (tuple(sorted(set(accounts))), between)
        kept = self._kept.get(key)
        if kept is None:
            return await self._reads(key)
        age = self._monotonic() - kept[0]
        if age >= STALE_SECONDS:
            return await self._reads(key)
        if age >= FRESH_SECONDS and key not in self._refreshing:
            self._refreshing[key] = asyncio.get_running_loop().create_task(self._reads(key))
            self._refreshing[key].add_done_callback(lambda done: self._refreshed(key, done))
        return kept[1]

    def _refreshed(self, key: CountKey, done: asyncio.Task[int]) -> None:
        del self._refreshing[key]
        if not done.cancelled():
            done.exception()  # a failed refresh keeps the last count; the next view tries again

    async def _read(self, key: CountKey) -> int:
        started = self._monotonic()
        counted = await self._count(list(key[0]), key[1])
        self._kept[key] = (started, counted)
        return counted
