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
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from graceperiod.contracts.links import LinkClaims
from graceperiod.runtime.clock import Clock
from graceperiod.runtime.logs import get_logger
from graceperiod.runtime.mongo import (
    Document,
    KeyedRecord,
    ensure_expiry_index,
    insert_once,
    purge_expired,
    to_document,
)

log = get_logger("graceperiod.gateway.store")

LinkAction = Literal["revoke", "submit-support-case"]
OutcomeStatus = Literal["done", "in-progress", "rejected", "queued", "unknown"]


class LinkOutcome(BaseModel):
    status: OutcomeStatus
    message: str
    code: str | None = None
    phase: str | None = None
    at: datetime


class ConsumedLink(KeyedRecord):
    """One use of an email-link token, kept until ``expires_at`` (a little past the token's own)."""

    jti: str = Field(alias="_id")
    purchase_id: str
    recipient: str
    action: LinkAction
    consumed_at: datetime
    expires_at: datetime
    request_id: str | None = None
    kid: str | None = None
    outcome: LinkOutcome | None = None

    @classmethod
    def of(
        cls, claims: LinkClaims, *, action: LinkAction, now: datetime, keep_until: datetime, request_id: str | None
    ) -> ConsumedLink:
        """The use of the token ``claims`` came from, made ``now``."""
        return cls(
            jti=claims.jti,
            purchase_id=claims.purchase_id,
            recipient=claims.recipient,
            action=action,
            consumed_at=now,
            expires_at=keep_until,
            request_id=request_id,
            kid=claims.kid,
        )


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


class MongoGatewayStore:
    def __init__(self, database: AsyncDatabase[Document], *, audit_retention: timedelta = timedelta(days=180)) -> None:
        self._database = database
        self._links = database["consumed_links"]
        self._actions = database["actions"]
        self._audit_retention = audit_retention

    async def ensure_indexes(self) -> None:
        await ensure_expiry_index(self._links, self._actions)

    async def consume(
        self, claims: LinkClaims, *, action: LinkAction, now: datetime, keep_until: datetime, request_id: str | None
    ) -> ConsumedLink | None:
        link = ConsumedLink.of(claims, action=action, now=now, keep_until=keep_until, request_id=request_id)
        if await insert_once(self._links, to_document(link, key=link.jti)):
            return None
        earlier = await self._links.find_one({"_id": claims.jti})
        # Purged in between: still used, outcome unknown.
        return ConsumedLink.model_validate(earlier) if earlier else link.model_copy(update={"request_id": None})

    async def find(self, jti: str) -> ConsumedLink | None:
        document = await self._links.find_one({"_id": jti})
        return ConsumedLink.model_validate(document) if document else None

    async def record_outcome(self, jti: str, outcome: LinkOutcome) -> None:
        await self._links.update_one({"_id": jti}, {"$set": {"outcome": to_document(outcome)}})

    async def release(self, jti: str) -> None:
        await self._links.delete_one({"_id": jti, "outcome.status": "rejected"})

    async def record_action(self, entry: dict[str, Any], *, now: datetime) -> None:
        try:
            await self._actions.insert_one({**entry, "at": now, "expires_at": now + self._audit_retention})
        except PyMongoError as exc:
            log.warning("action audit not written", error=str(exc), action=entry.get("action"))

    async def purge(self, *, now: datetime) -> int:
        return await purge_expired(self._links, self._actions, now=now)

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
