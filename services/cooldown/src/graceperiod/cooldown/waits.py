"""The wait-list (``domain/waits.py`` has its rules, ``wait_store.py`` its storage): queue a
lease, cancel it, and on every tick (and after a release) expire what is overdue and grant the
requests first in line the accounts that are Available, each exactly once.

Granting a request: take it (waiting → granting, one worker wins), acquire an account for its
lease like any acquisition (idempotent per lease), then granted with the account, and publish
``cooldown.wait.granted`` (the request is the event's outbox until it is published). Nothing
Available after all: back to waiting, in its place. A worker that died while granting leaves
the request in granting; the next pass takes it over once it is overdue. A worker that meets
a request another worker is granting leaves the rest of the line to that worker, so no later
request gets the account the earlier one was about to be given.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from enum import StrEnum
from typing import Final

from graceperiod.contracts.base import Message
from graceperiod.contracts.cooldown import AccountStatus, CooldownPolicy
from graceperiod.contracts.enums import Permission
from graceperiod.contracts.rpc import Actor, ErrorCode, Problem
from graceperiod.contracts.wait_list import CancelWait, WaitExpired, WaitGranted, WaitListReply, WaitReply
from graceperiod.cooldown import metrics
from graceperiod.cooldown.acquisition import Acquisition, Outcome, Taken
from graceperiod.cooldown.change_protocol import ChangeProtocol, Use
from graceperiod.cooldown.domain import waits
from graceperiod.cooldown.domain.waits import Estimate, WaitRequest, WaitState
from graceperiod.cooldown.replies import lacks
from graceperiod.cooldown.wait_store import WaitStore
from graceperiod.runtime.logs import get_logger

log = get_logger("graceperiod.cooldown")

_LINE_LIMIT: Final = 1000


class Grant(StrEnum):
    GRANTED = "granted"
    SKIPPED = "skipped"
    NONE_AVAILABLE = "none-available"
    # Another worker is granting this request: it goes on down the line itself, and a worker
    # that skipped past it could hand a later request the account this one is about to get.
    YIELDED = "yielded"


def granted_id(request: WaitRequest) -> str:
    return f"cooldown:wait-granted:{request.lease_id}:{request.round}"


def expired_id(request: WaitRequest) -> str:
    return f"cooldown:wait-expired:{request.lease_id}:{request.round}"


class WaitList(Use):
    def __init__(self, changes: ChangeProtocol, *, requests: WaitStore, acquisition: Acquisition) -> None:
        super().__init__(changes)
        self._requests = requests
        self._acquisition = acquisition
        self._pass = asyncio.Lock()
        self._again = False

    async def count_open(self) -> int:
        return await self._requests.count_open()

    async def get(self, lease_id: str) -> WaitRequest | None:
        return await self._requests.get(lease_id)

    async def enqueue(
        self, lease_id: str, *, actor: Actor, request_key: str, asked_hours: float | None, policy: CooldownPolicy
    ) -> WaitRequest | None:
        """Queue the lease (a closed request of it is reopened as its next round); None when
        another request of it got in first."""
        now = self._clock.now()
        limit = waits.wait_limit(policy, asked_hours)
        request = waits.new_request(lease_id, request_key=request_key, requested_by=actor.email, limit=limit, now=now)
        existing = await self._requests.get(lease_id)
        if existing is None:
            stored = await self._requests.insert(request)
        elif existing.is_open:
            return None
        else:
            request = request.model_copy(update={"round": existing.round + 1})
            stored = await self._requests.reopen(existing, request)
        if stored:
            metrics.WAITS.labels(outcome="queued").inc()
            log.info("acquisition queued", lease_id=lease_id, expires_at=request.expires_at.isoformat())
        return request if stored else None

    # --- a pass: expire, grant, publish what is left to publish -------------------------------

    async def run(self) -> int:
        """Expire overdue requests, grant Available accounts first in line; the grants made.
        One pass at a time per worker (a call meanwhile runs the pass once more after it)."""
        if self._pass.locked():
            self._again = True
            return 0
        granted = 0
        async with self._pass:
            self._again = True
            while self._again:
                self._again = False
                await self._expire()
                granted += await self._grant()
                await self._publish_pending()
        return granted

    async def _grant(self) -> int:
        if await self._requests.count_open() == 0:
            return 0
        granted = 0
        for request in await self._requests.line(limit=_LINE_LIMIT):
            outcome = await self._grant_one(request)
            if outcome in (Grant.NONE_AVAILABLE, Grant.YIELDED):
                break
            granted += outcome is Grant.GRANTED
        return granted

    async def _grant_one(self, request: WaitRequest) -> Grant:
        now = self._clock.now()
        if waits.expired(request, now):
            return Grant.SKIPPED
        if request.state is WaitState.GRANTING and not waits.granting_overdue(request, now, self._options.claim_grace):
            return Grant.YIELDED
        taken = await self._requests.step(request, to=WaitState.GRANTING, granting_since=now)
        if taken is None:  # another worker took it, or it was cancelled or expired meanwhile
            now_stored = await self._requests.get(request.lease_id)
            return Grant.YIELDED if now_stored is not None and now_stored.is_open else Grant.SKIPPED
        result = await self._acquisition.take(request.lease_id)
        if isinstance(result, Outcome):
            await self._requests.step(taken, to=WaitState.WAITING, granting_since=None)
            return Grant.NONE_AVAILABLE
        if not isinstance(result, Taken):  # the lease was given an account no longer Active for it
            reason = result.message
            await self._requests.step(taken, to=WaitState.CANCELLED, closed_at=now, reason=reason, granting_since=None)
            log.warning("wait request closed without a grant", lease_id=request.lease_id, reason=reason)
            return Grant.SKIPPED
        return await self._granted(taken, result.account.account_id, now)

    async def _granted(self, taken: WaitRequest, account_id: str, now: datetime) -> Grant:
        done = await self._requests.step(
            taken, to=WaitState.GRANTED, account_id=account_id, closed_at=now, event_pending=True
        )
        if done is None:
            return Grant.SKIPPED  # overdue: another worker took it over and finishes it
        await self._announce(done)
        waited = (now - taken.requested_at).total_seconds()
        metrics.WAITS.labels(outcome="granted").inc()
        log.info("waiting acquisition granted", lease_id=taken.lease_id, account_id=account_id, waited_s=waited)
        return Grant.GRANTED

    async def _expire(self) -> None:
        now = self._clock.now()
        for request in await self._requests.expiring(now, limit=_LINE_LIMIT):
            hours = (request.expires_at - request.requested_at).total_seconds() / 3600
            done = await self._requests.step(
                request,
                to=WaitState.EXPIRED,
                closed_at=now,
                event_pending=True,
                reason=f"no account was released within {hours:g} hours",
            )
            if done is not None:
                metrics.WAITS.labels(outcome="expired").inc()
                log.info("waiting acquisition expired", lease_id=request.lease_id)
                await self._announce(done)

    async def _publish_pending(self) -> None:
        """Outcomes whose worker stopped before publishing their event (same message ids)."""
        overdue = self._clock.now() - self._options.claim_grace
        for request in await self._requests.unpublished(limit=_LINE_LIMIT):
            if request.closed_at is not None and request.closed_at <= overdue:
                await self._announce(request)

    async def _announce(self, request: WaitRequest) -> None:
        event: Message
        if request.state is WaitState.GRANTED and request.account_id and request.closed_at:
            event = WaitGranted(
                occurred_at=request.closed_at,
                lease_id=request.lease_id,
                account_id=request.account_id,
                requested_at=request.requested_at,
                granted_at=request.closed_at,
            )
            await self._events.publish(event, message_id=granted_id(request))
        elif request.state is WaitState.EXPIRED and request.closed_at:
            event = WaitExpired(
                occurred_at=request.closed_at,
                lease_id=request.lease_id,
                requested_at=request.requested_at,
                expired_at=request.closed_at,
            )
            await self._events.publish(event, message_id=expired_id(request))
        await self._requests.published(request)

    # --- commands and queries -----------------------------------------------------------------

    async def cancel(self, command: CancelWait) -> WaitReply:
        actor = command.actor
        if not actor.can(Permission.ACQUIRE_ACCOUNTS):
            return WaitReply(problem=lacks(actor, Permission.ACQUIRE_ACCOUNTS))
        request = await self._requests.get(command.lease_id)
        if request is None:
            message = f"lease {command.lease_id[:128]} has no wait request"
            return WaitReply(problem=Problem(code=ErrorCode.NOT_FOUND, message=message))
        if request.state is WaitState.WAITING:
            now = self._clock.now()
            done = await self._requests.step(
                request, to=WaitState.CANCELLED, closed_at=now, reason=f"cancelled by {actor.email}"
            )
            if done is not None:
                metrics.WAITS.labels(outcome="cancelled").inc()
                log.info("wait request cancelled", lease_id=request.lease_id, by=actor.email)
                return WaitReply(request=done.view(), message="cancelled")
            request = await self._requests.get(command.lease_id) or request
        return _closed_reply(request)

    async def views(self, *, limit: int) -> WaitListReply:
        line = await self._requests.line(limit=_LINE_LIMIT)
        estimates = await self._estimates(line)
        places = waits.positions(line)
        items = [r.view(position=places.get(r.lease_id), eta=estimates.get(r.lease_id)) for r in line[:limit]]
        return WaitListReply(items=items, waiting=len(line))

    async def view(self, request: WaitRequest) -> WaitReply:
        if not request.is_open:
            return WaitReply(request=request.view())
        line = await self._requests.line(limit=_LINE_LIMIT)
        estimates = await self._estimates(line)
        place = waits.positions(line).get(request.lease_id)
        return WaitReply(request=request.view(position=place, eta=estimates.get(request.lease_id)))

    async def _estimates(self, line: list[WaitRequest]) -> dict[str, Estimate]:
        if not line:
            return {}
        now = self._clock.now()
        available = await self._store.count_status(AccountStatus.AVAILABLE)
        upcoming = await self._store.upcoming_releases(len(line))
        places = waits.positions(line)
        return {
            lease: waits.estimate(place, available=available, upcoming=upcoming, now=now)
            for lease, place in places.items()
        }


def _closed_reply(request: WaitRequest) -> WaitReply:
    if request.state is WaitState.GRANTING:
        message = f"lease {request.lease_id} is being granted an account right now; end the lease to release it"
        return WaitReply(request=request.view(), problem=Problem(code=ErrorCode.CONFLICT, message=message))
    if request.state is WaitState.GRANTED:
        message = f"lease {request.lease_id} was already granted account {request.account_id}"
        return WaitReply(request=request.view(), problem=Problem(code=ErrorCode.CONFLICT, message=message))
    return WaitReply(request=request.view(), message=f"the request was already {request.state.value}", noop=True)
