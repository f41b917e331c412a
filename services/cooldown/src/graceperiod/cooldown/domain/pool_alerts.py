"""The low-pool alert: fewer Available accounts than the policy's threshold, announced at most
once per period. Alerts are numbered; the service claims alert ``n + 1`` by inserting it, so
of any number of workers one announces it."""

from __future__ import annotations

from datetime import datetime, timedelta

from graceperiod.contracts.cooldown import CooldownPolicy
from graceperiod.runtime.mongo import Record


class PoolAlert(Record):
    """One alert (``pool_alerts``, ``_id`` = :func:`alert_id`)."""

    number: int
    at: datetime
    available: int
    threshold: int
    cooling: int = 0
    waiting: int = 0
    next_release_at: datetime | None = None
    published: bool = False
    """Its event was published (the alert is its own outbox until then)."""


def alert_id(number: int) -> str:
    return f"pool-low-{number:08d}"


def alert_due(policy: CooldownPolicy, *, available: int, last: PoolAlert | None, now: datetime) -> bool:
    """Below the threshold, and no alert within the last period."""
    threshold = policy.low_pool_threshold
    if threshold <= 0 or available >= threshold:
        return False
    return last is None or now - last.at >= timedelta(hours=policy.low_pool_alert_hours)
