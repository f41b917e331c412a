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


class EmailOutcome(Model):
    """One email an :class:`EmailDelivered` event reports."""

    recipient: EmailAddress
    status: DeliveryStatus
    at: Instant
    """When the mail server answered."""
    detail: str = ""
    """The mail server's answer when it rejected the email."""
    delivery_id: str = Field(min_length=1, max_length=255)
    """Names this email among all the notifier ever sent: the key a consumer dedupes it by."""


class EmailDelivered(Message):
    """An event's emails were accepted by the mail server (or permanently rejected); the
    revocation service adds each to the purchase's timeline.

    One event reports every email of one purchase event that is finished (all of one kind,
    and of one change for outcome emails) in ``deliveries``. The single-email fields
    (``recipient``, ``status``, ``detail``) repeat its first, for consumers from before
    ``deliveries``; a notifier from before it sent one event per email, with ``deliveries``
    empty and the email's delivery id as the message id. Read it with :meth:`outcomes`."""

    routing_key: ClassVar[str | None] = RoutingKey.EMAIL_DELIVERED

    purchase_id: Identifier
    kind: EmailKind
    recipient: EmailAddress
    status: DeliveryStatus
    change: PurchaseChangeKind | None = None
    """For revocation-outcome emails: which change they announced."""
    detail: str = ""
    """The mail server's answer when it rejected the email."""
    deliveries: list[EmailOutcome] = Field(default_factory=list)
    """Every email the event reports, the one above first (empty from older notifiers)."""

    def outcomes(self, message_id: str) -> list[EmailOutcome]:
        """Every email the event reports; from an older notifier, the one email above, whose
        delivery id is the event's ``message_id``."""
        if self.deliveries:
            return list(self.deliveries)
        only = EmailOutcome(
            recipient=self.recipient,
            status=self.status,
            at=self.occurred_at,
            detail=self.detail,
            delivery_id=message_id,
        )
        return [only]
