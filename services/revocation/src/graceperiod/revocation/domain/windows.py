"""Revocation windows of a purchase."""

from __future__ import annotations

from datetime import datetime, timedelta

from graceperiod.contracts.enums import AwsService, CommitmentKind
from graceperiod.contracts.revocation import Windows
from graceperiod.revocation.domain.commitments import self_service
from graceperiod.revocation.domain.records import AwsState


def compute_windows(
    *,
    executed_at: datetime,
    support_window: timedelta,
    self_service_until: datetime | None = None,
    self_service_known: bool = True,
) -> Windows:
    """The self-service window comes from AWS; the support window is product policy
    (``support_window`` after execution); ``closes_at`` is the later of the two."""
    support_case_until = executed_at + support_window
    candidates = [support_case_until] + ([self_service_until] if self_service_until else [])
    return Windows(
        self_service_until=self_service_until,
        self_service_known=self_service_known,
        support_case_until=support_case_until,
        closes_at=max(candidates),
    )


def windows_from_aws(
    *, kind: CommitmentKind, service: AwsService, executed_at: datetime, support_window: timedelta, aws: AwsState
) -> Windows:
    offer = self_service(kind, service, aws)
    return compute_windows(
        executed_at=executed_at,
        support_window=support_window,
        self_service_until=offer.until if offer else None,
        self_service_known=aws.known,
    )
