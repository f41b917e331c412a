"""Deliveries in MongoDB (database ``graceperiod_notifier``): one record per (email kind,
purchase, recipient), so an email goes out once however often its event is redelivered."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from graceperiod.runtime.mongo import Document, ensure_indexes


class DeliveryStatus(StrEnum):
    SENDING = "sending"
    SENT = "sent"
    REJECTED = "rejected"


class Claim(StrEnum):
    CLAIMED = "claimed"
    DONE = "done"
    BUSY = "busy"


class DeliveryStore:
    def __init__(self, database: AsyncDatabase[Document], *, lease: timedelta = timedelta(seconds=60)) -> None:
        self._deliveries = database["deliveries"]
        # Longer than any single send can take (the SMTP timeout), so a live claim is
        # never taken over while its owner may still be talking to the server.
        self._lease = lease

    async def ensure_indexes(self) -> None:
        await ensure_indexes(self._deliveries, [IndexModel([("purchase_id", ASCENDING), ("kind", ASCENDING)])])

    @staticmethod
    def key(kind: str, purchase_id: str, recipient: str) -> str:
        return f"{kind}:{purchase_id}:{recipient}"

    async def claim(self, *, kind: str, purchase_id: str, recipient: str, now: datetime) -> Claim:
        """Take the right to send one email.

        ``CLAIMED``: send it now. ``DONE``: it was sent (or permanently rejected) before.
        ``BUSY``: another worker holds a live claim; try again later (not acked, so an
        abandoned claim is retaken once its lease expires).
        """
        key = self.key(kind, purchase_id, recipient)
        lease_until = now + self._lease
        try:
            await self._deliveries.insert_one(
                {
                    "_id": key,
                    "kind": kind,
                    "purchase_id": purchase_id,
                    "recipient": recipient,
                    "status": DeliveryStatus.SENDING,
                    "claimed_at": now,
                    "lease_until": lease_until,
                    "attempts": 0,
                }
            )
        except DuplicateKeyError:
            taken = await self._deliveries.find_one_and_update(
                {"_id": key, "status": DeliveryStatus.SENDING, "lease_until": {"$lte": now}},
                {"$set": {"claimed_at": now, "lease_until": lease_until}},
            )
            if taken is not None:
                return Claim.CLAIMED
            existing = await self._deliveries.find_one({"_id": key}, projection={"status": 1})
            if existing is not None and existing["status"] != DeliveryStatus.SENDING:
                return Claim.DONE
            return Claim.BUSY
        return Claim.CLAIMED

    async def release(self, *, kind: str, purchase_id: str, recipient: str, now: datetime) -> None:
        """Give up a claim after a transient failure so the retry can take it at once."""
        await self._deliveries.update_one(
            {"_id": self.key(kind, purchase_id, recipient), "status": DeliveryStatus.SENDING},
            {"$set": {"lease_until": now}, "$inc": {"attempts": 1}},
        )

    async def finish(
        self,
        *,
        kind: str,
        purchase_id: str,
        recipient: str,
        status: DeliveryStatus,
        now: datetime,
        detail: str = "",
    ) -> None:
        await self._deliveries.update_one(
            {"_id": self.key(kind, purchase_id, recipient)},
            {
                "$set": {"status": status, "finished_at": now, "detail": detail},
                "$inc": {"attempts": 1},
            },
        )

    async def for_purchase(self, purchase_id: str) -> list[Document]:
        return await self._deliveries.find({"purchase_id": purchase_id}).to_list(None)
