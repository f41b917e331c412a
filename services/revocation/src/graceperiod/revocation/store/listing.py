"""The History's reads: a page in any column's order, export rows, what is refundable now and
the next deadline. The rules are ``domain/listing.py``'s; this module states them as MongoDB
queries that indexes answer, on a collection of their own.

``purchase_listing`` holds one small, flat document per purchase (:func:`listed_document`),
written after every write of the purchase (``store/purchases.py``): the fields the queries
filter and sort on (``account_id``, ``requested_by_user_id``, ``source``, ``phase``, one sort key
per column (``purchase_id``, ``sort_*``), whose ranges also select by when a purchase was executed
and when the window one can act in closes, as of the last write), the purchase record itself as
JSON text, its export row as JSON text and that row's CSV line. Why a copy: the local
FerretDB decodes every nested field of a document it reads (the fields its filter, sort and
projection name, with patch 06), and a purchase document has about 150 (its timeline, audit,
the AWS and Azure states); reading 1,000 of them took ~1.8 s here, 1,000 flat documents with
the record as text ~0.15 s. So that:

* a filter is an equality or a range on one indexed field (the local FerretDB pushes those
  down to SQLite; ``$or`` it does not, so a search first finds which field matches);
* a sort reads its key's index in order and stops at the page's end, and the next page is a
  range on that key (``$gt``/``$lt`` the cursor's), never a skip;
* a page reads versions, then only the records not kept from an earlier read (by purchase and
  version: what is kept is never stale), and an export page only lines and sort keys.

A listed document carries the purchase's ``version`` and is only ever replaced by a later
one. A purchase whose listing may lag (a crash between the two writes, or stored before the
listing existed) is marked ``listing_due`` in its own document, in the same write; it is
listed again at start-up and on every tick (:meth:`~graceperiod.revocation.store.purchases.PurchaseStore.relist`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from graceperiod.contracts import purchase_csv
from graceperiod.contracts.revocation import PurchaseFilters, PurchaseRow, PurchaseSort, RefundableTotal
from graceperiod.contracts.revocation_views import Phase
from graceperiod.revocation.domain.listing import (
    NEVER,
    SEP,
    SORT_FIELDS,
    Position,
    expiring_range,
    instant_key,
    refundable,
    sort_keys,
)
from graceperiod.revocation.domain.records import PurchaseRecord
from graceperiod.runtime.mongo import Document, ensure_indexes, insert_once

LISTING = "purchase_listing"
#: What the listed copy of a record leaves out: what changes without a new version.
UNLISTED = frozenset({"outbox", "next_check_at"})
#: What the queries read back: the record (a page of the History), or the row (an export's).
RECORD_ONLY = {"record": 1}
ROW_ONLY = {"row": 1}
VERSION_ONLY = {"version": 1}
#: How many listed records a replica keeps read (by purchase and version: a version's listed
#: record never changes), so a page asked for again reads versions, not records (about 14 KB of
#: memory apiece, 28 MB in all, for the bench's purchases).
RECORDS_KEPT = 2000
#: The row's CSV line (``contracts.purchase_csv``), named by its format: a document listed
#: under another format has none, and its line is written from its row when exported.
CSV_LINE = f"csv_line_{purchase_csv.FORMAT}"
#: Just after :data:`SEP`: ``name + SEP`` … ``name + AFTER_SEP`` holds every key starting with ``name``.
AFTER_SEP = chr(ord(SEP) + 1)

EXECUTED_KEY = SORT_FIELDS[PurchaseSort.EXECUTED]
DEADLINE_KEY = SORT_FIELDS[PurchaseSort.DEADLINE]

#: Every index is written on every listing write (the 19 of an earlier build were ~65 % of the
#: local FerretDB's CPU per write, the 14 here cut it by 11-15 %), so none a query can do without:
#: one per sort key, whose ranges also answer the time filters (a key starts with its instant:
#: ``executed_at`` and ``deadline_at`` need none of their own), and the first views', whose
#: first fields answer the equality filters.
LISTING_INDEXES: list[IndexModel] = [
    *(IndexModel([(field, ASCENDING)]) for field in SORT_FIELDS.values()),
    # The History's first view (newest first) of one account, one state, one's own, one source:
    # read in index order too, not every match sorted.
    *(
        IndexModel([(field, ASCENDING), (EXECUTED_KEY, ASCENDING)])
        for field in ("account_id", "phase", "requested_by_user_id", "source")
    ),
]


def keys_from(at: datetime) -> str:
    """The least sort key of an instant at or after ``at`` (to the millisecond, as the database
    keeps instants): a key is its instant's :func:`instant_key`, :data:`SEP`, then the rest."""
    return instant_key(at)


