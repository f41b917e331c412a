"""The account pool in MongoDB (database ``graceperiod_cooldown``).

Every document is a record of the domain, written with ``to_document`` and read back with
``model_validate``; this module is the only code that touches PyMongo. Collections:

* ``accounts`` — each :class:`~graceperiod.cooldown.domain.accounts.Account` as it is now,
  ``_id`` = account id (what queries read).
* ``changes`` — every :class:`~graceperiod.cooldown.domain.changes.ChangeRecord` of every
  account, ``_id`` = ``<account>:<version>``, holding the account as it became, its transitions
  and its events. **Inserting one is how a worker claims the right to change an account from
  version ``v`` to ``v + 1``**: the unique ``_id`` lets exactly one of any number of concurrent
  workers (replicas) succeed, on MongoDB and on FerretDB alike. It is also the account's history.
* ``release_schedule`` — one small :class:`~graceperiod.cooldown.domain.schedule.ScheduledRelease`
  per cooling account, ``_id`` = ``<account>:<version that entered Cooldown>``, indexed on
  ``cooldown_until``: a tick reads only what is due. An entry is removed after the release's
  events are published, so it doubles as their outbox.
* ``read_schedule`` — one :class:`~graceperiod.cooldown.domain.cost_requests.ScheduledRead` per
  account whose lease cost is to be read, ``_id`` = account id, indexed on ``due_at``: the cost
  pass of a tick reads only what is due. Written by the change that moves the read, guarded by
  its version (a late finisher of an older change never moves it back).
* ``leases`` — :class:`~graceperiod.cooldown.domain.acquisition.LeaseRecord`, ``_id`` = lease id:
  a repeated acquisition for one lease returns the same account.
* ``settings`` (the :class:`~graceperiod.contracts.cooldown.CooldownPolicy`) and
  ``policy_changes`` (:class:`~graceperiod.cooldown.domain.policy.PolicyChange`: who changed
  it, when, request keys).

Why a claim document rather than ``find_one_and_update`` with the status in the filter:
FerretDB 1.24 (SQLite) runs ``findAndModify``/``update`` as a read followed by a separate
write with no isolation between them, so two concurrent conditional updates of one document
can both "succeed" (measured: 50 concurrent acquisitions of 5 accounts handed out up to 50).
It also pushes only a bare ``{_id: <string>}`` filter down to SQLite; any other filter scans
the whole collection in Go. Every write below is therefore by ``_id`` alone, and exclusivity
comes from the unique ``_id`` of the claim. On MongoDB the same code is simply correct.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime
from typing import Final, TypeVar

from pymongo import ASCENDING, DESCENDING, IndexModel, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure

from graceperiod.contracts.cooldown import AccountStatus, CooldownPolicy
from graceperiod.cooldown.domain.accounts import Account
from graceperiod.cooldown.domain.acquisition import LeaseRecord
from graceperiod.cooldown.domain.changes import ChangeRecord, change_id
from graceperiod.cooldown.domain.cost_requests import ScheduledRead
from graceperiod.cooldown.domain.listing import After, by_time_left
from graceperiod.cooldown.domain.policy import PolicyChange
from graceperiod.cooldown.domain.schedule import ScheduledRelease, schedule_id
from graceperiod.runtime.middleware import TransientError
from graceperiod.runtime.mongo import Document, ensure_indexes, insert_once, storage_busy, to_document

T = TypeVar("T")

POLICY_ID: Final = "cooldown-policy"
_DUPLICATE_KEY: Final = 11000
_BUSY_ATTEMPTS: Final = 8
_DUE_ORDER: Final = [("cooldown_until", ASCENDING), ("_id", ASCENDING)]


async def retry_busy(operation: Callable[[], Awaitable[T]]) -> T:
    for attempt in range(_BUSY_ATTEMPTS):
        try:
            return await operation()
        except OperationFailure as exc:
            if not storage_busy(exc):
                raise
            if attempt == _BUSY_ATTEMPTS - 1:
                msg = f"the database stayed locked: {exc}"
                raise TransientError(msg) from exc
            await asyncio.sleep(random.uniform(0.005, 0.02) * (attempt + 1))  # noqa: S311 - jitter
    raise AssertionError("unreachable")  # pragma: no cover


class AccountStore:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self.database = database
        self._accounts: AsyncCollection[Document] = database["accounts"]
        self._changes: AsyncCollection[Document] = database["changes"]
        self._schedule: AsyncCollection[Document] = database["release_schedule"]
        self._reads: AsyncCollection[Document] = database["read_schedule"]
        self._leases: AsyncCollection[Document] = database["leases"]
        self._settings: AsyncCollection[Document] = database["settings"]
        self._policy_changes: AsyncCollection[Document] = database["policy_changes"]

    async def ensure_indexes(self) -> None:
        await ensure_indexes(
            self._accounts,
            [
                # acquisition: Available accounts, least recently cleaned first
                IndexModel([("status", ASCENDING), ("last_cleanup_completed_at", ASCENDING)]),
                # stuck accounts, and lists by status
                IndexModel([("status", ASCENDING), ("status_since", ASCENDING)]),
                IndexModel([("status", ASCENDING), ("_id", ASCENDING)]),
                # Cooldown accounts by the time left
                IndexModel([("status", ASCENDING), ("cooldown_until", ASCENDING), ("_id", ASCENDING)]),
            ],
        )
        await ensure_indexes(
            self._schedule,
            [
                IndexModel([("cooldown_until", ASCENDING), ("_id", ASCENDING)]),
                IndexModel([("expected_at", ASCENDING), ("_id", ASCENDING)]),
            ],
        )
        await ensure_indexes(self._reads, [IndexModel([("due_at", ASCENDING), ("_id", ASCENDING)])])
        await ensure_indexes(self._changes, [IndexModel([("account_id", ASCENDING), ("version", DESCENDING)])])
        await ensure_indexes(self._leases, [IndexModel([("acquired_at", ASCENDING)])])

    # --- accounts (current state) ---------------------------------------------------------

    async def get(self, account_id: str) -> Account | None:
        doc = await retry_busy(lambda: self._accounts.find_one({"_id": account_id}))
        return Account.model_validate(doc) if doc else None

    async def get_many(self, account_ids: Sequence[str]) -> dict[str, Account]:
        """The accounts of ``account_ids`` that exist, in one query (``_id: {$in}``, which
        FerretDB pushes down to the ``_id`` index)."""
        cursor = self._accounts.find({"_id": {"$in": list(account_ids)}})
        return {
            account.account_id: account for account in map(Account.model_validate, await retry_busy(cursor.to_list))
        }

    async def write(self, account: Account) -> None:
        """Store a claimed change's result. By ``_id`` only (see the module docstring); the
        claim made this worker the only writer of this version."""
        doc = to_document(account)
        await retry_busy(lambda: self._accounts.update_one({"_id": account.account_id}, {"$set": doc}, upsert=True))

    async def write_many(self, accounts: Sequence[Account]) -> None:
        """:meth:`write` for many claimed changes in one command. Only the statements that
        failed are sent again: one that was applied is never repeated, since by then another
        worker may have stored the account's next version over it."""
        remaining = [UpdateOne({"_id": a.account_id}, {"$set": to_document(a)}, upsert=True) for a in accounts]
        for attempt in range(_BUSY_ATTEMPTS):
            if not remaining:
                return
            try:
                await self._accounts.bulk_write(remaining, ordered=False)
                return
            except BulkWriteError as exc:
                errors = exc.details.get("writeErrors", [])
                if not all(storage_busy(OperationFailure(e.get("errmsg", ""), e.get("code"))) for e in errors):
                    raise
                remaining = [remaining[error["index"]] for error in errors]
            except OperationFailure as exc:  # the whole command failed: nothing was written
                if not storage_busy(exc):
                    raise
            if attempt < _BUSY_ATTEMPTS - 1:
                await asyncio.sleep(random.uniform(0.005, 0.02) * (attempt + 1))  # noqa: S311 - jitter
        msg = f"could not store {len(remaining)} accounts: the database stayed locked"
        raise TransientError(msg)

    async def candidates(self, limit: int) -> list[Account]:
        """Available accounts, never cleaned or least recently cleaned first."""
        cursor = (
            self._accounts.find({"status": AccountStatus.AVAILABLE.value})
            .sort([("last_cleanup_completed_at", ASCENDING), ("_id", ASCENDING)])
            .limit(limit)
        )
        return [Account.model_validate(doc) for doc in await retry_busy(cursor.to_list)]

    async def page(self, *, status: AccountStatus | None, after: After | None, limit: int) -> list[Account]:
        """A page of accounts in the list order of ``domain/listing.py``."""
        query: Document = {}
        if status is not None:
            query["status"] = status.value
        order = [("_id", ASCENDING)]
        if by_time_left(status):
            order = [("cooldown_until", ASCENDING), ("_id", ASCENDING)]
            if after is not None and after.cooldown_until is not None:
                until = after.cooldown_until
                query["$or"] = [
                    {"cooldown_until": {"$gt": until}},
                    {"cooldown_until": until, "_id": {"$gt": after.account_id}},
                ]
        elif after is not None:
            query["_id"] = {"$gt": after.account_id}
        cursor = self._accounts.find(query).sort(order).limit(limit)
        return [Account.model_validate(doc) for doc in await retry_busy(cursor.to_list)]

    async def stuck(self, *, since_before: datetime, limit: int) -> list[Account]:
        query = {
            "status": {"$in": [AccountStatus.CLEANUP.value, AccountStatus.QUARANTINE.value]},
            "status_since": {"$lte": since_before},
        }
        cursor = self._accounts.find(query).sort([("status_since", ASCENDING), ("_id", ASCENDING)]).limit(limit)
        return [Account.model_validate(doc) for doc in await retry_busy(cursor.to_list)]

    async def count_status(self, status: AccountStatus, *, up_to: int = 0) -> int:
        """Accounts in ``status`` (counting stops at ``up_to`` when it is given)."""
        query = {"status": status.value}
        if up_to > 0:
            return await retry_busy(lambda: self._accounts.count_documents(query, limit=up_to))
        return await retry_busy(lambda: self._accounts.count_documents(query))

    async def count_by_status(self) -> dict[AccountStatus, int]:
        pipeline: list[Document] = [{"$group": {"_id": "$status", "count": {"$sum": 1}}}]
        rows = await retry_busy(lambda: self._accounts.aggregate(pipeline))
        counts = dict.fromkeys(AccountStatus, 0)
        async for row in rows:
            if row["_id"] in AccountStatus._value2member_map_:
                counts[AccountStatus(row["_id"])] = int(row["count"])
        return counts

    # --- changes (claims, history, outbox) --------------------------------------------------

    async def claim(self, record: ChangeRecord) -> bool:
        """Insert the change; False when another worker already claimed this version."""
        doc = to_document(record, key=record.id)
        return await retry_busy(lambda: insert_once(self._changes, doc))

    async def claim_many(self, records: Sequence[ChangeRecord]) -> set[str]:
        """Insert many changes in one round trip; the ids of those this worker won."""
        remaining = {record.id: to_document(record, key=record.id) for record in records}
        won: set[str] = set()
        for attempt in range(_BUSY_ATTEMPTS):
            if not remaining:
                break
            docs = list(remaining.values())
            try:
                await self._changes.insert_many(docs, ordered=False)
                won.update(remaining)
                remaining = {}
            except BulkWriteError as exc:
                failed: dict[str, Document] = {}
                for error in exc.details.get("writeErrors", []):
                    doc = docs[error["index"]]
                    if error.get("code") != _DUPLICATE_KEY:
                        failed[doc["_id"]] = doc
                    remaining.pop(doc["_id"], None)
                won.update(remaining)
                remaining = failed
            except OperationFailure as exc:  # the whole command failed: nothing was inserted
                if not storage_busy(exc):
                    raise
            if remaining:
                if attempt == _BUSY_ATTEMPTS - 1:
                    msg = f"could not store {len(remaining)} changes: the database stayed locked"
                    raise TransientError(msg)
                await asyncio.sleep(random.uniform(0.005, 0.02) * (attempt + 1))  # noqa: S311 - jitter
        return won

    async def change(self, account_id: str, version: int) -> ChangeRecord | None:
        doc = await retry_busy(lambda: self._changes.find_one({"_id": change_id(account_id, version)}))
        return ChangeRecord.model_validate(doc) if doc else None

    async def recent_changes(self, account_id: str, *, up_to: int, count: int) -> list[ChangeRecord]:
        """The last ``count`` changes up to version ``up_to``, oldest first (read by ``_id``)."""
        versions = range(max(1, up_to - count + 1), up_to + 1)
        found = await asyncio.gather(*(self.change(account_id, version) for version in versions))
        return [record for record in found if record is not None]

    # --- release schedule -------------------------------------------------------------------

    async def schedule_release(self, account: Account, *, now: datetime) -> None:
        entry = ScheduledRelease.of(account, now=now)
        doc = to_document(entry)
        await retry_busy(lambda: self._schedule.update_one({"_id": entry.entry_id}, {"$set": doc}, upsert=True))

    async def unschedule(self, account_id: str, cooldown_version: int) -> None:
        entry_id = schedule_id(account_id, cooldown_version)
        await retry_busy(lambda: self._schedule.delete_one({"_id": entry_id}))

    async def unschedule_many(self, entry_ids: Sequence[str]) -> None:
        """Remove many schedule entries (by :func:`schedule_id`) in one command."""
        if entry_ids:
            await retry_busy(lambda: self._schedule.delete_many({"_id": {"$in": list(entry_ids)}}))

    async def is_scheduled(self, account_id: str, cooldown_version: int) -> bool:
        entry_id = schedule_id(account_id, cooldown_version)
        return await retry_busy(lambda: self._schedule.find_one({"_id": entry_id}, projection={"_id": 1})) is not None

    async def due(self, now: datetime, *, limit: int) -> list[ScheduledRelease]:
        """The first ``limit`` schedule entries due at ``now``."""
        cursor = self._schedule.find({"cooldown_until": {"$lte": now}}).sort(_DUE_ORDER).limit(limit)
        return [ScheduledRelease.model_validate(doc) for doc in await retry_busy(cursor.to_list)]

    async def due_batches(self, now: datetime, *, batch_size: int) -> AsyncIterator[list[ScheduledRelease]]:
        """Every schedule entry due at ``now``, oldest first, ``batch_size`` at a time, from one
        cursor: an index range on MongoDB, and a single scan of the schedule on FerretDB
        (which uses no secondary index) instead of one per batch."""
        cursor = self._schedule.find({"cooldown_until": {"$lte": now}}).sort(_DUE_ORDER).batch_size(batch_size)
        batch: list[ScheduledRelease] = []
        async for doc in cursor:
            batch.append(ScheduledRelease.model_validate(doc))
            if len(batch) >= batch_size:
                yield batch
                batch = []
        if batch:
            yield batch

    async def upcoming_releases(self, count: int) -> list[datetime]:
        """When the next ``count`` cooling accounts are expected out of Cooldown, soonest first."""
        found: dict[str, ScheduledRelease] = {}
        for order in ("expected_at", "cooldown_until"):
            cursor = self._schedule.find({}).sort([(order, ASCENDING), ("_id", ASCENDING)]).limit(count)
            for doc in await retry_busy(cursor.to_list):
                entry = ScheduledRelease.model_validate(doc)
                found[entry.entry_id] = entry
        return sorted(entry.eta for entry in found.values())[:count]

    async def next_release(self) -> tuple[datetime | None, int]:
        """When the next cooling account is due, and how many are cooling."""
        first = await retry_busy(lambda: self._schedule.find_one({}, sort=[("cooldown_until", ASCENDING)]))
        count = await retry_busy(lambda: self._schedule.count_documents({}))
        return (ScheduledRelease.model_validate(first).cooldown_until if first else None), count

    # --- read schedule ----------------------------------------------------------------------

    async def schedule_read(self, account_id: str, due_at: datetime, *, version: int) -> None:
        """Point the account's read entry at ``due_at``, unless a later change already moved it."""
        doc = to_document(ScheduledRead(account_id=account_id, due_at=due_at, version=version), key=account_id)
        with contextlib.suppress(DuplicateKeyError):  # an entry of a later version exists: it wins
            await retry_busy(
                lambda: self._reads.update_one(
                    {"_id": account_id, "version": {"$lt": version}}, {"$set": doc}, upsert=True
                )
            )

    async def unschedule_read(self, account_id: str, *, version: int) -> None:
        await retry_busy(lambda: self._reads.delete_one({"_id": account_id, "version": {"$lte": version}}))

    async def due_reads(self, now: datetime, *, limit: int) -> list[ScheduledRead]:
        cursor = self._reads.find({"due_at": {"$lte": now}}).sort([("due_at", ASCENDING), ("_id", ASCENDING)])
        return [ScheduledRead.model_validate(doc) for doc in await retry_busy(cursor.limit(limit).to_list)]

    # --- leases --------------------------------------------------------------------------

    async def map_lease(self, lease_id: str, account_id: str, *, at: datetime) -> str:
        """Record the account acquired for a lease; the account it maps to (an earlier one wins)."""
        try:
            doc = to_document(LeaseRecord(account_id=account_id, acquired_at=at), key=lease_id)
            await retry_busy(lambda: self._leases.insert_one(doc))
        except DuplicateKeyError:
            existing = await self.lease_account(lease_id)
            assert existing is not None
            return existing
        return account_id

    async def leases_since(self, since: datetime) -> int:
        """Leases that acquired an account here since ``since``."""
        return await retry_busy(lambda: self._leases.count_documents({"acquired_at": {"$gte": since}}))

    async def lease_account(self, lease_id: str) -> str | None:
        doc = await retry_busy(lambda: self._leases.find_one({"_id": lease_id}))
        return LeaseRecord.model_validate(doc).account_id if doc else None

    # --- policy --------------------------------------------------------------------------

    async def policy(self) -> CooldownPolicy:
        doc = await retry_busy(lambda: self._settings.find_one({"_id": POLICY_ID}))
        if doc is None:
            return CooldownPolicy()
        return CooldownPolicy.model_validate(doc)

    async def policy_change_seen(self, request_key: str) -> bool:
        doc = await retry_busy(lambda: self._policy_changes.find_one({"_id": request_key}, projection={"_id": 1}))
        return doc is not None

    async def save_policy(self, policy: CooldownPolicy, *, previous: CooldownPolicy, request_key: str) -> None:
        """Replace the policy, then log the change under the request's key (a retried request
        finds the key and changes nothing)."""
        doc = to_document(policy)
        await retry_busy(lambda: self._settings.update_one({"_id": POLICY_ID}, {"$set": doc}, upsert=True))
        log_entry = to_document(PolicyChange(policy=policy, previous=previous, at=policy.updated_at), key=request_key)
        with contextlib.suppress(DuplicateKeyError):
            await retry_busy(lambda: self._policy_changes.insert_one(log_entry))


def account_document(account: Account) -> Document:
    """An account as stored in ``accounts`` (for seeding a pool directly, as benchmarks do)."""
    return to_document(account, key=account.account_id)
