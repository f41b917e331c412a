"""The ``purchases`` collection: one document per purchase, ``_id`` = purchase id, its timeline
and audit kept as one JSON text field (:data:`AS_TEXT`). Each write of a purchase is followed
by its listing's (``store/listing.py``), then by one small update that clears its
``listing_due`` mark and empties its published outbox together. A write by a handler whose
message's repeat lists the purchase (recording, deliveries) stores it unmarked and lists it
right after (:meth:`PurchaseStore.insert`)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from graceperiod.contracts.upstream import PurchaseExecuted
from graceperiod.revocation.domain.records import PurchaseRecord
from graceperiod.revocation.store.listing import PurchaseListing
from graceperiod.revocation.store.return_tallies import ReturnTallies
from graceperiod.runtime.logs import get_logger
from graceperiod.runtime.mongo import Document, ensure_indexes, from_document, insert_once, to_document
from graceperiod.runtime.tasks import cancel_and_wait

log = get_logger("graceperiod.revocation.listing")


#: Purchases whose listing may show an older version: each write sets it, listing clears it;
#: absent on purchases stored before the listing existed (equal to None too).
MAY_LAG = {"listing_due": {"$in": [True, None]}}


#: What no query reads and grows with each change (a timeline entry per change, per email
#: delivered): stored as text, more than half a purchase's fields otherwise.
AS_TEXT = frozenset({"timeline", "audit"})


def purchase_document(record: PurchaseRecord, *, listed: bool = False) -> Document:
    """``listed``: stored without the ``listing_due`` mark, because its listing is written
    already (a bulk load writes both) or right after by a caller whose message comes again
    until handled (:meth:`PurchaseStore.insert`'s ``listed_by_repeat``)."""
    doc = to_document(record, key=record.purchase_id, as_text=AS_TEXT)
    # Fields of the purchase the queries filter and sort on, kept at the top level.
    doc.update(
        {
            "account_id": record.account_id,
            "executed_at": record.purchase.executed_at,
            "requested_by_user_id": record.purchase.requested_by.user_id if record.purchase.requested_by else None,
            "has_outbox": bool(record.outbox),
            "listing_due": not listed,
        }
    )
    return doc


class PurchaseStore:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._purchases = database["purchases"]
        self.listing = PurchaseListing(database)
        self.returns = ReturnTallies(database)
        self._relisting: asyncio.Task[None] | None = None

    async def ensure_indexes(self) -> None:
        await ensure_indexes(
            self._purchases,
            [
                IndexModel([("executed_at", ASCENDING)]),
                IndexModel([("account_id", ASCENDING), ("executed_at", ASCENDING)]),
                IndexModel([("next_check_at", ASCENDING)]),
                IndexModel([("has_outbox", ASCENDING)]),
                IndexModel([("listing_due", ASCENDING)]),
            ],
        )
        await self.listing.ensure_indexes()

    async def insert(self, record: PurchaseRecord, *, listed_by_repeat: bool = False) -> PurchaseRecord:
        """Store a purchase once; when it is stored already (a repeat, or a replica that raced
        this one), the stored one is returned unchanged.

        ``listed_by_repeat``: the caller's message comes again until it is handled, and that
        repeat lists the purchase it finds stored (recording): the purchase is stored without
        the ``listing_due`` mark and listed right after, one write fewer than marking it and
        clearing the mark (on the local FerretDB an update rewrites the whole document). A crash
        in between leaves it unlisted until the repeat."""
        if await insert_once(self._purchases, purchase_document(record, listed=listed_by_repeat)):
            if listed_by_repeat:
                await self.listing.put(record)
            else:
                await self._list(record)
            return record
        stored = await self.get(record.purchase_id)
        assert stored is not None  # inserted by whoever raced us; never deleted
        return stored

    async def get(self, purchase_id: str) -> PurchaseRecord | None:
        doc = await self._purchases.find_one({"_id": purchase_id})
        return from_document(PurchaseRecord, doc) if doc else None

    async def save(self, record: PurchaseRecord, *, listed: bool = True, marked: bool = True) -> PurchaseRecord | None:
        """Replace the stored purchase if it is still at ``record.version`` and list it; the
        record as stored (next version), or None when someone changed it meanwhile. It stays
        marked ``listing_due`` until :meth:`settle` (a write that another one follows in the
        same handler is left marked: that one's settle clears it, a crash leaves it to relist).
        ``listed=False``: not listed now (the write that follows in the same handler lists it).
        ``marked=False``: stored without the mark, as :meth:`insert`'s ``listed_by_repeat``."""
        saved = record.model_copy(update={"version": record.version + 1})
        result = await self._purchases.replace_one(
            {"_id": record.purchase_id, "version": record.version}, purchase_document(saved, listed=not marked)
        )
        if result.modified_count != 1:
            return None
        if listed:
            await self.listing.put(saved)
        return saved

    async def settle(self, record: PurchaseRecord) -> bool:
        """In one write, if the purchase is still at ``record.version``: it is listed (clear
        ``listing_due``) and its outbox is published (empty it; the version stays: that changes
        no state). False when someone wrote since (that write lists it again)."""
        result = await self._purchases.update_one(
            {"_id": record.purchase_id, "version": record.version},
            {"$set": {"listing_due": False, "outbox": [], "has_outbox": False}},
        )
        return result.modified_count == 1

    async def _list(self, record: PurchaseRecord) -> None:
        """Bring the listing up to ``record``, then say so (unless it changed meanwhile: that
        write lists it)."""
        await self.listing.put(record)
        await self._purchases.update_one(
            {"_id": record.purchase_id, "version": record.version}, {"$set": {"listing_due": False}}
        )

    async def start(self) -> None:
        """At start-up, in the background (purchases stored before the listing existed take
        minutes by the ten thousand): list every purchase whose listing may lag."""
        self._relisting = asyncio.create_task(self._relist_at_start(), name="relist")

    async def stop(self) -> None:
        await cancel_and_wait(self._relisting)

    async def _relist_at_start(self) -> None:
        try:
            if listed := await self.relist(rounds=None):
                log.info("purchases listed at start-up", purchases=listed)
        except Exception:  # the ticks list them too
            log.exception("listing purchases at start-up failed")

    async def relist(self, *, batch: int = 500, rounds: int | None = 1) -> int:
        """List the purchases whose listing may lag, ``batch`` at a time for ``rounds`` (None:
        until none is left); how many were listed."""
        listed = 0
        while rounds is None or rounds > 0:
            docs = [doc async for doc in self._purchases.find(MAY_LAG).limit(batch)]
            for doc in docs:
                await self._list(from_document(PurchaseRecord, doc))
            listed += len(docs)
            if len(docs) < batch:
                break
            rounds = None if rounds is None else rounds - 1
        return listed

    async def postpone(self, purchase_id: str, due_at: datetime, until: datetime) -> None:
        """Move a claimed purchase's next check on, so it is retried after ``until`` if this
        replica dies while working on it."""
        await self._purchases.update_one(
            {"_id": purchase_id, "next_check_at": due_at}, {"$set": {"next_check_at": until}}
        )

    async def due(self, now: datetime, *, limit: int) -> list[tuple[str, datetime]]:
        cursor = (
            self._purchases.find({"next_check_at": {"$lte": now}}, projection={"next_check_at": 1})
            .sort("next_check_at", ASCENDING)
            .limit(limit)
        )
        return [(doc["_id"], doc["next_check_at"]) async for doc in cursor]

    async def with_outbox(self, *, limit: int) -> list[str]:
        cursor = self._purchases.find({"has_outbox": True}, projection={"_id": 1}).limit(limit)
        return [doc["_id"] async for doc in cursor]

    async def one_of_account(self, account_id: str) -> PurchaseRecord | None:
        """Any one purchase of the account (its region tells where to probe the account)."""
        doc = await self._purchases.find_one({"account_id": account_id})
        return from_document(PurchaseRecord, doc) if doc else None

    async def commitments(self, *, after: str | None = None, limit: int = 500) -> list[tuple[str, PurchaseExecuted]]:
        """(purchase id, what was announced) of stored purchases, AWS and Azure, by purchase id."""
        query: dict[str, Any] = {"_id": {"$gt": after}} if after else {}
        cursor = self._purchases.find(query, projection={"purchase": 1}).sort("_id", ASCENDING).limit(limit)
        return [(doc["_id"], PurchaseExecuted.model_validate(doc["purchase"])) async for doc in cursor]
