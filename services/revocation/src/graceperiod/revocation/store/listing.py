"""The History's reads of the ``purchases`` collection: a page in any column's order, export
rows, what is refundable now and the next deadline. The rules are ``domain/listing.py``'s;
this module states them as MongoDB queries that indexes answer.

Every purchase document carries, at its top level, the fields these queries filter and sort
on (:func:`listing_fields`, written with every save): ``source``, ``deadline_at`` (when the
window one can act in closes, as of the last write) and one sort key per column
(``purchase_id``, ``sort_*``). Each has an index of its own, so that:

* a filter is an equality or a range on one indexed field (the local FerretDB pushes those
  down to SQLite; ``$or`` it does not, so a search first finds which field matches);
* a sort reads its key's index in order and stops at the page's end, and the next page is a
  range on that key (``$gt``/``$lt`` the cursor's), never a skip.

Documents written before these fields existed are given them by :meth:`PurchaseListing.backfill`
at start-up.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from graceperiod.contracts.revocation import PurchaseFilters, PurchaseSort, RefundableTotal
from graceperiod.contracts.revocation_views import Phase
from graceperiod.contracts.upstream import Cost
from graceperiod.revocation.domain.listing import SEP, SORT_FIELDS, Position, expiring_range, sort_keys
from graceperiod.revocation.domain.records import PurchaseRecord
from graceperiod.runtime.logs import get_logger
from graceperiod.runtime.mongo import Document

log = get_logger("graceperiod.revocation.listing")

#: What a row (an export line, the next deadline) needs of a purchase: enough to work out its
#: phase, not its timeline, audit or outbox.
ROW_FIELDS = ("purchase", "windows", "aws", "status", "blocked", "phase", "version")
#: Just after :data:`SEP`: ``name + SEP`` … ``name + AFTER_SEP`` holds every key starting with ``name``.
AFTER_SEP = chr(ord(SEP) + 1)

LISTING_INDEXES: list[IndexModel] = [
    IndexModel([("phase", ASCENDING), ("deadline_at", ASCENDING)]),
    IndexModel([("deadline_at", ASCENDING)]),
    IndexModel([("requested_by_user_id", ASCENDING)]),
    IndexModel([("source", ASCENDING)]),
    *(IndexModel([(field, ASCENDING)]) for field in SORT_FIELDS.values()),
    # The History's first view (newest first) of one account, one state, one's own, one source:
    # read in index order too, not every match sorted.
    *(
        IndexModel([(field, ASCENDING), (SORT_FIELDS[PurchaseSort.EXECUTED], ASCENDING)])
        for field in ("account_id", "phase", "requested_by_user_id", "source")
    ),
]


def listing_fields(record: PurchaseRecord) -> Document:
    """The fields the History's queries filter and sort on, for one purchase."""
    keys = sort_keys(record.purchase, record.phase, record.windows)
    return {
        "source": record.source.value,  # who told first: a merged executor announcement stays discovered
        "deadline_at": record.windows.deadline(record.phase),
        **{SORT_FIELDS[sort]: key for sort, key in keys.items()},
    }


_LOWER_BOUNDS = frozenset({"$gt", "$gte"})


class MatchesNothingError(Exception):
    """The conditions cannot all hold: nothing matches."""


def narrow(query: dict[str, Any], field: str, condition: dict[str, Any]) -> None:
    """Add ``condition`` (``$eq``, ``$gt``, ``$gte``, ``$lt``, ``$lte``) on ``field`` to
    ``query``, keeping one operator document per field: of two bounds the tighter stays (a
    cursor's ``$gt`` and a search's ``$gt`` on one sort key), two different equalities match
    nothing."""
    current: dict[str, Any] = query.setdefault(field, {})
    for op, value in condition.items():
        if op not in current:
            current[op] = value
        elif op == "$eq":
            if current[op] != value:
                raise MatchesNothingError
        else:
            current[op] = max(current[op], value) if op in _LOWER_BOUNDS else min(current[op], value)


