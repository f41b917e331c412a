"""Revocation windows of a purchase."""

from __future__ import annotations

from datetime import datetime, timedelta

from graceperiod.contracts.revocation import Phase, Windows


def compute_windows(
    *,
    executed_at: datetime,
    support_window: timedelta,
    self_service_until: datetime | None = None,
    self_service_known: bool = True,
) -> Windows:
    support_case_until = executed_at + support_window
    candidates = [support_case_until] + ([self_service_until] if self_service_until else [])
    return Windows(
        self_service_until=self_service_until,
        self_service_known=self_service_known,
        support_case_until=support_case_until,
        closes_at=max(candidates),
    )


def phase_at(windows: Windows, now: datetime) -> Phase:
    if windows.self_service_until is not None and now < windows.self_service_until:
        return Phase.SELF_SERVICE
    if windows.support_case_until is not None and now < windows.support_case_until:
        return Phase.SUPPORT_CASE
    return Phase.CLOSED
