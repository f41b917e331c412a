"""The gateway's own MongoDB database: consumed email-link tokens, and an audit of actions.

* ``consumed_links``: one document per link token used, ``_id`` = the token's ``jti``.
  Consuming is one insert: the unique ``_id`` makes it atomic across requests and replicas
  (no transaction needed), and a second use finds the first one's record and outcome.
  Records are kept until the token's expiry plus a margin, then purged on a schedule
  (FerretDB has no TTL indexes).
* ``actions``: who asked for which action through the gateway, with the outcome, keyed by
  request id; best effort (a failure to write it never fails the action).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel
from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, PyMongoError

from graceperiod.contracts.links import LinkClaims
from graceperiod.runtime.clock import Clock
from graceperiod.runtime.logs import get_logger
from graceperiod.runtime.mongo import Document, ensure_indexes

log = get_logger("graceperiod.gateway.store")

LinkAction = Literal["revoke", "submit-support-case"]
OutcomeStatus = Literal["done", "in-progress", "rejected", "queued", "unknown"]


class LinkOutcome(BaseModel):
    status: OutcomeStatus
    message: str
    code: str | None = None
    phase: str | None = None
    at: datetime


@dataclass(frozen=True)
class ConsumedLink:
    jti: str
    purchase_id: str
    recipient: str
    action: LinkAction
    consumed_at: datetime
    request_id: str | None
    outcome: LinkOutcome | None


@runtime_checkable
class LinkStore(Protocol):
    async def consume(
        self, claims: LinkClaims, *, action: LinkAction, now: datetime, keep_until: datetime, request_id: str | None
    ) -> ConsumedLink | None:
        """Mark the token used. None when this call used it; else the earlier use."""
        ...

    async def find(self, jti: str) -> ConsumedLink | None: ...

    async def record_outcome(self, jti: str, outcome: LinkOutcome) -> None: ...

    async def release(self, jti: str) -> None:
        """Forget a use whose action was refused (nothing changed), so the link works again."""
        ...

    async def record_action(self, entry: dict[str, Any], *, now: datetime) -> None:
        """Append to the audit of actions (best effort)."""
        ...

    async def purge(self, *, now: datetime) -> int: ...

    async def ping(self) -> bool: ...


def _consumed(document: Document) -> ConsumedLink:
    outcome = document.get("outcome")
    return ConsumedLink(
        jti=document["_id"],
        purchase_id=document["purchase_id"],
        recipient=document["recipient"],
        action=document["action"],
        consumed_at=document["consumed_at"],
        request_id=document.get("request_id"),
        outcome=LinkOutcome.model_validate(outcome) if outcome else None,
    )


class MongoGatewayStore:
    def __init__(self, database: AsyncDatabase[Document], *, audit_retention: timedelta = timedelta(days=180)) -> None:
        self._database = database
        self._links = database["consumed_links"]
        self._actions = database["actions"]
        self._audit_retention = audit_retention

    async def ensure_indexes(self) -> None:
        await ensure_indexes(self._links, [IndexModel([("expires_at", ASCENDING)])])
        await ensure_indexes(self._actions, [IndexModel([("expires_at", ASCENDING)])])

    async def consume(
        self, claims: LinkClaims, *, action: LinkAction, now: datetime, keep_until: datetime, request_id: str | None
    ) -> ConsumedLink | None:
        try:
            await self._links.insert_one(
                {
                    "_id": claims.jti,
                    "purchase_id": claims.purchase_id,
                    "recipient": claims.recipient,
                    "action": action,
                    "consumed_at": now,
                    "request_id": request_id,
                    "kid": claims.kid,
                    "outcome": None,
                    "expires_at": keep_until,
                }
            )
        except DuplicateKeyError:
            earlier = await self._links.find_one({"_id": claims.jti})
            if earlier is None:  # purged in between: still used, outcome unknown
                return ConsumedLink(claims.jti, claims.purchase_id, claims.recipient, action, now, None, None)
            return _consumed(earlier)
        return None

    async def find(self, jti: str) -> ConsumedLink | None:
        document = await self._links.find_one({"_id": jti})
        return _consumed(document) if document else None

    async def record_outcome(self, jti: str, outcome: LinkOutcome) -> None:
        await self._links.update_one({"_id": jti}, {"$set": {"outcome": outcome.model_dump(mode="python")}})

    async def release(self, jti: str) -> None:
        await self._links.delete_one({"_id": jti, "outcome.status": "rejected"})

    async def record_action(self, entry: dict[str, Any], *, now: datetime) -> None:
        try:
            await self._actions.insert_one({**entry, "at": now, "expires_at": now + self._audit_retention})
        except PyMongoError as exc:
            log.warning("action audit not written", error=str(exc), action=entry.get("action"))

    async def purge(self, *, now: datetime) -> int:
        links = await self._links.delete_many({"expires_at": {"$lte": now}})
        actions = await self._actions.delete_many({"expires_at": {"$lte": now}})
        return int(links.deleted_count) + int(actions.deleted_count)

    async def ping(self) -> bool:
        try:
            await self._database.command("ping")
        except PyMongoError:
            return False
        return True


async def purge_forever(purge: Callable[..., Awaitable[int]], clock: Clock, interval: float, what: str) -> None:
    """Forget records past their retention: consumed links and audit entries, expired
    sessions and used sign-in states (no TTL indexes on FerretDB)."""
    while True:
        try:
            now: datetime = clock.now()
            purged = await purge(now=now)
            if purged:
                log.info("purged expired gateway records", what=what, count=purged)
        except Exception as exc:
            log.warning("purge failed", what=what, error=str(exc))
        await asyncio.sleep(interval)