class PurchaseListing:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._purchases = database["purchases"]

    async def page(
        self, filters: PurchaseFilters, *, after: Position | None, limit: int, now: datetime
    ) -> list[PurchaseRecord]:
        """Up to ``limit`` purchases ``filters`` select, in their order, after ``after``."""
        docs = await self._find(filters, after=after, limit=limit, now=now, projection=None)
        return [PurchaseRecord.model_validate(doc) for doc in docs]

    async def rows(
        self, filters: PurchaseFilters, *, after: Position | None, limit: int, now: datetime
    ) -> list[PurchaseRecord]:
        """Like :meth:`page`, with only the fields a row needs (:data:`ROW_FIELDS`)."""
        projection = dict.fromkeys((*ROW_FIELDS, SORT_FIELDS[filters.sort]), 1)
        docs = await self._find(filters, after=after, limit=limit, now=now, projection=projection)
        return [PurchaseRecord.model_validate(doc) for doc in docs]

    async def refundable(self, now: datetime) -> list[RefundableTotal]:
        """The upfront payments of the purchases in their self-service window, per currency."""
        query = {"phase": {"$eq": Phase.SELF_SERVICE.value}, "deadline_at": {"$gt": now}}
        totals: dict[str, tuple[Decimal, int]] = {}
        async for doc in self._purchases.find(query, projection={"purchase.cost": 1}):
            cost = Cost.model_validate(doc["purchase"]["cost"])
            upfront, count = totals.get(cost.currency, (Decimal(0), 0))
            totals[cost.currency] = (upfront + cost.upfront, count + 1)
        found = [RefundableTotal(currency=c, upfront=u, purchases=n) for c, (u, n) in totals.items()]
        return sorted(found, key=lambda t: (-t.upfront, t.currency))

    async def next_deadline(self, now: datetime) -> PurchaseRecord | None:
        """The purchase whose open window closes soonest."""
        cursor = (
            self._purchases.find({"deadline_at": {"$gt": now}}, projection=dict.fromkeys(ROW_FIELDS, 1))
            .sort("deadline_at", ASCENDING)
            .limit(1)
        )
        docs = [doc async for doc in cursor]
        return PurchaseRecord.model_validate(docs[0]) if docs else None

    async def start(self) -> None:
        """At start-up: purchases stored by an older version get their listing fields."""
        if given := await self.backfill():
            log.info("listing fields given to purchases stored without them", purchases=given)

    async def backfill(self, *, batch: int = 500) -> int:
        """Give the listing fields to purchases stored without them; how many were given."""
        given = 0
        missing = {SORT_FIELDS[PurchaseSort.EXECUTED]: None}  # null or absent: an equality on the index
        while docs := [doc async for doc in self._purchases.find(missing).limit(batch)]:
            progress = 0
            for doc in docs:
                record = PurchaseRecord.model_validate(doc)
                result = await self._purchases.update_one(
                    {"_id": record.purchase_id, "version": record.version}, {"$set": listing_fields(record)}
                )
                progress += result.modified_count
            given += progress
            if progress == 0:  # each was rewritten meanwhile (whole, fields included), or cannot be
                break
        return given

    async def _find(
        self,
        filters: PurchaseFilters,
        *,
        after: Position | None,
        limit: int,
        now: datetime,
        projection: dict[str, int] | None,
    ) -> list[Document]:
        try:
            query = await self._query(filters, after=after, now=now)
        except MatchesNothingError:
            return []
        field = SORT_FIELDS[filters.sort]
        order = DESCENDING if filters.descending else ASCENDING
        cursor = self._purchases.find(query, projection=projection).sort(field, order).limit(limit)
        return [doc async for doc in cursor]

    async def _query(self, filters: PurchaseFilters, *, after: Position | None, now: datetime) -> dict[str, Any]:
        query: dict[str, Any] = {}
        equal = {
            "account_id": filters.account_id,
            "phase": filters.phase.value if filters.phase else None,
            "requested_by_user_id": filters.requested_by_user_id,
            "source": filters.source.value if filters.source else None,
        }
        for field, value in equal.items():
            if value is not None:
                narrow(query, field, {"$eq": value})
        if filters.executed_from is not None:
            narrow(query, "executed_at", {"$gte": filters.executed_from})
        if filters.executed_before is not None:
            narrow(query, "executed_at", {"$lt": filters.executed_before})
        if (expiring := expiring_range(filters, now)) is not None:
            narrow(query, "deadline_at", {"$gt": expiring[0], "$lte": expiring[1]})
        if after is not None:
            narrow(query, SORT_FIELDS[after.sort], {"$lt" if after.descending else "$gt": after.key})
        if filters.search is not None:
            await self._searched(query, filters.search)
        return query

    async def _searched(self, query: dict[str, Any], term: str) -> None:
        """Narrow ``query`` to what a search for ``term`` finds (``domain.listing.found_by``):
        the fields that hold it are looked up one by one (each an indexed equality or range),
        so the query names only those."""
        term = term.strip()
        folded = term.casefold()
        alternatives: Sequence[tuple[str, dict[str, Any]]] = (
            ("purchase_id", {"$eq": term}),
            (SORT_FIELDS[PurchaseSort.COMMITMENT_ID], {"$gt": folded + SEP, "$lt": folded + AFTER_SEP}),
            ("account_id", {"$eq": term}),
            (SORT_FIELDS[PurchaseSort.ACCOUNT], {"$gt": folded + SEP, "$lt": folded + AFTER_SEP}),
        )
        held = [
            (field, condition)
            for field, condition in alternatives
            if await self._purchases.find_one({field: condition}, projection={"_id": 1}) is not None
        ]
        if not held:
            raise MatchesNothingError
        if len(held) == 1:
            narrow(query, *held[0])
        else:  # the term is, say, both an account name and a purchase id: rare, and still right
            query["$or"] = [{field: condition} for field, condition in held]
