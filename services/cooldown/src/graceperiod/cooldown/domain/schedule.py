"""The release schedule: one small entry per cooling account, read by ticks to find what is due.

An entry is removed only after the events of the change that ended its Cooldown were
published, so it doubles as their outbox.
"""

from __future__ import annotations

from datetime import datetime

from graceperiod.contracts.cooldown import AccountStatus
from graceperiod.cooldown.domain.accounts import Account
from graceperiod.cooldown.domain.changes import change_id
from graceperiod.cooldown.domain.views import expected_release_at
from graceperiod.runtime.mongo import Record


def schedule_id(account_id: str, cooldown_version: int) -> str:
    return change_id(account_id, cooldown_version)


class ScheduledRelease(Record):
    """A release-schedule entry (``release_schedule``, ``_id`` = :attr:`entry_id`): kept small,
    because FerretDB reads every entry of the schedule for a due query (the scan costs in
    proportion to the documents' size)."""

    account_id: str
    cooldown_until: datetime
    cooldown_version: int
    """The version that entered this Cooldown; the account has left it once that changes."""
    expected_at: datetime | None = None
    """When the release is expected (settled mode: if the cost stays put); wait-list ETAs."""

    @property
    def entry_id(self) -> str:
        return schedule_id(self.account_id, self.cooldown_version)

    @classmethod
    def of(cls, account: Account, *, now: datetime) -> ScheduledRelease:
        assert account.cooldown_until is not None
        assert account.cooldown_version is not None
        return cls(
            account_id=account.account_id,
            cooldown_until=account.cooldown_until,
            cooldown_version=account.cooldown_version,
            expected_at=expected_release_at(account, now),
        )

    @property
    def eta(self) -> datetime:
        return self.expected_at or self.cooldown_until

    def still_cooling(self, account: Account) -> bool:
        """The account is still in the Cooldown this entry was made for."""
        return account.status is AccountStatus.COOLDOWN and account.cooldown_version == self.cooldown_version
