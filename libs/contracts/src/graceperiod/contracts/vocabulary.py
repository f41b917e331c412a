"""The words people read for Grace Period's names: phases, paths, products, states.

No wire value (``self-service-api``, ``email-link``, ``approval_email``, ``savings_plan``)
reaches a page or an email: the gateway and the notifier show :func:`label` of it (their
templates' ``label`` filter) and the sentences below. A value without a word (a new enum value
from a newer publisher) is shown humanised, never raw.

Honest states: nothing here calls a purchase revoked before AWS confirmed it. A Savings Plan
AWS is still returning is "Return in progress" and "AWS is processing the return".

An Azure purchase is told in Azure's words (:func:`provider_name`, :func:`state`,
:func:`route`, :func:`expected_refund`, :func:`refund_cap`): Microsoft's refund estimate from
``calculateRefund`` and the refund cap it uses, and never a support case, which Microsoft does
not offer for reservations.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any, Final

from graceperiod.contracts.enums import ActionPath, AwsService, CommitmentKind, ExecutionVia, Provider
from graceperiod.contracts.formatting import money, utc
from graceperiod.contracts.notifier import DeliveryStatus, EmailKind
from graceperiod.contracts.refunds import CAP_CURRENCY, RefundEstimate
from graceperiod.contracts.revocation import PurchaseChangeKind
from graceperiod.contracts.revocation_views import Phase, PurchaseSource, RevokedVia, SupportPlan, TimelineKind
from graceperiod.contracts.upstream import PurchaseExecuted

PHASES: Final[Mapping[str, str]] = {
    Phase.SELF_SERVICE: "Revocable",
    Phase.SUPPORT_CASE: "Refund request possible",
    Phase.SUPPORT_UNAVAILABLE: "Support unavailable",
    Phase.CLOSED: "Window closed",
    Phase.REVOCATION_PENDING: "Return in progress",
    Phase.REVOKED: "Revoked",
    Phase.CASE_OPEN: "Support case open",
    Phase.CASE_RESOLVED: "Support case resolved",
    Phase.FAILED: "Failed",
}

#: How a person reached an action ("… by Ada Admin from the dashboard").
PATHS: Final[Mapping[str, str]] = {
    ActionPath.DASHBOARD: "from the dashboard",
    ActionPath.EMAIL_LINK: "from an email link",
    ActionPath.API: "through the API",
    ActionPath.SYSTEM: "automatically",
}

KINDS: Final[Mapping[str, str]] = {
    CommitmentKind.SAVINGS_PLAN: "Savings Plan",
    CommitmentKind.RESERVED_INSTANCE: "Reserved Instance",
    CommitmentKind.RESERVED_NODE: "Reserved node",
}

SERVICES: Final[Mapping[str, str]] = {
    AwsService.EC2: "EC2",
    AwsService.SAVINGS_PLANS: "Savings Plans",
    AwsService.RDS: "RDS",
    AwsService.ELASTICACHE: "ElastiCache",
    AwsService.OPENSEARCH: "OpenSearch",
    AwsService.REDSHIFT: "Redshift",
    AwsService.MEMORYDB: "MemoryDB",
}

PROVIDERS: Final[Mapping[str, str]] = {Provider.AWS: "AWS", "azure": "Azure"}

#: How a purchase came to Grace Period (``execution.via``).
VIA: Final[Mapping[str, str]] = {
    ExecutionVia.APPROVAL_EMAIL: "Executed after approval by email",
    ExecutionVia.DIRECT_EXECUTE: "Executed directly",
    ExecutionVia.DISCOVERED: (
        "Found in your account by Grace Period: bought outside Grace Period (console, CLI, another tool)"
    ),
}

SOURCES: Final[Mapping[str, str]] = {
    PurchaseSource.EXECUTED: "Executed (announced by an executor)",
    PurchaseSource.DISCOVERED: "Discovered in the account",
}

#: The route Grace Period took; never "revoked via", since a support case revokes nothing.
ROUTES: Final[Mapping[str, str]] = {
    RevokedVia.SELF_SERVICE_API: "Undone through the AWS API (self-service)",
    RevokedVia.SUPPORT_CASE_API: "Refund requested through an AWS Support case",
}

TIMELINE: Final[Mapping[str, str]] = {
    TimelineKind.EXECUTED: "Executed",
    TimelineKind.RECORDED: "Recorded",
    TimelineKind.EMAILED: "Emailed",
    TimelineKind.REVOKE_REQUESTED: "Undo requested",
    TimelineKind.AWS_RESPONSE: "AWS answered",
    TimelineKind.CASE_OPENED: "Support case opened",
    TimelineKind.CASE_UPDATED: "Support case updated",
    TimelineKind.CASE_RESOLVED: "Support case resolved",
    TimelineKind.REVOKED: "Revoked",
    TimelineKind.FAILED: "Failed",
    TimelineKind.WINDOW_CLOSED: "Window closed",
}

CHANGES: Final[Mapping[str, str]] = {
    PurchaseChangeKind.REVOCATION_REQUESTED: "Return in progress",
    PurchaseChangeKind.REVOKED: "Revoked",
    PurchaseChangeKind.REVOCATION_FAILED: "Revocation failed",
    PurchaseChangeKind.SUPPORT_CASE_OPENED: "Support case opened",
    PurchaseChangeKind.SUPPORT_CASE_UPDATED: "Support case updated",
    PurchaseChangeKind.SUPPORT_CASE_RESOLVED: "Support case resolved",
    PurchaseChangeKind.WINDOW_CLOSED: "Window closed",
}

EMAILS: Final[Mapping[str, str]] = {
    EmailKind.PURCHASE_EXECUTED: "Purchase executed",
    EmailKind.REVOCATION_OUTCOME: "Outcome",
}

DELIVERIES: Final[Mapping[str, str]] = {
    DeliveryStatus.SENDING: "sending",
    DeliveryStatus.SENT: "sent",
    DeliveryStatus.REJECTED: "refused by the mail server",
}

SUPPORT_PLANS: Final[Mapping[str, str]] = {
    SupportPlan.API_ACCESS: "includes the AWS Support API",
    SupportPlan.NO_API_ACCESS: "no AWS Support API (Basic or Developer)",
    SupportPlan.UNKNOWN: "not checked yet",
}

#: A commitment's state as AWS reports it.
AWS_STATES: Final[Mapping[str, str]] = {
    "queued": "Queued (not started yet)",
    "payment-pending": "Payment pending",
    "active": "Active",
    "pending-return": "AWS is processing the return",
    "returned": "Returned",
    "queued-deleted": "Queued purchase deleted",
    "payment-failed": "Payment failed",
    "retired": "Retired (term over)",
}
#: An Azure reservation's ``provisioningState`` (the views' ``aws_state`` for an Azure purchase).
AZURE_STATES: Final[Mapping[str, str]] = {
    "Succeeded": "Active",
    "Cancelled": "Returned (cancelled by the return)",
    "Expired": "Expired (term over)",
    "Failed": "Purchase failed",
    "Split": "Split into other reservations",
    "Merged": "Merged into another reservation",
    "Creating": "Being created",
    "PendingBilling": "Billing pending",
}
#: AWS states of a commitment that has not started, so nothing was charged for it yet.
NOT_STARTED_STATES: Final = frozenset({"queued", "queued-deleted", "payment-pending"})

_TABLES: Final[dict[type, Mapping[str, str]]] = {
    Phase: PHASES,
    ActionPath: PATHS,
    CommitmentKind: KINDS,
    AwsService: SERVICES,
    Provider: PROVIDERS,
    ExecutionVia: VIA,
    PurchaseSource: SOURCES,
    RevokedVia: ROUTES,
    TimelineKind: TIMELINE,
    PurchaseChangeKind: CHANGES,
    EmailKind: EMAILS,
    DeliveryStatus: DELIVERIES,
    SupportPlan: SUPPORT_PLANS,
}


def humanised(value: str) -> str:
    """``pending-return`` → ``Pending return``: for a value no table names."""
    text = value.replace("_", " ").replace("-", " ").strip()
    return text[:1].upper() + text[1:]


def label(value: StrEnum | str | None) -> str:
    """The word for a wire value; ``—`` for None. Enum members are looked up in their own
    table (``revoked`` is a phase, a change and a timeline entry, with different words)."""
    if value is None:
        return "—"
    table = _TABLES.get(type(value)) if isinstance(value, StrEnum) else None
    text = str(value)
    return (table or {}).get(text) or humanised(text)


def aws_state(state: str | None) -> str:
    return AWS_STATES.get(state, humanised(state)) if state else "—"


def provider_name(purchase: PurchaseExecuted) -> str:
    """``AWS`` or ``Azure``: whose rules and API the purchase is under."""
    return label(purchase.provider)


def state(purchase: PurchaseExecuted, word: str | None) -> str:
    """The commitment's state as its provider reports it, in words."""
    if purchase.azure is not None:
        return AZURE_STATES.get(word, humanised(word)) if word else "—"
    return aws_state(word)


