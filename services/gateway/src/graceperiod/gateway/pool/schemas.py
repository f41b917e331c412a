"""Bodies and parameters of the account pool API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar.params import QueryParameter
from pydantic import BaseModel, Field

from graceperiod.contracts.cooldown import COOLDOWN_HOURS_MAX, COOLDOWN_HOURS_MIN, AccountStatus, AccountView
from graceperiod.contracts.rpc import CommandStatus
from graceperiod.gateway.web.params import optional_choice
from graceperiod.gateway.web.schemas import RequestBody, WholeNumber

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
    enforce_account_cooldown: bool
    cooldown_period_hours: Annotated[WholeNumber, Field(ge=COOLDOWN_HOURS_MIN, le=COOLDOWN_HOURS_MAX)]
