"""The purchase views the email-link pages show, kept for about a second per link recipient.

Each view was one RPC to the revocation service, which verifies the token again and reads the
purchase and its account; a crowd of views of one link (a mail scanner, a recipient refreshing,
the in-progress page refreshing itself, 200 a second in ``make bench``) made one each and the
service could not keep up. Here a view read less than ``keep`` ago is shown again, views asked
for at once share one read (:class:`~graceperiod.runtime.shared_reads.SharedReads`: none is
given a read that started before it asked), and a view half its age old is read again in the
background while it is still shown, so a steady crowd never waits for the service.

How old a shown view may be, and why that is safe:

* never older than ``keep`` counted from when its read *started*, and never kept past the next
  instant its phase changes by time (the window instants it carries); the countdown is worked
  out at render time from those instants;
* an action taken through this gateway forgets the purchase's views, and a read under way
  meanwhile is not kept, so the page after an action shows the purchase as read afterwards;
* another gateway replica's action, or a change the revocation service makes itself, shows here
  after at most ``keep``: replicas agree within ``keep``. The page decides nothing: the token is
  verified and its use looked up on every view, and the POST goes to the revocation service,
  which decides on the purchase as stored, so a stale "Revoke" never lets a second revoke
  through (a refused one gives the link back).

Failures (the service not answering, an unknown purchase) are not kept.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from graceperiod.contracts.revocation_views import PurchaseView
from graceperiod.runtime.clock import Clock
from graceperiod.runtime.shared_reads import SharedReads

#: The purchase id (as the link's address names it), the link's recipient and its token.
ViewKey = tuple[str, str, str]


@dataclass(frozen=True)
class _Kept:
    view: PurchaseView
    read_at: datetime
    """When its read started."""
    until: datetime


def _expiry(view: PurchaseView, read_at: datetime, keep: timedelta) -> datetime:
    """``keep`` after the read started, or the next window instant after it if sooner."""
    windows = view.windows
    instants = (windows.self_service_until, windows.support_case_until, windows.closes_at)
    return min([read_at + keep, *(at for at in instants if at is not None and at > read_at)])


class RecentViews:
    def __init__(
        self,
        read: Callable[[ViewKey], Awaitable[PurchaseView]],
        clock: Clock,
        *,
        keep: timedelta,
        limit: int = 10_000,
    ) -> None:
        self._read = read
        self._clock = clock
        self._keep = keep
        self._limit = limit
        self._kept: dict[str, dict[tuple[str, str], _Kept]] = {}
        self._forgets = 0
        """Bumped by :meth:`forget`: a read that started before is not kept."""
        self._reads: SharedReads[ViewKey, PurchaseView] = SharedReads(self._fresh)
        self._refreshing: dict[ViewKey, asyncio.Task[PurchaseView]] = {}

    async def get(self, key: ViewKey) -> PurchaseView:
        if self._keep <= timedelta(0):
            return await self._read(key)
        kept = self._kept.get(key[0], {}).get(key[1:])
        now = self._clock.now()
        if kept is None or now >= kept.until:
            return await self._reads(key)
        if now - kept.read_at >= self._keep / 2 and key not in self._refreshing:
            self._refreshing[key] = asyncio.get_running_loop().create_task(self._reads(key))
            self._refreshing[key].add_done_callback(lambda done: self._refreshed(key, done))
        return kept.view

    def forget(self, purchase_id: str) -> None:
        """The purchase changed (or may have): its views are read again, reads under way too."""
        self._forgets += 1
        self._kept.pop(purchase_id, None)

    def _refreshed(self, key: ViewKey, done: asyncio.Task[PurchaseView]) -> None:
        del self._refreshing[key]
        if not done.cancelled():
            done.exception()  # a failed refresh keeps the view until it expires; the next view reads

    async def _fresh(self, key: ViewKey) -> PurchaseView:
        read_at, forgets = self._clock.now(), self._forgets
        view = await self._read(key)
        if forgets == self._forgets:
            self._store(key, _Kept(view, read_at, _expiry(view, read_at, self._keep)))
        return view

    def _store(self, key: ViewKey, kept: _Kept) -> None:
        if key[0] not in self._kept and len(self._kept) >= self._limit:
            now = self._clock.now()
            for purchase_id in [p for p, views in self._kept.items() if all(now >= k.until for k in views.values())]:
                del self._kept[purchase_id]
            if len(self._kept) >= self._limit:  # all fresh: the oldest purchase goes
                del self._kept[next(iter(self._kept))]
        self._kept.setdefault(key[0], {})[key[1:]] = kept
