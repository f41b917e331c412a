"""What Cost Explorer knows of each linked account's costs, on the emulator's clock.

Costs are seeded as lines (one day's amount of one account) that become visible at their
``arrives_at`` — AWS's billing data arrives hours late, and keeps arriving after a lease has
ended — and are ``Estimated`` until their ``final_at`` (by default the 5th of the month after
the day's: AWS marks figures estimated until the month's bill is finalised, in its first days).
Each linked account belongs to one payer (management) account, which sees its costs; an
account sees its own.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any


def default_final_at(day: date) -> datetime:
    first_next = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
    return datetime.combine(first_next + timedelta(days=4), time(), tzinfo=UTC)


@dataclass(frozen=True)
class CostLine:
    account: str
    day: date
    unblended: Decimal
    amortized: Decimal
    arrives_at: datetime
    final_at: datetime

    def describe(self, now: datetime) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "unblended": str(self.unblended),
            "amortized": str(self.amortized),
            "arrives_at": self.arrives_at.isoformat(),
            "final_at": self.final_at.isoformat(),
            "visible": self.arrives_at <= now,
        }


@dataclass
class CostLedger:
    lines: dict[str, list[CostLine]] = field(default_factory=dict)
    payers: dict[str, str] = field(default_factory=dict)
    """Linked account → the payer (management) account whose Cost Explorer reports it."""
    lock: threading.RLock = field(default_factory=threading.RLock)

    def add(self, account: str, payer: str, lines: list[CostLine]) -> None:
        with self.lock:
            self.payers[account] = payer
            self.lines.setdefault(account, []).extend(lines)

    def visible_to(self, caller: str) -> set[str]:
        """The linked accounts whose costs ``caller``'s Cost Explorer reports."""
        with self.lock:
            return {account for account, payer in self.payers.items() if caller in (payer, account)}

    def for_accounts(self, accounts: set[str]) -> list[CostLine]:
        with self.lock:
            return [line for account in sorted(accounts) for line in self.lines.get(account, [])]

    def clear(self, account: str | None = None) -> None:
        with self.lock:
            if account is None:
                self.lines.clear()
                self.payers.clear()
            else:
                self.lines.pop(account, None)
                self.payers.pop(account, None)
