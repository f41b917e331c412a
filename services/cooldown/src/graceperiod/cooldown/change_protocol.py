"""How the cooldown service stores a change to an account: the protocol every use follows.

Every change to an account follows one protocol (``store.py`` explains why):

1. **load** the account; if another worker claimed the next version and has not finished
   storing it, wait for it (or, if it has been unfinished for ``claim_grace``, finish it);
2. **decide** with a pure rule from ``domain`` (``lease_cycle``, ``release``, ``acquisition``);
3. **claim** the change by inserting it under ``<account>:<version + 1>`` (one worker wins);
4. **finish** it: release- and read-schedule entries, lease mapping, the account document,
   then publish its events (deterministic message ids), then remove the entries it retired.

Finishing is idempotent, so any worker may finish a change another one claimed and lost.
A trigger (message, command, schedule entry) is acknowledged only after its change's
events were published; a *redelivered* trigger whose change is already stored publishes
them again (same ids: consumers drop the repeat).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Final, TypeVar

from graceperiod.contracts.cooldown import AccountStatus
from graceperiod.cooldown import metrics
from graceperiod.cooldown.domain.accounts import Account
from graceperiod.cooldown.domain.acquisition import abandon_acquisition
from graceperiod.cooldown.domain.changes import ChangeRecord
from graceperiod.cooldown.domain.decisions import Decision, Verdict
from graceperiod.cooldown.domain.events import OutgoingEvent
from graceperiod.cooldown.domain.lease_cycle import register
from graceperiod.cooldown.domain.schedule import schedule_id
from graceperiod.cooldown.options import CooldownOptions
from graceperiod.cooldown.store import AccountStore
from graceperiod.runtime.clock import Clock
from graceperiod.runtime.logs import get_logger
from graceperiod.runtime.messaging import EventSink
from graceperiod.runtime.middleware import TransientError

log = get_logger("graceperiod.cooldown")

_CHANGE_ATTEMPTS: Final = 20

T = TypeVar("T")


async def bounded(limit: int, coroutines: Sequence[Coroutine[Any, Any, T]]) -> list[T]:
    """Run coroutines at most ``limit`` at a time; all of them finish, then the first error is raised."""
    semaphore = asyncio.Semaphore(limit)

    async def run(coroutine: Coroutine[Any, Any, T]) -> T:
        async with semaphore:
            return await coroutine

    results = await asyncio.gather(*(run(c) for c in coroutines), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results  # type: ignore[return-value]


class AccountBusy(TransientError):  # noqa: N818 - reads better in logs
    """Another worker is storing a change to this account right now: try again shortly."""

    def __init__(self, account_id: str) -> None:
        super().__init__(f"account {account_id} is being changed by another worker; try again")
        self.account_id = account_id


class UnknownAccount(Exception):  # noqa: N818 - reads better in logs and dead-letter reasons
    """An event or command names an account that is not in the pool."""

    def __init__(self, account_id: str) -> None:
        super().__init__(f"account {account_id} is not in the pool (register it first)")
        self.account_id = account_id


class ChangeProtocol:
    """Load, claim and finish changes to accounts (the steps above); shared by every use."""

    def __init__(self, *, store: AccountStore, events: EventSink, clock: Clock, options: CooldownOptions) -> None:
        self.store = store
        self.clock = clock
        self.options = options
        self.events = events

    async def load(self, account_id: str, *, wait: bool = True) -> Account | None:
        """The account as it is: its document, brought past any change another worker claimed
        and has not finished storing (waiting for it, or finishing it once it is overdue)."""
        deadline = time.monotonic() + (self.options.busy_wait_seconds if wait else 0.0)
        while True:
            account = await self.store.get(account_id)
            version = account.version if account else 0
            pending = await self.store.change(account_id, version + 1)
            if pending is None:
                return account
            if self.clock.now() - pending.claimed_at >= self.options.claim_grace:
                log.warning(
                    "finishing a change another worker claimed but did not finish",
                    account_id=account_id,
                    version=version + 1,
                    source=pending.source,
                )
                await self.finish(pending, recovered=True)
                continue
            if time.monotonic() >= deadline:
                raise AccountBusy(account_id)
            await asyncio.sleep(0.01)

    async def heal(self, account_id: str) -> None:
        """Finish an overdue unfinished change, if that is what kept us from claiming."""
        with contextlib.suppress(AccountBusy):
            await self.load(account_id, wait=False)

    async def register(
        self, account_id: str, name: str, email: str | None, *, redelivered: bool
    ) -> tuple[bool, Account]:
        """Add the account to the pool unless it is there; (whether it was added, the account)."""
        for _ in range(_CHANGE_ATTEMPTS):
            existing = await self.load(account_id)
            if existing is not None:
                if redelivered:
                    await self.republish(existing, source="register")
                return False, existing
            decision = register(account_id=account_id, name=name, email=email, now=self.clock.now())
            if await self.commit(decision, source="register"):
                return True, decision.after
        raise AccountBusy(account_id)

    async def change(
        self,
        account_id: str,
        decide: Callable[[Account], Decision],
        *,
        source: str,
        redelivered: bool = False,
    ) -> Decision:
        """Load the account, decide, and store the decision (again from the load if another
        worker changed the account first)."""
        for _ in range(_CHANGE_ATTEMPTS):
            account = await self.load(account_id)
            if account is None:
                raise UnknownAccount(account_id)
            decision = decide(account)
            if not decision.changed:
                if decision.verdict is Verdict.DUPLICATE and redelivered:
                    await self.republish(account, source=source)
                return decision
            if await self.commit(decision, source=source):
                return decision
        raise AccountBusy(account_id)

    def record(self, decision: Decision, *, source: str) -> ChangeRecord:
        return ChangeRecord.of(decision, source=source, claimed_at=self.clock.now())

    async def commit(self, decision: Decision, *, source: str) -> bool:
        """Claim and finish the change; False (nothing stored) if another worker changed the account first."""
        record = self.record(decision, source=source)
        if not await self.store.claim(record):
            return False
        await self.finish(record, recovered=False)
        metrics.observe(decision)
        return True

    async def finish(self, record: ChangeRecord, *, recovered: bool) -> None:
        """Store a claimed change's effects and announce it. Idempotent.

        The order keeps every reader safe: a cooling account is in the release schedule
        before its document says Cooldown, and a lease is mapped before its account says
        Active; the schedule entry a release retires is removed only after the release's
        events are published (it is their outbox)."""
        account = record.account
        kept: str | None = None
        cooling = account.status is AccountStatus.COOLDOWN
        if record.enters_cooldown or (record.reschedules_read and cooling):
            await self.store.schedule_release(account, now=record.claimed_at)  # (its expected release moved)
        next_read = account.billing.next_read_at if account.billing is not None else None
        if record.reschedules_read and next_read is not None:
            await self.store.schedule_read(account.account_id, next_read, version=account.version)
        if record.acquired_lease is not None:
            kept = await self.store.map_lease(record.acquired_lease, account.account_id, at=record.claimed_at)
        await self.store.write(account)
        await self.publish(record.events)
        if record.reschedules_read and next_read is None:
            await self.store.unschedule_read(account.account_id, version=account.version)
        if record.left_cooldown_version is not None:
            await self.store.unschedule(account.account_id, record.left_cooldown_version)
        if record.acquired_lease is not None and kept is not None and kept != account.account_id:
            await self._abandon(account, record.acquired_lease, kept)
        if recovered:
            log.info("unfinished change finished", account_id=account.account_id, version=account.version)

    async def finish_many(self, records: Sequence[ChangeRecord]) -> None:
        """:meth:`finish` for many claimed changes, each step one command for all of them
        (the account documents, then every event with its confirm awaited together, then
        the schedule entries they retire): same order per change, so just as safe to
        interrupt. A change with steps of its own before the write (scheduling, a lease) is
        finished alone."""
        plain = [r for r in records if not _writes_before(r)]
        await bounded(
            self.options.release_concurrency, [self.finish(r, recovered=False) for r in records if _writes_before(r)]
        )
        await self.store.write_many([r.account for r in plain])
        await self.publish([event for r in plain for event in r.events])
        await bounded(
            self.options.release_concurrency,
            [
                self.store.unschedule_read(r.account.account_id, version=r.account.version)
                for r in plain
                if r.reschedules_read
            ],
        )
        await self.store.unschedule_many(
            [
                schedule_id(r.account.account_id, r.left_cooldown_version)
                for r in plain
                if r.left_cooldown_version is not None
            ]
        )

    async def _abandon(self, account: Account, lease_id: str, kept: str) -> None:
        decision = abandon_acquisition(account, lease_id=lease_id, kept_account_id=kept, now=self.clock.now())
        if decision.verdict is Verdict.APPLIED and await self.commit(decision, source=f"abandon:{lease_id}"):
            log.warning(
                "two acquisitions ran at once for one lease: this account went back to Available",
                account_id=account.account_id,
                lease_id=lease_id,
                kept_account_id=kept,
            )

    async def publish(self, events: Sequence[OutgoingEvent]) -> None:
        await asyncio.gather(*(self.events.publish(e.event, message_id=e.message_id) for e in events))

    async def republish(self, account: Account, *, source: str) -> None:
        """A *redelivered* trigger (its worker stopped before acknowledging it) whose change is
        the account's last one: that worker may have stopped between storing the change and
        publishing its events, so publish them again (same ids). A repeat that is a new
        delivery (an upstream duplicate, a retried command) publishes nothing."""
        record = await self.store.change(account.account_id, account.version)
        if record is not None and record.source == source and record.events:
            await self.publish(record.events)


def _writes_before(record: ChangeRecord) -> bool:
    """The change stores something before the account itself (see :meth:`ChangeProtocol.finish`):
    a release-schedule entry, a read-schedule entry or a lease mapping."""
    account = record.account
    if record.enters_cooldown or record.acquired_lease is not None:
        return True
    next_read = account.billing.next_read_at if account.billing is not None else None
    return record.reschedules_read and (account.status is AccountStatus.COOLDOWN or next_read is not None)


class Use:
    """Base of the service's uses (upstream events, ticks, commands, acquisition, queries):
    each changes the pool through the change protocol and works on what it runs on."""

    def __init__(self, changes: ChangeProtocol) -> None:
        self._changes = changes
        self._store = changes.store
        self._clock = changes.clock
        self._options = changes.options
        self._events = changes.events
