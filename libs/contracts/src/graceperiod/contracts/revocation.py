"""Messages owned by the revocation service: its events, commands, queries and replies."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from graceperiod.contracts.base import Instant, Message, Model
from graceperiod.contracts.topology import RoutingKey
from graceperiod.contracts.upstream import PurchaseExecuted


class Phase(StrEnum):
    """Where a purchase stands, as shown to people. Derived, never stored as truth."""

    SELF_SERVICE = "self-service"
    """AWS lets us undo it through its API right now."""
    SUPPORT_CASE = "support-case"
    """Only a (discretionary) AWS Support refund request is left, and we can file it."""
    SUPPORT_UNAVAILABLE = "support-unavailable"
    """A support case would be the route, but the account cannot file one through the API."""
    CLOSED = "closed"
    """Past every window: nothing left to do."""
    REVOCATION_PENDING = "revocation-pending"
    REVOKED = "revoked"
    CASE_OPEN = "case-open"
    CASE_RESOLVED = "case-resolved"
    FAILED = "failed"


class Windows(Model):
    """The time limits of a purchase.

    ``self_service_until`` comes from AWS (``returnableUntil``, a queued start time) and is
    ``None`` when AWS offers no self-service undo; ``self_service_known`` is false when AWS
    could not be read, rather than guessing. ``support_case_until`` is product policy
    (default 7 days after execution), not an AWS rule. ``closes_at`` is the
    ``revocation_window_closes_at`` of the brief: the last moment any action is possible.
    """

    self_service_until: Instant | None = None
    self_service_known: bool = True
    support_case_until: Instant | None = None
    closes_at: Instant | None = None


class PurchaseRecorded(Message):
    """The revocation service stored a newly executed purchase and worked out its windows.
    The notifier builds the executed-purchase email from this."""

    routing_key: ClassVar[str | None] = RoutingKey.PURCHASE_RECORDED

    purchase: PurchaseExecuted
    windows: Windows
    phase: Phase
