"""The notifier's MongoDB database (``graceperiod_notifier``).

* ``deliveries``: one record per email ever sent (or refused): (kind, occurrence, purchase,
  recipient). It is the idempotency record: an email is claimed here before it is sent, so
  it goes out once however often its event is redelivered, and by however many replicas.
  Records are kept (see ``purge``): deleting one would let a late redelivery send again.
* ``settings``: the run-time notification settings (the global notification address).
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from graceperiod.contracts.notifier import DeliveryStatus, DeliveryView, EmailKind, NotificationSettings
from graceperiod.contracts.revocation import PurchaseChangeKind
from graceperiod.runtime.mongo import Document, ensure_indexes

_DUPLICATE_KEY = 11000


class Claim(StrEnum):
    CLAIMED = "claimed"
    """Send it now."""
    DONE = "done"
    """It was sent (or permanently rejected) before: do not send again."""
    BUSY = "busy"
    """Another worker holds a live claim: try again later."""


@dataclass(frozen=True, slots=True)
class DeliveryKey:
    """Identifies one email: its kind, the purchase, the recipient and, for revocation
    outcomes, which change it announces (``occurrence``: the change event's message id)."""

    kind: EmailKind
    purchase_id: str
    recipient: str
    occurrence: str = ""
    change: PurchaseChangeKind | None = None

    @property
    def id(self) -> str:
        parts = [self.kind, self.occurrence, self.purchase_id, self.recipient]
        return "|".join(p for p in parts if p)

    @property
    def event_id(self) -> str:
        """Deterministic AMQP message id of this delivery's EmailDelivered event (<= 255 bytes)."""
        return f"email-delivered:{hashlib.sha256(self.id.encode()).hexdigest()[:40]}"


@dataclass(frozen=True, slots=True)
class Delivery:
    """A finished delivery as stored (what a redelivered message finds)."""

    status: DeliveryStatus
    finished_at: datetime
    detail: str


def _view(doc: Document) -> DeliveryView:
    return DeliveryView(
        purchase_id=doc["purchase_id"],
        kind=doc["kind"],
        recipient=doc["recipient"],
        status=doc["status"],
        at=doc.get("finished_at") or doc["claimed_at"],
        detail=doc.get("detail", ""),
        change=doc.get("change"),
        attempts=doc.get("attempts", 0),
    )


class DeliveryStore:
    def __init__(self, database: AsyncDatabase[Document], *, lease: timedelta = timedelta(seconds=120)) -> None:
        self._deliveries = database["deliveries"]
        # Longer than a send can take (waiting for a free connection + the SMTP timeout), so
        # a live claim is never taken over while its owner may still be talking to the server.
        self._lease = lease

    async def ensure_indexes(self) -> None:
        await ensure_indexes(
            self._deliveries,
            [
                IndexModel([("purchase_id", ASCENDING), ("kind", ASCENDING)]),
                IndexModel([("finished_at", ASCENDING)]),
            ],
        )

    def _claim_document(self, key: DeliveryKey, now: datetime) -> Document:
        return {
            "_id": key.id,
            "kind": key.kind,
            "occurrence": key.occurrence,
            "change": key.change,
            "purchase_id": key.purchase_id,
            "recipient": key.recipient,
            "status": DeliveryStatus.SENDING,
            "claimed_at": now,
            "lease_until": now + self._lease,
            "attempts": 0,
        }

    async def claim(self, key: DeliveryKey, *, now: datetime) -> tuple[Claim, Delivery | None]:
        """Take the right to send one email (see :class:`Claim`)."""
        return (await self.claim_many([key], now=now))[0]

    async def claim_many(self, keys: Sequence[DeliveryKey], *, now: datetime) -> list[tuple[Claim, Delivery | None]]:
        """Take the right to send several emails in one round trip (one insert per new email;
        only emails met before need a second look). A BUSY claim is not acked by the caller,
        so a claim abandoned by a crashed worker is retaken once its lease expires."""
        if not keys:
            return []
        try:
            await self._deliveries.insert_many([self._claim_document(k, now) for k in keys], ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(error.get("code") != _DUPLICATE_KEY for error in errors):
                raise
            seen = {int(error["index"]) for error in errors}
            return [
                await self._claim_existing(key, now) if index in seen else (Claim.CLAIMED, None)
                for index, key in enumerate(keys)
            ]
        return [(Claim.CLAIMED, None)] * len(keys)

    async def _claim_existing(self, key: DeliveryKey, now: datetime) -> tuple[Claim, Delivery | None]:
        taken = await self._deliveries.find_one_and_update(
            {"_id": key.id, "status": DeliveryStatus.SENDING, "lease_until": {"$lte": now}},
            {"$set": {"claimed_at": now, "lease_until": now + self._lease}},
        )
        if taken is not None:
            return Claim.CLAIMED, None
        projection = {"status": 1, "finished_at": 1, "detail": 1}
        existing = await self._deliveries.find_one({"_id": key.id}, projection=projection)
        if existing is not None and existing["status"] != DeliveryStatus.SENDING:
            return Claim.DONE, Delivery(DeliveryStatus(existing["status"]), existing["finished_at"], existing["detail"])
        return Claim.BUSY, None

    async def release(self, key: DeliveryKey, *, now: datetime, detail: str = "") -> None:
        """Give up a claim after a transient failure so the retry can take it at once."""
        await self._deliveries.update_one(
            {"_id": key.id, "status": DeliveryStatus.SENDING},
            {"$set": {"lease_until": now, "detail": detail[:2000]}, "$inc": {"attempts": 1}},
        )

    async def finish(self, key: DeliveryKey, *, status: DeliveryStatus, now: datetime, detail: str = "") -> Delivery:
        return (await self.finish_many([key], status=status, now=now, detail=detail))[0]

    async def finish_many(
        self, keys: Sequence[DeliveryKey], *, status: DeliveryStatus, now: datetime, detail: str = ""
    ) -> list[Delivery]:
        """Record emails as sent (or refused), several in one write."""
        if keys:
            await self._deliveries.update_many(
                {"_id": {"$in": [key.id for key in keys]}},
                {"$set": {"status": status, "finished_at": now, "detail": detail[:2000]}, "$inc": {"attempts": 1}},
            )
        return [Delivery(status, now, detail[:2000]) for _ in keys]

    async def for_purchase(self, purchase_id: str) -> list[DeliveryView]:
        docs = await self._deliveries.find({"purchase_id": purchase_id}).sort("claimed_at", ASCENDING).to_list(None)
        return [_view(doc) for doc in docs]

    async def recipients_of(self, purchase_id: str, kind: EmailKind) -> list[str]:
        """Who was emailed (or is being emailed) about a purchase, oldest first; not those
        whose mail server refused it."""
        docs = await self._deliveries.find(
            {"purchase_id": purchase_id, "kind": kind, "status": {"$ne": DeliveryStatus.REJECTED}},
            projection={"recipient": 1, "claimed_at": 1},
        ).to_list(None)
        return [doc["recipient"] for doc in sorted(docs, key=lambda d: d["claimed_at"])]

    async def purge(self, *, finished_before: datetime) -> int:
        """Forget finished deliveries older than the retention (run on ticks; opt-in)."""
        result = await self._deliveries.delete_many(
            {"finished_at": {"$lt": finished_before}, "status": {"$ne": DeliveryStatus.SENDING}}
        )
        return int(result.deleted_count)


_SETTINGS_ID = "notifications"


class SettingsStore:
    """The run-time notification settings: one document, read through a short cache so a
    change made on one replica reaches the others within ``cache_seconds``."""

    def __init__(self, database: AsyncDatabase[Document], *, cache_seconds: float = 5.0) -> None:
        self._settings = database["settings"]
        self._cache_seconds = cache_seconds
        self._cached: tuple[float, NotificationSettings] | None = None

    async def seed(self, global_address: str | None) -> None:
        """Apply the configured initial address unless someone changed it at run time."""
        with contextlib.suppress(DuplicateKeyError):
            await self._settings.update_one(
                {"_id": _SETTINGS_ID, "updated_by": None},
                {"$set": {"global_notification_email": global_address, "updated_by": None}},
                upsert=True,
            )
        self._cached = None

    async def get(self) -> NotificationSettings:
        cached = self._cached
        if cached is not None and time.monotonic() - cached[0] < self._cache_seconds:
            return cached[1]
        doc = await self._settings.find_one({"_id": _SETTINGS_ID})
        settings = _settings(doc)
        self._cached = (time.monotonic(), settings)
        return settings

    async def update(
        self, *, global_address: str | None, updated_by: str, now: datetime, idempotency_key: str
    ) -> NotificationSettings:
        """Set the global address; a retried command (same idempotency key) changes nothing again."""
        try:
            doc = await self._settings.find_one_and_update(
                {"_id": _SETTINGS_ID, "idempotency_key": {"$ne": idempotency_key}},
                {
                    "$set": {
                        "global_notification_email": global_address,
                        "updated_by": updated_by,
                        "updated_at": now,
                        "idempotency_key": idempotency_key,
                    }
                },
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:  # the same command again: report what it set
            doc = await self._settings.find_one({"_id": _SETTINGS_ID})
        settings = _settings(doc)
        self._cached = (time.monotonic(), settings)
        return settings


def _settings(doc: dict[str, Any] | None) -> NotificationSettings:
    if doc is None:
        return NotificationSettings()
    return NotificationSettings(
        global_notification_email=doc.get("global_notification_email"),
        updated_by=doc.get("updated_by"),
        updated_at=doc.get("updated_at"),
    )
