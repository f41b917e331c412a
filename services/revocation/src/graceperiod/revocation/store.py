"""MongoDB (database ``graceperiod_revocation``): purchases, accounts, commands, inbox.

Every state change is one conditional single-document update (FerretDB has no
transactions): a purchase is replaced only if its ``version`` is still the one read, and the
events a change emits are written into the same document (``outbox``) before they are
published, so a crash between the write and the publish loses nothing. (Published entries are
removed by the same conditional replace: FerretDB 1.24 ignores ``$pull`` with a condition on
embedded documents.)
"""

from __future__ import annotations

import base64
import json
from collections.abc import Collection
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from graceperiod.contracts.revocation import (
    AccountAccess,
    ActorRef,
    Audit,
    Phase,
    SupportPlan,
    TimelineEntry,
    Windows,
)
from graceperiod.contracts.upstream import PurchaseExecuted
from graceperiod.revocation.domain.commitments import AwsSnapshot
from graceperiod.revocation.domain.phase import AccessFacts, RevocationStatus
from graceperiod.runtime.mongo import Document, ensure_indexes, to_document


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore")


class AwsState(_Record):
    known: bool = False
    state: str | None = None
    start: datetime | None = None
    returnable_until: datetime | None = None
    read_at: datetime | None = None
    error: str | None = None
    request_id: str | None = None

    def snapshot(self) -> AwsSnapshot:
        return AwsSnapshot(
            known=self.known,
            state=self.state,
            start=self.start,
            returnable_until=self.returnable_until,
            read_at=self.read_at,
            error=self.error,
        )


class Attempt(_Record):
    """An action under way: written before AWS is called, so a retry after a crash resumes it."""

    key: str
    kind: str  # "revoke" | "support-case"
    action: str
    client_token: str
    started_at: datetime
    lease_until: datetime
    actor: ActorRef
    subject: str | None = None
    body: str | None = None


class Blocked(_Record):
    action: str
    code: str
    message: str


class OutboxEntry(_Record):
    message_id: str
    event: dict[str, Any]


class PurchaseRecord(_Record):
    purchase: PurchaseExecuted
    windows: Windows
    aws: AwsState = Field(default_factory=AwsState)
    status: RevocationStatus = RevocationStatus.NONE
    blocked: Blocked | None = None
    attempt: Attempt | None = None
    audit: Audit = Field(default_factory=Audit)
    timeline: list[TimelineEntry] = Field(default_factory=list)
    outbox: list[OutboxEntry] = Field(default_factory=list)
    phase: Phase = Phase.CLOSED
    next_check_at: datetime | None = None
    version: int = 0
    recorded_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def purchase_id(self) -> str:
        return self.purchase.purchase_id


class AccountRecord(_Record):
    account_id: str
    role_arn: str | None = None
    external_id: str | None = None
    registered_at: datetime | None = None
    registered_by: str | None = None
    role_assumable: bool | None = None
    support_plan: SupportPlan = SupportPlan.UNKNOWN
    probe_missing: list[str] = Field(default_factory=list)
    """Denied actions the last probe found."""
    use_missing: list[str] = Field(default_factory=list)
    """Denied actions met when used (no side-effect-free probe exists for them)."""
    checked_at: datetime | None = None
    probe_due_at: datetime | None = None
    message: str | None = None
    categories: list[str] | None = None
    categories_at: datetime | None = None

    @property
    def missing(self) -> list[str]:
        return sorted(set(self.probe_missing) | set(self.use_missing))

    def facts(self) -> AccessFacts:
        return AccessFacts(
            role_assumable=self.role_assumable,
            support_plan=self.support_plan,
            missing_actions=frozenset(self.missing),
        )

    def view(self) -> AccountAccess:
        return AccountAccess(
            account_id=self.account_id,
            role_arn=self.role_arn,
            role_assumable=self.role_assumable,
            support_plan=self.support_plan,
            missing_actions=self.missing,
            reapply_bundle=bool(self.missing) or self.role_assumable is False,
            checked_at=self.checked_at,
            message=self.message,
        )


def _purchase_document(record: PurchaseRecord) -> Document:
    doc = to_document(record)
    doc["outbox"] = [{"message_id": o.message_id, "event": o.event} for o in record.outbox]
    doc.update(
        {
            "_id": record.purchase_id,
            "account_id": record.purchase.account.id,
            "executed_at": record.purchase.executed_at,
            "requested_by_user_id": record.purchase.requested_by.user_id,
            "has_outbox": bool(record.outbox),
        }
    )
    return doc


