"""The cost pass of a tick: read every lease cost that is due from Cost Explorer, store each
read on its account, and release the accounts a read settles (``domain/cost_reads.py``).

Each read is claimed first (``cost_store``), so a read is made once whatever the number of
replicas and duplicated ticks, then counted against the pool's daily request budget; its
result is stored through the change protocol like any other change of the account.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from graceperiod.contracts.cooldown import CooldownPolicy
from graceperiod.contracts.lease_costs import LeaseCost, RequestEstimate
from graceperiod.cooldown import metrics
from graceperiod.cooldown.change_protocol import AccountBusy, ChangeProtocol, Use, bounded
from graceperiod.cooldown.cost_store import CostStore
from graceperiod.cooldown.domain.accounts import Account
from graceperiod.cooldown.domain.billing import (
    CostWindow,
    FailedRead,
    LeaseBilling,
    ReadFailure,
    ReadOutcome,
    budget_day,
    request_estimate,
)
from graceperiod.cooldown.domain.cost_reads import apply_read, read_due
from graceperiod.cooldown.domain.cost_requests import ReadClaim, ScheduledRead, read_claim_id
from graceperiod.cooldown.domain.decisions import Verdict
from graceperiod.runtime.logs import get_logger

log = get_logger("graceperiod.cooldown")

_MONTH = timedelta(days=30)


class CostReader(Protocol):
    """Where lease costs come from (Cost Explorer; a fake in unit tests)."""

    async def lease_cost(self, account_id: str, window: CostWindow, *, now: datetime) -> ReadOutcome: ...


class CostReads(Use):
    def __init__(self, changes: ChangeProtocol, *, reader: CostReader | None, costs: CostStore) -> None:
        super().__init__(changes)
        self._reader = reader
        self._costs = costs

    @property
    def enabled(self) -> bool:
        """Lease costs are read (the cost role is configured)."""
        return self._reader is not None

    async def read_due(self) -> int:
        """Make every due read; the number of accounts this worker released by them."""
        if self._reader is None:
            return 0
        now = self._clock.now()
        entries = await self._store.due_reads(now, limit=self._options.read_batch_size)
        if not entries:
            return 0
        policy = await self._store.policy()
        released = await bounded(self._options.read_concurrency, [self._read(e, policy, now) for e in entries])
        count = sum(released)
        if count:
            log.info("lease costs read: accounts released", count=count)
        return count

    async def _read(self, entry: ScheduledRead, policy: CooldownPolicy, now: datetime) -> bool:
        try:
            account = await self._changes.load(entry.account_id, wait=False)
        except AccountBusy:
            return False  # another worker is changing it; the next tick reads it
        if account is None or account.billing is None or not read_due(account, now):
            await self._realign(entry, account)
            return False
        billing = account.billing
        number = billing.reads + 1
        claim_id = read_claim_id(account.account_id, billing.lease_id, number)
        claim = ReadClaim(account_id=account.account_id, lease_id=billing.lease_id, number=number, claimed_at=now)
        if not await self._costs.claim_read(claim_id, claim, grace=self._options.claim_grace):
            return False  # another worker makes this read
        outcome, requested = await self._request(account, billing, policy, now)
        metrics.COST_READS.labels(outcome=_label(outcome)).inc()
        await self._costs.settle_read(claim_id, requested=requested, outcome=_label(outcome))
        decision = await self._changes.change(
            account.account_id,
            lambda current: apply_read(current, number=number, outcome=outcome, now=now),
            source=f"cost-read:{claim_id}",
        )
        log.info(
            "lease cost read",
            note=decision.note,
            account_id=account.account_id,
            lease_id=billing.lease_id,
            read=number,
            verdict=decision.verdict.value,
        )
        return decision.verdict is Verdict.APPLIED

    async def _request(
        self, account: Account, billing: LeaseBilling, policy: CooldownPolicy, now: datetime
    ) -> tuple[ReadOutcome, bool]:
        assert self._reader is not None
        budget = policy.cost_requests_per_day
        if not await self._costs.take_budget(budget_day(now), budget=budget):
            reason = f"the daily budget of {budget} Cost Explorer requests is used up"
            return FailedRead(failure=ReadFailure.BUDGET, reason=reason), False
        return await self._reader.lease_cost(account.account_id, billing.window, now=now), True

    async def _realign(self, entry: ScheduledRead, account: Account | None) -> None:
        """A read entry that no longer matches its account (a later change moved or ended its
        reads and is still being finished, or died): point it where the account says."""
        if account is None:
            await self._store.unschedule_read(entry.account_id, version=entry.version)
            return
        due = account.billing.next_read_at if account.billing is not None else None
        if due is None:
            await self._store.unschedule_read(entry.account_id, version=account.version)
        elif account.version > entry.version:
            await self._store.schedule_read(entry.account_id, due, version=account.version)

    async def estimate(self, policy: CooldownPolicy) -> RequestEstimate:
        since = self._clock.now() - _MONTH
        leases = max(await self._costs.leases_since(since), await self._store.leases_since(since))
        return request_estimate(
            policy, leases_last_30_days=leases, requests_last_30_days=await self._costs.requests_since(since)
        )


def _label(outcome: ReadOutcome) -> str:
    if isinstance(outcome, LeaseCost):
        return "estimated" if outcome.estimated else "final"
    return outcome.failure.value
