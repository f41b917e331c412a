"""What an email says. Rendering only: no sending, no clock reads."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from graceperiod.contracts.revocation import PurchaseRecorded


@dataclass(frozen=True, slots=True)
class Email:
    to: str
    subject: str
    text: str
    html: str | None
    message_id: str


def stable_message_id(kind: str, purchase_id: str, recipient: str) -> str:
    """The same email always gets the same Message-ID, so a resend after a crash is
    recognisable as a duplicate by the receiving mail system."""
    digest = hashlib.sha256(f"{kind}|{purchase_id}|{recipient}".encode()).hexdigest()[:24]
    return f"<{kind}.{digest}@graceperiod>"


def executed_subject(event: PurchaseRecorded, brand: str) -> str:
    p = event.purchase
    return f"[{brand}] Purchase executed: {p.provider}/{p.service} {p.sku} in {p.account.name} ({p.account.id})"


def executed_email(event: PurchaseRecorded, recipient: str, brand: str) -> Email:
    p = event.purchase
    text = "\n".join(
        [
            f"A commitment purchase was executed in account {p.account.name} ({p.account.id}).",
            "",
            f"Purchase: {p.purchase_id}",
            f"Service: {p.provider}/{p.service}",
            f"SKU: {p.sku}",
            f"Region: {p.commitment.region}",
            f"Term: {p.term_months} months, {p.payment_option}",
            f"Cost: ${p.cost.upfront} upfront / ${p.cost.monthly}/mo. Total over term: ${p.cost.total}",
            f"Requested by {p.requested_by.name} <{p.requested_by.email}>",
            f"Executed at {p.executed_at.isoformat()}",
        ]
    )
    return Email(
        to=recipient,
        subject=executed_subject(event, brand),
        text=text + "\n",
        html=None,
        message_id=stable_message_id("executed", p.purchase_id, recipient),
    )
