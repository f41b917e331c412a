"""Words for people: what AWS (or Azure) will do, what refund to expect, what each phase means.

Shared by the dashboard and the email-link pages so both say the same thing.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from graceperiod.contracts import vocabulary
from graceperiod.contracts.enums import CommitmentKind, Provider
from graceperiod.contracts.formatting import money, utc
from graceperiod.contracts.revocation import CommandReply
from graceperiod.contracts.revocation_views import Phase, PurchaseView
from graceperiod.contracts.rpc import CommandStatus

#: The text the issue asks for, on closed purchases' disabled controls.
CLOSED_TOOLTIP: Final = "Revocation window closed. Contact AWS Support if you believe a refund is warranted."

#: An Azure purchase's closed control: Microsoft has no support-case route to point to.
AZURE_CLOSED: Final = "Azure no longer allows returning this reservation."


def closed_tooltip(view: PurchaseView) -> str:
    """The closed control's text: AWS's support hint, or for Azure the reason it closed and that
    no support case applies."""
    if view.purchase.azure is None:
        return CLOSED_TOOLTIP
    reason = view.unavailable.message if view.unavailable is not None else AZURE_CLOSED
    return f"{reason} {vocabulary.NO_SUPPORT_CASE}"


def closed_for(provider: str | None) -> str:
    """What applies once the window has closed, when only the provider is known (an expired
    link's page, from its token): AWS's support hint, or for Azure that no support case applies."""
    if provider == Provider.AZURE:
        return f"{AZURE_CLOSED} {vocabulary.NO_SUPPORT_CASE}"
    return CLOSED_TOOLTIP


#: Where to file a case by hand when the Support API cannot be used.
DEFAULT_MANUAL_ROUTE: Final = (
    "AWS console → Support Center → Create case → Account and billing → Billing, signed in to the purchasing account"
)

#: The words for the phases (they live in the vocabulary module the notifier shares).
PHASE_LABELS: Final = vocabulary.PHASES


def cost(amount: Decimal | None, currency: str = "USD") -> str:
    """A lease's cost to the cent (``$1,234.50``); '—' when unknown."""
    if amount is None:
        return "—"
    return money(amount.quantize(Decimal("0.01")), currency)


def aws_will(view: PurchaseView) -> str:
    """What a self-service revocation asks AWS (or Azure) to do, and whether it can be undone."""
    if view.purchase.azure is not None:
        return (
            "Azure will return the reservation (Reservations API: calculateRefund, then return): Microsoft "
            "refunds what it quotes, within its refund cap. This cannot be undone."
        )
    kind = view.purchase.aws_product()[1].kind
    queued = (view.aws_state or "").lower() in {"queued", "queued-deleted", "payment-pending"}
    if kind is CommitmentKind.SAVINGS_PLAN and queued:
        return (
            "AWS will delete the queued Savings Plan (DeleteQueuedSavingsPlan). It never starts, "
            "and nothing is charged for it."
        )
    if kind is CommitmentKind.SAVINGS_PLAN:
        return (
            "AWS will return the Savings Plan (ReturnSavingsPlan): it goes to pending-return, then returned. "
            "This cannot be undone; the plan stops covering usage."
        )
    if kind is CommitmentKind.RESERVED_INSTANCE:
        return (
            "AWS will delete the queued Reserved Instance purchase (DeleteQueuedReservedInstances). "
            "It never starts, and nothing is charged for it."
        )
    return "AWS will cancel the queued purchase before it starts."


def refund_expectation(view: PurchaseView) -> str:
    """What undoing it gives back (the confirm and outcome pages; the revoked email says the same)."""
    return vocabulary.expected_refund(view.purchase, view.aws_state, view.refund)


def refund_cap(view: PurchaseView) -> str:
    """Azure: what the return uses of Microsoft's refund cap ('' when there is no quote, or for AWS)."""
    return vocabulary.refund_cap(view.refund) if view.refund is not None else ""


def support_case_note(view: PurchaseView) -> str:
    """Why a support case is the route left, and whose rule its window is."""
    windows = view.windows
    if windows.self_service_until is not None:
        before = f"AWS's self-service window for this purchase closed on {utc(windows.self_service_until)}."
    elif not windows.self_service_known:
        before = "AWS could not tell whether this purchase can be undone through its API."
    elif view.purchase.commitment is not None and view.purchase.commitment.kind is CommitmentKind.RESERVED_INSTANCE:
        before = "AWS offers no self-service undo for a Reserved Instance once it has started."
    else:
        before = f"AWS offers no self-service undo for a {vocabulary.kind(view.purchase)}."
    until = f" until {utc(windows.support_case_until)}" if windows.support_case_until else ""
    return (
        f"{before} A refund request to AWS Support is possible{until}; AWS decides case by case, at its "
        "discretion. The support window is Grace Period's policy (7 days after execution by default), not an AWS rule."
    )


def outcome_headline(what: str, reply: CommandReply, view: PurchaseView | None) -> str:
    """The outcome page's heading: where the purchase stands now, never "done" while AWS is
    still working on it."""
    phase = view.phase if view is not None else None
    if view is not None and view.purchase.azure is not None and phase in _AZURE_HEADLINES:
        return _AZURE_HEADLINES[phase]
    if phase in _HEADLINES:
        return _HEADLINES[phase]
    if phase is Phase.FAILED:
        return f"{what} failed"
    return f"{what}: in progress" if reply.status is CommandStatus.IN_PROGRESS else f"{what}: done"


_HEADLINES: Final = {
    Phase.REVOKED: "Revoked: AWS confirmed it",
    Phase.REVOCATION_PENDING: "Return requested: AWS is processing it",
    Phase.CASE_OPEN: "Support case filed",
    Phase.CASE_RESOLVED: "Support case resolved",
}
_AZURE_HEADLINES: Final = {
    Phase.REVOKED: "Revoked: Azure confirmed the return",
    Phase.REVOCATION_PENDING: "Return requested: Azure is processing it",
}
