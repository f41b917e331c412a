"""The account pool in MongoDB (database ``graceperiod_cooldown``, collection ``accounts``)."""

from __future__ import annotations

from datetime import datetime

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from graceperiod.contracts.cooldown import AccountStatus
from graceperiod.runtime.mongo import Document, ensure_indexes


class AccountStore:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._accounts = database["accounts"]

    async def ensure_indexes(self) -> None:
        await ensure_indexes(self._accounts, [IndexModel([("status", ASCENDING)])])

    async def register(self, *, account_id: str, name: str, email: str | None, now: datetime) -> bool:
        """Add an account to the pool as Available; True if it was new."""
        result = await self._accounts.update_one(
            {"_id": account_id},
            {
                "$setOnInsert": {
                    "name": name,
                    "email": email,
                    "status": AccountStatus.AVAILABLE,
                    "registered_at": now,
                    "history": [],
                }
            },
            upsert=True,
        )
        return result.upserted_id is not None

    async def get(self, account_id: str) -> Document | None:
        return await self._accounts.find_one({"_id": account_id})