def keys_after(at: datetime) -> str:
    """Above every sort key of an instant up to ``at``, below those of every later one."""
    return instant_key(at) + AFTER_SEP


#: The deadline keys of purchases with a deadline: :data:`NEVER` (no deadline) sorts after them.
WITH_DEADLINE = {"$lt": NEVER}


def listed_document(record: PurchaseRecord) -> Document:
    """The purchase as the History's queries find it: the fields they filter and sort on, and
    the record (as JSON text: flat, so FerretDB reads it fast)."""
    keys = sort_keys(record.purchase, record.phase, record.windows)
    purchase = record.purchase
    refund_currency, refund = refundable(purchase, record.refund)
    row = stored_row(record)
    return {
        "_id": record.purchase_id,
        "version": record.version,
        "account_id": record.account_id,
        # Not read here any more (the sort keys' ranges select by time); kept for a replica of
        # the build that filtered on them, during a rolling upgrade.
        "executed_at": purchase.executed_at,
        "deadline_at": record.windows.deadline(record.phase),
        "requested_by_user_id": purchase.requested_by.user_id if purchase.requested_by else None,
        "phase": record.phase.value,
        "source": record.source.value,  # who told first: a merged executor announcement stays discovered
        "currency": purchase.cost.currency,
        "upfront": str(purchase.cost.upfront),
        "refund_currency": refund_currency,
        "refund": str(refund),
        **{SORT_FIELDS[sort]: key for sort, key in keys.items()},
        "record": record.model_dump_json(exclude=set(UNLISTED)),
        "row": row.model_dump_json(),
        CSV_LINE: purchase_csv.line(row),
    }


def stored_row(record: PurchaseRecord) -> PurchaseRow:
    """An export's line of the purchase: in the phase it was stored in (the one the filters
    select by, a window edge late by at most a tick), so an export reads no record and no account."""
    return PurchaseRow(purchase=record.purchase, phase=record.phase, windows=record.windows, aws_state=record.aws.state)