#: How an Azure purchase was undone (``revoked_via``): Microsoft's only route.
AZURE_ROUTE: Final = "Returned through Azure's Reservations API (calculateRefund, then return)"


def route(via: RevokedVia | None, provider: Provider = Provider.AWS) -> str:
    """The route Grace Period took, in the provider's words."""
    if via is RevokedVia.SELF_SERVICE_API and provider is Provider.AZURE:
        return AZURE_ROUTE
    return label(via)


def term(months: int) -> str:
    """``3 years``, ``1 year``, ``18 months``."""
    if months % 12 == 0:
        years = months // 12
        return "1 year" if years == 1 else f"{years} years"
    return "1 month" if months == 1 else f"{months} months"


def service_label(purchase: PurchaseExecuted) -> str:
    """The AWS service's word, or Azure's reserved resource type (``savings plan`` for an Azure
    savings plan)."""
    return label(purchase.service) if purchase.service is not None else purchase.product


def product(purchase: PurchaseExecuted) -> str:
    """``AWS EC2 m5.large`` / ``AWS Savings Plans Compute``: provider, service, SKU."""
    return f"{label(purchase.provider)} {service_label(purchase)} {purchase.sku}"


def kind(purchase: PurchaseExecuted) -> str:
    """``Savings Plan``, ``Reserved Instance``; for Azure ``Azure reservation`` or ``Azure savings plan``."""
    if purchase.commitment is not None:
        return label(purchase.commitment.kind)
    return "Azure " + humanised(purchase.azure_product().kind.value).lower()


