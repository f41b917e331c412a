"""A sandbox lease's cost, as Cost Explorer reports it, and the "settled" cooldown mode that
waits for it to stop changing (owned by the cooldown service; docs/cooldown.md)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Final

from pydantic import Field, model_validator

from graceperiod.contracts.base import CurrencyCode, Instant, Model, Money

#: What Cost Explorer charges per API request (us-east-1 list price, "about $0.01").
COST_EXPLORER_REQUEST_PRICE_USD: Final = Decimal("0.01")

PolicyHours = Annotated[float, Field(ge=0, le=720)]
PositiveHours = Annotated[float, Field(gt=0, le=720)]


class CostSource(StrEnum):
    COST_EXPLORER = "cost-explorer"
    """Read by the cooldown service (GetCostAndUsage in the management account)."""
    LEASE_MANAGER = "lease-manager"
    """Given by the lease manager on ``lease.terminated``."""


class CostAmounts(Model):
    currency: CurrencyCode = "USD"
    unblended: Money
    amortized: Money | None = None


class LeaseCost(CostAmounts):
    """The lease's cost for its billing window, as read at ``read_at``."""

    estimated: bool = True
    """AWS still marks some of the window's days as estimated (figures may change until the
    month is finalised)."""
    read_at: Instant
    source: CostSource = CostSource.COST_EXPLORER


class TerminationCost(CostAmounts):
    """The lease's cost a lease manager read itself when the lease ended (optional on
    ``lease.terminated``): taken as the cost at termination instead of reading it again."""

    estimated: bool = True
    read_at: Instant | None = None
    """When it was read (default: the lease's ``terminated_at``)."""


class BillingWindow(Model):
    """The days a lease's cost is read for: Cost Explorer's ``TimePeriod`` with DAILY
    granularity, ``start`` inclusive, ``end`` exclusive (UTC). Whole days: a day two leases
    shared is attributed to both (attribution is by day, not by hour)."""

    start: date
    end: date

    @model_validator(mode="after")
    def _not_empty(self) -> BillingWindow:
        if self.end <= self.start:
            msg = "a billing window ends after it starts (end is exclusive)"
            raise ValueError(msg)
        return self


class SettledMode(Model):
    """The "settled" cooldown: a cooling account is released once its lease's cost has not
    changed for ``quiet_hours``, never before ``min_hours`` nor after ``max_hours`` (counted
    from the cleanup's completion, like the fixed period; a minimum above the maximum wins)."""

    quiet_hours: PositiveHours = 12
    min_hours: PolicyHours = 24
    max_hours: PositiveHours = 72
    read_interval_hours: PositiveHours = 2
    """At most one Cost Explorer read per account this often."""

    @property
    def latest_hours(self) -> float:
        """When the account is released at the latest: ``max_hours``, or ``min_hours`` if that is later."""
        return max(self.min_hours, self.max_hours)


class CostTracking(Model):
    """What the cooldown service knows of the last lease's cost (shown on the pool pages)."""

    window: BillingWindow
    at_termination: LeaseCost | None = None
    latest: LeaseCost | None = None
    changed_at: Instant | None = None
    """When the cost was first seen at its current value."""
    still_moving: bool | None = None
    """The last read found a different figure than the one before (None: not read twice yet)."""
    reads: int = 0
    next_read_at: Instant | None = None
    last_problem: str | None = None
    """Why the last read failed or was not made (throttled, denied, budget used up)."""
    released: bool = False
    """The account left Cooldown: ``final_cost`` (or ``unknown_reason``) was published."""
    final_cost: LeaseCost | None = None
    unknown_reason: str | None = None


class RequestEstimate(Model):
    """What Cost Explorer reads cost, shown on the settings page."""

    requests_per_lease_low: int
    requests_per_lease_high: int
    leases_last_30_days: int
    requests_last_30_days: int
    expected_monthly_requests: int
    expected_monthly_cost_usd: Money
    monthly_budget_cap_usd: Money
    """The most the daily request budget lets it cost in 30 days."""
