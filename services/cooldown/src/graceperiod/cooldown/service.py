"""The cooldown service's business class: handlers call it; it receives its collaborators.

Every change to an account follows one protocol (``store.py`` explains why):

1. **load** the account; if another worker claimed the next version and has not finished
   storing it, wait for it (or, if it has been unfinished for ``claim_grace``, finish it);
2. **decide** with a pure rule from ``domain.accounts``;
3. **claim** the change by inserting it under ``<account>:<version + 1>`` (one worker wins);
4. **finish** it: release-schedule entry, lease mapping, the account document, then publish
   its events (deterministic message ids), then remove the schedule entry it retired.

Finishing is idempotent, so any worker may finish a change another one claimed and lost.
A trigger (message, command, schedule entry) is acknowledged only after its change's
events were published; a *redelivered* trigger whose change is already stored publishes
them again (same ids: consumers drop the repeat).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TypeVar

from graceperiod.contracts.cooldown import (
    AccountCommandReply,
    AccountListReply,
    AccountReply,
    AccountStatus,
    AcquireAccount,
    ActorRef,
    Cause,
    CooldownCommand,
    CooldownPolicy,
    CooldownQuery,
    GetAccount,
    GetCooldownPolicy,
    ListAccounts,
    ListStuckAccounts,
    PolicyReply,
    RegisterAccount,
    ReleaseAccountEarly,
    SetCooldownPolicy,
)
from graceperiod.contracts.enums import Permission
from graceperiod.contracts.rpc import Actor, CommandStatus, ErrorCode, Problem
from graceperiod.contracts.upstream import (
    AccountCleanupFailed,
    AccountCleanupSucceeded,
    AccountRegistered,
    LeaseTerminated,
    Tick,
)
from graceperiod.cooldown import metrics
from graceperiod.cooldown.domain import accounts
from graceperiod.cooldown.domain.accounts import Account, Decision, Verdict
from graceperiod.cooldown.domain.events import OutgoingEvent, events_for
from graceperiod.cooldown.domain.views import account_view
from graceperiod.cooldown.store import AccountStore, ChangeRecord, ScheduledRelease
from graceperiod.runtime.clock import Clock, to_storage_precision
from graceperiod.runtime.logs import get_logger
from graceperiod.runtime.messaging import EventSink
from graceperiod.runtime.middleware import TransientError

log = get_logger("graceperiod.cooldown")

T = TypeVar("T")

#: Returned (and shown by the gateway) with every early release.
EARLY_RELEASE_WARNING: Final = (
    "The account left Cooldown before its period ended: costs of its last lease that AWS has not "
    "reported yet may be attributed to the next tenant, so billing attribution may be inaccurate."
)
_CHANGE_ATTEMPTS: Final = 20
_RETIRE_LOOKBACK: Final = 20


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


@dataclass(frozen=True)
class CooldownOptions:
    release_batch_size: int = 500
    """Schedule entries a release pass reads and claims at a time."""
    release_concurrency: int = 32
    """Releases of one batch stored and announced at once."""
    claim_grace: timedelta = timedelta(seconds=30)
    """A claimed change still unfinished after this long is finished by whoever meets it."""
    busy_wait_seconds: float = 2.0
    """How long a worker waits for another one's change in flight before retrying later."""
    recent_use_window: timedelta = timedelta(hours=24)
    """Acquisition prefers accounts cleaned longer ago than this, and warns otherwise."""
    candidate_batch: int = 100
    """Available accounts read at once and shared by concurrent acquisitions."""
    candidate_max_age_seconds: float = 1.0
    """How long a read batch of candidates may be used before it is read again."""
    acquire_attempts: int = 50
    history_limit: int = 50
    """Changes shown as an account's history (GetAccount)."""
    gauge_interval: timedelta = timedelta(seconds=60)
    """The pool-size gauge is refreshed on a tick at most this often (it reads every account)."""
    stuck_limit: int = 500


def _in_cooldown(account: Account, entry: ScheduledRelease) -> bool:
    """Still in the Cooldown this schedule entry was made for."""
    return account.status is AccountStatus.COOLDOWN and account.cooldown_version == entry.cooldown_version


def _instant(value: datetime) -> datetime:
    return to_storage_precision(value.astimezone(UTC))