def commitment(purchase: PurchaseExecuted) -> str:
    """``Savings Plan, 3 years, All Upfront``."""
    return f"{kind(purchase)}, {term(purchase.term_months)}, {purchase.payment_option}"


def account(purchase: PurchaseExecuted) -> str:
    return f"{purchase.account.name} ({purchase.account.id})"


def executed_how(purchase: PurchaseExecuted) -> str:
    """``Executed directly (grant: …), by …`` / ``Executed after approval by email``."""
    execution = purchase.execution
    how = label(execution.via)
    if execution.permission:
        how += f" (grant: {execution.permission})"
    if execution.executed_by is not None:
        how += f", by {execution.executed_by.name}"
    return how


def not_started(purchase: PurchaseExecuted, state: str | None) -> bool:
    """A queued purchase (or a Reserved Instance undone in self-service, which is always a
    queued one): nothing has been charged for it."""
    if (state or "").lower() in NOT_STARTED_STATES:
        return True
    return purchase.commitment is not None and purchase.commitment.kind is not CommitmentKind.SAVINGS_PLAN


def expected_refund(purchase: PurchaseExecuted, state: str | None, refund: RefundEstimate | None = None) -> str:
    """What undoing it (self-service) gives back: the upfront payment in full for a returned
    Savings Plan; nothing to refund for a queued purchase, which is never charged; for an Azure
    reservation, Microsoft's estimate (``refund``)."""
    if purchase.azure is not None:
        return azure_refund(refund)
    cost = purchase.cost
    if not_started(purchase, state):
        never = f"its {money(cost.upfront, cost.currency)} upfront payment is " if cost.upfront > 0 else "it is "
        return f"Nothing to refund: the queued purchase never starts, so {never}never charged."
    if cost.upfront > 0:
        return (
            f"Expected refund: {money(cost.upfront, cost.currency)}, the upfront payment in full "
            "(on the AWS bill within about a day), and no further monthly charges."
        )
    return "Expected refund: none (there was no upfront payment); no further monthly charges."


def azure_refund(refund: RefundEstimate | None) -> str:
    """Microsoft's quote for returning the reservation, as pages and emails say it."""
    if refund is None:
        return (
            "Expected refund: not quoted yet. Grace Period asks Azure for a quote (calculateRefund) "
            "before it returns anything."
        )
    return (
        f"Expected refund: {money(refund.amount, refund.currency)}, Microsoft's estimate (calculateRefund, "
        f"{utc(refund.quoted_at)}), paid back to the original payment method."
    )


def refund_cap(refund: RefundEstimate) -> str:
    """What the return uses of Microsoft's rolling refund cap, and what it leaves (or that it does
    not fit: :attr:`RefundEstimate.fits_cap` is the rule)."""
    usd = CAP_CURRENCY
    scope = f" by billing scope {refund.billing_scope_id}" if refund.billing_scope_id else ""
    used = (
        f"{money(refund.cap_consumed, usd)} of {money(refund.cap_limit, usd)} used in the last 12 months{scope} "
        "(returns made outside Grace Period count too); this return cancels "
        f"{money(refund.cancelled_commitment, usd)} of commitment"
    )
    if refund.fits_cap:
        return f"{used}, leaving {money(refund.cap_left_after, usd)}."
    return (
        f"{used}, but only {money(refund.cap_left, usd)} is left: it does not fit, so Grace Period will not ask for it."
    )


#: Azure has no support-case route; pages and emails say so instead of offering one.
NO_SUPPORT_CASE: Final = (
    "No support case applies: Microsoft refunds Azure reservations only through returns, within its refund cap."
)


def case_refund(purchase: PurchaseExecuted) -> str:
    """What a support case may give back: AWS decides case by case."""
    cost = purchase.cost
    if cost.upfront > 0:
        return (
            f"If AWS grants it, a refund of up to {money(cost.upfront, cost.currency)} (the upfront payment) "
            "and no further monthly charges; AWS decides case by case."
        )
    return "If AWS grants it, no further monthly charges; AWS decides case by case."


def who(name: str | None, email: str, path: ActionPath | None = None) -> str:
    """``Ada Admin from the dashboard``: a person and how they acted, without internal names."""
    person = name or email
    return f"{person} {label(path)}" if path is not None else person


#: ``{{ view.phase | label }}``, ``{{ p | product }}``, ...
JINJA_FILTERS: Final[dict[str, Callable[..., Any]]] = {
    "label": label,
    "aws_state": aws_state,
    "state_of": state,
    "term": term,
    "product": product,
    "commitment": commitment,
    "kind": kind,
    "account_label": account,
    "executed_how": executed_how,
}
