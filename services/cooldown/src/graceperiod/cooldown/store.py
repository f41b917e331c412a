"""The account pool in MongoDB (database ``graceperiod_cooldown``).

Collections:

* ``accounts`` — each account as it is now, ``_id`` = account id (what queries read).
* ``changes`` — every stored change of every account, ``_id`` = ``<account>:<version>``,
  holding the account as it became, its transitions and its events. **Inserting one is how a
  worker claims the right to change an account from version ``v`` to ``v + 1``**: the unique
  ``_id`` lets exactly one of any number of concurrent workers (replicas) succeed, on MongoDB
  and on FerretDB alike. It is also the account's history.
* ``release_schedule`` — one small entry per cooling account, ``_id`` = ``<account>:<version
  that entered Cooldown>``, indexed on ``cooldown_until``: a tick reads only what is due. An
  entry is removed after the release's events are published, so it doubles as their outbox.
* ``leases`` — lease id → the account acquired for it (``_id`` = lease id): a repeated
  acquisition for one lease returns the same account.
* ``settings`` (the policy) and ``policy_changes`` (who changed it, when, request keys).

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
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, TypeVar

from pydantic import TypeAdapter
from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure

from graceperiod.contracts.base import Message
from graceperiod.contracts.cooldown import (
    AccountSettled,
    AccountStatus,
    AccountStatusChanged,
    ActorRef,
    CooldownPolicy,
    Transition,
)
from graceperiod.cooldown.domain.accounts import Account, EarlyReleaseRecord, PendingCleanup
from graceperiod.cooldown.domain.events import OutgoingEvent
from graceperiod.runtime.middleware import TransientError
from graceperiod.runtime.mongo import Document, ensure_indexes, storage_busy, to_document

T = TypeVar("T")

POLICY_ID: Final = "cooldown-policy"
_DUPLICATE_KEY: Final = 11000
_BUSY_ATTEMPTS: Final = 8
_EVENT_TYPES: dict[str, type[Message]] = {t.__name__: t for t in (AccountStatusChanged, AccountSettled)}
_TRANSITIONS = TypeAdapter(list[Transition])


def change_id(account_id: str, version: int) -> str:
    """Zero-padded so the ids of one account sort by version."""
    return f"{account_id}:{version:010d}"


def schedule_id(account_id: str, cooldown_version: int) -> str:
    return change_id(account_id, cooldown_version)


@dataclass(frozen=True, slots=True)
class ChangeRecord:
    """One stored change: the claim, the history entry and the outbox of its events."""

    account: Account
    """The account as the change made it (``account.version`` is the change's version)."""
    claimed_at: datetime
    source: str
    """What caused it (``lease-terminated:<lease>``, ``release-early:<request>``, ...)."""
    transitions: tuple[Transition, ...]
    events: tuple[OutgoingEvent, ...]
    note: str
    left_cooldown_version: int | None = None
    """Set when the change took the account out of Cooldown: the schedule entry to remove."""
    acquired_lease: str | None = None

    @property
    def id(self) -> str:
        return change_id(self.account.account_id, self.account.version)

    @property
    def enters_cooldown(self) -> bool:
        return self.account.cooldown_version == self.account.version


@dataclass(frozen=True, slots=True)
class ScheduledRelease:
    """A release-schedule entry: kept small, because FerretDB reads every entry of the
    schedule for a due query (the scan costs in proportion to the documents' size)."""

    entry_id: str
    account_id: str
    cooldown_until: datetime
    cooldown_version: int
    """The version that entered this Cooldown; the account has left it once that changes."""


_DUE_ORDER: Final = [("cooldown_until", ASCENDING), ("_id", ASCENDING)]


def _scheduled(doc: Document) -> ScheduledRelease:
    return ScheduledRelease(doc["_id"], doc["account_id"], doc["cooldown_until"], int(doc["cooldown_version"]))


async def _retry_busy(operation: Callable[[], Awaitable[T]]) -> T:
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
        self._accounts: AsyncCollection[Document] = database["accounts"]
        self._changes: AsyncCollection[Document] = database["changes"]
        self._schedule: AsyncCollection[Document] = database["release_schedule"]
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
            ],
        )
        await ensure_indexes(self._schedule, [IndexModel([("cooldown_until", ASCENDING), ("_id", ASCENDING)])])
        await ensure_indexes(self._changes, [IndexModel([("account_id", ASCENDING), ("version", DESCENDING)])])

    # --- accounts (current state) ---------------------------------------------------------

    async def get(self, account_id: str) -> Account | None:
        doc = await _retry_busy(lambda: self._accounts.find_one({"_id": account_id}))
        return account_from_document(doc) if doc else None

    async def write(self, account: Account) -> None:
        """Store a claimed change's result. By ``_id`` only (see the module docstring); the
        claim made this worker the only writer of this version."""
        doc = account_document(account)
        await _retry_busy(lambda: self._accounts.update_one({"_id": account.account_id}, {"$set": doc}, upsert=True))

    async def candidates(self, limit: int) -> list[Account]:
        """Available accounts, never cleaned or least recently cleaned first."""
        cursor = (
            self._accounts.find({"status": AccountStatus.AVAILABLE.value})
            .sort([("last_cleanup_completed_at", ASCENDING), ("_id", ASCENDING)])
            .limit(limit)
        )
        return [account_from_document(doc) for doc in await _retry_busy(cursor.to_list)]

    async def page(self, *, status: AccountStatus | None, after_id: str | None, limit: int) -> list[Account]:
        query: Document = {}
        if status is not None:
            query["status"] = status.value
        if after_id is not None:
            query["_id"] = {"$gt": after_id}
        cursor = self._accounts.find(query).sort("_id", ASCENDING).limit(limit)
        return [account_from_document(doc) for doc in await _retry_busy(cursor.to_list)]

    async def stuck(self, *, since_before: datetime, limit: int) -> list[Account]:
        query = {
            "status": {"$in": [AccountStatus.CLEANUP.value, AccountStatus.QUARANTINE.value]},
            "status_since": {"$lte": since_before},
        }
        cursor = self._accounts.find(query).sort([("status_since", ASCENDING), ("_id", ASCENDING)]).limit(limit)
        return [account_from_document(doc) for doc in await _retry_busy(cursor.to_list)]

    async def count_by_status(self) -> dict[AccountStatus, int]:
        pipeline: list[Document] = [{"$group": {"_id": "$status", "count": {"$sum": 1}}}]
        rows = await _retry_busy(lambda: self._accounts.aggregate(pipeline))
        counts = dict.fromkeys(AccountStatus, 0)
        async for row in rows:
            if row["_id"] in AccountStatus._value2member_map_:
                counts[AccountStatus(row["_id"])] = int(row["count"])
        return counts

    # --- changes (claims, history, outbox) --------------------------------------------------

    async def claim(self, record: ChangeRecord) -> bool:
        """Insert the change; False when another worker already claimed this version."""
        doc = change_document(record)
        try:
            await _retry_busy(lambda: self._changes.insert_one(doc))
        except DuplicateKeyError:
            return False
        return True

    async def claim_many(self, records: Sequence[ChangeRecord]) -> set[str]:
        """Insert many changes in one round trip; the ids of those this worker won."""
        remaining = {record.id: change_document(record) for record in records}
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
        doc = await _retry_busy(lambda: self._changes.find_one({"_id": change_id(account_id, version)}))
        return change_from_document(doc) if doc else None

    async def recent_changes(self, account_id: str, *, up_to: int, count: int) -> list[ChangeRecord]:
        """The last ``count`` changes up to version ``up_to``, oldest first (read by ``_id``)."""
        versions = range(max(1, up_to - count + 1), up_to + 1)
        found = await asyncio.gather(*(self.change(account_id, version) for version in versions))
        return [record for record in found if record is not None]

    # --- release schedule -------------------------------------------------------------------

    async def schedule_release(self, account: Account) -> None:
        assert account.cooldown_version is not None
        assert account.cooldown_until is not None
        entry_id = schedule_id(account.account_id, account.cooldown_version)
        doc = {
            "account_id": account.account_id,
            "cooldown_until": account.cooldown_until,
            "cooldown_version": account.cooldown_version,
        }
        await _retry_busy(lambda: self._schedule.update_one({"_id": entry_id}, {"$set": doc}, upsert=True))

    async def unschedule(self, account_id: str, cooldown_version: int) -> None:
        entry_id = schedule_id(account_id, cooldown_version)
        await _retry_busy(lambda: self._schedule.delete_one({"_id": entry_id}))

    async def is_scheduled(self, account_id: str, cooldown_version: int) -> bool:
        entry_id = schedule_id(account_id, cooldown_version)
        return await _retry_busy(lambda: self._schedule.find_one({"_id": entry_id}, projection={"_id": 1})) is not None

    async def due(self, now: datetime, *, limit: int) -> list[ScheduledRelease]:
        """The first ``limit`` schedule entries due at ``now``."""
        cursor = self._schedule.find({"cooldown_until": {"$lte": now}}).sort(_DUE_ORDER).limit(limit)
        return [_scheduled(doc) for doc in await _retry_busy(cursor.to_list)]

    async def due_batches(self, now: datetime, *, batch_size: int) -> AsyncIterator[list[ScheduledRelease]]:
        """Every schedule entry due at ``now``, oldest first, ``batch_size`` at a time, from one
        cursor: an index range on MongoDB, and a single scan of the schedule on FerretDB
        (which uses no secondary index) instead of one per batch."""
        cursor = self._schedule.find({"cooldown_until": {"$lte": now}}).sort(_DUE_ORDER).batch_size(batch_size)
        batch: list[ScheduledRelease] = []
        async for doc in cursor:
            batch.append(_scheduled(doc))
            if len(batch) >= batch_size:
                yield batch
                batch = []
        if batch:
            yield batch

    async def next_release(self) -> tuple[datetime | None, int]:
        """When the next cooling account is due, and how many are cooling."""
        first = await _retry_busy(lambda: self._schedule.find_one({}, sort=[("cooldown_until", ASCENDING)]))
        count = await _retry_busy(lambda: self._schedule.count_documents({}))
        return (first["cooldown_until"] if first else None), count

    # --- leases --------------------------------------------------------------------------

    async def map_lease(self, lease_id: str, account_id: str, *, at: datetime) -> str:
        """Record the account acquired for a lease; the account it maps to (an earlier one wins)."""
        try:
            await _retry_busy(
                lambda: self._leases.insert_one({"_id": lease_id, "account_id": account_id, "acquired_at": at})
            )
        except DuplicateKeyError:
            existing = await self.lease_account(lease_id)
            assert existing is not None
            return existing
        return account_id

    async def lease_account(self, lease_id: str) -> str | None:
        doc = await _retry_busy(lambda: self._leases.find_one({"_id": lease_id}))
        return str(doc["account_id"]) if doc else None

    # --- policy --------------------------------------------------------------------------

    async def policy(self) -> CooldownPolicy:
        doc = await _retry_busy(lambda: self._settings.find_one({"_id": POLICY_ID}))
        if doc is None:
            return CooldownPolicy()
        return CooldownPolicy.model_validate({key: value for key, value in doc.items() if key != "_id"})

    async def policy_change_seen(self, request_key: str) -> bool:
        doc = await _retry_busy(lambda: self._policy_changes.find_one({"_id": request_key}, projection={"_id": 1}))
        return doc is not None

    async def save_policy(self, policy: CooldownPolicy, *, previous: CooldownPolicy, request_key: str) -> None:
        """Replace the policy, then log the change under the request's key (a retried request
        finds the key and changes nothing)."""
        doc = to_document(policy)
        await _retry_busy(lambda: self._settings.update_one({"_id": POLICY_ID}, {"$set": doc}, upsert=True))
        log_entry = {"_id": request_key, "policy": doc, "previous": to_document(previous), "at": policy.updated_at}
        with contextlib.suppress(DuplicateKeyError):
            await _retry_busy(lambda: self._policy_changes.insert_one(log_entry))


