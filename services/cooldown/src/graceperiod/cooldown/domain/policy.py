"""What the cooldown policy means for a cleaned account, and the record of a policy change."""

from __future__ import annotations

from datetime import datetime, timedelta

from graceperiod.contracts.cooldown import CooldownPolicy
from graceperiod.runtime.mongo import Record


def cooldown_period(policy: CooldownPolicy) -> timedelta | None:
    """The cooldown a cleaned account serves under this policy; None when there is none
    (enforcement off, or a period of 0 hours)."""
    if not policy.enforce_account_cooldown or policy.cooldown_period_hours == 0:
        return None
    return timedelta(hours=policy.cooldown_period_hours)


class PolicyChange(Record):
    """Who changed the policy from what to what (``policy_changes``, ``_id`` = the request's
    idempotency key, so a retried request finds it and changes nothing)."""

    policy: CooldownPolicy
    previous: CooldownPolicy
    at: datetime | None
