"""The ``commitments`` collection: which purchase each commitment is (one commitment, one
purchase), and the ``aliases`` collection: purchase ids that name another purchase (an
executor's id for a commitment discovery recorded first).

Both are written by unique inserts only, atomic on MongoDB and FerretDB alike: the first source
to claim a commitment gives it its purchase id, whichever source that is.
"""

from __future__ import annotations

from datetime import datetime

from pymongo.asynchronous.database import AsyncDatabase

from graceperiod.revocation.domain.records import AliasRecord, CommitmentRecord
from graceperiod.runtime.mongo import Document, insert_once, to_document


class CommitmentStore:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._commitments = database["commitments"]
        self._aliases = database["aliases"]

    async def claim(self, key: str, purchase_id: str, now: datetime) -> str:
        """The purchase the commitment ``key`` is: ``purchase_id`` if this call claimed it (or
        claimed it before), else the one that claimed it first."""
        owner, _ = await self.claim_first(key, purchase_id, now)
        return owner

    async def claim_first(self, key: str, purchase_id: str, now: datetime) -> tuple[str, bool]:
        """As :meth:`claim`, and whether this call was the first to claim it (then nothing was
        stored under the commitment yet: a purchase is stored only after its claim)."""
        record = CommitmentRecord(key=key, purchase_id=purchase_id, claimed_at=now)
        if await insert_once(self._commitments, to_document(record, key=key)):
            return purchase_id, True
        stored = await self.get(key)
        assert stored is not None  # claimed by whoever raced us; never deleted
        return stored.purchase_id, False

    async def get(self, key: str) -> CommitmentRecord | None:
        doc = await self._commitments.find_one({"_id": key})
        return CommitmentRecord.model_validate(doc) if doc else None

    async def alias(self, alias: str, purchase_id: str, now: datetime) -> None:
        """``alias`` names ``purchase_id`` from now on (once; repeating is harmless)."""
        record = AliasRecord(alias=alias, purchase_id=purchase_id, created_at=now)
        await insert_once(self._aliases, to_document(record, key=alias))

    async def resolve(self, purchase_id: str) -> str | None:
        """The purchase an alias names; None when ``purchase_id`` is no alias."""
        doc = await self._aliases.find_one({"_id": purchase_id})
        return AliasRecord.model_validate(doc).purchase_id if doc else None

    async def marked(self, name: str) -> bool:
        """Whether a one-off job (``name``) finished on this database."""
        return await self._commitments.find_one({"_id": f"job:{name}"}) is not None

    async def mark(self, name: str, now: datetime) -> None:
        await insert_once(self._commitments, {"_id": f"job:{name}", "claimed_at": now})
