"""The ``accounts`` collection: one document per customer account, ``_id`` = account id."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from graceperiod.revocation.domain.records import AccountRecord
from graceperiod.runtime.mongo import Document, ensure_indexes, insert_once, to_document


def _document(record: AccountRecord) -> Document:
    return to_document(record, key=record.account_id)


def _at_version(version: int) -> dict[str, Any]:
    # Accounts written before they had a version have none: that is version 0.
    return {"version": version} if version else {"$or": [{"version": 0}, {"version": {"$exists": False}}]}


class AccountStore:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._accounts = database["accounts"]

    async def ensure_indexes(self) -> None:
        await ensure_indexes(
            self._accounts,
            [
                IndexModel([("probe_due_at", ASCENDING)]),
                IndexModel([("scan_due_at", ASCENDING)]),
                IndexModel([("management_account_id", ASCENDING)]),
            ],
        )

    async def get(self, account_id: str) -> AccountRecord | None:
        doc = await self._accounts.find_one({"_id": account_id})
        return AccountRecord.model_validate(doc) if doc else None

    async def by_ids(self, account_ids: Collection[str]) -> dict[str, AccountRecord]:
        if not account_ids:
            return {}
        cursor = self._accounts.find({"_id": {"$in": sorted(account_ids)}})
        return {doc["_id"]: AccountRecord.model_validate(doc) async for doc in cursor}

    async def all(self) -> list[AccountRecord]:
        return [AccountRecord.model_validate(doc) async for doc in self._accounts.find({}).sort("_id", ASCENDING)]

    async def save(self, record: AccountRecord, *, new: bool) -> AccountRecord | None:
        """Insert a new account, or replace the stored one if it is still at
        ``record.version``; the record as stored, or None when someone else wrote first."""
        saved = record.model_copy(update={"version": record.version + 1})
        if new:
            return saved if await insert_once(self._accounts, _document(saved)) else None
        result = await self._accounts.replace_one(
            {"_id": record.account_id, **_at_version(record.version)}, _document(saved)
        )
        return saved if result.modified_count == 1 else None

    async def postpone_probe(self, account_id: str, due_at: datetime, until: datetime) -> None:
        await self._accounts.update_one({"_id": account_id, "probe_due_at": due_at}, {"$set": {"probe_due_at": until}})

    async def probes_due(self, now: datetime, *, limit: int) -> list[tuple[str, datetime]]:
        cursor = self._accounts.find({"probe_due_at": {"$lte": now}}, projection={"probe_due_at": 1}).limit(limit)
        return [(doc["_id"], doc["probe_due_at"]) async for doc in cursor]

    async def scans_due(
        self, until: datetime, *, limit: int, after: tuple[datetime, str] | None = None
    ) -> list[tuple[str, datetime]]:
        """Accounts whose discovery scan is due by ``until``, soonest first (then by id); ``after``
        (a slot and an account id) continues from the previous page."""
        query: dict[str, Any] = {"scan_due_at": {"$lte": until}}
        if after is not None:
            due, account_id = after
            query["$or"] = [{"scan_due_at": {"$gt": due}}, {"scan_due_at": due, "_id": {"$gt": account_id}}]
        cursor = (
            self._accounts.find(query, projection={"scan_due_at": 1})
            .sort([("scan_due_at", ASCENDING), ("_id", ASCENDING)])
            .limit(limit)
        )
        return [(doc["_id"], doc["scan_due_at"]) async for doc in cursor]
