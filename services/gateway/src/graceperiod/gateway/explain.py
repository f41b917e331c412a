"""Words for people: what AWS will do, what refund to expect, what each phase means.

Shared by the dashboard and the email-link pages so both say the same thing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Final

from graceperiod.contracts.enums import CommitmentKind
from graceperiod.contracts.revocation import Phase, PurchaseView

#: The text the issue asks for, on closed purchases' disabled controls.
CLOSED_TOOLTIP: Final = "Revocation window closed. Contact AWS Support if you believe a refund is warranted."

#: Where to file a case by hand when the Support API cannot be used.
DEFAULT_MANUAL_ROUTE: Final = (
    "AWS console → Support Center → Create case → Account and billing → Billing, signed in to the purchasing account"
)

PHASE_LABELS: Final[dict[Phase, str]] = {
    Phase.SELF_SERVICE: "Revocable",
    Phase.SUPPORT_CASE: "Support case possible",
    Phase.SUPPORT_UNAVAILABLE: "Support unavailable",
    Phase.CLOSED: "Window closed",
    Phase.REVOCATION_PENDING: "Revocation pending",
    Phase.REVOKED: "Revoked",
    Phase.CASE_OPEN: "Support case open",
    Phase.CASE_RESOLVED: "Support case resolved",
    Phase.FAILED: "Failed",
}


def money(amount: object, currency: str) -> str:
    symbol = {"USD": "$", "EUR": "€", "GBP": "£"}.get(currency)
    return f"{symbol}{amount}" if symbol else f"{amount} {currency}"


def cost(amount: Decimal | None, currency: str = "USD") -> str:
    """A lease's cost to the cent (``$1,234.50``); '—' when unknown."""
    if amount is None:
        return "—"
    return money(f"{amount:,.2f}", currency)


def aws_will(view: PurchaseView) -> str:
    """What a self-service revocation asks AWS to do, and whether it can be undone."""
    kind = view.purchase.commitment.kind
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
    cost = view.purchase.cost
    upfront = money(cost.upfront, cost.currency)
    if cost.upfront > 0:
        return f"Expect the upfront payment of {upfront} back in full, and no further monthly charges."
    return "There is no upfront payment to refund; no further monthly charges are made."


def support_case_note(view: PurchaseView) -> str:
    until = view.windows.support_case_until
    when = f" until {iso(until)}" if until else ""
    return (
        "AWS offers no self-service undo for this purchase any more. A refund request to AWS Support "
        f"is possible{when}; AWS decides at its discretion. The support window is Grace Period's policy "
        "(7 days after execution by default), not an AWS rule."
    )


def iso(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "—"


def remaining(until: datetime | None, now: datetime) -> str:
    """'3 h 12 min' style; '' when past or unknown."""
    if until is None or until <= now:
        return ""
    left = until - now
    if left >= timedelta(days=2):
        return f"{left.days} days"
    hours, rest = divmod(int(left.total_seconds()), 3600)
    minutes = rest // 60
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"
