"""The rules of handing an account to a new lease: Available → Active, and back when two
acquisitions for one lease ran at once; which accounts count as recently used; the record
of which account a lease was given."""

from __future__ import annotations

from datetime import datetime, timedelta

from graceperiod.contracts.cooldown import AccountStatus, Cause
from graceperiod.cooldown.domain.accounts import Account
from graceperiod.cooldown.domain.decisions import Decision, Verdict, bump, move, unchanged
from graceperiod.runtime.mongo import Record

S = AccountStatus


class LeaseRecord(Record):
    """The account acquired for a lease (``leases``, ``_id`` = lease id): a repeated
    acquisition for one lease returns the same account."""

    account_id: str
    acquired_at: datetime


def acquire(account: Account, *, lease_id: str, now: datetime) -> Decision:
    """Available → Active for ``lease_id``."""
    if account.status is not S.AVAILABLE:
        if account.status is S.ACTIVE and account.lease_id == lease_id:
            return unchanged(Verdict.DUPLICATE, account, f"already Active for lease {lease_id}")
        return unchanged(Verdict.REFUSED, account, f"the account is {account.status}, not Available")
    base = bump(
        account, lease_id=lease_id, lease_started_at=now, lease_terminated_at=None, pending_cleanup=None, billing=None
    )
    after, transition = move(base, S.ACTIVE, now=now, cause=Cause.ACQUIRED, lease_id=lease_id)
    return Decision(Verdict.APPLIED, account, after, (transition,), f"acquired for lease {lease_id}: Active")


def abandon_acquisition(account: Account, *, lease_id: str, kept_account_id: str, now: datetime) -> Decision:
    """Two acquisitions ran at once for one lease and the other account was kept: this one
    goes back to Available as it was."""
    if account.status is not S.ACTIVE or account.lease_id != lease_id:
        return unchanged(Verdict.IGNORED, account, f"the account is not Active for lease {lease_id}")
    base = bump(account, lease_id=None, lease_started_at=None)
    reason = f"lease {lease_id} already holds account {kept_account_id}"
    after, transition = move(
        base, S.AVAILABLE, now=now, cause=Cause.ACQUISITION_ABANDONED, lease_id=lease_id, reason=reason
    )
    return Decision(Verdict.APPLIED, account, after, (transition,), f"acquisition abandoned: {reason}")


def recently_cleaned(account: Account, *, now: datetime, window: timedelta) -> bool:
    """Cleaned less than ``window`` ago: its last lease's costs may still be arriving."""
    cleaned = account.last_cleanup_completed_at
    return cleaned is not None and now - cleaned < window


def recent_use_warning(window: timedelta) -> str:
    hours = window.total_seconds() / 3600
    span = f"{hours:g} hours"
    return (
        f"The account acquired for the lease has been used within the last {span} "
        "and may result in inaccurate cost data"
    )
