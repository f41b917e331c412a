"""Bodies and parameters of the account pool API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from litestar.params import QueryParameter
from pydantic import BaseModel, Field

from graceperiod.contracts.cooldown import (
    COOLDOWN_HOURS_MAX,
    COOLDOWN_HOURS_MIN,
    DEFAULT_COST_REQUESTS_PER_DAY,
    AccountCount,
    AccountStatus,
    AccountView,
    CooldownMode,
    CostRequestBudget,
)
from graceperiod.contracts.lease_costs import PositiveHours, SettledMode
from graceperiod.contracts.rpc import CommandStatus
from graceperiod.gateway.web.params import optional_choice
from graceperiod.gateway.web.schemas import INTEGRAL, RequestBody, WholeNumber

#: The pool's status filter: leave it out for every status.
StatusFilter = Annotated[AccountStatus | None, QueryParameter(schema_extra=optional_choice(AccountStatus))]


class PoolAccount(AccountView):
    cooldown_remaining_seconds: int | None = Field(
        default=None, description="Seconds left in Cooldown (Cooldown accounts only), by the gateway's clock."
    )


class PoolPage(BaseModel):
    items: list[PoolAccount]
    next_cursor: str | None = None
    as_of: datetime


class ReleaseRequest(RequestBody):
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class ReleaseResult(BaseModel):
    status: CommandStatus
    message: str
    account: PoolAccount | None = None
    warning: str | None = None


class PolicyUpdate(RequestBody):
    """The cooldown policy (PUT replaces it: a field left out takes its default, which leaves
    the settled mode, the wait-list's expiry and the alert as a fresh installation has them)."""

    enforce_account_cooldown: bool
    cooldown_period_hours: Annotated[WholeNumber, Field(ge=COOLDOWN_HOURS_MIN, le=COOLDOWN_HOURS_MAX)]
    mode: Literal["fixed", "settled"] = CooldownMode.FIXED.value
    settled: SettledMode = Field(default_factory=SettledMode)
    cost_requests_per_day: Annotated[CostRequestBudget, INTEGRAL] = DEFAULT_COST_REQUESTS_PER_DAY
    wait_expiry_hours: PositiveHours = 24
    low_pool_threshold: Annotated[AccountCount, INTEGRAL] = 0
    low_pool_alert_hours: PositiveHours = 24
