"""The Accounts pages' forms: early release and the cooldown policy (settled mode, wait-list,
alert). The reason and the period are taken as typed (strings) and checked by the page, so a
mistake comes back on the form with a message."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from graceperiod.contracts.cooldown import COOLDOWN_HOURS_MAX, COOLDOWN_HOURS_MIN

REASON_MAX_LENGTH: Final = 500
REASON_MISSING: Final = f"Say why the account is released early (1 to {REASON_MAX_LENGTH} characters, not only spaces)."
HOURS_RULE: Final = f"Give the cooldown period as whole hours from {COOLDOWN_HOURS_MIN} to {COOLDOWN_HOURS_MAX}."


@dataclass
class ReleaseForm:
    idempotency_key: str
    reason: str = ""

    def errors(self) -> dict[str, str]:
        reason = self.reason.strip()
        return {} if 0 < len(reason) <= REASON_MAX_LENGTH else {"reason": REASON_MISSING}


@dataclass
class PolicyForm:
    """The policy form (the page sends every field; one left out takes its default)."""

    idempotency_key: str
    cooldown_period_hours: str = ""
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

    def hours(self) -> int | None:
        """The period, or None when it is not a whole number of hours in range."""
        text = self.cooldown_period_hours.strip()
        if not text.isdigit():
            return None
        hours = int(text)
        return hours if COOLDOWN_HOURS_MIN <= hours <= COOLDOWN_HOURS_MAX else None

    def settled(self) -> dict[str, float] | None:
        rule = {
            "quiet_hours": self.quiet_hours,
            "min_hours": self.min_hours,
            "max_hours": self.max_hours,
            "read_interval_hours": self.read_interval_hours,
        }
        given = {name: value for name, value in rule.items() if value is not None}
        return given or None
