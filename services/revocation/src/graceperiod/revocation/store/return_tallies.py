"""The ``return_tallies`` collection: per management account and year, the Savings Plan returns
counted against its limit (:class:`~graceperiod.revocation.domain.returns.ReturnTally`), so a
purchase's view reads one document by ``_id`` instead of counting the family's purchases (a full
scan on FerretDB, which the email-link page paid on every view).

A tally is a set of purchase ids, changed with ``$addToSet``/``$pull``: one atomic single-document
update on MongoDB, and on FerretDB through patch 02. Counting a purchase again (a redelivered
change, a replica racing another, the backfill) changes nothing. Every write of a purchase
follows with :meth:`ReturnTallies.follow`, which writes only when a return starts or ends; an
account whose management account becomes known brings its returns along
(:meth:`ReturnTallies.regroup`). A crash between a purchase's write and its tally's leaves it
uncounted until the next start-up's :meth:`ReturnTallies.backfill`, which counts every
returned plan stored (idempotent, in the background; it also counts what was stored before
tallies existed).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from graceperiod.contracts.enums import CommitmentKind
from graceperiod.revocation.domain.records import AccountRecord, PurchaseRecord
from graceperiod.revocation.domain.returns import RETURNED_STATES, ReturnTally, tally_key, uses_a_return
from graceperiod.revocation.store.accounts import AccountStore
from graceperiod.runtime.logs import get_logger
from graceperiod.runtime.mongo import Document
from graceperiod.runtime.tasks import cancel_and_wait

log = get_logger("graceperiod.revocation.returns")

TALLIES = "return_tallies"

#: Stored purchases that use a return (what :func:`uses_a_return` says, as a query).
_RETURNED = {
    "purchase.commitment.kind": CommitmentKind.SAVINGS_PLAN.value,
    "aws.state": {"$in": sorted(RETURNED_STATES)},
}


class ReturnTallies:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._tallies = database[TALLIES]
        self._purchases = database["purchases"]
        self._accounts = AccountStore(database)
        self._backfilling: asyncio.Task[None] | None = None

    async def counted(self, key: str) -> int:
        """How many returns the tally ``key`` (:func:`tally_key`) holds."""
        doc = await self._tallies.find_one({"_id": key})
        return len(ReturnTally.model_validate(doc).purchase_ids) if doc else 0

    async def follow(self, before: PurchaseRecord | None, after: PurchaseRecord, account: AccountRecord | None) -> None:
        """``after`` was just stored (``before``: as it was read, None when new): count it if it
        started using a return, take it off if it stopped. No write for any other change (a
        return's follow-ups store the purchase several times; the start-up backfill counts what
        a crash between a save and this write left out)."""
        was_counted = before is not None and uses_a_return(before)
        if uses_a_return(after) and not was_counted:
            await self._add({tally_key(after, account): {after.purchase_id}})
        elif was_counted and not uses_a_return(after):
            await self._tallies.update_one(
                {"_id": tally_key(after, account)}, {"$pull": {"purchase_ids": after.purchase_id}}
            )

    async def regroup(self, account: AccountRecord) -> None:
        """``account``'s management account changed (or became known): count its returns in
        that management account's tallies."""
        await self._count({"account_id": account.account_id, **_RETURNED}, {account.account_id: account})

    async def backfill(self) -> int:
        """Count every stored purchase that uses a return in its tally (idempotent); how many."""
        return await self._count(_RETURNED, None)

    async def _count(self, query: dict[str, Any], accounts: dict[str, AccountRecord] | None) -> int:
        records = [PurchaseRecord.model_validate(doc) async for doc in self._purchases.find(query)]
        if accounts is None:
            accounts = await self._accounts.by_ids({r.account_id for r in records})
        counted: dict[str, set[str]] = defaultdict(set)
        for record in records:
            counted[tally_key(record, accounts.get(record.account_id))].add(record.purchase_id)
        await self._add(counted)
        return len(records)

    async def _add(self, counted: dict[str, set[str]]) -> None:
        for key, purchase_ids in counted.items():
            update = {"$addToSet": {"purchase_ids": {"$each": sorted(purchase_ids)}}}
            try:
                await self._tallies.update_one({"_id": key}, update, upsert=True)
            except DuplicateKeyError:  # a racing upsert created it first: now it exists
                await self._tallies.update_one({"_id": key}, update)

    async def start(self) -> None:
        """At start-up, in the background: :meth:`backfill`."""
        self._backfilling = asyncio.create_task(self._backfill_at_start(), name="return-tallies")

    async def stop(self) -> None:
        await cancel_and_wait(self._backfilling)

    async def _backfill_at_start(self) -> None:
        try:
            counted = await self.backfill()
            log.info("returns counted at start-up", purchases=counted)
        except Exception:  # a view shows at least the returns counted since
            log.exception("counting returns at start-up failed")
