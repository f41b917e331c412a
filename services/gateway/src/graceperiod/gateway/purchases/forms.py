"""The dashboard's purchase forms. Every dashboard form carries its rendering's idempotency key.
(The rule for a support case's text is the contract's: ``contracts.revocation.valid_case_text``.)"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Final

from graceperiod.contracts.revocation_views import CaseOutcome

REFUND_RULE: Final = "Give the refund as an amount such as 1200.50 (digits and one decimal point), or leave it empty."


@dataclass
class RevokeForm:
    idempotency_key: str


@dataclass
class SupportCaseForm:
    idempotency_key: str
    subject: str
    body: str


@dataclass
class ResolveForm:
    idempotency_key: str
    note: str = ""
    outcome: str = ""
    refund_amount: str = ""

    def case_outcome(self) -> CaseOutcome | None:
        """The outcome chosen (None: not recorded; a value not offered reads as not recorded)."""
        return CaseOutcome(self.outcome) if self.outcome in set(CaseOutcome) else None

    def refund(self) -> Decimal | None:
        """The refund typed, or None when left empty; ValueError with :data:`REFUND_RULE`."""
        text = self.refund_amount.strip().replace(",", "")
        if not text:
            return None
        try:
            amount = Decimal(text)
            whole_cents = amount.is_finite() and amount >= 0 and amount == amount.quantize(Decimal("0.01"))
        except InvalidOperation:
            whole_cents = False
        if len(text) > 20 or not whole_cents:
            raise ValueError(REFUND_RULE)
        return amount
