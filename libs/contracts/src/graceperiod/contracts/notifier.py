"""Messages owned by the notifier: its settings commands, delivery queries and events."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import Field

from graceperiod.contracts.base import EmailAddress, Identifier, Instant, Message, Model
from graceperiod.contracts.revocation import PurchaseChangeKind
from graceperiod.contracts.rpc import Command, Problem, Query
from graceperiod.contracts.topology import RoutingKey


class EmailKind(StrEnum):
    PURCHASE_EXECUTED = "purchase-executed"
    """Sent once per (purchase, recipient) when a purchase is recorded, with the revoke link."""
    REVOCATION_OUTCOME = "revocation-outcome"
    """Sent once per (purchase, recipient, change) when a revocation is done, fails, opens a
    support case or the case resolves (``change`` says which)."""
    POOL_RUNNING_LOW = "pool-running-low"
    """Sent once per (low-pool alert, recipient) to the global notification address
    (``purchase_id`` holds the alert's id)."""
    WINDOW_REMINDER = "window-reminder"
    """Sent once per (purchase, recipient) a configured number of hours before the self-service
    window closes, while the purchase can still be undone through the AWS API."""


class DeliveryStatus(StrEnum):
    SENDING = "sending"
    SENT = "sent"
    REJECTED = "rejected"
    """The mail server refused it permanently (5xx): recorded, not retried."""


class NotificationSettings(Model):
    global_notification_email: EmailAddress | None = None
    updated_by: EmailAddress | None = None
    updated_at: Instant | None = None


class DeliveryView(Model):
    purchase_id: Identifier
    kind: EmailKind
    recipient: EmailAddress
    status: DeliveryStatus
    at: Instant
    detail: str = ""
    change: PurchaseChangeKind | None = None
    """For revocation-outcome emails: which change they announce."""
    attempts: int = 0
    """Delivery attempts so far (transient failures included)."""


# --- Commands (notifier.commands) / queries (notifier.queries) ---------------------------


class SetNotificationSettings(Command):
    """Change the global notification address at run time (needs ``update:config``)."""

    kind: Literal["set-notification-settings"] = "set-notification-settings"
    global_notification_email: EmailAddress | None


NotifierCommand = Annotated[SetNotificationSettings, Field(discriminator="kind")]


class GetNotificationSettings(Query):
    kind: Literal["get-notification-settings"] = "get-notification-settings"


class ListDeliveries(Query):
    kind: Literal["list-deliveries"] = "list-deliveries"
    purchase_id: Identifier


NotifierQuery = Annotated[GetNotificationSettings | ListDeliveries, Field(discriminator="kind")]


class NotificationSettingsReply(Model):
    settings: NotificationSettings | None = None
    problem: Problem | None = None


class DeliveriesReply(Model):
    items: list[DeliveryView] = Field(default_factory=list)
    problem: Problem | None = None


# --- Events ------------------------------------------------------------------------------


class EmailDelivered(Message):
    """An email was accepted by the mail server (or permanently rejected); the revocation
    service adds it to the purchase's timeline."""

    routing_key: ClassVar[str | None] = RoutingKey.EMAIL_DELIVERED

    purchase_id: Identifier
    kind: EmailKind
    recipient: EmailAddress
    status: DeliveryStatus
    change: PurchaseChangeKind | None = None
    """For revocation-outcome emails: which change they announced."""
    detail: str = ""
    """The mail server's answer when it rejected the email."""
