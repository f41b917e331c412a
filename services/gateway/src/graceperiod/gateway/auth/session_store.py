"""Session records and used sign-in states in the gateway's own MongoDB.

* ``sessions``: one document per signed-in browser, ``_id`` = the SHA-256 of its session id.
  Reads are by ``_id`` alone (FerretDB pushes that filter down to SQLite's index).
* ``sign_in_states``: one document per finished sign-in, ``_id`` = the SHA-256 of its
  ``state``. Using a state is one insert: the unique ``_id`` makes a replay fail atomically,
  on FerretDB too (whose conditional updates are not atomic between connections).

Both expire by an explicit purge on a schedule (FerretDB has no TTL index).
"""

from __future__ import annotations

from datetime import datetime

from pymongo.asynchronous.database import AsyncDatabase

from graceperiod.gateway.auth.session import SessionRecord, UsedSignInState
from graceperiod.runtime.mongo import Document, ensure_expiry_index, insert_once, purge_expired, to_document


def _document(record: SessionRecord | UsedSignInState) -> Document:
    document = to_document(record)
    document["_id"] = document.pop("key")
    return document


class MongoSessionStore:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._sessions = database["sessions"]
        self._states = database["sign_in_states"]

    async def ensure_indexes(self) -> None:
        await ensure_expiry_index(self._sessions, self._states)

    async def create(self, record: SessionRecord) -> None:
        await self._sessions.insert_one(_document(record))

    async def find(self, key: str) -> SessionRecord | None:
        document = await self._sessions.find_one({"_id": key})
        if document is None:
            return None
        return SessionRecord.model_validate({**document, "key": document["_id"]})

    async def delete(self, key: str) -> None:
        await self._sessions.delete_one({"_id": key})

    async def use_state(self, used: UsedSignInState) -> bool:
        return await insert_once(self._states, _document(used))

    async def purge(self, *, now: datetime) -> int:
        return await purge_expired(self._sessions, self._states, now=now)
