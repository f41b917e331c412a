"""Microsoft's refund of an Azure reservation, as Grace Period shows it: the estimate from
``calculateRefund`` and the rolling cap it counts against.

Microsoft caps self-service refunds at 50,000 USD of cancelled commitment per billing profile
(or enrollment) over a rolling 12 months, counting returns made outside Grace Period too
(learn.microsoft.com, "Self-service exchanges and refunds for Azure Reservations"). The cap
figures come from Azure (``policyResult``), never from a constant here. Shared by the
revocation service (which enforces it), the notifier and the gateway (which show it).
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from graceperiod.contracts.base import Instant, Model, Money

#: The currency Microsoft counts the cap in (``pricingRefundAmount``, ``maxRefundLimit``).
CAP_CURRENCY = "USD"


class RefundEstimate(Model):
    """What returning a reservation would give back and use of the cap, as quoted at ``quoted_at``."""

    quantity: int = Field(ge=1)
    amount: Money
    """What comes back (``billingRefundAmount``), in ``currency``: the unused share of an
    upfront purchase, or what a monthly one paid beyond its use."""
    currency: str
    cancelled_commitment: Money
    """The commitment this return cancels (``pricingRefundAmount``, USD): what counts against the cap."""
    cap_limit: Money
    """``maxRefundLimit`` (USD) of the billing profile or enrollment."""
    cap_consumed: Money
    """``consumedRefundsTotal`` (USD): cancelled commitment in the last 12 months, returns made
    outside Grace Period included."""
    billing_scope_id: str | None = None
    quoted_at: Instant
    refused: str | None = None
    """Microsoft's policy error, when it would refuse this return (``code: message``)."""

    @property
    def cap_left(self) -> Decimal:
        """What is left of the cap before this return."""
        return max(self.cap_limit - self.cap_consumed, Decimal(0))

    @property
    def cap_left_after(self) -> Decimal:
        """What this return would leave of the cap (negative: it does not fit)."""
        return self.cap_limit - self.cap_consumed - self.cancelled_commitment

    @property
    def fits_cap(self) -> bool:
        """Whether this return fits in what is left of the cap (the rule the revocation service
        enforces before it asks Azure to return anything)."""
        return self.cap_left_after >= 0
