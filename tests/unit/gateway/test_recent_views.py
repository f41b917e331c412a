"""The email-link pages' recent views: how long a view is shown again, what makes it read
afresh, and that a crowd shares one read (pure logic: a counting reader, a frozen clock)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from graceperiod.contracts.revocation_views import Phase, PurchaseView
from graceperiod.devstack.testkit.gateway_samples import purchase_view
from graceperiod.gateway.links.recent_views import RecentViews, ViewKey
from graceperiod.runtime.clock import FrozenClock
from graceperiod.runtime.rpc import ServiceUnavailable

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
KEY: ViewKey = ("pur-1", "alice@example.com", "token-a")
KEEP = timedelta(seconds=1)


class Reader:
    """Answers each read with the purchase in ``phase`` as it is when the read *ends*."""

    def __init__(self, clock: FrozenClock, *, window_left: timedelta = timedelta(days=3)) -> None:
        self.clock = clock
        self.phase = Phase.SELF_SERVICE
        self.window_left = window_left
        self.reads = 0
        self.gate: asyncio.Event | None = None
        self.fail: Exception | None = None
        self.started = asyncio.Event()

    async def __call__(self, key: ViewKey) -> PurchaseView:
        self.reads += 1
        self.started.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        return purchase_view(NOW, phase=self.phase, window_left=self.window_left)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


async def test_a_view_is_shown_again_until_keep_has_passed_since_its_read_started(clock: FrozenClock) -> None:
    read = Reader(clock)
    views = RecentViews(read, clock, keep=KEEP)
    assert (await views.get(KEY)).phase is Phase.SELF_SERVICE
    read.phase = Phase.REVOCATION_PENDING  # changed elsewhere (another replica, the service itself)
    clock.advance(timedelta(milliseconds=400))
    assert (await views.get(KEY)).phase is Phase.SELF_SERVICE
    assert read.reads == 1
    clock.advance(timedelta(milliseconds=600))
    assert (await views.get(KEY)).phase is Phase.REVOCATION_PENDING
    assert read.reads == 2


async def test_a_view_is_never_kept_past_the_window_instant_it_carries(clock: FrozenClock) -> None:
    read = Reader(clock, window_left=timedelta(milliseconds=300))
    views = RecentViews(read, clock, keep=KEEP)
    await views.get(KEY)
    clock.advance(timedelta(milliseconds=299))
    await views.get(KEY)
    assert read.reads == 1
    clock.advance(timedelta(milliseconds=1))  # the self-service window closes: the phase may change
    read.phase = Phase.SUPPORT_CASE
    assert (await views.get(KEY)).phase is Phase.SUPPORT_CASE
    assert read.reads == 2


async def test_forget_reads_again_and_drops_a_read_that_was_under_way(clock: FrozenClock) -> None:
    read = Reader(clock)
    views = RecentViews(read, clock, keep=KEEP)
    await views.get(KEY)
    other: ViewKey = ("pur-1", "bob@example.com", "token-b")
    await views.get(other)
    read.gate = asyncio.Event()
    views.forget("pur-1")  # a revoke went through this gateway
    read.phase = Phase.REVOCATION_PENDING
    read.started.clear()
    under_way = asyncio.create_task(views.get(KEY))
    await read.started.wait()
    views.forget("pur-1")  # and another action while that read was under way
    read.gate.set()
    await under_way
    read.gate = None
    assert (await views.get(other)).phase is Phase.REVOCATION_PENDING
    assert (await views.get(KEY)).phase is Phase.REVOCATION_PENDING
    assert read.reads == 5  # both keys forgotten; the read under way was not kept


async def test_a_crowd_shares_one_read_and_failures_are_not_kept(clock: FrozenClock) -> None:
    read = Reader(clock)
    views = RecentViews(read, clock, keep=KEEP)
    read.gate = asyncio.Event()
    crowd = [asyncio.create_task(views.get(KEY)) for _ in range(50)]
    await read.started.wait()
    read.gate.set()
    await asyncio.gather(*crowd)
    assert read.reads == 1
    read.gate = None
    clock.advance(KEEP)
    read.fail = ServiceUnavailable("revocation", 5.0)
    with pytest.raises(ServiceUnavailable):
        await views.get(KEY)
    read.fail = None
    await views.get(KEY)
    assert read.reads == 3


async def test_half_way_the_view_is_read_again_in_the_background_while_it_is_shown(clock: FrozenClock) -> None:
    read = Reader(clock)
    views = RecentViews(read, clock, keep=KEEP)
    await views.get(KEY)
    read.phase = Phase.REVOCATION_PENDING
    clock.advance(timedelta(milliseconds=500))
    assert (await views.get(KEY)).phase is Phase.SELF_SERVICE  # shown at once, read behind it
    await asyncio.sleep(0.01)
    assert read.reads == 2
    assert (await views.get(KEY)).phase is Phase.REVOCATION_PENDING
    clock.advance(timedelta(milliseconds=499))  # its age counts from the background read's start
    await views.get(KEY)
    await asyncio.sleep(0.01)
    assert read.reads == 2


async def test_zero_keeps_nothing_and_the_limit_bounds_what_is_kept(clock: FrozenClock) -> None:
    read = Reader(clock)
    off = RecentViews(read, clock, keep=timedelta(0))
    await off.get(KEY)
    await off.get(KEY)
    assert read.reads == 2
    small = RecentViews(read, clock, keep=KEEP, limit=2)
    for n in range(3):
        await small.get((f"pur-{n}", "alice@example.com", "t"))
    await small.get(("pur-0", "alice@example.com", "t"))  # the oldest was dropped for pur-2
    await small.get(("pur-2", "alice@example.com", "t"))
    assert read.reads == 2 + 4