def _actor_ref(actor: Actor) -> ActorRef:
    return ActorRef(user_id=actor.user_id, email=actor.email)


def _forbidden(actor: Actor, permission: Permission) -> Problem:
    return Problem(code=ErrorCode.FORBIDDEN, message=f"{actor.email} lacks the permission {permission.value}")


def _rejected(code: ErrorCode, message: str, *, account: Account | None = None) -> AccountCommandReply:
    return AccountCommandReply(
        status=CommandStatus.REJECTED,
        message=message,
        account=account_view(account) if account else None,
        problem=Problem(code=code, message=message),
    )


async def _bounded(limit: int, coroutines: Sequence[Coroutine[Any, Any, T]]) -> list[T]:
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


class _Candidates:
    """Available accounts read once and handed to concurrent acquisitions one each, so they
    do not all race for the same first account (claims still decide who gets it)."""

    def __init__(self, store: AccountStore, *, batch: int, max_age_seconds: float) -> None:
        self._store = store
        self._batch = batch
        self._max_age = max_age_seconds
        self._items: deque[Account] = deque()
        self._read_at = 0.0
        self._lock = asyncio.Lock()

    def _fresh(self) -> bool:
        return bool(self._items) and time.monotonic() - self._read_at <= self._max_age

    async def next(self) -> Account | None:
        while True:
            if self._fresh():
                return self._items.popleft()
            async with self._lock:
                if self._fresh():
                    continue
                found = await self._store.candidates(self._batch)
                self._items = deque(found)
                self._read_at = time.monotonic()
                if not found:
                    return None


