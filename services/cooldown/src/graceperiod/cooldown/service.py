"""The cooldown service's business class: handlers call it; it receives its collaborators.

It hands each use its share of the work, all through one change protocol
(``change_protocol.py``: load, decide with a pure rule of ``domain``, claim, finish):

* ``upstream_events.py`` — account registered, lease terminated, cleanup finished;
* ``ticks.py`` — the release pass of elapsed cooldowns and the pool gauges;
* ``commands.py`` — register, release early, set the policy; ``acquisition.py`` — acquire;
* ``queries.py`` — lists, one account, the policy, stuck accounts.
"""

from __future__ import annotations

from graceperiod.contracts.cooldown import (
    AccountCommandReply,
    AccountListReply,
    AccountReply,
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
from graceperiod.cooldown.acquisition import Acquisition
from graceperiod.cooldown.change_protocol import ChangeProtocol
from graceperiod.cooldown.commands import Commands
from graceperiod.cooldown.domain.accounts import Account
from graceperiod.cooldown.domain.decisions import Decision
from graceperiod.cooldown.options import CooldownOptions
from graceperiod.cooldown.queries import Queries
from graceperiod.cooldown.store import AccountStore
from graceperiod.cooldown.ticks import Ticks
from graceperiod.cooldown.upstream_events import UpstreamEvents
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
    ) -> None:
        options = options or CooldownOptions()
        changes = ChangeProtocol(store=store, events=events, clock=clock, options=options)
        self.upstream = UpstreamEvents(changes)
        self.ticks = Ticks(changes)
        self.commands = Commands(changes)
        self.acquisition = Acquisition(changes)
        self.queries = Queries(changes)

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
    ) -> AccountCommandReply | PolicyReply:
        if isinstance(command, SetCooldownPolicy):
            return await self.commands.set_policy(command)
        if isinstance(command, ReleaseAccountEarly):
            return await self.commands.release_early(command, redelivered=redelivered)
        if isinstance(command, AcquireAccount):
            return await self.acquisition.acquire(command)
        return await self.commands.register(command, redelivered=redelivered)

    async def set_policy(self, command: SetCooldownPolicy) -> PolicyReply:
        return await self.commands.set_policy(command)

    async def answer(self, query: CooldownQuery) -> AccountListReply | AccountReply | PolicyReply:
        return await self.queries.answer(query)
