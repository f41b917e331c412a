"""Cost Explorer reads in MongoDB: the claim of each read and the pool's daily request budget.

* ``cost_requests`` — one :class:`~graceperiod.cooldown.domain.cost_requests.ReadClaim` per
  read, ``_id`` = account, lease and read number. Inserting it is how one worker (of any
  number of replicas or duplicated ticks) wins a read; a claim whose worker died is taken
  over once it is older than the claim grace. It is kept as the request log.
* ``cost_budget`` — one :class:`~graceperiod.cooldown.domain.cost_requests.BudgetDay` per UTC
  day: a request is made only if incrementing ``used`` below the budget succeeds (one
  conditional single-document update).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from graceperiod.cooldown.domain.cost_requests import ReadClaim
from graceperiod.cooldown.store import retry_busy
from graceperiod.runtime.mongo import Document, ensure_indexes, to_document


class CostStore:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._claims: AsyncCollection[Document] = database["cost_requests"]
        self._budget: AsyncCollection[Document] = database["cost_budget"]

    async def ensure_indexes(self) -> None:
        await ensure_indexes(self._claims, [IndexModel([("claimed_at", ASCENDING)])])

    async def claim_read(self, claim_id: str, claim: ReadClaim, *, grace: timedelta) -> bool:
        """Win read ``claim_id``: insert it, or take over a claim left unfinished for ``grace``."""
        doc = to_document(claim, key=claim_id)
        try:
            await retry_busy(lambda: self._claims.insert_one(doc))
        except DuplicateKeyError:
            stale = {"_id": claim_id, "outcome": None, "claimed_at": {"$lte": claim.claimed_at - grace}}
            result = await retry_busy(
                lambda: self._claims.update_one(stale, {"$set": {"claimed_at": claim.claimed_at}})
            )
            return result.modified_count == 1
        return True

    async def settle_read(self, claim_id: str, *, requested: bool, outcome: str) -> None:
        update = {"$set": {"requested": requested, "outcome": outcome[:500]}}
        await retry_busy(lambda: self._claims.update_one({"_id": claim_id}, update))

    async def take_budget(self, day: str, *, budget: int) -> bool:
        """Count one request against ``day``'s budget; False when it is used up."""
        if budget <= 0:
            return False
        try:
            await retry_busy(
                lambda: self._budget.update_one(
                    {"_id": day, "used": {"$lt": budget}}, {"$inc": {"used": 1}}, upsert=True
                )
            )
        except DuplicateKeyError:  # the day's document exists and is at the budget
            return False
        return True

    async def used(self, day: str) -> int:
        doc = await retry_busy(lambda: self._budget.find_one({"_id": day}))
        return int(doc["used"]) if doc else 0

    async def requests_since(self, since: datetime) -> int:
        query = {"claimed_at": {"$gte": since}, "requested": True}
        return await retry_busy(lambda: self._claims.count_documents(query))

    async def leases_since(self, since: datetime) -> int:
        """Leases whose cost was read since ``since`` (each lease's first read is number 1)."""
        query = {"claimed_at": {"$gte": since}, "number": 1}
        return await retry_busy(lambda: self._claims.count_documents(query))