# --- documents ---------------------------------------------------------------------------


def account_document(account: Account) -> Document:
    early = account.early_release
    pending = account.pending_cleanup
    return {
        "name": account.name,
        "email": account.email,
        "status": account.status.value,
        "status_since": account.status_since,
        "registered_at": account.registered_at,
        "version": account.version,
        "lease_id": account.lease_id,
        "lease_started_at": account.lease_started_at,
        "lease_terminated_at": account.lease_terminated_at,
        "last_cleanup_completed_at": account.last_cleanup_completed_at,
        "last_cleanup_outcome_at": account.last_cleanup_outcome_at,
        "last_cleanup_error": account.last_cleanup_error,
        "cooldown_started_at": account.cooldown_started_at,
        "cooldown_until": account.cooldown_until,
        "cooldown_version": account.cooldown_version,
        "early_release": (
            {
                "by": {"user_id": early.by.user_id, "email": early.by.email},
                "at": early.at,
                "reason": early.reason,
                "request_key": early.request_key,
            }
            if early
            else None
        ),
        "pending_cleanup": (
            {"succeeded": pending.succeeded, "completed_at": pending.completed_at, "error": pending.error}
            if pending
            else None
        ),
        "account_id": account.account_id,
    }


def account_from_document(doc: Document) -> Account:
    early: Any = doc.get("early_release")
    pending: Any = doc.get("pending_cleanup")
    return Account(
        account_id=str(doc.get("account_id") or doc["_id"]),
        name=doc["name"],
        email=doc.get("email"),
        status=AccountStatus(doc["status"]),
        status_since=doc["status_since"],
        registered_at=doc["registered_at"],
        version=int(doc.get("version", 1)),
        lease_id=doc.get("lease_id"),
        lease_started_at=doc.get("lease_started_at"),
        lease_terminated_at=doc.get("lease_terminated_at"),
        last_cleanup_completed_at=doc.get("last_cleanup_completed_at"),
        last_cleanup_outcome_at=doc.get("last_cleanup_outcome_at"),
        last_cleanup_error=doc.get("last_cleanup_error"),
        cooldown_started_at=doc.get("cooldown_started_at"),
        cooldown_until=doc.get("cooldown_until"),
        cooldown_version=doc.get("cooldown_version"),
        early_release=(
            EarlyReleaseRecord(
                by=ActorRef(user_id=early["by"]["user_id"], email=early["by"]["email"]),
                at=early["at"],
                reason=early["reason"],
                request_key=early["request_key"],
            )
            if early
            else None
        ),
        pending_cleanup=(
            PendingCleanup(succeeded=pending["succeeded"], completed_at=pending["completed_at"], error=pending["error"])
            if pending
            else None
        ),
    )


def change_document(record: ChangeRecord) -> Document:
    account = record.account
    return {
        "_id": record.id,
        "account_id": account.account_id,
        "version": account.version,
        "claimed_at": record.claimed_at,
        "source": record.source,
        "note": record.note,
        "account": account_document(account),
        "transitions": [to_document(t) for t in record.transitions],
        "events": [
            {"message_id": e.message_id, "type": type(e.event).__name__, "body": e.event.model_dump(mode="json")}
            for e in record.events
        ],
        "left_cooldown_version": record.left_cooldown_version,
        "acquired_lease": record.acquired_lease,
    }


def change_from_document(doc: Document) -> ChangeRecord:
    return ChangeRecord(
        account=account_from_document(doc["account"]),
        claimed_at=doc["claimed_at"],
        source=doc["source"],
        transitions=tuple(_TRANSITIONS.validate_python(doc["transitions"])),
        events=tuple(
            OutgoingEvent(e["message_id"], _EVENT_TYPES[e["type"]].model_validate(e["body"])) for e in doc["events"]
        ),
        note=doc.get("note", ""),
        left_cooldown_version=doc.get("left_cooldown_version"),
        acquired_lease=doc.get("acquired_lease"),
    )
