"""Discovery: each onboarded account scanned for the commitments it holds, wherever they were
bought; a commitment not yet known becomes a purchase (``execution.via = "discovered"``),
recorded, announced (``PurchaseRecorded``) and revocable like an executed one.

Ticks find the accounts whose scan is due; each is claimed by a unique insert (so two replicas
never scan one account in the same slot) and scanned in the background, a bounded number at a
time, so a tick is never held up by AWS. One commitment, one purchase: a commitment is claimed
by a unique insert of its key before its purchase is stored, whichever source comes first.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from prometheus_client import Counter, Histogram

from graceperiod.contracts.enums import Provider
from graceperiod.revocation.changes import Changes
from graceperiod.revocation.claims import Claims
from graceperiod.revocation.domain.accounts import learnt
from graceperiod.revocation.domain.aws_answers import CallError, Failure
from graceperiod.revocation.domain.discovery import (
    Discoverable,
    DiscoveryPolicy,
    Listing,
    ScanReport,
    commitment_key,
    commitment_key_of,
    discovered_purchase_id,
    found_record,
    scanned,
)
from graceperiod.revocation.domain.lifecycle import recorded_event
from graceperiod.revocation.domain.records import AccountRecord
from graceperiod.revocation.scan_readers import ScanReader
from graceperiod.revocation.store.commitments import CommitmentStore
from graceperiod.runtime.logs import get_logger
from graceperiod.runtime.messaging import EventSink

log = get_logger("graceperiod.revocation")

SCANS = Counter("graceperiod_discovery_scans_total", "Account scans, by result.", ["result"])
FOUND = Counter(
    "graceperiod_discovery_commitments_found_total",
    "Commitments discovery recorded as new purchases, by product and whether they were announced.",
    ["service", "announced"],
)
ERRORS = Counter("graceperiod_discovery_errors_total", "AWS calls that failed during scans, by failure.", ["failure"])
SCAN_SECONDS = Histogram(
    "graceperiod_discovery_scan_seconds",
    "How long one account's scan took.",
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80),
)


@dataclass(frozen=True)
class Scans:
    """Scanning one account or tenant: its commitments listed (by its provider's
    :class:`~.scan_readers.ScanReader`), the new ones recorded and announced."""

    changes: Changes
    commitments: CommitmentStore
    events: EventSink
    policy: DiscoveryPolicy
    readers: Mapping[Provider, ScanReader]

    def reader(self, account: AccountRecord | None) -> ScanReader | None:
        """The reader of the account's provider, when Grace Period can read the account."""
        reader = self.readers.get(account.provider) if account is not None else None
        return reader if account is not None and reader is not None and reader.usable(account) else None

    async def scan(self, account_id: str, slot: datetime | None = None) -> ScanReport | None:
        """Scan the account for the slot ``slot`` (a tick's), or out of turn (None)."""
        account = await self.changes.accounts.get(account_id)
        reader = self.reader(account)
        if account is None or reader is None:
            return None
        started, clock = self.changes.now(), time.perf_counter()
        report = ScanReport(provider=account.provider)
        account, listing = await reader.listing(account, report)
        account = await self._errors(account, listing, report)
        report.reads, report.commitments = listing.reads, len(listing.found)
        known = [await self._known(found, account, report) for found in listing.found]
        account = await reader.after(account)
        now = self.changes.now()
        keys = [key for key in known if key]
        await self.changes.account(
            account_id,
            lambda current: (
                scanned(current, report, started=started, now=now, known=keys, policy=self.policy, slot=slot)
                if current
                else None
            ),
            loaded=account,
        )
        result, _ = report.outcome()
        SCANS.labels(result.value).inc()
        SCAN_SECONDS.observe(time.perf_counter() - clock)
        return report

    async def _errors(self, account: AccountRecord, listing: Listing, report: ScanReport) -> AccountRecord:
        """Count the failed calls; a denied read is learnt (the re-apply banner)."""
        for where, error in listing.errors:
            report.add_error(where, error)
            ERRORS.labels(error.failure.value).inc()
            if error.failure in (Failure.ACCESS_DENIED, Failure.NOT_ASSUMABLE):
                account = await self._learn(account, error)
        return account

    async def _learn(self, account: AccountRecord, error: CallError) -> AccountRecord:
        changed = await self.changes.account(
            account.account_id, lambda current: learnt(current, error) if current else None, loaded=account
        )
        return changed or account

    async def _known(self, found: Discoverable, account: AccountRecord, report: ScanReport) -> str | None:
        """The commitment's key once it is a purchase (recorded now or before)."""
        if found.unknown_state:
            report.unknown_states.append(found.unknown_state)
        key = commitment_key(account.account_id, found.product_key, found.commitment_id)
        if key in account.known_commitments:
            return key
        if await self.record(found, account):
            report.new += 1
        return key

    async def record(self, found: Discoverable, account: AccountRecord) -> bool:
        """Record a commitment as a discovered purchase and announce it; False when it is
        another purchase already (an executor announced it first)."""
        now = self.changes.now()
        purchase_id = discovered_purchase_id(account.account_id, found.product_key, found.commitment_id)
        owner = await self.commitments.claim(
            commitment_key(account.account_id, found.product_key, found.commitment_id), purchase_id, now
        )
        if owner != purchase_id:
            return False
        record = await self.changes.purchases.get(purchase_id)
        if record is None:  # new, or claimed by a scan that stopped before storing it
            record = await self.changes.insert(found_record(found, account, self.changes.at(account)), account)
        FOUND.labels(found.product_key, "no" if record.quiet else "yes").inc()
        if not record.quiet:
            event, message_id = recorded_event(record, now)
            await self.events.publish(event, message_id=message_id)
        log.info("commitment discovered", purchase_id=purchase_id, account_id=account.account_id, quiet=record.quiet)
        return True


