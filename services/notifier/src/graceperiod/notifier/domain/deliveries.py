"""What a delivery is: the key that names one email, the claim taken before sending it and
the record written once the mail server answered (the stored records of ``store.py``)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from graceperiod.contracts.notifier import DeliveryStatus, DeliveryView, EmailKind
from graceperiod.contracts.revocation import PurchaseChangeKind
from graceperiod.runtime.mongo import Record

#: The longest detail (a mail server's answer, an error) kept with a claim or delivery.
DETAIL_LIMIT = 2000


class Claim(StrEnum):
    CLAIMED = "claimed"
    """Send it now."""
    DONE = "done"
    """It was sent (or permanently rejected) before: do not send again."""
    BUSY = "busy"
    """Another worker holds a live claim: try again later."""


@dataclass(frozen=True, slots=True)
class DeliveryKey:
    """Identifies one email: its kind, the purchase, the recipient and, for revocation
    outcomes, which change it announces (``occurrence``: the change event's message id)."""

    kind: EmailKind
    purchase_id: str
    recipient: str
    occurrence: str = ""
    change: PurchaseChangeKind | None = None

    @property
    def id(self) -> str:
        parts = [self.kind, self.occurrence, self.purchase_id, self.recipient]
        return "|".join(p for p in parts if p)

    def email(self) -> dict[str, Any]:
        """The fields naming this email in its stored claim and delivery."""
        return {"kind": self.kind, "purchase_id": self.purchase_id, "recipient": self.recipient}

    @property
    def event_id(self) -> str:
        """Deterministic id of this email in EmailDelivered events (its ``delivery_id``; also
        the message id of an event reporting it alone)."""
        return f"email-delivered:{hashlib.sha256(self.id.encode()).hexdigest()[:40]}"


def announcement_id(keys: Sequence[DeliveryKey]) -> str:
    """Deterministic AMQP message id of the EmailDelivered event reporting these emails: an
    email's own when it is alone (as every announcement had before they were grouped),
    else one made of them all, so a repeat of the same report is recognised and a report of
    more emails is not taken for it."""
    if len(keys) == 1:
        return keys[0].event_id
    joined = "\n".join(sorted(key.event_id for key in keys))
    return f"emails-delivered:{hashlib.sha256(joined.encode()).hexdigest()[:40]}"


class _Email(Record):
    """Which email a stored claim or delivery is about."""

    kind: EmailKind
    purchase_id: str
    recipient: str


class ClaimRecord(_Email):
    """The right to send one email (``claims``, ``_id`` = the key's id), held until ``lease_until``."""

    occurrence: str = ""
    change: PurchaseChangeKind | None = None
    claimed_at: datetime
    lease_until: datetime
    attempts: int = 0
    """Transient failures so far (each releases the claim for the retry)."""
    detail: str = ""

    @classmethod
    def of(cls, key: DeliveryKey, *, now: datetime, lease: timedelta) -> ClaimRecord:
        return cls(**key.email(), occurrence=key.occurrence, change=key.change, claimed_at=now, lease_until=now + lease)


class DeliveryRecord(_Email):
    """A finished delivery (``deliveries``, ``_id`` = the key's id): sent, or refused for good.
    An email with one is never sent again."""

    status: DeliveryStatus
    finished_at: datetime
    detail: str = ""

    @classmethod
    def of(cls, key: DeliveryKey, *, status: DeliveryStatus, now: datetime, detail: str) -> DeliveryRecord:
        return cls(**key.email(), status=status, finished_at=now, detail=detail[:DETAIL_LIMIT])


def delivery_view(claim: ClaimRecord, delivery: DeliveryRecord | None) -> DeliveryView:
    """How one email's delivery is shown: finished, or still being sent."""
    shown = claim.model_dump(include={"purchase_id", "kind", "recipient", "change"})
    if delivery is None:
        return DeliveryView(
            **shown, status=DeliveryStatus.SENDING, at=claim.claimed_at, detail=claim.detail, attempts=claim.attempts
        )
    detail = delivery.detail or claim.detail
    return DeliveryView(
        **shown, status=delivery.status, at=delivery.finished_at, detail=detail, attempts=claim.attempts + 1
    )
