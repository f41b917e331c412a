"""Build what the pure rules read (a purchase's standing, windows and facts) from a product and
its provider's state, as the service builds them from a stored record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from graceperiod.contracts.enums import AwsService, CommitmentKind
from graceperiod.contracts.revocation_views import Windows
from graceperiod.contracts.upstream import PurchaseExecuted
from graceperiod.devstack.testkit.samples import azure_purchase_payload, sample_purchase
from graceperiod.revocation.domain.azure import AZURE_RULES
from graceperiod.revocation.domain.commitments import AWS_RULES
from graceperiod.revocation.domain.providers import Standing
from graceperiod.revocation.domain.records import AwsState, AzureState, PolicyError, PurchaseRecord, RefundQuote
from graceperiod.revocation.domain.windows import windows_from

EXECUTED = datetime(2026, 11, 3, 14, 22, tzinfo=UTC)
SUPPORT_WINDOW = timedelta(days=7)


def aws_record(kind: CommitmentKind, service: AwsService, aws: AwsState) -> PurchaseRecord:
    purchase = sample_purchase(executed_at=EXECUTED, kind=kind.value, service=service.value)
    return PurchaseRecord(purchase=purchase, windows=Windows(), aws=aws)


def aws_standing(kind: CommitmentKind, service: AwsService, aws: AwsState) -> Standing:
    return AWS_RULES.standing(aws_record(kind, service, aws), EXECUTED)


def aws_windows(
    kind: CommitmentKind, service: AwsService, aws: AwsState, support_window: timedelta = SUPPORT_WINDOW
) -> Windows:
    return windows_from(standing=aws_standing(kind, service, aws), executed_at=EXECUTED, support_window=support_window)


EXPIRES = EXECUTED + timedelta(days=365)


def quote(
    *,
    cancelled: str = "1000.00",
    consumed: str = "0",
    limit: str = "50000",
    errors: tuple[tuple[str, str], ...] = (),
    at: datetime = EXECUTED,
) -> RefundQuote:
    return RefundQuote(
        quantity=1,
        session_id=None if errors else "session-1",
        amount=Decimal(cancelled),
        currency="USD",
        cancelled_usd=Decimal(cancelled),
        consumed_usd=Decimal(consumed),
        limit_usd=Decimal(limit),
        policy_errors=[PolicyError(code=c, message=m) for c, m in errors],
        quoted_at=at,
    )


def azure_state(
    *, state: str = "Succeeded", display: str | None = None, expires_at: datetime = EXPIRES, **quoted: Any
) -> AzureState:
    return AzureState(
        known=True,
        state=state,
        display_state=display or state,
        quantity=1,
        expires_at=expires_at,
        read_at=EXECUTED,
        quote=quote(**quoted),
    )


def azure_record(state: AzureState, *, kind: str = "reservation", **kwargs: Any) -> PurchaseRecord:
    purchase = PurchaseExecuted.model_validate(azure_purchase_payload(executed_at=EXECUTED, kind=kind, **kwargs))
    record = PurchaseRecord(purchase=purchase, windows=Windows(), azure=state)
    windows = windows_from(
        standing=AZURE_RULES.standing(record, EXECUTED), executed_at=EXECUTED, support_window=SUPPORT_WINDOW
    )
    return record.model_copy(update={"windows": windows})
