"""What the cooldown policy means for a cleaned account, and the record of a policy change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from graceperiod.contracts.cooldown import CooldownMode, CooldownPolicy
from graceperiod.cooldown.domain.billing import SettleTerms
from graceperiod.runtime.mongo import Record


def cooldown_period(policy: CooldownPolicy) -> timedelta | None:
    """The fixed cooldown a cleaned account serves under this policy; None when there is none
    (enforcement off, or a period of 0 hours)."""
    if not policy.enforce_account_cooldown or policy.cooldown_period_hours == 0:
        return None
    return timedelta(hours=policy.cooldown_period_hours)


@dataclass(frozen=True, slots=True)
class Cooling:
    """The Cooldown an account cleaned at some instant serves: how it ends, and when at the latest."""

    mode: CooldownMode
    until: datetime
    terms: SettleTerms | None = None


def cooling_for(policy: CooldownPolicy, *, completed_at: datetime, read_costs: bool) -> Cooling | None:
    """None: no Cooldown (enforcement off, or a fixed period of 0 hours). Settled mode needs
    the lease's cost to be read; without reads it falls back to the fixed period."""
    if not policy.enforce_account_cooldown:
        return None
    if policy.mode is CooldownMode.SETTLED and read_costs:
        settled = policy.settled
        terms = SettleTerms.of(settled, completed_at=completed_at)
        return Cooling(CooldownMode.SETTLED, completed_at + timedelta(hours=settled.latest_hours), terms)
    period = cooldown_period(policy)
    return None if period is None else Cooling(CooldownMode.FIXED, completed_at + period)


class PolicyChange(Record):
    """Who changed the policy from what to what (``policy_changes``, ``_id`` = the request's
    idempotency key, so a retried request finds it and changes nothing)."""

    policy: CooldownPolicy
    previous: CooldownPolicy
    at: datetime | None
