"""The cooldown service's wait-list of acquisitions, and its low-pool alert (docs/cooldown.md).

``AcquireAccount`` with ``wait: true`` queues the lease first in, first out when no account is
Available; the request is granted the next account released (``cooldown.wait.granted``) or
expires (``cooldown.wait.expired``), and may be cancelled (``CancelWait``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import Field

from graceperiod.contracts.base import AwsAccountId, EmailAddress, Identifier, Instant, Message, Model, Reference
from graceperiod.contracts.lease_costs import PositiveHours
from graceperiod.contracts.rpc import Command, Problem, Query
from graceperiod.contracts.topology import RoutingKey


class WaitStatus(StrEnum):
    WAITING = "waiting"
    GRANTED = "granted"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class WaitRequestView(Model):
    lease_id: Identifier
    status: WaitStatus
    requested_at: Instant
    expires_at: Instant
    requested_by: EmailAddress | None = None
    position: int | None = None
    """1 for the next request to be granted (waiting requests only)."""
    eta: Instant | None = None
    """When an account is expected for it: the cooldown deadline of the account that many
    releases ahead (None when fewer accounts are cooling than requests wait before it)."""
    eta_note: str | None = None
    account_id: AwsAccountId | None = None
    """The account granted."""
    closed_at: Instant | None = None
    reason: str | None = None


# --- Commands (cooldown.commands) and queries (cooldown.queries) -------------------------


class CancelWait(Command):
    """Withdraw a lease's waiting request (needs ``acquire:accounts``). A granted request
    cannot be cancelled: release its account by ending the lease instead."""

    kind: Literal["cancel-wait"] = "cancel-wait"
    lease_id: Reference


class ListWaitList(Query):
    """The waiting requests, first in line first."""

    kind: Literal["list-wait-list"] = "list-wait-list"
    limit: Annotated[int, Field(ge=1, le=500)] = 100


class GetWaitRequest(Query):
    kind: Literal["get-wait-request"] = "get-wait-request"
    lease_id: Reference


class WaitListReply(Model):
    items: list[WaitRequestView] = Field(default_factory=list)
    waiting: int = 0
    problem: Problem | None = None


class WaitReply(Model):
    request: WaitRequestView | None = None
    message: str | None = None
    noop: bool = False
    problem: Problem | None = None


# --- Events ------------------------------------------------------------------------------


class WaitGranted(Message):
    """A waiting acquisition was granted: the account is Active for the lease (an
    ``AcquireAccount`` for the lease now returns it)."""

    routing_key: ClassVar[str | None] = RoutingKey.WAIT_GRANTED

    lease_id: Identifier
    account_id: AwsAccountId
    requested_at: Instant
    granted_at: Instant


class WaitExpired(Message):
    """A waiting acquisition expired before an account was released for it."""

    routing_key: ClassVar[str | None] = RoutingKey.WAIT_EXPIRED

    lease_id: Identifier
    requested_at: Instant
    expired_at: Instant


class PoolRunningLow(Message):
    """Fewer accounts are Available than the alert threshold (at most one alert per period);
    the notifier emails the global notification address."""

    routing_key: ClassVar[str | None] = RoutingKey.POOL_RUNNING_LOW

    alert_id: Identifier
    available: int
    threshold: int
    cooling: int = 0
    waiting: int = 0
    next_release_at: Instant | None = None
    period_hours: PositiveHours = 24
