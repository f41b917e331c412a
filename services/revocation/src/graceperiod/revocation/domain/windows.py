"""Revocation windows of a purchase, from its provider's standing and the product policy."""

from __future__ import annotations

from datetime import datetime, timedelta

from graceperiod.contracts.revocation_views import Windows
from graceperiod.revocation.domain.providers import Standing


def compute_windows(
    *,
    executed_at: datetime,
    support_window: timedelta | None,
    self_service_until: datetime | None = None,
    self_service_known: bool = True,
    unknown_until: datetime | None = None,
) -> Windows:
    """The self-service window comes from the provider; the support window is product policy
    (``support_window`` after execution; None where the provider has no support route, as for
    Azure); ``closes_at`` is the latest of them (or, when the provider could not be read and has
    no support route, the latest an undo could still be possible)."""
    support_case_until = executed_at + support_window if support_window is not None else None
    candidates = [t for t in (support_case_until, self_service_until) if t is not None]
    if not candidates and not self_service_known and unknown_until is not None:
        candidates = [unknown_until]
    return Windows(
        self_service_until=self_service_until,
        self_service_known=self_service_known,
        support_case_until=support_case_until,
        closes_at=max(candidates) if candidates else None,
    )


def windows_from(*, standing: Standing, executed_at: datetime, support_window: timedelta) -> Windows:
    return compute_windows(
        executed_at=executed_at,
        support_window=support_window if standing.support_cases else None,
        self_service_until=standing.offer.until if standing.offer else None,
        self_service_known=standing.known,
        unknown_until=standing.unknown_until,
    )
