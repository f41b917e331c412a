"""The upstream lease manager's events: an account registered, a lease ended, a cleanup finished."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from graceperiod.contracts.cooldown import AccountStatus
from graceperiod.contracts.lease_costs import CostSource, LeaseCost
from graceperiod.contracts.upstream import (
    AccountCleanupFailed,
    AccountCleanupSucceeded,
    AccountRegistered,
    LeaseTerminated,
)
from graceperiod.cooldown.change_protocol import ChangeProtocol, Use
from graceperiod.cooldown.domain import lease_cycle
from graceperiod.cooldown.domain.accounts import Account
from graceperiod.cooldown.domain.decisions import Decision, Verdict
from graceperiod.cooldown.waits import WaitList
from graceperiod.runtime.clock import to_storage_precision
from graceperiod.runtime.logs import get_logger

log = get_logger("graceperiod.cooldown")


def _instant(value: datetime) -> datetime:
    return to_storage_precision(value.astimezone(UTC))


def _given_cost(event: LeaseTerminated, terminated_at: datetime) -> LeaseCost | None:
    cost = event.cost
    if cost is None:
        return None
    return LeaseCost(
        currency=cost.currency,
        unblended=cost.unblended,
        amortized=cost.amortized,
        estimated=cost.estimated,
        read_at=_instant(cost.read_at) if cost.read_at else terminated_at,
        source=CostSource.LEASE_MANAGER,
    )


class UpstreamEvents(Use):
    def __init__(self, changes: ChangeProtocol, *, reads_costs: bool, waits: WaitList) -> None:
        super().__init__(changes)
        self._reads_costs = reads_costs
        self._waits = waits

    async def account_registered(self, event: AccountRegistered, *, redelivered: bool = False) -> Account:
        created, account = await self._changes.register(
            event.account_id, event.name, event.email, redelivered=redelivered
        )
        log.info("account registered" if created else "account already registered", account_id=event.account_id)
        if created:
            await self._waits.run()  # a lease may be waiting for an account
        return account

    async def lease_terminated(self, event: LeaseTerminated, *, redelivered: bool = False) -> Decision:
        terminated_at = _instant(event.terminated_at)
        policy = await self._store.policy()
        cost = _given_cost(event, terminated_at)
        decision = await self._changes.change(
            event.account_id,
            lambda account: lease_cycle.lease_terminated(
                account,
                lease_id=event.lease_id,
                terminated_at=terminated_at,
                policy=policy,
                now=self._clock.now(),
                read_costs=self._reads_costs,
                cost=cost,
            ),
            source=f"lease-terminated:{event.lease_id}",
            redelivered=redelivered,
        )
        _log_decision("lease.terminated", decision, lease_id=event.lease_id)
        return decision

    async def cleanup_finished(
        self, event: AccountCleanupSucceeded | AccountCleanupFailed, *, redelivered: bool = False
    ) -> Decision:
        succeeded = isinstance(event, AccountCleanupSucceeded)
        completed_at = _instant(event.completed_at)
        error = event.error if isinstance(event, AccountCleanupFailed) else None
        policy = await self._store.policy()
        outcome = "succeeded" if succeeded else "failed"
        decision = await self._changes.change(
            event.account_id,
            lambda account: lease_cycle.cleanup_finished(
                account,
                succeeded=succeeded,
                completed_at=completed_at,
                error=error,
                policy=policy,
                now=self._clock.now(),
                read_costs=self._reads_costs,
            ),
            source=f"cleanup-{outcome}:{completed_at.isoformat()}",
            redelivered=redelivered,
        )
        _log_decision(f"account.cleanup.{outcome}", decision)
        if decision.changed and decision.after.status is AccountStatus.AVAILABLE:
            await self._waits.run()  # cleaned without a Cooldown: first to the leases in line
        return decision


def _log_decision(what: str, decision: Decision, **fields: Any) -> None:
    account = decision.after
    level = log.info if decision.changed else log.debug
    if decision.verdict in (Verdict.IGNORED, Verdict.STALE):
        level = log.warning
    level(
        f"{what}: {decision.note}",
        account_id=account.account_id,
        verdict=decision.verdict.value,
        status=account.status.value,
        **fields,
    )
