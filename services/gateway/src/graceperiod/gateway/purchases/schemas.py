"""Bodies of the purchases API (the purchase views themselves are contract models)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from graceperiod.contracts.notifier import DeliveryView
from graceperiod.contracts.revocation_views import (
    CASE_BODY_MAX_LENGTH,
    CASE_SUBJECT_MAX_LENGTH,
    CaseOutcome,
    PurchaseView,
)
from graceperiod.gateway.web.schemas import RequestBody


class PurchasePage(BaseModel):
    items: list[PurchaseView]
    next_cursor: str | None = None


class SupportCaseSubmission(RequestBody):
    """The (edited) support-case draft to file; omitted or empty fields keep the drafted text."""

    subject: Annotated[str, Field(max_length=CASE_SUBJECT_MAX_LENGTH)] = ""
    body: Annotated[str, Field(max_length=CASE_BODY_MAX_LENGTH)] = ""


#: The JSON values of CaseOutcome (request bodies are strict: a Literal takes the string).
OutcomeValue = Literal["granted", "partially-granted", "denied"]
REFUND_PATTERN = r"^([0-9]{1,15}(\.[0-9]{1,2})?)?$"


class Resolution(RequestBody):
    """What AWS Support decided, as the person marking the case resolved records it (all optional)."""

    note: Annotated[str, Field(max_length=2000)] = ""
    outcome: OutcomeValue | None = None
    """What AWS decided (:class:`~graceperiod.contracts.revocation.CaseOutcome`)."""
    refund_amount: Annotated[str, StringConstraints(pattern=REFUND_PATTERN, max_length=18)] = ""
    """The refund granted, in the purchase's currency: a string such as "1200.50" ("": not recorded)."""

    def case_outcome(self) -> CaseOutcome | None:
        return CaseOutcome(self.outcome) if self.outcome else None

    def refund(self) -> Decimal | None:
        return Decimal(self.refund_amount) if self.refund_amount else None


class DeliveryList(BaseModel):
    items: list[DeliveryView]
