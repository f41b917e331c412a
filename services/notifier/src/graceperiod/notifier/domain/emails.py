"""What an email says: subjects and the facts its templates show. No sending, no clock reads,
no templates (``graceperiod.notifier.rendering`` turns these into HTML and text)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime

from graceperiod.contracts.enums import AzureBenefit, Provider
from graceperiod.contracts.formatting import cost_with_total, money, utc
from graceperiod.contracts.notifier import EmailKind
from graceperiod.contracts.refunds import RefundEstimate
from graceperiod.contracts.revocation import PurchaseChangeKind
from graceperiod.contracts.revocation_views import ActorRef, Audit
from graceperiod.contracts.upstream import NOBODY_REQUESTED, Person, PurchaseExecuted
from graceperiod.contracts.vocabulary import (
    account,
    azure_refund,
    executed_how,
    label,
    refund_cap,
    route,
    service_label,
    term,
)
from graceperiod.contracts.wait_list import PoolRunningLow
from graceperiod.notifier.domain.windows import WindowNotice


@dataclass(frozen=True, slots=True)
class Email:
    to: str
    subject: str
    text: str
    html: str | None
    message_id: str
    headers: tuple[tuple[str, str], ...] = ()


def stable_message_id(kind: str, purchase_id: str, recipient: str, occurrence: str = "") -> str:
    """The same email always gets the same Message-ID, so a resend after a crash is
    recognisable as a duplicate by the receiving mail system."""
    digest = hashlib.sha256(f"{kind}|{purchase_id}|{recipient}|{occurrence}".encode()).hexdigest()[:24]
    return f"<{kind}.{digest}@graceperiod>"


_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def one_line(text: str) -> str:
    """Upstream strings reach mail headers: no line breaks (header injection) or control characters."""
    return _CONTROL.sub(" ", text).strip()


def person(p: Person | ActorRef) -> str:
    return f"{p.name} <{p.email}>" if p.name else p.email


def purchase_label(purchase: PurchaseExecuted) -> str:
    """The subject's ``<provider>/<service> <sku> in <account>`` (the brief's wording; Azure's
    reserved resource type stands for the service)."""
    return f"{purchase.provider}/{purchase.product} {purchase.sku} in {account(purchase)}"


def commitment_label(purchase: PurchaseExecuted) -> str:
    """What was bought, with the provider's ids: ``Savings Plan sp-...``, ``Reservation <id>
    (order <id>), quantity 2``."""
    if purchase.azure is not None:
        azure = purchase.azure
        if azure.kind is AzureBenefit.SAVINGS_PLAN:
            return f"Azure savings plan {azure.benefit_id} (order {azure.order_id})"
        return f"Reservation {azure.benefit_id} (order {azure.order_id}), quantity {azure.quantity}"
    return f"{label(purchase.aws_product()[1].kind)} {purchase.commitment_id}"


@dataclass(frozen=True, slots=True)
class PurchaseFacts:
    """The purchase summary block both kinds of email show."""

    purchase_id: str
    account: str
    service: str
    sku: str
    region: str
    commitment: str
    term: str
    payment: str
    cost: str
    requester: str
    requested_by: str
    execution: str
    executed_at: str
    found: bool = False
    """Grace Period found the purchase in the account (bought outside Grace Period)."""
    region_label: str = "Region"
    contact_of: str = "the AWS account"
    """Whose contact the recipient is, in the footer: the AWS account or the Azure tenant."""
    refund: tuple[tuple[str, str], ...] = ()
    """Azure: Microsoft's refund estimate and what the return uses of its cap (label, value rows)."""

    @classmethod
    def of(cls, purchase: PurchaseExecuted, refund: RefundEstimate | None = None) -> PurchaseFacts:
        """``refund``: Azure's quote the event carries (the rows are left out without one)."""
        requester = person(purchase.requested_by) if purchase.requested_by else NOBODY_REQUESTED
        azure = purchase.azure is not None
        return cls(
            purchase_id=purchase.purchase_id,
            account=account(purchase),
            service=f"{label(purchase.provider)} {service_label(purchase)}",
            sku=purchase.sku,
            region=purchase.location or "shared (no region)",
            commitment=commitment_label(purchase),
            term=term(purchase.term_months),
            payment=purchase.payment_option,
            cost=cost_with_total(purchase.cost),
            requester=requester,
            requested_by=f"Requested by {requester}",
            execution=executed_how(purchase),
            executed_at=utc(purchase.executed_at),
            found=purchase.discovered,
            region_label="Location" if azure else "Region",
            contact_of="the Azure tenant" if azure else "the AWS account",
            refund=refund_rows(refund) if azure else (),
        )


