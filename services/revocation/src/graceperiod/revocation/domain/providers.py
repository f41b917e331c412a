"""One interface for every provider's rules: what the provider's own state says about undoing
a purchase (:class:`Standing`), read the same way for AWS and Azure by the phase, the windows
and the lifecycle. Each provider's rules live beside it (``commitments.py`` for AWS,
``azure.py`` for Azure); this module only names the shapes, ``standing.py`` picks the rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from graceperiod.contracts.revocation_views import Unavailability
from graceperiod.revocation.domain.records import PurchaseRecord


class Progress(StrEnum):
    """What the provider says happened to the commitment, whoever did it."""

    NONE = "none"
    PENDING = "pending"
    """Being undone (a Savings Plan in pending-return, an Azure return running)."""
    UNDONE = "undone"
    """Undone (returned, queued purchase deleted, reservation cancelled)."""


@dataclass(frozen=True)
class Offer:
    """The self-service undo the provider allows now: the permission it needs, and until when."""

    action: str
    until: datetime


@dataclass(frozen=True)
class Standing:
    """What the provider's own state (as last read) says about undoing one purchase."""

    known: bool
    """The provider's state was read; False when it could not be (the rest is then a guess)."""
    progress: Progress = Progress.NONE
    offer: Offer | None = None
    closed: Unavailability | None = None
    """Nothing can be undone, for this reason (an Azure savings plan, a reached refund cap, ...)."""
    nothing_to_undo: bool = False
    """Nothing was ever charged or it is over (AWS payment-failed, retired): closed, no reason needed."""
    support_cases: bool = False
    """A support refund request is a route for this product (AWS's policy window)."""
    might_self_serve: bool = False
    """The provider has an API undo for this kind of product (offered when the state is unknown)."""
    read_action: str | None = None
    """The permission reading the state needs (named when its absence leaves the state unknown)."""
    unknown_until: datetime | None = None
    """When the state is unknown: the latest an undo could still be possible (the link's expiry)."""
    refresh_at: datetime | None = None
    """When the state should be read again although nothing is pending (an Azure refund quote)."""


class ProviderRules(Protocol):
    def standing(self, record: PurchaseRecord, now: datetime) -> Standing:
        """The purchase's standing, from the provider state its record holds."""
        ...
