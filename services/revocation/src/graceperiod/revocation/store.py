"""Purchases in MongoDB (database ``graceperiod_revocation``, collection ``purchases``)."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from graceperiod.contracts.revocation import Windows
from graceperiod.contracts.upstream import PurchaseExecuted
from graceperiod.runtime.mongo import Document, ensure_indexes, to_document


class PurchaseStore:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._purchases = database["purchases"]

    async def ensure_indexes(self) -> None:
        await ensure_indexes(
            self._purchases,
            [
                IndexModel([("executed_at", ASCENDING)]),
                IndexModel([("account_id", ASCENDING), ("executed_at", ASCENDING)]),
            ],
        )

    async def record(self, purchase: PurchaseExecuted, windows: Windows) -> Document:
        """Store a purchase once; a second call with the same id returns the stored one unchanged."""
        doc: dict[str, Any] = {
            "purchase": to_document(purchase),
            "account_id": purchase.account.id,
            "executed_at": purchase.executed_at,
            "windows": to_document(windows),
        }
        stored = await self._purchases.find_one_and_update(
            {"_id": purchase.purchase_id},
            {"$setOnInsert": doc},
            upsert=True,
            return_document=True,
        )
        assert stored is not None  # upsert with return_document=AFTER always returns a document
        return stored

    async def get(self, purchase_id: str) -> Document | None:
        return await self._purchases.find_one({"_id": purchase_id})
