"""notifier.email.delivered: each delivery joins its purchase's timeline once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from graceperiod.contracts.notifier import EmailDelivered
from graceperiod.revocation.changes import Changes, Loaded
from graceperiod.revocation.domain.lifecycle import has_delivery, with_delivery
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


@dataclass(frozen=True)
class Deliveries:
    changes: Changes
    locks: _KeyedLocks = field(default_factory=_KeyedLocks)

    async def delivered(self, event: EmailDelivered, *, message_id: str) -> None:
        """The entry, keyed by the message id, is the dedupe record (no inbox round-trips).
        The deliveries of one purchase arrive together; taking them one at a time here spares
        the conflicting replaces and their re-reads."""
        async with self.locks.hold(event.purchase_id):
            record = await self.changes.purchases.get(event.purchase_id)
            if record is None:
                log.warning("email delivered for an unknown purchase", purchase_id=event.purchase_id)
                return
            if has_delivery(record, message_id):
                return
            loaded = Loaded(record, await self.changes.accounts.get(record.account_id))
            await self.changes.purchase(loaded, lambda rec, at: (with_delivery(rec, event, message_id), None))
