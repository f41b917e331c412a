"""The Accounts page's forms: early release and the cooldown policy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass
class ReleaseForm:
    idempotency_key: str
    reason: str


@dataclass
class PolicyForm:
    idempotency_key: str
    cooldown_period_hours: int
    enforce_account_cooldown: Literal["on"] | None = None