class CooldownService:
    def __init__(
        self,
        *,
        store: AccountStore,
        events: EventSink,
        clock: Clock,
        options: CooldownOptions | None = None,
    ) -> None:
        self._store = store
        self._events = events
        self._clock = clock
        self._options = options or CooldownOptions()
        self._candidates = _Candidates(
            store, batch=self._options.candidate_batch, max_age_seconds=self._options.candidate_max_age_seconds
        )
        self._gauges_refreshed_at: datetime | None = None

    # --- upstream events ------------------------------------------------------------------

    async def account_registered(self, event: AccountRegistered, *, redelivered: bool = False) -> Account:
        created, account = await self._register(event.account_id, event.name, event.email, redelivered=redelivered)
        log.info("account registered" if created else "account already registered", account_id=event.account_id)
        return account

    async def lease_terminated(self, event: LeaseTerminated, *, redelivered: bool = False) -> Decision:
        terminated_at = _instant(event.terminated_at)
        policy = await self._store.policy()
        decision = await self._change(
            event.account_id,
            lambda account: accounts.lease_terminated(
                account, lease_id=event.lease_id, terminated_at=terminated_at, policy=policy, now=self._clock.now()
            ),
            source=f"lease-terminated:{event.lease_id}",
            redelivered=redelivered,
        )
        self._log_decision("lease.terminated", decision, lease_id=event.lease_id)
        return decision

    async def cleanup_finished(
        self, event: AccountCleanupSucceeded | AccountCleanupFailed, *, redelivered: bool = False
    ) -> Decision:
        succeeded = isinstance(event, AccountCleanupSucceeded)
        completed_at = _instant(event.completed_at)
        error = event.error if isinstance(event, AccountCleanupFailed) else None
        policy = await self._store.policy()
        outcome = "succeeded" if succeeded else "failed"
        decision = await self._change(
            event.account_id,
            lambda account: accounts.cleanup_finished(
                account,
                succeeded=succeeded,
                completed_at=completed_at,
                error=error,
                policy=policy,
                now=self._clock.now(),
            ),
            source=f"cleanup-{outcome}:{completed_at.isoformat()}",
            redelivered=redelivered,
        )
        self._log_decision(f"account.cleanup.{outcome}", decision)
        return decision

    # --- ticks ----------------------------------------------------------------------------

    async def on_tick(self, tick: Tick) -> int:
        released = await self.release_due()
        await self.refresh_gauges(force=False)
        log.debug("tick handled", tick_id=tick.tick_id, released=released)
        return released

    async def release_due(self) -> int:
        """Release every Cooldown account whose ``cooldown_until`` has passed; the number this
        worker released. Reads only due schedule entries, from one cursor, a batch at a time;
        concurrent passes (replicas, duplicated ticks) each release a disjoint share, because
        each release is claimed."""
        started = time.monotonic()
        now = self._clock.now()
        released = 0
        async for entries in self._store.due_batches(now, batch_size=self._options.release_batch_size):
            released += await self._release_batch(entries, now)
        metrics.RELEASE_PASS.observe(time.monotonic() - started)
        if released:
            log.info("cooldowns elapsed: accounts released", count=released)
        return released

    async def _release_batch(self, entries: list[ScheduledRelease], now: datetime) -> int:
        concurrency = self._options.release_concurrency
        current = await _bounded(concurrency, [self._store.get(entry.account_id) for entry in entries])
        planned: dict[str, tuple[Decision, ChangeRecord]] = {}
        for entry, account in zip(entries, current, strict=True):
            if account is None or not _in_cooldown(account, entry):
                continue
            decision = accounts.release_due(account, now=now)
            if decision.verdict is Verdict.APPLIED:
                planned[entry.entry_id] = (decision, self._record(decision, source=f"release:{entry.entry_id}"))
        won = await self._store.claim_many([record for _, record in planned.values()])

        async def release(entry: ScheduledRelease) -> bool:
            plan = planned.get(entry.entry_id)
            if plan is not None and plan[1].id in won:
                decision, record = plan
                await self._finish(record, recovered=False)
                self._observe(decision)
                return True
            return await self._release_current(entry, now)

        return sum(await _bounded(concurrency, [release(entry) for entry in entries]))

    async def _release_current(self, entry: ScheduledRelease, now: datetime) -> bool:
        """The entry could not be released as read (another worker changed or claimed the
        account, or the entry is out of date): decide on the account as it is now."""
        try:
            account = await self._load(entry.account_id, wait=False)
        except AccountBusy:
            return False  # another worker is storing a change to it; that worker finishes the job
        if account is not None and _in_cooldown(account, entry):
            decision = accounts.release_due(account, now=now)
            return decision.verdict is Verdict.APPLIED and await self._commit(
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
                await self._publish(record.events)
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

    # --- commands -------------------------------------------------------------------------

    async def execute(
        self, command: CooldownCommand, *, redelivered: bool = False
    ) -> AccountCommandReply | PolicyReply:
        if isinstance(command, SetCooldownPolicy):
            return await self.set_policy(command)
        if isinstance(command, ReleaseAccountEarly):
            return await self.release_early(command, redelivered=redelivered)
        if isinstance(command, AcquireAccount):
            return await self.acquire(command)
        return await self.register(command, redelivered=redelivered)

    async def register(self, command: RegisterAccount, *, redelivered: bool = False) -> AccountCommandReply:
        if not command.actor.can(Permission.UPDATE_CONFIG):
            problem = _forbidden(command.actor, Permission.UPDATE_CONFIG)
            return AccountCommandReply(status=CommandStatus.REJECTED, message=problem.message, problem=problem)
        created, account = await self._register(
            command.account_id, command.name, command.email, redelivered=redelivered
        )
        log.info(
            "account registered" if created else "account already registered",
            account_id=command.account_id,
            by=command.actor.email,
        )
        return AccountCommandReply(
            status=CommandStatus.DONE,
            message="registered: Available" if created else f"already in the pool ({account.status})",
            account=account_view(account),
            noop=not created,
        )

    async def release_early(self, command: ReleaseAccountEarly, *, redelivered: bool = False) -> AccountCommandReply:
        actor = command.actor
        if not actor.can(Permission.RELEASE_ANY_ACCOUNTS):
            problem = _forbidden(actor, Permission.RELEASE_ANY_ACCOUNTS)
            return AccountCommandReply(status=CommandStatus.REJECTED, message=problem.message, problem=problem)
        by = _actor_ref(actor)
        try:
            decision = await self._change(
                command.account_id,
                lambda account: accounts.release_early(
                    account,
                    actor=by,
                    reason=command.reason,
                    request_key=command.idempotency_key,
                    now=self._clock.now(),
                ),
                source=f"release-early:{command.idempotency_key}",
                redelivered=redelivered,
            )
        except UnknownAccount as exc:
            return _rejected(ErrorCode.NOT_FOUND, str(exc))
        view = account_view(decision.after)
        if decision.verdict is Verdict.APPLIED:
            before = decision.before
            log.warning(
                "account released early: billing attribution may be inaccurate",
                account_id=command.account_id,
                by=actor.email,
                reason=command.reason,
                lease_id=decision.after.lease_id,
                cooldown_until=before.cooldown_until.isoformat() if before and before.cooldown_until else None,
            )
            return AccountCommandReply(
                status=CommandStatus.DONE, message=decision.note, account=view, warning=EARLY_RELEASE_WARNING
            )
        if decision.verdict is Verdict.DUPLICATE:
            return AccountCommandReply(status=CommandStatus.DONE, message=decision.note, account=view, noop=True)
        return _rejected(ErrorCode.CONFLICT, decision.note, account=decision.after)

    async def set_policy(self, command: SetCooldownPolicy) -> PolicyReply:
        actor = command.actor
        if not actor.can(Permission.UPDATE_CONFIG):
            return PolicyReply(problem=_forbidden(actor, Permission.UPDATE_CONFIG))
        if await self._store.policy_change_seen(command.idempotency_key):
            return PolicyReply(policy=await self._store.policy())
        previous = await self._store.policy()
        policy = CooldownPolicy(
            enforce_account_cooldown=command.enforce_account_cooldown,
            cooldown_period_hours=command.cooldown_period_hours,
            updated_by=_actor_ref(actor),
            updated_at=self._clock.now(),
        )
        await self._store.save_policy(policy, previous=previous, request_key=command.idempotency_key)
        log.info(
            "cooldown policy changed",
            by=actor.email,
            enforce_account_cooldown=policy.enforce_account_cooldown,
            cooldown_period_hours=policy.cooldown_period_hours,
            previous_enforce=previous.enforce_account_cooldown,
            previous_hours=previous.cooldown_period_hours,
            note="accounts already in Cooldown keep their cooldown_until; the policy applies to cleanups from now on",
        )
        return PolicyReply(policy=policy)

    async def acquire(self, command: AcquireAccount) -> AccountCommandReply:
        actor, lease_id = command.actor, command.lease_id
        if not actor.can(Permission.ACQUIRE_ACCOUNTS):
            problem = _forbidden(actor, Permission.ACQUIRE_ACCOUNTS)
            return AccountCommandReply(status=CommandStatus.REJECTED, message=problem.message, problem=problem)
        held = await self._store.lease_account(lease_id)
        if held is not None:
            return await self._acquired_before(lease_id, held)
        window = self._options.recent_use_window
        for _ in range(self._options.acquire_attempts):
            candidate = await self._candidates.next()
            if candidate is None:
                return await self._nothing_available()
            now = self._clock.now()
            decision = accounts.acquire(candidate, lease_id=lease_id, now=now)
            if decision.verdict is not Verdict.APPLIED:
                continue
            if not await self._commit(decision, source=f"acquire:{lease_id}"):
                await self._heal(candidate.account_id)
                continue
            kept = await self._store.lease_account(lease_id)
            if kept is not None and kept != candidate.account_id:
                return await self._acquired_before(lease_id, kept)
            recent = accounts.recently_cleaned(candidate, now=now, window=window)
            warning = accounts.recent_use_warning(window) if recent else None
            metrics.ACQUISITIONS.labels(outcome="recently-used" if recent else "preferred").inc()
            if warning:
                log.warning(
                    warning,
                    account_id=candidate.account_id,
                    lease_id=lease_id,
                    last_cleanup_completed_at=candidate.last_cleanup_completed_at.isoformat()
                    if candidate.last_cleanup_completed_at
                    else None,
                )
            else:
                log.info("account acquired", account_id=candidate.account_id, lease_id=lease_id)
            return AccountCommandReply(
                status=CommandStatus.DONE,
                message=decision.note,
                account=account_view(decision.after),
                warning=warning,
            )
        metrics.ACQUISITIONS.labels(outcome="contended").inc()
        message = "every candidate account was taken by concurrent acquisitions; try again"
        return _rejected(ErrorCode.UNAVAILABLE, message)

    async def _acquired_before(self, lease_id: str, account_id: str) -> AccountCommandReply:
        account = await self._load(account_id)
        if account is not None and account.status is AccountStatus.ACTIVE and account.lease_id == lease_id:
            metrics.ACQUISITIONS.labels(outcome="repeat").inc()
            return AccountCommandReply(
                status=CommandStatus.DONE,
                message=f"lease {lease_id} already holds account {account_id}",
                account=account_view(account),
                noop=True,
            )
        status = account.status if account else "gone"
        return _rejected(
            ErrorCode.CONFLICT,
            f"lease {lease_id} was given account {account_id}, which is now {status}",
            account=account,
        )

    async def _nothing_available(self) -> AccountCommandReply:
        metrics.ACQUISITIONS.labels(outcome="none").inc()
        next_due, cooling = await self._store.next_release()
        message = "no account is Available"
        if cooling and next_due is not None:
            message += f"; {cooling} in Cooldown, the next released at {next_due.isoformat()}"
        return _rejected(ErrorCode.UNAVAILABLE, message)

    # --- queries --------------------------------------------------------------------------

    async def answer(self, query: CooldownQuery) -> AccountListReply | AccountReply | PolicyReply:
        if isinstance(query, ListAccounts):
            found = await self._store.page(status=query.status, after_id=query.cursor, limit=query.limit + 1)
            items = found[: query.limit]
            more = len(found) > query.limit
            return AccountListReply(
                items=[account_view(a) for a in items], next_cursor=items[-1].account_id if more else None
            )
        if isinstance(query, GetAccount):
            account = await self._store.get(query.account_id)
            if account is None:
                return AccountReply()
            changes = await self._store.recent_changes(
                account.account_id, up_to=account.version, count=self._options.history_limit
            )
            return AccountReply(account=account_view(account, [t for c in changes for t in c.transitions]))
        if isinstance(query, GetCooldownPolicy):
            return PolicyReply(policy=await self._store.policy())
        return await self.stuck(query)

    async def stuck(self, query: ListStuckAccounts) -> AccountListReply:
        before = self._clock.now() - timedelta(hours=query.older_than_hours)
        found = await self._store.stuck(since_before=before, limit=self._options.stuck_limit)
        return AccountListReply(items=[account_view(a) for a in found])

    # --- the change protocol ----------------------------------------------------------------

    async def _register(
        self, account_id: str, name: str, email: str | None, *, redelivered: bool
    ) -> tuple[bool, Account]:
        for _ in range(_CHANGE_ATTEMPTS):
            existing = await self._load(account_id)
            if existing is not None:
                if redelivered:
                    await self._republish(existing, source="register")
                return False, existing
            decision = accounts.register(account_id=account_id, name=name, email=email, now=self._clock.now())
            if await self._commit(decision, source="register"):
                return True, decision.after
        raise AccountBusy(account_id)

    async def _load(self, account_id: str, *, wait: bool = True) -> Account | None:
        """The account as it is: its document, brought past any change another worker claimed
        and has not finished storing (waiting for it, or finishing it once it is overdue)."""
        deadline = time.monotonic() + (self._options.busy_wait_seconds if wait else 0.0)
        while True:
            account = await self._store.get(account_id)
            version = account.version if account else 0
            pending = await self._store.change(account_id, version + 1)
            if pending is None:
                return account
            if self._clock.now() - pending.claimed_at >= self._options.claim_grace:
                log.warning(
                    "finishing a change another worker claimed but did not finish",
                    account_id=account_id,
                    version=version + 1,
                    source=pending.source,
                )
                await self._finish(pending, recovered=True)
                continue
            if time.monotonic() >= deadline:
                raise AccountBusy(account_id)
            await asyncio.sleep(0.01)

    async def _heal(self, account_id: str) -> None:
        """Finish an overdue unfinished change, if that is what kept us from claiming."""
        with contextlib.suppress(AccountBusy):
            await self._load(account_id, wait=False)

    async def _change(
        self,
        account_id: str,
        decide: Callable[[Account], Decision],
        *,
        source: str,
        redelivered: bool = False,
    ) -> Decision:
        for _ in range(_CHANGE_ATTEMPTS):
            account = await self._load(account_id)
            if account is None:
                raise UnknownAccount(account_id)
            decision = decide(account)
            if not decision.changed:
                if decision.verdict is Verdict.DUPLICATE and redelivered:
                    await self._republish(account, source=source)
                return decision
            if await self._commit(decision, source=source):
                return decision
        raise AccountBusy(account_id)

    def _record(self, decision: Decision, *, source: str) -> ChangeRecord:
        after = decision.after
        problems = accounts.violations(after)
        if problems:  # a bug in a rule: never store it
            msg = f"refusing to store account {after.account_id} in an illegal state: {'; '.join(problems)}"
            raise AssertionError(msg)
        now = self._clock.now()
        before = decision.before
        left = None
        if (
            before is not None
            and before.cooldown_version is not None
            and after.cooldown_version != before.cooldown_version
        ):
            left = before.cooldown_version
        acquired = after.lease_id if any(t.cause is Cause.ACQUIRED for t in decision.transitions) else None
        return ChangeRecord(
            account=after,
            claimed_at=now,
            source=source,
            transitions=decision.transitions,
            events=tuple(events_for(decision, now=now)),
            note=decision.note,
            left_cooldown_version=left,
            acquired_lease=acquired,
        )

    async def _commit(self, decision: Decision, *, source: str) -> bool:
        """Claim and finish the change; False (nothing stored) if another worker changed the account first."""
        record = self._record(decision, source=source)
        if not await self._store.claim(record):
            return False
        await self._finish(record, recovered=False)
        self._observe(decision)
        return True

    async def _finish(self, record: ChangeRecord, *, recovered: bool) -> None:
        """Store a claimed change's effects and announce it. Idempotent.

        The order keeps every reader safe: a cooling account is in the release schedule
        before its document says Cooldown, and a lease is mapped before its account says
        Active; the schedule entry a release retires is removed only after the release's
        events are published (it is their outbox)."""
        account = record.account
        kept: str | None = None
        if record.enters_cooldown:
            await self._store.schedule_release(account)
        if record.acquired_lease is not None:
            kept = await self._store.map_lease(record.acquired_lease, account.account_id, at=record.claimed_at)
        await self._store.write(account)
        await self._publish(record.events)
        if record.left_cooldown_version is not None:
            await self._store.unschedule(account.account_id, record.left_cooldown_version)
        if record.acquired_lease is not None and kept is not None and kept != account.account_id:
            await self._abandon(account, record.acquired_lease, kept)
        if recovered:
            log.info("unfinished change finished", account_id=account.account_id, version=account.version)

    async def _abandon(self, account: Account, lease_id: str, kept: str) -> None:
        decision = accounts.abandon_acquisition(account, lease_id=lease_id, kept_account_id=kept, now=self._clock.now())
        if decision.verdict is Verdict.APPLIED and await self._commit(decision, source=f"abandon:{lease_id}"):
            log.warning(
                "two acquisitions ran at once for one lease: this account went back to Available",
                account_id=account.account_id,
                lease_id=lease_id,
                kept_account_id=kept,
            )

    async def _publish(self, events: Sequence[OutgoingEvent]) -> None:
        await asyncio.gather(*(self._events.publish(e.event, message_id=e.message_id) for e in events))

    async def _republish(self, account: Account, *, source: str) -> None:
        """A *redelivered* trigger (its worker stopped before acknowledging it) whose change is
        the account's last one: that worker may have stopped between storing the change and
        publishing its events, so publish them again (same ids). A repeat that is a new
        delivery (an upstream duplicate, a retried command) publishes nothing."""
        record = await self._store.change(account.account_id, account.version)
        if record is not None and record.source == source and record.events:
            await self._publish(record.events)

    def _observe(self, decision: Decision) -> None:
        for transition in decision.transitions:
            metrics.TRANSITIONS.labels(
                from_status=transition.from_status.value if transition.from_status else "none",
                to_status=transition.to_status.value,
                cause=transition.cause.value,
            ).inc()
            before = decision.before
            if (
                transition.from_status is AccountStatus.COOLDOWN
                and transition.to_status is AccountStatus.AVAILABLE
                and before is not None
                and before.cooldown_started_at is not None
            ):
                seconds = (transition.at - before.cooldown_started_at).total_seconds()
                release = "early" if transition.cause is Cause.RELEASED_EARLY else "elapsed"
                metrics.COOLDOWN_DURATION.labels(release=release).observe(max(seconds, 0.0))

    def _log_decision(self, what: str, decision: Decision, **fields: Any) -> None:
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
