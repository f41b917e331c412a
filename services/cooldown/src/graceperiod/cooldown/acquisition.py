"""Acquisition: hand an Available account to a new lease, once per lease however often asked
(the wait-list, ``waits.py``, takes accounts for the leases in line the same way)."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from graceperiod.contracts.cooldown import AccountCommandReply, AccountStatus, AcquireAccount
from graceperiod.contracts.rpc import ErrorCode
from graceperiod.cooldown import metrics
from graceperiod.cooldown.change_protocol import ChangeProtocol, Use
from graceperiod.cooldown.domain import acquisition
from graceperiod.cooldown.domain.accounts import Account
from graceperiod.cooldown.domain.decisions import Decision, Verdict
from graceperiod.cooldown.replies import done, rejected
from graceperiod.cooldown.store import AccountStore
from graceperiod.runtime.logs import get_logger

log = get_logger("graceperiod.cooldown")


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


@dataclass(frozen=True, slots=True)
class Taken:
    """An account acquired for a lease now (``decision``) or earlier (``decision`` None)."""

    account: Account
    decision: Decision | None = None


class Outcome(StrEnum):
    NONE_AVAILABLE = "none-available"
    CONTENDED = "contended"


class Acquisition(Use):
    def __init__(self, changes: ChangeProtocol) -> None:
        super().__init__(changes)
        options = self._options
        self._candidates = _Candidates(
            self._store, batch=options.candidate_batch, max_age_seconds=options.candidate_max_age_seconds
        )

    async def acquire(self, command: AcquireAccount) -> AccountCommandReply:
        """A plain acquisition (``wait`` false; the wait-list handles the rest)."""
        lease_id = command.lease_id
        taken = await self.take(lease_id)
        if isinstance(taken, Taken):
            if taken.decision is None:
                return self._repeat(lease_id, taken.account)
            return self._granted(taken.decision, lease_id, taken.decision.after.status_since)
        if taken is Outcome.NONE_AVAILABLE:
            return await self._nothing_available()
        metrics.ACQUISITIONS.labels(outcome="contended").inc()
        return rejected(
            ErrorCode.UNAVAILABLE, "every candidate account was taken by concurrent acquisitions; try again"
        )

    async def take(self, lease_id: str) -> Taken | Outcome | AccountCommandReply:
        """Make an Available account Active for the lease (once per lease, however often asked):
        the account taken, or why none was (a reply when the lease was given an account that
        is no longer Active for it)."""
        held = await self._store.lease_account(lease_id)
        if held is not None:
            return await self._acquired_before(lease_id, held)
        for _ in range(self._options.acquire_attempts):
            candidate = await self._candidates.next()
            if candidate is None:
                return Outcome.NONE_AVAILABLE
            decision = acquisition.acquire(candidate, lease_id=lease_id, now=self._clock.now())
            if decision.verdict is not Verdict.APPLIED:
                continue
            if not await self._changes.commit(decision, source=f"acquire:{lease_id}"):
                await self._changes.heal(candidate.account_id)
                continue
            kept = await self._store.lease_account(lease_id)
            if kept is not None and kept != candidate.account_id:
                return await self._acquired_before(lease_id, kept)
            return Taken(decision.after, decision)
        return Outcome.CONTENDED

    def _granted(self, decision: Decision, lease_id: str, now: datetime) -> AccountCommandReply:
        """The reply to an acquisition stored, with the warning when the account was used recently."""
        candidate, window = decision.after, self._options.recent_use_window
        cleaned = candidate.last_cleanup_completed_at
        recent = acquisition.recently_cleaned(candidate, now=now, window=window)
        warning = acquisition.recent_use_warning(window) if recent else None
        metrics.ACQUISITIONS.labels(outcome="recently-used" if recent else "preferred").inc()
        if warning:
            log.warning(
                warning,
                account_id=candidate.account_id,
                lease_id=lease_id,
                last_cleanup_completed_at=cleaned.isoformat() if cleaned else None,
            )
        else:
            log.info("account acquired", account_id=candidate.account_id, lease_id=lease_id)
        return done(decision.note, candidate, warning=warning)

    def _repeat(self, lease_id: str, account: Account) -> AccountCommandReply:
        metrics.ACQUISITIONS.labels(outcome="repeat").inc()
        return done(f"lease {lease_id} already holds account {account.account_id}", account, noop=True)

    async def _acquired_before(self, lease_id: str, account_id: str) -> Taken | AccountCommandReply:
        account = await self._changes.load(account_id)
        if account is not None and account.status is AccountStatus.ACTIVE and account.lease_id == lease_id:
            return Taken(account)
        status = account.status if account else "gone"
        return rejected(
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
        return rejected(ErrorCode.UNAVAILABLE, message + "; ask with wait=true to join the wait-list")
