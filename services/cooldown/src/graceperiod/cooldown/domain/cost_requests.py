"""The stored records of Cost Explorer reads: when each account's next read is due, the claim
(and log) of each read, and the pool's daily request budget."""

from __future__ import annotations

from datetime import datetime

from graceperiod.runtime.mongo import Record


class ScheduledRead(Record):
    """An account's next cost read (``read_schedule``, ``_id`` = account id)."""

    account_id: str
    due_at: datetime
    version: int
    """The account version that scheduled it (a change of an older version never moves it)."""


def read_claim_id(account_id: str, lease_id: str, number: int) -> str:
    return f"{account_id}:{lease_id}:{number:06d}"


class ReadClaim(Record):
    """The right to make read ``number`` of a lease's cost (``cost_requests``, ``_id`` =
    :func:`read_claim_id`): inserting it is how one worker wins that read. It stays as the
    request log (requests per month on the settings page)."""

    account_id: str
    lease_id: str
    number: int
    claimed_at: datetime
    requested: bool = False
    """A request was sent to Cost Explorer (not when the daily budget refused it)."""
    outcome: str | None = None


class BudgetDay(Record):
    """Requests made on one UTC day (``cost_budget``, ``_id`` = the ISO date)."""

    used: int = 0