def _record(doc: Document) -> PurchaseRecord:
    return PurchaseRecord.model_validate_json(doc["record"])


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
    def __init__(self, database: AsyncDatabase[Document], *, records_kept: int = RECORDS_KEPT) -> None:
        self._listed = database[LISTING]
        self._kept: OrderedDict[tuple[str, int], PurchaseRecord] = OrderedDict()
        self._records_kept = records_kept

    async def ensure_indexes(self) -> None:
        await ensure_indexes(self._listed, LISTING_INDEXES)

    async def put(self, record: PurchaseRecord) -> None:
        """List ``record``, unless a later version of it is listed already."""
        if record.version == 0:
            # Nothing is listed before a first version: an insert, which the local FerretDB does
            # without the read an upsert makes first (its CPU per listing 1.8 -> 1.5 ms here).
            await insert_once(self._listed, listed_document(record))
            return
        try:
            await self._listed.replace_one(
                {"_id": record.purchase_id, "version": {"$lt": record.version}}, listed_document(record), upsert=True
            )
        except DuplicateKeyError:  # listed at this version or a later one
            return

    async def page(
        self, filters: PurchaseFilters, *, after: Position | None, limit: int, now: datetime
    ) -> list[PurchaseRecord]:
        """Up to ``limit`` purchases ``filters`` select, in their order, after ``after``: which
        ones (and their versions) read first, then the records of those not kept already."""
        docs = await self._find(filters, after=after, limit=limit, now=now, projection=VERSION_ONLY)
        return await self._records([(doc["_id"], doc["version"]) for doc in docs])

    async def _records(self, listed: list[tuple[str, int]]) -> list[PurchaseRecord]:
        """The listed records of these (purchase id, version)s, in their order. One listed again
        since (a later version) is returned as it is now."""
        kept = {pid: self._kept.get((pid, version)) for pid, version in listed}
        if missing := [pid for pid, record in kept.items() if record is None]:
            # One batch, and the cursor closed with it (limit): no getMore.
            count = len(missing)
            async for doc in self._listed.find({"_id": {"$in": missing}}, RECORD_ONLY).limit(count).batch_size(count):
                kept[doc["_id"]] = self._keep(_record(doc))
        for pid, version in listed:
            if (pid, version) in self._kept:
                self._kept.move_to_end((pid, version))
        return [record for record in kept.values() if record is not None]

    def _keep(self, record: PurchaseRecord) -> PurchaseRecord:
        self._kept[(record.purchase_id, record.version)] = record
        while len(self._kept) > self._records_kept:
            self._kept.popitem(last=False)
        return record

    async def rows(
        self, filters: PurchaseFilters, *, after: Position | None, limit: int, now: datetime
    ) -> list[PurchaseRow]:
        """The same selection as :meth:`page`, as :func:`stored_row` rows."""
        docs = await self._find(filters, after=after, limit=limit, now=now, projection=ROW_ONLY)
        return [PurchaseRow.model_validate_json(doc["row"]) for doc in docs]

    async def lines(
        self, filters: PurchaseFilters, *, after: Position | None, limit: int, now: datetime
    ) -> list[tuple[str, str]]:
        """The same selection as :meth:`rows`, as (CSV line, sort key) pairs: read without the
        record or the row (FerretDB then decodes only these fields), a line listed under another
        format written again from its row."""
        key = SORT_FIELDS[filters.sort]
        docs = await self._find(filters, after=after, limit=limit, now=now, projection={CSV_LINE: 1, key: 1})
        if stale := [doc["_id"] for doc in docs if CSV_LINE not in doc]:
            rows = self._listed.find({"_id": {"$in": stale}}, projection=ROW_ONLY)
            written = {doc["_id"]: purchase_csv.line(PurchaseRow.model_validate_json(doc["row"])) async for doc in rows}
            docs = [doc if CSV_LINE in doc else {**doc, CSV_LINE: written[doc["_id"]]} for doc in docs]
        return [(doc[CSV_LINE], doc[key]) for doc in docs]

    async def refundable(self, now: datetime) -> list[RefundableTotal]:
        """What undoing the purchases in their self-service window gives back, per currency
        (``domain.listing.refundable``; a document listed before it knew that: its upfront)."""
        query = {"phase": {"$eq": Phase.SELF_SERVICE.value}, DEADLINE_KEY: {"$gt": keys_after(now), **WITH_DEADLINE}}
        totals: dict[str, tuple[Decimal, int]] = {}
        fields = {"currency": 1, "upfront": 1, "refund_currency": 1, "refund": 1}
        async for doc in self._listed.find(query, projection=fields):
            currency = str(doc.get("refund_currency", doc["currency"]))
            upfront, count = totals.get(currency, (Decimal(0), 0))
            totals[currency] = (upfront + Decimal(str(doc.get("refund", doc["upfront"]))), count + 1)
        found = [RefundableTotal(currency=c, upfront=u, purchases=n) for c, (u, n) in totals.items()]
        return sorted(found, key=lambda t: (-t.upfront, t.currency))

    async def next_deadline(self, now: datetime) -> PurchaseRecord | None:
        """The purchase whose open window closes soonest."""
        cursor = (
            self._listed.find({DEADLINE_KEY: {"$gt": keys_after(now), **WITH_DEADLINE}}, projection=RECORD_ONLY)
            .sort(DEADLINE_KEY, ASCENDING)
            .limit(1)
        )
        docs = [doc async for doc in cursor]
        return _record(docs[0]) if docs else None

    async def _find(
        self,
        filters: PurchaseFilters,
        *,
        after: Position | None,
        limit: int,
        now: datetime,
        projection: dict[str, int],
    ) -> list[Document]:
        try:
            query = await self._query(filters, after=after, now=now)
        except MatchesNothingError:
            return []
        field = SORT_FIELDS[filters.sort]
        order = DESCENDING if filters.descending else ASCENDING
        # The page in one batch: one round trip (the first batch is otherwise 101 documents).
        cursor = self._listed.find(query, projection=projection).sort(field, order).limit(limit).batch_size(limit)
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
            narrow(query, EXECUTED_KEY, {"$gte": keys_from(filters.executed_from)})
        if filters.executed_before is not None:
            narrow(query, EXECUTED_KEY, {"$lt": keys_from(filters.executed_before)})
        if (expiring := expiring_range(filters, now)) is not None:
            narrow(query, DEADLINE_KEY, {"$gt": keys_after(expiring[0]), "$lt": keys_after(expiring[1])})
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
            if await self._listed.find_one({field: condition}, projection={"_id": 1}) is not None
        ]
        if not held:
            raise MatchesNothingError
        if len(held) == 1:
            narrow(query, *held[0])
        else:  # the term is, say, both an account name and a purchase id: rare, and still right
            query["$or"] = [{field: condition} for field, condition in held]
