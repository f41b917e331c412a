"""notifier.email.delivered: each email an event reports joins its purchase's timeline once
(keyed by its delivery id); those of one purchase that arrive together are stored in one write
(without the ``listing_due`` mark: a message is acknowledged only once its deliveries are stored,
and a repeat lists the purchase)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from graceperiod.contracts.notifier import EmailDelivered
from graceperiod.revocation.changes import Changes, Loaded
from graceperiod.revocation.domain.lifecycle import At, has_delivery, with_delivery
from graceperiod.revocation.domain.records import PurchaseRecord
from graceperiod.runtime.logs import get_logger

log = get_logger("graceperiod.revocation")


class _KeyedLocks:
    """One asyncio lock per key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self.locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self.locks.get(key, (asyncio.Lock(), 0))
        self.locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self.locks[key]
            if users == 1:
                del self.locks[key]
            else:
                self.locks[key] = (lock, users - 1)


#: A delivery waiting to be stored: the event, its message id, and its outcome for its handler.
_Waiting = tuple[EmailDelivered, str, "asyncio.Future[None]"]


@dataclass(frozen=True)
class Deliveries:
    changes: Changes
    locks: _KeyedLocks = field(default_factory=_KeyedLocks)
    waiting: dict[str, list[_Waiting]] = field(default_factory=dict)
    """Per purchase, the deliveries received and not stored yet."""

    async def delivered(self, event: EmailDelivered, *, message_id: str) -> None:
        """The entry, keyed by the message id, is the dedupe record (no inbox round-trips).
        The deliveries of one purchase arrive together: whoever holds the purchase's lock
        stores every delivery waiting for it in one write; each handler returns (and its
        message is acknowledged) once its own is stored, and fails (retried) if that write did."""
        stored: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiting.setdefault(event.purchase_id, []).append((event, message_id, stored))
        async with self.locks.hold(event.purchase_id):
            if not stored.done():
                batch = self.waiting.pop(event.purchase_id, [])
                try:
                    await self._store(event.purchase_id, [(e, m) for e, m, _ in batch])
                except BaseException as exc:  # theirs failed too (or stopped): their messages are retried
                    for _, _, other in batch:
                        if other is not stored:
                            other.set_exception(exc) if isinstance(exc, Exception) else other.cancel()
                    raise
                for _, _, other in batch:
                    other.set_result(None)
        await stored

    async def _store(self, purchase_id: str, deliveries: list[tuple[EmailDelivered, str]]) -> None:
        record = await self.changes.purchases.get(purchase_id)
        if record is None:
            log.warning("email delivered for an unknown purchase", purchase_id=purchase_id)
            return
        new = [
            (event.kind, email)
            for event, message_id in deliveries
            for email in event.outcomes(message_id)
            if not has_delivery(record, email.delivery_id)
        ]
        if not new:  # repeats: what they repeat may have stopped between storing and listing
            await self.changes.purchases.listing.put(record)
            return
        loaded = Loaded(record, await self.changes.accounts.get(record.account_id))

        def decide(rec: PurchaseRecord, _: At) -> tuple[PurchaseRecord, None]:
            for kind, email in new:
                rec = with_delivery(rec, kind, email)
            return rec, None

        await self.changes.purchase(loaded, decide, listed_by_repeat=True)