@dataclass
class _Pending:
    """A scan started ahead of its slot, waiting for it (a purchase event starts it at once)."""

    task: asyncio.Task[None]
    now: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class Discovering:
    """Which accounts to scan and when: on ticks, and at once for a purchase event.

    A tick takes every account whose slot comes before the next tick is expected (the time
    since the previous tick, at most an interval), claims it and starts its scan at its slot:
    the scans spread over the interval as the slots do, however far apart ticks are, instead
    of all starting when a tick comes."""

    scans: Scans
    claims: Claims
    concurrency: int
    batch: int
    event_spacing: timedelta
    _running: dict[str, _Pending] = field(default_factory=dict)
    _slots: asyncio.Semaphore | None = None
    _last_tick: datetime | None = None

    async def on_tick(self) -> None:
        now = self.scans.changes.now()
        interval = self.scans.policy.interval
        ahead = min(interval, now - self._last_tick) if self._last_tick and now > self._last_tick else timedelta(0)
        self._last_tick = now
        after: tuple[datetime, str] | None = None
        while page := await self.scans.changes.accounts.scans_due(now + ahead, limit=self.batch, after=after):
            for account_id, due in page:
                if account_id in self._running:
                    continue
                lasting = ahead + max(interval, timedelta(minutes=2))
                if await self.claims.once(f"scan:{account_id}:{due.isoformat()}", lasting=lasting):
                    self._start(account_id, slot=due)
            if len(page) < self.batch:
                return
            after = (page[-1][1], page[-1][0])

    async def scan_soon(self, account_id: str) -> bool:
        """Scan the account now (a purchase event), unless it is being scanned or was scanned
        within the event spacing; False when nothing was started. A scan waiting for its slot
        starts at once."""
        pending = self._running.get(account_id)
        if pending is not None:
            if pending.now.is_set():
                return False
            pending.now.set()
            return True
        account = await self.scans.changes.accounts.get(account_id)
        if self.scans.reader(account) is None or account is None or account_id in self._running:
            return False
        if account.scan is not None and self.scans.changes.now() - account.scan.at < self.event_spacing:
            return False
        self._start(account_id)
        return True

    def _start(self, account_id: str, slot: datetime | None = None) -> None:
        now = asyncio.Event()
        task = asyncio.create_task(self._scan(account_id, slot, now), name=f"scan-{account_id}")
        self._running[account_id] = _Pending(task, now)
        task.add_done_callback(lambda _: self._running.pop(account_id, None))

    async def _scan(self, account_id: str, slot: datetime | None, now: asyncio.Event) -> None:
        if slot is not None:
            await self._until(slot, now)
        now.set()
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.concurrency)
        async with self._slots:
            try:
                await self.scans.scan(account_id, slot)
            except Exception:  # one account's trouble must not stop the others; its slot comes back
                ERRORS.labels("internal").inc()
                log.exception("account scan failed", account_id=account_id)

    async def _until(self, slot: datetime, now: asyncio.Event) -> None:
        """Wait for the slot on the service's clock (looked at again every second: a test's
        clock moves when told), or until a purchase event says now."""
        while not now.is_set():
            wait = (slot - self.scans.changes.now()).total_seconds()
            if wait <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(now.wait(), min(wait, 1.0))

    async def drain(self) -> None:
        """Stop the scans under way (at shutdown): each stays due and is redone later."""
        tasks = [pending.task for pending in self._running.values()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


async def claim_recorded_commitments(changes: Changes, commitments: CommitmentStore) -> None:
    """Once per database (at start-up): claim the commitments of purchases recorded before
    discovery existed (of AWS, then of Azure too: hence the job's second name), so a scan never
    records one of them a second time. Claiming again is harmless."""
    job = "claim-recorded-commitments:aws+azure"
    if await commitments.marked(job):
        return
    after: str | None = None
    while batch := await changes.purchases.commitments(after=after):
        for purchase_id, purchase in batch:
            await commitments.claim(commitment_key_of(purchase), purchase_id, changes.now())
        after = batch[-1][0]
    await commitments.mark(job, changes.now())
