"""What a tick does, in order: read the lease costs that are due (``costs.py``: a read may
settle and release its account), release every other account whose Cooldown has elapsed,
run the wait-list (expire, grant), check the low-pool alert, refresh the pool gauges.

A release pass reads only due schedule entries, from one cursor, a batch at a time, with
``release_pipeline`` batches in flight; each batch is a few commands whatever its size (its
accounts read in one query, its releases claimed in one insert and finished together by
``ChangeProtocol.finish_many``). Concurrent passes (replicas, duplicated ticks) each release
a disjoint share, because each release is claimed (``change_protocol``).
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Final

from graceperiod.contracts.cooldown import AccountStatus
from graceperiod.contracts.upstream import Tick
from graceperiod.cooldown import metrics
from graceperiod.cooldown.change_protocol import AccountBusy, ChangeProtocol, Use, bounded
from graceperiod.cooldown.costs import CostReads
from graceperiod.cooldown.domain.accounts import Account
from graceperiod.cooldown.domain.changes import ChangeRecord
from graceperiod.cooldown.domain.decisions import Decision, Verdict
from graceperiod.cooldown.domain.release import release_due
from graceperiod.cooldown.domain.schedule import ScheduledRelease
from graceperiod.cooldown.pool_alerts import PoolAlerts
from graceperiod.cooldown.waits import WaitList
from graceperiod.runtime.logs import get_logger

log = get_logger("graceperiod.cooldown")

_RETIRE_LOOKBACK: Final = 20


class Ticks(Use):
    def __init__(self, changes: ChangeProtocol, *, costs: CostReads, waits: WaitList, alerts: PoolAlerts) -> None:
        super().__init__(changes)
        self._costs = costs
        self._waits = waits
        self._alerts = alerts
        self._gauges_refreshed_at: datetime | None = None

    async def on_tick(self, tick: Tick) -> int:
        released = await self._costs.read_due()
        released += await self.release_due()
        granted = await self._waits.run()
        await self._alerts.check()
        await self.refresh_gauges(force=False)
        log.debug("tick handled", tick_id=tick.tick_id, released=released, granted=granted)
        return released

    async def release_due(self) -> int:
        """Release every Cooldown account whose ``cooldown_until`` has passed; the number this
        worker released."""
        started = time.monotonic()
        now = self._clock.now()
        released = 0
        in_flight: set[asyncio.Task[int]] = set()
        try:
            async for entries in self._store.due_batches(now, batch_size=self._options.release_batch_size):
                if len(in_flight) >= self._options.release_pipeline:
                    done, in_flight = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                    released += sum(task.result() for task in done)
                in_flight.add(asyncio.create_task(self._release_batch(entries, now)))
        finally:
            finished = await asyncio.gather(*in_flight, return_exceptions=True)
        errors = [result for result in finished if isinstance(result, BaseException)]
        if errors:
            raise errors[0]
        released += sum(result for result in finished if isinstance(result, int))
        metrics.RELEASE_PASS.observe(time.monotonic() - started)
        if released:
            log.info("cooldowns elapsed: accounts released", count=released)
        return released

    async def _release_batch(self, entries: list[ScheduledRelease], now: datetime) -> int:
        """Read the batch's accounts in one query, claim their releases in one insert, finish
        those won together (``ChangeProtocol.finish_many``); any other entry one at a time."""
        accounts = await self._store.get_many([entry.account_id for entry in entries])
        planned = self._plan(entries, [accounts.get(entry.account_id) for entry in entries], now)
        won = await self._store.claim_many([record for _, record in planned.values()])
        finished = [plan for plan in planned.values() if plan[1].id in won]
        await self._changes.finish_many([record for _, record in finished])
        for decision, _ in finished:
            metrics.observe(decision)
        others = [
            entry for entry in entries if entry.entry_id not in planned or planned[entry.entry_id][1].id not in won
        ]
        concurrency = self._options.release_concurrency
        return len(finished) + sum(await bounded(concurrency, [self._release_current(entry, now) for entry in others]))

    def _plan(
        self, entries: list[ScheduledRelease], current: list[Account | None], now: datetime
    ) -> dict[str, tuple[Decision, ChangeRecord]]:
        """The releases to claim, by schedule entry: those whose account is as the entry says."""
        planned: dict[str, tuple[Decision, ChangeRecord]] = {}
        for entry, account in zip(entries, current, strict=True):
            if account is None or not entry.still_cooling(account):
                continue
            decision = release_due(account, now=now)
            if decision.verdict is Verdict.APPLIED:
                planned[entry.entry_id] = (decision, self._changes.record(decision, source=f"release:{entry.entry_id}"))
        return planned

    async def _release_current(self, entry: ScheduledRelease, now: datetime) -> bool:
        """The entry could not be released as read (another worker changed or claimed the
        account, or the entry is out of date): decide on the account as it is now."""
        try:
            account = await self._changes.load(entry.account_id, wait=False)
        except AccountBusy:
            return False  # another worker is storing a change to it; that worker finishes the job
        if account is not None and entry.still_cooling(account):
            decision = release_due(account, now=now)
            return decision.verdict is Verdict.APPLIED and await self._changes.commit(
                decision, source=f"release:{entry.entry_id}"
            )
        await self._retire(entry, account, now)
        return False

    async def _retire(self, entry: ScheduledRelease, account: Account | None, now: datetime) -> None:
        """Remove an entry whose account is no longer in that Cooldown. The entry is the outbox
        of the change that ended the Cooldown: if that change's worker stopped before removing
        it, its events may be unpublished, so publish them (same ids) first."""
        entered = entry.cooldown_version
        if not await self._store.is_scheduled(entry.account_id, entered):
            return  # already retired (e.g. by the change finished while loading the account)
        if account is not None:
            last = min(account.version, entered + _RETIRE_LOOKBACK)
            for version in range(entered + 1, last + 1):
                record = await self._store.change(account.account_id, version)
                if record is None or record.left_cooldown_version != entered:
                    continue
                if now - record.claimed_at < self._options.claim_grace:
                    return  # its worker is still finishing it and removes the entry itself
                await self._changes.publish(record.events)
                break
        await self._store.unschedule(entry.account_id, entered)

    async def refresh_gauges(self, *, force: bool = True) -> dict[AccountStatus, int]:
        """Pool size per status (one aggregation over the pool)."""
        now = self._clock.now()
        last = self._gauges_refreshed_at
        if not force and last is not None and now - last < self._options.gauge_interval:
            return {}
        counts = await self._store.count_by_status()
        for status, count in counts.items():
            metrics.POOL_ACCOUNTS.labels(status=status.value).set(count)
        self._gauges_refreshed_at = now
        return counts
