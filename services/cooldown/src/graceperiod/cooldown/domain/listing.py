"""The order in which the pool is listed, and the cursors that resume a page. Pure.

Accounts are listed by id, except a list of Cooldown accounts alone: those come by the time
left in Cooldown, the soonest released first (ties by id), so the first page shows the
accounts about to become Available.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from graceperiod.contracts.cooldown import AccountStatus
from graceperiod.cooldown.domain.accounts import Account

_SEPARATOR = "|"


def by_time_left(status: AccountStatus | None) -> bool:
    """Whether a list of accounts of ``status`` is ordered by the time left in Cooldown."""
    return status is AccountStatus.COOLDOWN


@dataclass(frozen=True)
class After:
    """Where a page resumes: after this account (and, by time left, after its release time)."""

    account_id: str
    cooldown_until: datetime | None = None


def cursor_after(account: Account, status: AccountStatus | None) -> str:
    if by_time_left(status) and account.cooldown_until is not None:
        return f"{account.cooldown_until.isoformat()}{_SEPARATOR}{account.account_id}"
    return account.account_id


def parse_cursor(cursor: str, status: AccountStatus | None) -> After:
    """The position a cursor names; ValueError when it is not one this service issued for
    this list."""
    if not by_time_left(status):
        if _SEPARATOR in cursor:
            msg = "this cursor belongs to a list of Cooldown accounts"
            raise ValueError(msg)
        return After(cursor)
    until, separator, account_id = cursor.rpartition(_SEPARATOR)
    if not separator or not account_id:
        msg = "not a cursor of a list of Cooldown accounts"
        raise ValueError(msg)
    try:
        instant = datetime.fromisoformat(until)
    except ValueError:
        msg = "not a cursor of a list of Cooldown accounts"
        raise ValueError(msg) from None
    if instant.tzinfo is None:
        msg = "not a cursor of a list of Cooldown accounts"
        raise ValueError(msg)
    return After(account_id, instant)
