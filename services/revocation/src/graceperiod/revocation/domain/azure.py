"""What Azure says about a reservation, and which return (if any) that allows.

Microsoft's rules (docs/revocation.md, "Azure reservations", with their sources):

* A reservation can be returned (``calculateRefund``, then ``return``) at any time before it
  expires, for the unused share of its commitment.
* The total cancelled commitment is capped at 50,000 USD per billing profile or enrollment over
  a rolling 12 months, returns made outside Grace Period included: Azure's ``calculateRefund``
  tells the total used (``consumedRefundsTotal``) and the cap (``maxRefundLimit``), and a return
  that would exceed it is refused before Azure is asked.
* Savings plans (``Microsoft.BillingBenefits``) cannot be cancelled or refunded, and some
  products are not refundable (Azure's policy error ``SelfServiceRefundNotSupported``).
* There is no support-case route: Microsoft refunds reservations only through returns.

Pure: the reservation's last read (:class:`~.records.AzureState`) in, the standing out.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from graceperiod.contracts.enums import AzureBenefit
from graceperiod.contracts.revocation_views import Unavailability, UnavailableReason
from graceperiod.contracts.upstream import AzurePurchase, PurchaseExecuted
from graceperiod.revocation.domain.outcomes import iso, usd
from graceperiod.revocation.domain.providers import Offer, Progress, Standing
from graceperiod.revocation.domain.records import AzureReturn, AzureState, PurchaseRecord, RefundQuote

#: The Microsoft.Capacity actions Grace Period uses (``adapters/azure/rbac.py`` maps each SDK call to one).
READ_ORDERS = "Microsoft.Capacity/reservationOrders/read"
READ_RESERVATIONS = "Microsoft.Capacity/reservationOrders/reservations/read"
CALCULATE_REFUND = "Microsoft.Capacity/reservationOrders/calculateRefund/action"
RETURN = "Microsoft.Capacity/reservationOrders/return/action"

#: ``provisioningState`` values.
ACTIVE = "Succeeded"
CANCELLED = "Cancelled"
#: States a reservation never leaves (besides Cancelled, which means returned).
ENDED = frozenset({"Expired", "Failed", "Split", "Merged"})
#: ``displayProvisioningState`` while a return runs.
PROCESSING = "Processing"

NOT_REFUNDABLE_CODE = "SelfServiceRefundNotSupported"
CAP_CODE = "RefundLimitExceeded"
#: How often the refund estimate is quoted again (it shrinks as the term is used, and the cap
#: moves with other returns) while nothing else brings the purchase to a tick.
QUOTE_REFRESH = timedelta(days=1)

_SAVINGS_PLAN = Unavailability(
    reason=UnavailableReason.NOT_REFUNDABLE,
    message=(
        "Azure savings plans cannot be cancelled, exchanged or refunded (Microsoft's savings plan "
        "policy): there is nothing Grace Period can undo."
    ),
)


def billing_scope_id(purchase: PurchaseExecuted) -> str | None:
    scope = purchase.azure_product().billing_scope
    return scope.id if scope is not None else None


def quantity_to_return(purchase: AzurePurchase, state: AzureState) -> int:
    """The reservation's whole current quantity: a purchase is undone all at once."""
    return state.quantity if state.quantity else purchase.quantity


def horizon(purchase: PurchaseExecuted) -> datetime:
    """The latest a reservation bought at execution could still be returned: the end of its term."""
    return purchase.executed_at + timedelta(days=round(purchase.term_months * 365 / 12))


def cap_refusal(quote: RefundQuote, billing_scope: str | None) -> str | None:
    """Why Microsoft's cap does not allow this return (None: it fits)."""
    estimate = quote.estimate(billing_scope)
    if estimate.fits_cap and not any(e.code == CAP_CODE for e in quote.policy_errors):
        return None
    where = f" of billing scope {billing_scope}" if billing_scope else ""
    return (
        f"Microsoft's refund cap{where} would be exceeded: this return cancels {usd(quote.cancelled_usd)} of "
        f"commitment, {usd(quote.consumed_usd)} of the {usd(quote.limit_usd)} allowed over the last 12 months "
        f"is used already (returns made outside Grace Period count too), {usd(estimate.cap_left)} is left."
    )


def closure(purchase: PurchaseExecuted, state: AzureState, now: datetime) -> Unavailability | None:
    """Why nothing can be returned, from Azure's own answers (None: a return may be possible)."""
    if state.state in ENDED or (state.expires_at is not None and now >= state.expires_at):
        when = f" on {iso(state.expires_at)}" if state.expires_at else ""
        return Unavailability(
            reason=UnavailableReason.EXPIRED,
            message=f"The reservation ended{when} (Azure reports it {state.state}): nothing is left to return.",
        )
    quote = state.quote
    if quote is None:
        return None
    if any(e.code == NOT_REFUNDABLE_CODE for e in quote.policy_errors):
        return Unavailability(
            reason=UnavailableReason.NOT_REFUNDABLE,
            message=f"Microsoft does not refund this product ({purchase.product}): {quote.policy_errors[0].message}",
        )
    refused = cap_refusal(quote, billing_scope_id(purchase))
    if refused is not None:
        return Unavailability(reason=UnavailableReason.REFUND_CAP_REACHED, message=refused)
    return None


def progress(state: AzureState) -> Progress:
    if state.state == CANCELLED:
        return Progress.UNDONE
    if state.display_state == PROCESSING:
        return Progress.PENDING
    return Progress.NONE


class _AzureRules:
    """Azure's rules behind the providers' one interface."""

    def standing(self, record: PurchaseRecord, now: datetime) -> Standing:
        purchase, state = record.purchase, record.azure
        if purchase.azure_product().kind is AzureBenefit.SAVINGS_PLAN:
            return Standing(known=True, closed=_SAVINGS_PLAN)
        offer = None
        if state.known and state.state == ACTIVE and state.expires_at is not None:
            offer = Offer(RETURN, state.expires_at)
        refresh = state.quote.quoted_at + QUOTE_REFRESH if state.quote is not None else None
        return Standing(
            known=state.known,
            progress=progress(state),
            offer=offer,
            closed=closure(purchase, state, now) if state.known else None,
            might_self_serve=True,
            read_action=READ_RESERVATIONS,
            unknown_until=horizon(purchase),
            refresh_at=refresh,
        )


AZURE_RULES = _AzureRules()


def ours_took_effect(ours: AzureReturn | None, state: AzureState) -> bool:
    """A return of ours was posted and the reservation shows it (running or done)."""
    return ours is not None and ours.posted_at is not None and progress(state) is not Progress.NONE
