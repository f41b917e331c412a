"""The ``commands`` collection (idempotency keys and the replies given) and the ``claims``
collection (what only one replica or request may do: a unique insert, atomic on MongoDB and
FerretDB alike, where FerretDB 1.24's conditional updates are not atomic between connections)."""

from __future__ import annotations

from datetime import datetime

from pymongo.asynchronous.database import AsyncDatabase

from graceperiod.contracts.revocation import CommandReply
from graceperiod.revocation.domain.records import Claim, CommandRecord
from graceperiod.runtime.mongo import (
    TEXT_PART,
    Document,
    ensure_expiry_index,
    from_document,
    insert_once,
    purge_expired,
    to_document,
)

#: A command's reply carries the purchase as its asker saw it (about a hundred fields): kept as text.
_REPLY = frozenset({"reply"})


class CommandStore:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._commands = database["commands"]
        self._claims = database["claims"]

    async def ensure_indexes(self) -> None:
        await ensure_expiry_index(self._commands, self._claims)

    # --- commands (idempotency keys) ---------------------------------------------------------

    async def begin(self, command: CommandRecord) -> bool:
        """True for the first delivery of this key, False if it was seen before."""
        return await insert_once(self._commands, to_document(command, key=command.key, as_text=_REPLY))

    async def get(self, key: str) -> CommandRecord | None:
        doc = await self._commands.find_one({"_id": key})
        return from_document(CommandRecord, doc) if doc else None

    async def finish(self, command: CommandRecord, reply: CommandReply) -> None:
        done = to_document(command.model_copy(update={"state": "done", "reply": reply}), as_text=_REPLY)
        await self._commands.update_one({"_id": command.key}, {"$set": {"state": "done", TEXT_PART: done[TEXT_PART]}})

    async def purge(self, now: datetime) -> int:
        return await purge_expired(self._commands, now=now)

    # --- claims -----------------------------------------------------------------------------------

    async def claim(self, claim: Claim) -> bool:
        """True for exactly one caller per ``claim_id``."""
        return await insert_once(self._claims, to_document(claim, key=claim.claim_id))

    async def holder(self, claim_id: str) -> Claim | None:
        doc = await self._claims.find_one({"_id": claim_id})
        return Claim.model_validate(doc) if doc else None

    async def release(self, claim_id: str) -> None:
        await self._claims.delete_one({"_id": claim_id})

    async def purge_claims(self, now: datetime) -> int:
        return await purge_expired(self._claims, now=now)
