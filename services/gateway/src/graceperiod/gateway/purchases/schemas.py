"""Bodies of the purchases API (the purchase views themselves are contract models)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from graceperiod.contracts.notifier import DeliveryView
from graceperiod.contracts.revocation import CASE_BODY_MAX_LENGTH, CASE_SUBJECT_MAX_LENGTH, PurchaseView
from graceperiod.gateway.web.schemas import RequestBody


class PurchasePage(BaseModel):
    items: list[PurchaseView]
    next_cursor: str | None = None


class SupportCaseSubmission(RequestBody):
    """The (edited) support-case draft to file; omitted or empty fields keep the drafted text."""

    subject: Annotated[str, Field(max_length=CASE_SUBJECT_MAX_LENGTH)] = ""
    body: Annotated[str, Field(max_length=CASE_BODY_MAX_LENGTH)] = ""


class Resolution(RequestBody):
    note: Annotated[str, Field(max_length=2000)] = ""


class DeliveryList(BaseModel):
    items: list[DeliveryView]
