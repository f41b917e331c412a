"""The cooldown service's business class: handlers call it; it receives its collaborators.

It hands each use its share of the work, all through one change protocol
(``change_protocol.py``: load, decide with a pure rule of ``domain``, claim, finish):

* ``upstream_events.py`` — account registered, lease terminated, cleanup finished;
* ``ticks.py`` — the cost pass (``costs.py``), the release pass of elapsed cooldowns, the
  wait-list (``waits.py``), the low-pool alert (``pool_alerts.py``) and the pool gauges;
* ``commands.py`` — register, release early, set the policy; ``acquisition_desk.py`` —
  acquire, now or from the wait-list (``acquisition.py`` takes the account);
* ``queries.py`` — lists, one account, the policy, stuck accounts, the wait-list.
"""

from __future__ import annotations

from graceperiod.contracts.cooldown import (
    AccountCommandReply,
    AccountStatus,
    AcquireAccount,
    CooldownCommand,
    CooldownQuery,
    PolicyReply,
    ReleaseAccountEarly,
    SetCooldownPolicy,
)
from graceperiod.contracts.upstream import (
    AccountCleanupFailed,
    AccountCleanupSucceeded,
    AccountRegistered,
    LeaseTerminated,
    Tick,
)
from graceperiod.contracts.wait_list import CancelWait, WaitReply
from graceperiod.cooldown.acquisition import Acquisition
from graceperiod.cooldown.acquisition_desk import AcquisitionDesk
from graceperiod.cooldown.alert_store import AlertStore
from graceperiod.cooldown.change_protocol import ChangeProtocol
from graceperiod.cooldown.commands import Commands
from graceperiod.cooldown.cost_store import CostStore
from graceperiod.cooldown.costs import CostReader, CostReads
from graceperiod.cooldown.domain.accounts import Account
from graceperiod.cooldown.domain.decisions import Decision
from graceperiod.cooldown.options import CooldownOptions
from graceperiod.cooldown.pool_alerts import PoolAlerts
from graceperiod.cooldown.queries import Queries, Reply
from graceperiod.cooldown.store import AccountStore
from graceperiod.cooldown.ticks import Ticks
from graceperiod.cooldown.upstream_events import UpstreamEvents
from graceperiod.cooldown.wait_store import WaitStore
from graceperiod.cooldown.waits import WaitList
from graceperiod.runtime.clock import Clock
from graceperiod.runtime.messaging import EventSink


class CooldownService:
    def __init__(
        self,
        *,
        store: AccountStore,
        events: EventSink,
        clock: Clock,
        options: CooldownOptions | None = None,
        reader: CostReader | None = None,
    ) -> None:
        options = options or CooldownOptions()
        database = store.database
        self.costs_store = CostStore(database)
        self.wait_store = WaitStore(database)
        self.alert_store = AlertStore(database)
        changes = ChangeProtocol(store=store, events=events, clock=clock, options=options)
        acquisition = Acquisition(changes)
        self.waits = WaitList(changes, requests=self.wait_store, acquisition=acquisition)
        self.costs = CostReads(changes, reader=reader, costs=self.costs_store)
        self.alerts = PoolAlerts(changes, alerts=self.alert_store, requests=self.wait_store)
        self.upstream = UpstreamEvents(changes, reads_costs=self.costs.enabled, waits=self.waits)
        self.ticks = Ticks(changes, costs=self.costs, waits=self.waits, alerts=self.alerts)
        self.commands = Commands(changes, waits=self.waits)
        self.acquisition = AcquisitionDesk(changes, acquisition=acquisition, wait_list=self.waits)
        self.queries = Queries(changes, costs=self.costs, waits=self.waits)
        self._store = store

    async def ensure_indexes(self) -> None:
        await self._store.ensure_indexes()
        await self.costs_store.ensure_indexes()
        await self.wait_store.ensure_indexes()

    # --- upstream events ------------------------------------------------------------------

    async def account_registered(self, event: AccountRegistered, *, redelivered: bool = False) -> Account:
        return await self.upstream.account_registered(event, redelivered=redelivered)

    async def lease_terminated(self, event: LeaseTerminated, *, redelivered: bool = False) -> Decision:
        return await self.upstream.lease_terminated(event, redelivered=redelivered)

    async def cleanup_finished(
        self, event: AccountCleanupSucceeded | AccountCleanupFailed, *, redelivered: bool = False
    ) -> Decision:
        return await self.upstream.cleanup_finished(event, redelivered=redelivered)

    # --- ticks ----------------------------------------------------------------------------

    async def on_tick(self, tick: Tick) -> int:
        return await self.ticks.on_tick(tick)

    async def release_due(self) -> int:
        return await self.ticks.release_due()

    async def refresh_gauges(self, *, force: bool = True) -> dict[AccountStatus, int]:
        return await self.ticks.refresh_gauges(force=force)

    # --- commands and queries -------------------------------------------------------------

    async def execute(
        self, command: CooldownCommand, *, redelivered: bool = False
    ) -> AccountCommandReply | PolicyReply | WaitReply:
        if isinstance(command, SetCooldownPolicy):
            return await self.set_policy(command)
        if isinstance(command, ReleaseAccountEarly):
            return await self.commands.release_early(command, redelivered=redelivered)
        if isinstance(command, AcquireAccount):
            return await self.acquisition.acquire(command)
        if isinstance(command, CancelWait):
            return await self.waits.cancel(command)
        return await self.commands.register(command, redelivered=redelivered)

    async def set_policy(self, command: SetCooldownPolicy) -> PolicyReply:
        return await self.commands.set_policy(command, reads_costs=self.costs.enabled)

    async def answer(self, query: CooldownQuery) -> Reply:
        return await self.queries.answer(query)
