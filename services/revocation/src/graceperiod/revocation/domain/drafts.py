"""The pre-filled AWS Support refund request."""

from __future__ import annotations

from graceperiod.contracts.enums import CommitmentKind
from graceperiod.contracts.revocation_views import SupportCaseDraft, case_reference
from graceperiod.contracts.upstream import PurchaseExecuted

RESERVED_INSTANCES_CATEGORY = "reserved-instances"
FALLBACK_CATEGORY = "other-billing-questions"

_LABELS = {
    CommitmentKind.RESERVED_INSTANCE: "Reserved Instance",
    CommitmentKind.SAVINGS_PLAN: "Savings Plan",
    CommitmentKind.RESERVED_NODE: "reserved node",
}


def preferred_category(kind: CommitmentKind) -> str:
    """``reserved-instances`` for RIs and reserved nodes, else ``other-billing-questions``
    (the codes are checked against DescribeServices when the case is filed)."""
    return FALLBACK_CATEGORY if kind is CommitmentKind.SAVINGS_PLAN else RESERVED_INSTANCES_CATEGORY


#: Why no support case is drafted or filed for an Azure purchase.
NO_SUPPORT_CASES = (
    "Support-case refund requests apply to AWS purchases only: Microsoft refunds Azure reservations "
    "through self-service returns (within its refund cap), and Azure savings plans not at all."
)


def category_for(kind: CommitmentKind, known: list[str] | None) -> str:
    """The category to draft with: the preferred one, unless the account's Support API is
    known not to offer it."""
    preferred = preferred_category(kind)
    return preferred if not known or preferred in known else FALLBACK_CATEGORY


def draft_case(
    purchase: PurchaseExecuted,
    *,
    category_code: str | None = None,
    severity_code: str = "normal",
) -> SupportCaseDraft:
    service, commitment = purchase.aws_product()
    label = _LABELS[commitment.kind]
    cost = purchase.cost
    executed = purchase.executed_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    who = purchase.requested_by
    requester = f"{who.name} <{who.email}>" if who else "nobody through Grace Period (found in the account)"
    subject = f"{case_reference(purchase.purchase_id)} Refund request: {label} {commitment.id} purchased in error"
    body = "\n".join(
        [
            "Hello AWS Billing team,",
            "",
            f"We purchased the following {label} in error and ask you to cancel it and refund the charges.",
            "",
            f"Account: {purchase.account.id} ({purchase.account.name})",
            f"Commitment: {label} {commitment.id} ({service})",
            f"Region: {commitment.region}",
            f"Offering: {purchase.sku}, {purchase.term_months} months, {purchase.payment_option}",
            f"Purchased at: {executed} (UTC)",
            f"Amounts: {cost.currency} {cost.upfront} upfront, {cost.currency} {cost.monthly} per month, "
            f"{cost.currency} {cost.total} over the term",
            f"Requested by: {requester}",
            "",
            "Reason: the purchase was made in error and is not needed. We understand that a refund "
            "is at AWS's discretion.",
            "",
            f"Reference: Grace Period purchase {purchase.purchase_id}",
        ]
    )
    return SupportCaseDraft(
        purchase_id=purchase.purchase_id,
        account_id=purchase.account.id,
        subject=subject,
        subject_prefix=case_reference(purchase.purchase_id),
        body=body,
        category_code=category_code or preferred_category(commitment.kind),
        severity_code=severity_code,
    )
