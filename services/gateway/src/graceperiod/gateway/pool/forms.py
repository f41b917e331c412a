"""The Accounts page's forms: early release and the cooldown policy (settled mode, wait-list, alert)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass
class ReleaseForm:
    idempotency_key: str
    reason: str


@dataclass
class PolicyForm:
    """The policy form (the page sends every field; one left out takes its default)."""

    idempotency_key: str
    cooldown_period_hours: int
    enforce_account_cooldown: Literal["on"] | None = None
    mode: Literal["fixed", "settled"] | None = None
    quiet_hours: float | None = None
    min_hours: float | None = None
    max_hours: float | None = None
    read_interval_hours: float | None = None
    cost_requests_per_day: int | None = None
    wait_expiry_hours: float | None = None
    low_pool_threshold: int | None = None
    low_pool_alert_hours: float | None = None

    def settled(self) -> dict[str, float] | None:
        rule = {
            "quiet_hours": self.quiet_hours,
            "min_hours": self.min_hours,
            "max_hours": self.max_hours,
            "read_interval_hours": self.read_interval_hours,
        }
        given = {name: value for name, value in rule.items() if value is not None}
        return given or None
