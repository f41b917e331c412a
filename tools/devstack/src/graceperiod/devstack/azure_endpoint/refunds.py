"""What returning part of a reservation is worth, and whether Microsoft's policy allows it.

The cancelled commitment is the unused share of the reservation's cost over its term (a
3-year reservation at 100 USD a month refunded in month 12 cancels 2,400 USD); it counts
against the billing scope's 50,000 USD pool for 365 days. Upfront purchases get that share
back; monthly ones stop paying and get back what was paid beyond use.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from graceperiod.devstack.azure_endpoint.state import FINAL_STATES, Reservation, ReservationOrder

TERM_MONTHS = {"P1Y": 12, "P3Y": 36, "P5Y": 60}
CENT = Decimal("0.01")


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Quote:
    quantity: int
    #: Cancelled commitment in USD (``pricingRefundAmount``): what counts against the cap.
    cancelled_usd: Decimal
    #: Money back, in USD before conversion to the billing currency.
    refund_usd: Decimal
    paid_usd: Decimal
    used_usd: Decimal
    remaining_commitment_usd: Decimal
    completed_transactions: int
    total_transactions: int


@dataclass(frozen=True)
class PolicyError:
    code: str
    message: str


def _elapsed_fraction(order: ReservationOrder, now: datetime) -> Decimal:
    term = (order.expires_at - order.purchased_at).total_seconds()
    elapsed = (now - order.purchased_at).total_seconds()
    return min(max(Decimal(str(elapsed)) / Decimal(str(term)), Decimal(0)), Decimal(1))


def quote(order: ReservationOrder, quantity: int, now: datetime) -> Quote:
    share = order.total_usd * quantity / order.original_quantity
    elapsed = _elapsed_fraction(order, now)
    used = share * elapsed
    cancelled = share - used
    if order.billing_plan == "Monthly":
        months = TERM_MONTHS.get(order.term, 12)
        completed = min(months, int(elapsed * months) + 1)
        paid = share * completed / months
        refund = max(paid - used, Decimal(0))
    else:
        months, completed, paid, refund = 1, 1, share, cancelled
    return Quote(
        quantity=quantity,
        cancelled_usd=money(cancelled),
        refund_usd=money(refund),
        paid_usd=money(paid),
        used_usd=money(used),
        remaining_commitment_usd=money(share - paid),
        completed_transactions=completed,
        total_transactions=months,
    )


def policy_errors(
    order: ReservationOrder,
    reservation: Reservation,
    *,
    in_flight: bool,
    cancelled_usd: Decimal,
    consumed_usd: Decimal,
    limit_usd: Decimal,
) -> list[PolicyError]:
    """Why Microsoft would refuse this return (empty: it would accept it)."""
    errors: list[PolicyError] = []
    if not order.refundable:
        errors.append(
            PolicyError("SelfServiceRefundNotSupported", f"Reservation order {order.id} is not eligible for refund.")
        )
    if reservation.state in FINAL_STATES or order.state in FINAL_STATES:
        errors.append(
            PolicyError(
                "OperationCannotBePerformedInCurrentState",
                f"Reservation {reservation.id} is in state {reservation.state} and cannot be returned.",
            )
        )
    elif in_flight:
        errors.append(
            PolicyError(
                "OperationCannotBePerformedInCurrentState",
                f"A return of reservation order {order.id} is already in progress.",
            )
        )
    if consumed_usd + cancelled_usd > limit_usd:
        errors.append(
            PolicyError(
                "RefundLimitExceeded",
                f"The refund of {cancelled_usd} USD exceeds the remaining refund limit of "
                f"{max(limit_usd - consumed_usd, Decimal(0))} USD for this billing scope.",
            )
        )
    return errors
