"""Account statuses of the sandbox pool."""

from __future__ import annotations

from enum import StrEnum


class AccountStatus(StrEnum):
    AVAILABLE = "Available"
    ACTIVE = "Active"
    CLEANUP = "CleanUp"
    COOLDOWN = "Cooldown"
    QUARANTINE = "Quarantine"
