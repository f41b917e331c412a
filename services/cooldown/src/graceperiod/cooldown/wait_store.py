"""The wait-list in MongoDB: ``wait_requests``, one
:class:`~graceperiod.cooldown.domain.waits.WaitRequest` per lease (``_id`` = lease id).

A request is queued by inserting it (the unique lease id makes one request per lease) and
changes state by a conditional single-document update from the state (and round) it was read
in, so of any number of workers one makes each step: one grants, one expires, one cancels.
MongoDB makes such an update atomic; so does the local FerretDB build (README: patch 2).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from graceperiod.cooldown.domain.waits import OPEN_STATES, WaitRequest, WaitState
from graceperiod.cooldown.store import retry_busy
from graceperiod.runtime.mongo import Document, ensure_indexes, insert_once, to_document

_LINE = [("requested_at", ASCENDING), ("_id", ASCENDING)]
_OPEN = {"state": {"$in": [state.value for state in OPEN_STATES]}}


class WaitStore:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._requests: AsyncCollection[Document] = database["wait_requests"]

    async def ensure_indexes(self) -> None:
        await ensure_indexes(
            self._requests,
            [
                IndexModel([("state", ASCENDING), ("requested_at", ASCENDING), ("_id", ASCENDING)]),
                IndexModel([("state", ASCENDING), ("expires_at", ASCENDING)]),
                IndexModel([("event_pending", ASCENDING)]),
            ],
        )

    async def get(self, lease_id: str) -> WaitRequest | None:
        doc = await retry_busy(lambda: self._requests.find_one({"_id": lease_id}))
        return WaitRequest.model_validate(doc) if doc else None

    async def insert(self, request: WaitRequest) -> bool:
        """Queue a lease's first request; False when the lease has one already."""
        doc = to_document(request, key=request.lease_id)
        return await retry_busy(lambda: insert_once(self._requests, doc))

    async def reopen(self, closed: WaitRequest, request: WaitRequest) -> bool:
        """Queue a lease again whose request ``closed`` closed (as round ``closed.round + 1``)."""
        query = {"_id": closed.lease_id, "round": closed.round, "state": closed.state.value}
        doc = to_document(request)
        result = await retry_busy(lambda: self._requests.replace_one(query, {**doc, "_id": closed.lease_id}))
        return result.modified_count == 1

    async def step(self, request: WaitRequest, *, to: WaitState, **changes: Any) -> WaitRequest | None:
        """Move the request from the state it was read in to ``to``; None when another worker
        changed it first (nothing written)."""
        query = {"_id": request.lease_id, "round": request.round, "state": request.state.value}
        if request.state is WaitState.GRANTING:
            query["granting_since"] = request.granting_since
        after = request.model_copy(update={"state": to, **changes})
        update = {"$set": {key: value for key, value in to_document(after).items() if key != "_id"}}
        result = await retry_busy(lambda: self._requests.update_one(query, update))
        return after if result.modified_count == 1 else None

    async def published(self, request: WaitRequest) -> None:
        query = {"_id": request.lease_id, "round": request.round}
        await retry_busy(lambda: self._requests.update_one(query, {"$set": {"event_pending": False}}))

    async def line(self, *, limit: int) -> list[WaitRequest]:
        """Open requests, first in line first."""
        cursor = self._requests.find(_OPEN).sort(_LINE).limit(limit)
        return [WaitRequest.model_validate(doc) for doc in await retry_busy(cursor.to_list)]

    async def count_open(self) -> int:
        return await retry_busy(lambda: self._requests.count_documents(_OPEN))

    async def expiring(self, now: datetime, *, limit: int) -> list[WaitRequest]:
        query = {"state": WaitState.WAITING.value, "expires_at": {"$lte": now}}
        cursor = self._requests.find(query).sort([("expires_at", ASCENDING)]).limit(limit)
        return [WaitRequest.model_validate(doc) for doc in await retry_busy(cursor.to_list)]

    async def unpublished(self, *, limit: int) -> list[WaitRequest]:
        cursor = self._requests.find({"event_pending": True}).limit(limit)
        return [WaitRequest.model_validate(doc) for doc in await retry_busy(cursor.to_list)]