def refund_rows(refund: RefundEstimate | None) -> tuple[tuple[str, str], ...]:
    """Microsoft's quote as rows: what comes back, what the return uses of the cap, and Microsoft's
    reason when it would refuse the return."""
    if refund is None:
        return ()
    rows = [("Refund", azure_refund(refund)), ("Refund cap", refund_cap(refund))]
    if refund.refused:
        rows.append(("Microsoft says", refund.refused))
    return tuple(rows)


@dataclass(frozen=True, slots=True)
class ExecutedEmail:
    """Everything the executed-purchase templates show to one recipient."""

    brand: str
    subject: str
    facts: PurchaseFacts
    notice: WindowNotice
    revoke_url: str | None
    dashboard_url: str
    recipient: str
    kind: EmailKind = EmailKind.PURCHASE_EXECUTED
    now: datetime | None = None
    """When it is sent: the deadline's countdown counts from here."""

    @property
    def preheader(self) -> str:
        return f"{self.facts.cost}. {self.notice.line}"


def executed_subject(purchase: PurchaseExecuted, brand: str) -> str:
    headline = "Purchase found in your account" if purchase.discovered else "Purchase executed"
    return one_line(f"[{brand}] {headline}: {purchase_label(purchase)}")


# --- Revocation outcome ---------------------------------------------------------------------

#: Changes that are announced by email, with the subject's verb phrase.
OUTCOME_HEADLINES: dict[PurchaseChangeKind, str] = {
    PurchaseChangeKind.REVOKED: "Purchase revoked",
    PurchaseChangeKind.REVOCATION_FAILED: "Revocation failed",
    PurchaseChangeKind.SUPPORT_CASE_OPENED: "Support case opened",
    PurchaseChangeKind.SUPPORT_CASE_RESOLVED: "Support case resolved",
}


def announces(change: PurchaseChangeKind) -> bool:
    return change in OUTCOME_HEADLINES


def outcome_subject(change: PurchaseChangeKind, purchase: PurchaseExecuted, brand: str) -> str:
    return one_line(f"[{brand}] {OUTCOME_HEADLINES[change]}: {purchase_label(purchase)}")


@dataclass(frozen=True, slots=True)
class OutcomeEmail:
    """Everything a revocation-outcome template shows to one recipient."""

    brand: str
    subject: str
    headline: str
    change: PurchaseChangeKind
    what_happened: str
    details: list[tuple[str, str]] = field(default_factory=list)
    next_step: str = ""
    facts: PurchaseFacts | None = None
    dashboard_url: str = ""
    recipient: str = ""
    kind: EmailKind = EmailKind.REVOCATION_OUTCOME

    @property
    def preheader(self) -> str:
        return self.what_happened


