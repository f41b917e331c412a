"""How every change is stored: load, decide (a rule of ``domain/``), write only if nobody
changed the record since it was read (else read again and decide again), then publish the
events the change wrote into the purchase's outbox.

A handler that holds the purchase and its account already passes them on (:class:`Loaded`):
each is read once per handler, and read again only when a concurrent change forces a redo.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from graceperiod.contracts.rpc import ErrorCode
from graceperiod.revocation.domain.lifecycle import At, LifecyclePolicy, refreshed
from graceperiod.revocation.domain.outcomes import Rejected
from graceperiod.revocation.domain.records import AccountRecord, PurchaseRecord
from graceperiod.revocation.store.accounts import AccountStore
from graceperiod.revocation.store.commitments import CommitmentStore
from graceperiod.revocation.store.purchases import PurchaseStore
from graceperiod.runtime.clock import Clock
from graceperiod.runtime.messaging import EventSink
from graceperiod.runtime.middleware import TransientError

T = TypeVar("T")

_ROUNDS = 20


@dataclass(frozen=True)
class Loaded:
    """A purchase and its account (None: not registered) as read together."""

    purchase: PurchaseRecord
    account: AccountRecord | None


#: A rule applied to a purchase: the purchase as it becomes, and what the caller needs back.
Decision = Callable[[PurchaseRecord, At], tuple[PurchaseRecord, T]]


@dataclass(frozen=True)
class Changes:
    purchases: PurchaseStore
    accounts: AccountStore
    events: EventSink
    clock: Clock
    policy: LifecyclePolicy
    commitments: CommitmentStore | None = None
    """Resolves aliases: an executor's purchase id merged into a discovered purchase."""

    def now(self) -> datetime:
        return self.clock.now()

    def at(self, account: AccountRecord | None) -> At:
        return At(now=self.clock.now(), account=account, policy=self.policy)

    async def find(self, purchase_id: str) -> PurchaseRecord | None:
        """The purchase ``purchase_id`` names: its own, or the one it is an alias of."""
        record = await self.purchases.get(purchase_id)
        if record is None and self.commitments is not None:
            canonical = await self.commitments.resolve(purchase_id)
            record = await self.purchases.get(canonical) if canonical else None
        return record

    async def load(self, purchase_id: str) -> Loaded:
        """The purchase and its account; rejected (not found) when there is no such purchase."""
        record = await self.find(purchase_id)
        if record is None:
            raise Rejected(ErrorCode.NOT_FOUND, f"no purchase {purchase_id}")
        return Loaded(record, await self.accounts.get(record.account_id))

    async def insert(
        self, record: PurchaseRecord, account: AccountRecord | None, *, listed_by_repeat: bool = False
    ) -> PurchaseRecord:
        """Store a new purchase once (:meth:`PurchaseStore.insert`); the purchase as stored."""
        stored = await self.purchases.insert(record, listed_by_repeat=listed_by_repeat)
        await self.purchases.returns.follow(None, stored, account)
        return stored

    async def purchase(
        self, loaded: Loaded, decide: Decision[T], *, more: bool = False, listed_by_repeat: bool = False
    ) -> tuple[Loaded, T]:
        """Apply ``decide`` to the purchase ``loaded`` holds and store the result; on a
        concurrent change, read both again and decide again. Returns the purchase as stored.

        ``more``: the handler writes the purchase again right after (a claimed attempt, then
        its outcome), so a write with nothing to publish is neither listed nor settled: it
        leaves its ``listing_due`` mark for that write, which lists the purchase and clears it
        (two database writes fewer; a crash in between leaves it to relist).

        ``listed_by_repeat``: the handler's message comes again until it is handled, and that
        repeat lists the purchase it finds (deliveries): a write with nothing to publish is
        stored without the mark and listed, nothing to settle (one write fewer)."""
        for _ in range(_ROUNDS):
            at = self.at(loaded.account)
            changed, result = decide(loaded.purchase, at)
            changed = refreshed(changed, at)
            later = more and not changed.outbox
            unmarked = listed_by_repeat and not changed.outbox
            saved = await self.purchases.save(changed, listed=not later, marked=not unmarked)
            if saved is not None:
                await self.purchases.returns.follow(loaded.purchase, saved, loaded.account)
                if later or unmarked:
                    return Loaded(saved, loaded.account), result
                return Loaded(await self.publish(saved), loaded.account), result
            loaded = await self.load(loaded.purchase.purchase_id)
        raise TransientError(f"purchase {loaded.purchase.purchase_id} kept changing under us")

    async def publish(self, record: PurchaseRecord) -> PurchaseRecord:
        """Publish the outbox, then settle the purchase: empty the outbox and clear its
        ``listing_due`` mark in one write (if nobody wrote since; else remove just the published
        entries from the newer version). Returns the record without them."""
        for entry in record.outbox:
            await self.events.publish(entry.event, message_id=entry.message_id)
        if not await self.purchases.settle(record) and record.outbox:  # the usual case: nobody wrote since
            await self._forget_published(record.purchase_id, {entry.message_id for entry in record.outbox})
        return record.model_copy(update={"outbox": []}) if record.outbox else record

    async def _forget_published(self, purchase_id: str, sent: set[str]) -> None:
        for _ in range(_ROUNDS):
            current = await self.purchases.get(purchase_id)
            if current is None or not any(o.message_id in sent for o in current.outbox):
                return
            kept = [o for o in current.outbox if o.message_id not in sent]
            if (saved := await self.purchases.save(current.model_copy(update={"outbox": kept}))) is not None:
                if not saved.outbox:  # else whoever wrote the kept entries publishes them, and settles
                    await self.purchases.settle(saved)
                return

    async def publish_left_over(self, purchase_id: str) -> None:
        """Publish what a crash between a write and its publish left in the outbox."""
        record = await self.purchases.get(purchase_id)
        if record is not None:
            await self.purchases.listing.put(record)  # the crash may have come before the listing's write
            await self.publish(record)

    async def account(
        self,
        account_id: str,
        decide: Callable[[AccountRecord | None], AccountRecord | None],
        *,
        loaded: AccountRecord | None = None,
    ) -> AccountRecord | None:
        """Apply ``decide`` to the account (``loaded``, else read) and store the result if it
        changed anything; on a concurrent change, read again and decide again."""
        current = loaded or await self.accounts.get(account_id)
        for _ in range(_ROUNDS):
            changed = decide(current)
            if changed is None or changed == current:
                return current
            saved = await self.accounts.save(changed, new=current is None)
            if saved is not None:
                if saved.management_account_id != (current.management_account_id if current else None):
                    await self.purchases.returns.regroup(saved)
                return saved
            current = await self.accounts.get(account_id)
        raise TransientError(f"account {account_id} kept changing under us")
