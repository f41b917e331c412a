"""The notifier's MongoDB database (``graceperiod_notifier``).

Every document is a record of the domain (``domain/deliveries.py``,
``domain/notification_settings.py``), written with ``to_document`` and read back with
``model_validate``; this module is the only code that touches PyMongo.

Emails are identified by (kind, occurrence, purchase, recipient) and go out once however
often their event is redelivered, and by however many replicas:

* ``claims`` (:class:`ClaimRecord`): inserted before an email is sent (with a lease: who is
  sending it, until when). The unique ``_id`` makes one worker win; a redelivered event finds
  the claim.
* ``deliveries`` (:class:`DeliveryRecord`): inserted once the mail server answered: sent, or
  refused for good. An email with a delivery is never sent again.

Both are written with inserts only, which FerretDB does cheaply; the rare paths (a lease to
take over, a transient failure to release) update a single claim by ``_id``. Records are kept
(see ``purge``): deleting one would let a late redelivery send the email again.

Inserts go through :class:`CoalescedInserts`: the events handled at the same time share one
``insert`` command per collection (group commit), so a busy notifier makes a few database
round trips per batch of events instead of three per event. A reminder's insert, made while
its event's emails go out, also waits a moment for the reminders of events arriving just after.

* ``settings`` (:class:`SettingsRecord`): the run-time notification settings (the global
  notification address).
* ``reminders`` (:class:`ReminderRecord`): the reminder before each purchase's self-service
  window closes, scheduled when the purchase is recorded and sent on a tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from datetime import datetime, timedelta

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, OperationFailure

from graceperiod.contracts.notifier import DeliveryStatus, DeliveryView, EmailKind, NotificationSettings
from graceperiod.notifier.domain.deliveries import (
    DETAIL_LIMIT,
    Claim,
    ClaimRecord,
    DeliveryKey,
    DeliveryRecord,
    delivery_view,
)
from graceperiod.notifier.domain.notification_settings import SettingsRecord
from graceperiod.notifier.domain.reminders import ReminderRecord, ReminderState
from graceperiod.runtime.mongo import Document, ensure_indexes, to_document

_DUPLICATE_KEY = 11000
#: Reminders are stored while the event's emails go out (the event is acked once both are
#: done), so their insert can wait this long for other events' reminders at no cost to an
#: email's latency: one command per several events instead of one each.
REMINDER_LINGER_SECONDS = 0.05


class CoalescedInserts:
    """Unordered ``insert`` commands into one collection, shared by concurrent callers.

    While one command is in flight, the documents of callers arriving meanwhile wait and go
    together in the next one (group commit): no added wait when idle, fewer round trips under
    load. Each caller learns which of its own documents already existed (duplicate ``_id``),
    exactly as if it had sent its command alone; a failed command fails each of its callers.
    (The raw command costs about half the client CPU of ``insert_many``'s bulk machinery, and
    reports duplicates without an exception.)

    ``linger``: how long the first caller's documents wait for others before a command is sent
    when none is in flight; for writes nobody waits on at once (0: send at once)."""

    def __init__(self, database: AsyncDatabase[Document], collection: str, *, linger: float = 0.0) -> None:
        self._database = database
        self._collection = collection
        self._linger = linger
        self._waiting: list[tuple[list[Document], asyncio.Future[set[int]]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def insert(self, documents: list[Document]) -> set[int]:
        """Insert ``documents``; the indexes of those whose ``_id`` already existed."""
        future: asyncio.Future[set[int]] = asyncio.get_running_loop().create_future()
        self._waiting.append((documents, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_after_linger() if self._linger else self._write_waiting())
        return await future

    async def _write_after_linger(self) -> None:
        await asyncio.sleep(self._linger)
        await self._write_waiting()

    async def _write_waiting(self) -> None:
        while self._waiting:
            # A caller cancelled before its turn (a handler stopped) gets nothing written.
            batch, self._waiting = [(d, f) for d, f in self._waiting if not f.done()], []
            if not batch:
                continue
            try:
                seen = await self._command([document for documents, _ in batch for document in documents])
            except BaseException as exc:
                for _, future in batch:
                    if future.done():
                        continue
                    if isinstance(exc, Exception):
                        future.set_exception(exc)
                    else:
                        future.cancel()
                if not isinstance(exc, Exception):
                    raise
                continue
            start = 0
            for documents, future in batch:
                end = start + len(documents)
                if not future.done():  # its caller may have been cancelled meanwhile
                    future.set_result({index - start for index in seen if start <= index < end})
                start = end

    async def _command(self, documents: list[Document]) -> set[int]:
        reply = await self._database.command({"insert": self._collection, "documents": documents, "ordered": False})
        errors = reply.get("writeErrors", [])
        problems = [e for e in errors if e.get("code") != _DUPLICATE_KEY]
        if problems or reply.get("writeConcernError"):
            msg = f"insert into {self._collection} failed: {problems or reply['writeConcernError']}"
            raise OperationFailure(msg)
        return {int(error["index"]) for error in errors}


class DeliveryStore:
    def __init__(self, database: AsyncDatabase[Document], *, lease: timedelta = timedelta(seconds=120)) -> None:
        self._claims = database["claims"]
        self._deliveries = database["deliveries"]
        self._claim_inserts = CoalescedInserts(database, "claims")
        self._delivery_inserts = CoalescedInserts(database, "deliveries")
        # Longer than a send can take (waiting for a free connection + the SMTP timeout), so
        # a live claim is never taken over while its owner may still be talking to the server.
        self._lease = lease

    async def ensure_indexes(self) -> None:
        await ensure_indexes(self._claims, [IndexModel([("purchase_id", ASCENDING), ("kind", ASCENDING)])])
        await ensure_indexes(
            self._deliveries,
            [IndexModel([("purchase_id", ASCENDING), ("kind", ASCENDING)]), IndexModel([("finished_at", ASCENDING)])],
        )

    async def claim(self, key: DeliveryKey, *, now: datetime) -> tuple[Claim, DeliveryRecord | None]:
        """Take the right to send one email (see :class:`Claim`)."""
        return (await self.claim_many([key], now=now))[0]

    async def claim_many(
        self, keys: Sequence[DeliveryKey], *, now: datetime
    ) -> list[tuple[Claim, DeliveryRecord | None]]:
        """Take the right to send several emails in one insert; only emails met before need a
        second look. A BUSY claim is not acked by the caller, so a claim abandoned by a crashed
        worker is retaken once its lease expires."""
        if not keys:
            return []
        claims = [to_document(ClaimRecord.of(key, now=now, lease=self._lease), key=key.id) for key in keys]
        seen = await self._claim_inserts.insert(claims)
        return [
            await self._claim_existing(key, now) if index in seen else (Claim.CLAIMED, None)
            for index, key in enumerate(keys)
        ]

    async def _delivery(self, key: DeliveryKey) -> DeliveryRecord | None:
        doc = await self._deliveries.find_one({"_id": key.id})
        return DeliveryRecord.model_validate(doc) if doc else None

    async def _claim_existing(self, key: DeliveryKey, now: datetime) -> tuple[Claim, DeliveryRecord | None]:
        done = await self._delivery(key)
        if done is not None:
            return Claim.DONE, done
        taken = await self._claims.find_one_and_update(
            {"_id": key.id, "lease_until": {"$lte": now}},
            {"$set": {"claimed_at": now, "lease_until": now + self._lease}},
        )
        if taken is None:
            return Claim.BUSY, None
        # Finished between the two reads? Then the lease we just took is moot.
        done = await self._delivery(key)
        return (Claim.DONE, done) if done is not None else (Claim.CLAIMED, None)

    async def release(self, key: DeliveryKey, *, now: datetime, detail: str = "") -> None:
        """Give up a claim after a transient failure so the retry can take it at once."""
        await self._claims.update_one(
            {"_id": key.id}, {"$set": {"lease_until": now, "detail": detail[:DETAIL_LIMIT]}, "$inc": {"attempts": 1}}
        )

    async def finish(
        self, key: DeliveryKey, *, status: DeliveryStatus, now: datetime, detail: str = ""
    ) -> DeliveryRecord:
        return (await self.finish_many([key], status=status, now=now, detail=detail))[0]

    async def finish_many(
        self, keys: Sequence[DeliveryKey], *, status: DeliveryStatus, now: datetime, detail: str = ""
    ) -> list[DeliveryRecord]:
        """Record emails as sent (or refused), in one insert. Recording one twice (a retry of
        this write) keeps the first record."""
        records = [DeliveryRecord.of(key, status=status, now=now, detail=detail) for key in keys]
        if records:
            documents = [to_document(record, key=key.id) for key, record in zip(keys, records, strict=True)]
            await self._delivery_inserts.insert(documents)
        return records

    async def for_purchase(self, purchase_id: str) -> list[DeliveryView]:
        claims = await self._claims.find({"purchase_id": purchase_id}).to_list(None)
        done = {
            d["_id"]: DeliveryRecord.model_validate(d)
            async for d in self._deliveries.find({"purchase_id": purchase_id})
        }
        ordered = sorted(claims, key=lambda c: (c["claimed_at"], c["_id"]))
        return [delivery_view(ClaimRecord.model_validate(c), done.get(c["_id"])) for c in ordered]

    async def recipients_of(self, purchase_id: str, kind: EmailKind) -> list[str]:
        """Who was emailed (or is being emailed) about a purchase, oldest first; not those
        whose mail server refused it."""
        claims = await self._claims.find({"purchase_id": purchase_id, "kind": kind}).to_list(None)
        refused = await self._deliveries.find(
            {"purchase_id": purchase_id, "kind": kind, "status": DeliveryStatus.REJECTED}, projection={"_id": 1}
        ).to_list(None)
        skip = {doc["_id"] for doc in refused}
        ordered = sorted(claims, key=lambda c: (c["claimed_at"], c["_id"]))
        return [ClaimRecord.model_validate(c).recipient for c in ordered if c["_id"] not in skip]

    async def purge(self, *, finished_before: datetime) -> int:
        """Forget deliveries finished before the retention, and their claims (run on ticks; opt-in)."""
        old = await self._deliveries.find({"finished_at": {"$lt": finished_before}}, projection={"_id": 1}).to_list(
            None
        )
        ids = [doc["_id"] for doc in old]
        for start in range(0, len(ids), 500):
            batch = ids[start : start + 500]
            await self._claims.delete_many({"_id": {"$in": batch}})
            await self._deliveries.delete_many({"_id": {"$in": batch}})
        return len(ids)


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
                {"$set": to_document(SettingsRecord(global_notification_email=global_address))},
                upsert=True,
            )
        self._cached = None

    async def get(self) -> NotificationSettings:
        cached = self._cached
        if cached is not None and time.monotonic() - cached[0] < self._cache_seconds:
            return cached[1]
        settings = await self._read()
        self._cached = (time.monotonic(), settings)
        return settings

    async def _read(self) -> NotificationSettings:
        doc = await self._settings.find_one({"_id": _SETTINGS_ID})
        return SettingsRecord.model_validate(doc).view() if doc else NotificationSettings()

    async def update(
        self, *, global_address: str | None, updated_by: str, now: datetime, idempotency_key: str
    ) -> NotificationSettings:
        """Set the global address; a retried command (same idempotency key) changes nothing again."""
        record = SettingsRecord(
            global_notification_email=global_address,
            updated_by=updated_by,
            updated_at=now,
            idempotency_key=idempotency_key,
        )
        try:
            doc = await self._settings.find_one_and_update(
                {"_id": _SETTINGS_ID, "idempotency_key": {"$ne": idempotency_key}},
                {"$set": to_document(record)},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
            settings = SettingsRecord.model_validate(doc).view()
        except DuplicateKeyError:  # the same command again: report what it set
            settings = await self._read()
        self._cached = (time.monotonic(), settings)
        return settings


class ReminderStore:
    """``reminders``: one :class:`ReminderRecord` per purchase (``_id`` = purchase id), indexed
    on (state, due_at) so a tick reads only the reminders due. Every write is by ``_id``; a
    state change is conditional on the state it was read in."""

    def __init__(self, database: AsyncDatabase[Document], *, linger: float = REMINDER_LINGER_SECONDS) -> None:
        self._reminders = database["reminders"]
        self._inserts = CoalescedInserts(database, "reminders", linger=linger)

    async def ensure_indexes(self) -> None:
        await ensure_indexes(self._reminders, [IndexModel([("state", ASCENDING), ("due_at", ASCENDING)])])

    async def schedule(self, record: ReminderRecord) -> None:
        """Store a purchase's reminder once: a redelivered event leaves the first one as it is
        (an insert, its duplicate ignored: FerretDB runs an upsert as a read and a write)."""
        await self._inserts.insert([to_document(record, key=record.purchase_id)])

    async def get(self, purchase_id: str) -> ReminderRecord | None:
        doc = await self._reminders.find_one({"_id": purchase_id})
        return ReminderRecord.model_validate(doc) if doc else None

    async def replace(self, record: ReminderRecord, *, was: ReminderState) -> bool:
        """Write ``record`` if the stored one is still in state ``was``."""
        result = await self._reminders.update_one(
            {"_id": record.purchase_id, "state": was.value}, {"$set": to_document(record)}
        )
        return result.matched_count == 1

    async def due(self, now: datetime, *, limit: int) -> list[ReminderRecord]:
        cursor = (
            self._reminders.find({"state": ReminderState.SCHEDULED.value, "due_at": {"$lte": now}})
            .sort([("due_at", ASCENDING), ("_id", ASCENDING)])
            .limit(limit)
        )
        return [ReminderRecord.model_validate(doc) for doc in await cursor.to_list()]