def outcome_story(
    change: PurchaseChangeKind,
    *,
    summary: str,
    audit: Audit,
    actor: ActorRef | None,
    occurred_at: str,
    notice: WindowNotice,
    refund: str = "",
    currency: str = "USD",
    provider: Provider = Provider.AWS,
) -> tuple[str, list[tuple[str, str]], str]:
    """(what happened, detail rows, what happens next) for one announced change; ``refund``
    says what the undo gives back (for a revoked purchase)."""
    details: list[tuple[str, str]] = [("Summary", summary)]
    if actor is not None:
        details.append(("By", f"{person(actor)} {label(actor.path)}"))
    if change is PurchaseChangeKind.REVOKED:
        details.append(("Revoked at", utc(audit.revoked_at) if audit.revoked_at else occurred_at))
        if audit.revoked_via is not None:
            details.append(("Route", route(audit.revoked_via, provider)))
        if refund:
            details.append(("Refund", refund))
        return _REVOKED[provider], details, _REVOKED_NEXT[provider]
    if change is PurchaseChangeKind.REVOCATION_FAILED:
        details.append(("Failed at", occurred_at))
        if audit.failure:
            details.append(("Reason", audit.failure))
        return ("The attempt to revoke the purchase failed; the purchase is unchanged.", details, notice.line)
    # AWS shows people the case by its display id; the case id is what its API returns first.
    case = audit.support_case_display_id or audit.support_case_id or "(id not recorded)"
    details.append(("Support case", case))
    if change is PurchaseChangeKind.SUPPORT_CASE_OPENED:
        details.append(("Opened at", occurred_at))
        return (
            f"An AWS Support case ({case}) was opened to ask AWS to refund the purchase.",
            details,
            "AWS Support decides on refund requests case by case. You will get another email when the case "
            "is resolved.",
        )
    details.append(("Resolved at", occurred_at))
    if audit.support_case_status:
        details.append(("Case status", audit.support_case_status))
    return resolved_story(case, audit, details, currency)


#: What a confirmed undo was, and what follows, in each provider's words.
_REVOKED: dict[Provider, str] = {
    Provider.AWS: "The purchase was revoked: AWS confirmed it.",
    Provider.AZURE: "The reservation was returned: Azure confirmed it.",
}
_REVOKED_NEXT: dict[Provider, str] = {
    Provider.AWS: (
        "Nothing else to do. AWS refunds what the product's rules allow; the dashboard keeps the audit trail."
    ),
    Provider.AZURE: (
        "Nothing else to do. Microsoft refunds what it quoted to the original payment method; the dashboard "
        "keeps the audit trail."
    ),
}


def resolved_story(
    case: str, audit: Audit, details: list[tuple[str, str]], currency: str
) -> tuple[str, list[tuple[str, str]], str]:
    """A resolved case, with what AWS decided when the person who resolved it recorded it."""
    outcome = audit.support_case_outcome
    if outcome is not None:
        details.append(("Outcome", outcome.words.capitalize()))
    if audit.support_case_refund is not None:
        details.append(("Refund", money(audit.support_case_refund, currency)))
    if audit.support_case_resolution_note:
        details.append(("Resolution note", audit.support_case_resolution_note))
    what = f"The AWS Support case ({case}) about this purchase was resolved"
    if outcome is None:
        return (
            f"{what}.",
            details,
            "Read AWS's answer in the case (AWS Support Center) to see whether the refund was granted.",
        )
    return f"{what}: {outcome.words}.", details, "Nothing else to do; the dashboard keeps the audit trail."


# --- The sandbox pool runs low ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PoolAlertEmail:
    """What the low-pool alert shows (one email per alert and recipient)."""

    brand: str
    subject: str
    headline: str
    details: list[tuple[str, str]]
    next_step: str
    dashboard_url: str
    recipient: str = ""
    kind: EmailKind = EmailKind.POOL_RUNNING_LOW

    @property
    def preheader(self) -> str:
        return self.headline


def pool_alert_email(alert: PoolRunningLow, *, brand: str, dashboard_url: str) -> PoolAlertEmail:
    available = f"{alert.available} account{'s' if alert.available != 1 else ''} Available"
    details = [
        ("Available", str(alert.available)),
        ("Alert threshold", f"fewer than {alert.threshold}"),
        ("In Cooldown", str(alert.cooling)),
        ("Next release", utc(alert.next_release_at) if alert.next_release_at else "none scheduled"),
        ("Leases waiting", str(alert.waiting)),
        ("Noticed at", utc(alert.occurred_at)),
    ]
    return PoolAlertEmail(
        brand=brand,
        subject=one_line(f"[{brand}] Sandbox pool running low: {available}"),
        headline=f"The sandbox account pool is running low: {available}",
        details=details,
        next_step=(
            "Register more sandbox accounts, or release cooling accounts early if their billing can wait. "
            f"You get at most one such email every {alert.period_hours:g} hours."
        ),
        dashboard_url=dashboard_url,
    )