def encode_cursor(executed_at: datetime, purchase_id: str) -> str:
    raw = json.dumps([executed_at.isoformat(), purchase_id]).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """Raises ValueError on anything that is not a cursor this service made."""
    try:
        executed, purchase_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return datetime.fromisoformat(executed), str(purchase_id)
    except (ValueError, TypeError) as exc:
        msg = "cursor is not one this service returned"
        raise ValueError(msg) from exc


class PurchaseStore:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._purchases = database["purchases"]
        self._accounts = database["accounts"]
        self._commands = database["commands"]
        self._claims = database["claims"]

    async def ensure_indexes(self) -> None:
        await ensure_indexes(
            self._purchases,
            [
                IndexModel([("executed_at", ASCENDING)]),
                IndexModel([("account_id", ASCENDING), ("executed_at", ASCENDING)]),
                IndexModel([("next_check_at", ASCENDING)]),
                IndexModel([("has_outbox", ASCENDING)]),
            ],
        )
        await ensure_indexes(self._accounts, [IndexModel([("probe_due_at", ASCENDING)])])
        await ensure_indexes(self._commands, [IndexModel([("expires_at", ASCENDING)])])
        await ensure_indexes(self._claims, [IndexModel([("expires_at", ASCENDING)])])

    # --- purchases ---------------------------------------------------------------------------------

    async def insert(self, record: PurchaseRecord) -> PurchaseRecord:
        """Store a purchase once; a second call with the same id returns the stored one unchanged."""
        try:
            stored = await self._purchases.find_one_and_update(
                {"_id": record.purchase_id},
                {"$setOnInsert": _purchase_document(record)},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            # Two upserts of a new id raced (two replicas, or one event delivered twice at
            # once) and the other inserted first: its record is the stored one.
            stored = await self._purchases.find_one({"_id": record.purchase_id})
        assert stored is not None  # upserted, or inserted by the upsert we raced
        return PurchaseRecord.model_validate(stored)

    async def get(self, purchase_id: str) -> PurchaseRecord | None:
        doc = await self._purchases.find_one({"_id": purchase_id})
        return PurchaseRecord.model_validate(doc) if doc else None

    async def save(self, record: PurchaseRecord, *, expected_version: int) -> bool:
        """Replace the purchase if nobody changed it since ``expected_version`` was read."""
        doc = _purchase_document(record)
        doc["version"] = expected_version + 1
        result = await self._purchases.replace_one({"_id": record.purchase_id, "version": expected_version}, doc)
        return result.modified_count == 1

    async def postpone(self, purchase_id: str, due_at: datetime, *, until: datetime) -> None:
        """Move a claimed purchase's next check on, so it is retried after ``until`` if this
        replica dies while working on it."""
        await self._purchases.update_one(
            {"_id": purchase_id, "next_check_at": due_at}, {"$set": {"next_check_at": until}}
        )

    async def claim_once(self, claim_id: str, *, now: datetime, expires_at: datetime, owner: str = "") -> bool:
        """True for exactly one caller per ``claim_id`` (a unique insert)."""
        try:
            await self._claims.insert_one(
                {"_id": claim_id, "owner": owner, "claimed_at": now, "expires_at": expires_at}
            )
        except DuplicateKeyError:
            return False
        return True

    async def release_claim(self, claim_id: str) -> None:
        await self._claims.delete_one({"_id": claim_id})

    async def claim_holder(self, claim_id: str) -> Document | None:
        return await self._claims.find_one({"_id": claim_id})

    async def purge_claims(self, now: datetime) -> int:
        result = await self._claims.delete_many({"expires_at": {"$lte": now}})
        return int(result.deleted_count)

    async def clear_outbox(self, purchase_id: str, *, version: int) -> bool:
        """Empty the outbox if the purchase is still at ``version`` (a small update, not a
        replace; the version stays: emptying an already-published outbox changes no state)."""
        result = await self._purchases.update_one(
            {"_id": purchase_id, "version": version}, {"$set": {"outbox": [], "has_outbox": False}}
        )
        return result.modified_count == 1

    async def due(self, now: datetime, *, limit: int) -> list[tuple[str, datetime]]:
        cursor = (
            self._purchases.find({"next_check_at": {"$lte": now}}, projection={"next_check_at": 1})
            .sort("next_check_at", ASCENDING)
            .limit(limit)
        )
        return [(doc["_id"], doc["next_check_at"]) async for doc in cursor]

    async def with_outbox(self, *, limit: int) -> list[str]:
        cursor = self._purchases.find({"has_outbox": True}, projection={"_id": 1}).limit(limit)
        return [doc["_id"] async for doc in cursor]

    async def page(
        self,
        *,
        account_id: str | None,
        phase: str | None,
        requested_by_user_id: str | None,
        limit: int,
        after: tuple[datetime, str] | None,
    ) -> list[PurchaseRecord]:
        query: dict[str, Any] = {}
        if account_id:
            query["account_id"] = account_id
        if phase:
            query["phase"] = phase
        if requested_by_user_id:
            query["requested_by_user_id"] = requested_by_user_id
        if after is not None:
            executed_at, purchase_id = after
            query["$or"] = [
                {"executed_at": {"$lt": executed_at}},
                {"executed_at": executed_at, "_id": {"$lt": purchase_id}},
            ]
        cursor = self._purchases.find(query).sort([("executed_at", DESCENDING), ("_id", DESCENDING)]).limit(limit)
        return [PurchaseRecord.model_validate(doc) async for doc in cursor]

    # --- accounts ----------------------------------------------------------------------------------

    async def account(self, account_id: str) -> AccountRecord | None:
        doc = await self._accounts.find_one({"_id": account_id})
        return AccountRecord.model_validate(doc) if doc else None

    async def accounts_by_id(self, account_ids: Collection[str]) -> dict[str, AccountRecord]:
        if not account_ids:
            return {}
        cursor = self._accounts.find({"_id": {"$in": sorted(account_ids)}})
        return {doc["_id"]: AccountRecord.model_validate(doc) async for doc in cursor}

    async def accounts(self) -> list[AccountRecord]:
        return [AccountRecord.model_validate(doc) async for doc in self._accounts.find({}).sort("_id", ASCENDING)]

    async def update_account(self, account_id: str, changes: dict[str, Any]) -> AccountRecord:
        update = {"$set": {**changes, "account_id": account_id}}
        try:
            doc = await self._accounts.find_one_and_update(
                {"_id": account_id}, update, upsert=True, return_document=ReturnDocument.AFTER
            )
        except DuplicateKeyError:
            # A concurrent upsert created the account first: now the update matches it.
            doc = await self._accounts.find_one_and_update(
                {"_id": account_id}, update, return_document=ReturnDocument.AFTER
            )
        assert doc is not None
        return AccountRecord.model_validate(doc)

    async def add_use_missing(self, account_id: str, action: str) -> None:
        await self._accounts.update_one({"_id": account_id}, {"$addToSet": {"use_missing": action}})

    async def clear_use_missing(self, account_id: str, action: str) -> None:
        await self._accounts.update_one({"_id": account_id}, {"$pull": {"use_missing": action}})

    async def postpone_probe(self, account_id: str, due_at: datetime, *, until: datetime) -> None:
        await self._accounts.update_one({"_id": account_id, "probe_due_at": due_at}, {"$set": {"probe_due_at": until}})

    async def probes_due(self, now: datetime, *, limit: int) -> list[tuple[str, datetime]]:
        cursor = self._accounts.find({"probe_due_at": {"$lte": now}}, projection={"probe_due_at": 1}).limit(limit)
        return [(doc["_id"], doc["probe_due_at"]) async for doc in cursor]

    # --- commands (idempotency keys) ------------------------------------------------------------------

    async def command(self, key: str) -> Document | None:
        return await self._commands.find_one({"_id": key})

    async def begin_command(
        self, key: str, *, kind: str, purchase_id: str | None, now: datetime, expires_at: datetime
    ) -> bool:
        """True for the first delivery of this idempotency key, False if it was seen before."""
        try:
            await self._commands.insert_one(
                {
                    "_id": key,
                    "kind": kind,
                    "purchase_id": purchase_id,
                    "state": "accepted",
                    "created_at": now,
                    "expires_at": expires_at,
                }
            )
        except DuplicateKeyError:
            return False
        return True

    async def finish_command(self, key: str, reply: Document) -> None:
        await self._commands.update_one({"_id": key}, {"$set": {"state": "done", "reply": reply}})

    async def purge_commands(self, now: datetime) -> int:
        result = await self._commands.delete_many({"expires_at": {"$lte": now}})
        return int(result.deleted_count)
