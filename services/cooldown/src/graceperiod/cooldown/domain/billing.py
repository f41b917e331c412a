"""The lease's cost: its billing window, the Cost Explorer reads that follow it, and when the
costs count as settled. Pure: the clock is passed in, reads are made by the service.

* **Window.** From the lease's start (its acquisition here; for a lease acquired elsewhere,
  when the account last became Available) to its termination, in whole UTC days with an
  exclusive end, as Cost Explorer's DAILY ``TimePeriod`` takes them: a day two leases shared
  is counted in both windows (attribution is by day).
* **Reads.** The first as soon as the lease ended (the cost at termination, unless the lease
  manager gave it); then, in Cooldown, the final one: fixed mode at the deadline; settled mode
  every ``read_interval_hours`` from ``quiet_hours`` before the earliest release (a read earlier
  than that could not release the account sooner), never after the latest.
* **Settled.** The cost has not changed for ``quiet_hours``: a read at least that long after
  the read that first saw the current figure, at or after the earliest release, still finds it.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum

from graceperiod.contracts.cooldown import CooldownMode, CooldownPolicy
from graceperiod.contracts.lease_costs import (
    COST_EXPLORER_REQUEST_PRICE_USD,
    BillingWindow,
    CostAmounts,
    CostTracking,
    LeaseCost,
    RequestEstimate,
    SettledMode,
)
from graceperiod.runtime.mongo import Record

DAY = timedelta(days=1)


def _midnight(instant: datetime) -> datetime:
    return datetime.combine(instant.astimezone(UTC).date(), time(), tzinfo=UTC)


class CostWindow(Record):
    """A billing window as stored: midnights (UTC), ``end`` exclusive."""

    start: datetime
    end: datetime

    @classmethod
    def covering(cls, start: datetime | None, end: datetime) -> CostWindow:
        """The whole days from ``start``'s day to ``end``'s day included."""
        last = _midnight(end)
        first = _midnight(start) if start is not None and start <= end else last
        return cls(start=first, end=last + DAY)

    def view(self) -> BillingWindow:
        return BillingWindow(start=self.start.date(), end=self.end.date())


class SettleTerms(Record):
    """How a settled-mode Cooldown ends, fixed when the account enters it (a later policy
    change does not move it): released once settled, not before ``earliest``; the account's
    ``cooldown_until`` is the latest release."""

    earliest: datetime
    quiet_hours: float
    read_interval_hours: float

    @property
    def quiet(self) -> timedelta:
        return timedelta(hours=self.quiet_hours)

    @property
    def interval(self) -> timedelta:
        return timedelta(hours=self.read_interval_hours)

    @classmethod
    def of(cls, mode: SettledMode, *, completed_at: datetime) -> SettleTerms:
        return cls(
            earliest=completed_at + timedelta(hours=mode.min_hours),
            quiet_hours=mode.quiet_hours,
            read_interval_hours=mode.read_interval_hours,
        )

    def first_useful_read(self) -> datetime:
        """A read before this could not release the account any sooner than later reads."""
        return self.earliest - self.quiet


class LeaseBilling(Record):
    """What the service knows of a lease's cost (on the account from the lease's end until
    the account is acquired again)."""

    lease_id: str
    window: CostWindow
    at_termination: LeaseCost | None = None
    latest: LeaseCost | None = None
    changed_at: datetime | None = None
    """When the current figure was first seen (its read)."""
    still_moving: bool | None = None
    reads: int = 0
    """Read attempts claimed so far (the next claim is ``reads + 1``)."""
    next_read_at: datetime | None = None
    last_problem: str | None = None
    released: bool = False
    final_cost: LeaseCost | None = None
    unknown_reason: str | None = None

    def view(self) -> CostTracking:
        return CostTracking(
            window=self.window.view(),
            at_termination=self.at_termination,
            latest=self.latest,
            changed_at=self.changed_at,
            still_moving=self.still_moving,
            reads=self.reads,
            next_read_at=self.next_read_at,
            last_problem=self.last_problem,
            released=self.released,
            final_cost=self.final_cost,
            unknown_reason=self.unknown_reason,
        )


class ReadFailure(StrEnum):
    THROTTLED = "throttled"
    DENIED = "denied"
    UNAVAILABLE = "unavailable"
    BUDGET = "budget"
    """The pool's daily request budget was used up: no request was made."""


class FailedRead(Record):
    failure: ReadFailure
    reason: str


ReadOutcome = LeaseCost | FailedRead


def same_figures(a: CostAmounts, b: CostAmounts) -> bool:
    return (a.currency, a.unblended, a.amortized) == (b.currency, b.unblended, b.amortized)


def late_difference(final: LeaseCost | None, at_termination: LeaseCost | None) -> CostAmounts | None:
    """What arrived after the lease ended (None unless both are known, in one currency)."""
    if final is None or at_termination is None or final.currency != at_termination.currency:
        return None
    amortized = None
    if final.amortized is not None and at_termination.amortized is not None:
        amortized = final.amortized - at_termination.amortized
    return CostAmounts(
        currency=final.currency, unblended=final.unblended - at_termination.unblended, amortized=amortized
    )


def start_billing(
    *,
    lease_id: str,
    started: datetime | None,
    terminated_at: datetime,
    given: LeaseCost | None,
    read: bool,
    now: datetime,
) -> LeaseBilling | None:
    """The billing of a lease that just ended: the cost the lease manager gave (if any) is the
    cost at termination, else it is read as soon as possible (when reads are configured)."""
    if given is None and not read:
        return None
    window = CostWindow.covering(started, terminated_at)
    if given is not None:
        return LeaseBilling(
            lease_id=lease_id, window=window, at_termination=given, latest=given, changed_at=given.read_at
        )
    return LeaseBilling(lease_id=lease_id, window=window, next_read_at=now)


def first_cooldown_read(
    billing: LeaseBilling | None, *, mode: CooldownMode, terms: SettleTerms | None, until: datetime, now: datetime
) -> datetime | None:
    """When the first read of the Cooldown is due (None: no reads, the account is released at
    ``until`` with its cost unknown)."""
    if billing is None or billing.released:
        return None
    if billing.latest is None and billing.next_read_at is not None:
        return min(billing.next_read_at, until)  # the cost at termination is still to be read first
    if mode is CooldownMode.FIXED or terms is None:
        return until
    return min(max(now, terms.first_useful_read()), until)


def expected_release(
    *,
    mode: CooldownMode | None,
    terms: SettleTerms | None,
    billing: LeaseBilling | None,
    until: datetime,
    now: datetime,
) -> datetime:
    """When a cooling account is expected to leave Cooldown if its cost stays as it is."""
    if mode is not CooldownMode.SETTLED or terms is None or billing is None or billing.next_read_at is None:
        return until
    candidate = max(terms.earliest, (billing.changed_at or now) + terms.quiet)
    read = max(billing.next_read_at, now)
    if read < candidate:
        steps = math.ceil((candidate - read) / terms.interval)
        read += steps * terms.interval
    return min(read, until)


def request_estimate(
    policy: CooldownPolicy, *, leases_last_30_days: int, requests_last_30_days: int
) -> RequestEstimate:
    """Cost Explorer requests per lease under the policy (low: settles as early as it may;
    high: read until the latest release), and what a month of them costs."""
    if policy.mode is CooldownMode.SETTLED:
        settled = policy.settled
        per_interval = settled.read_interval_hours
        low = 1 + math.ceil(settled.quiet_hours / per_interval) + 1
        span = settled.latest_hours - max(settled.min_hours - settled.quiet_hours, 0.0)
        high = 1 + math.ceil(span / per_interval) + 1
    else:
        low = high = 2  # at termination, and the final read at the deadline
    expected = min(leases_last_30_days * high, policy.cost_requests_per_day * 30)
    return RequestEstimate(
        requests_per_lease_low=low,
        requests_per_lease_high=high,
        leases_last_30_days=leases_last_30_days,
        requests_last_30_days=requests_last_30_days,
        expected_monthly_requests=expected,
        expected_monthly_cost_usd=Decimal(expected) * COST_EXPLORER_REQUEST_PRICE_USD,
        monthly_budget_cap_usd=Decimal(policy.cost_requests_per_day * 30) * COST_EXPLORER_REQUEST_PRICE_USD,
    )


def next_budget_day(now: datetime) -> datetime:
    """When the daily request budget is renewed (the next UTC midnight)."""
    return _midnight(now) + DAY


def budget_day(now: datetime) -> str:
    return now.astimezone(UTC).date().isoformat()
