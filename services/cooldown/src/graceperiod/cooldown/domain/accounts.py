"""What an account in the pool is: the stored record, the status changes it may make, and
the invariants every stored version keeps. Pure: no I/O.

The rules that change an account live by use: ``lease_cycle`` (registration, a lease's end,
cleanup results), ``release`` (Cooldown ending on time or early) and ``acquisition``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from graceperiod.contracts.cooldown import AccountStatus, ActorRef, CooldownMode
from graceperiod.cooldown.domain.billing import LeaseBilling, SettleTerms
from graceperiod.runtime.mongo import Record

S = AccountStatus

#: Every status change the machine makes, as (from, to); ``None`` is "not in the pool yet".
ALLOWED_TRANSITIONS: frozenset[tuple[AccountStatus | None, AccountStatus]] = frozenset(
    {
        (None, S.AVAILABLE),
        (S.AVAILABLE, S.ACTIVE),
        (S.ACTIVE, S.CLEANUP),
        (S.ACTIVE, S.AVAILABLE),  # an acquisition abandoned (two at once for one lease)
        (S.AVAILABLE, S.CLEANUP),  # a lease acquired elsewhere ended
        (S.COOLDOWN, S.CLEANUP),  # ... or used the account while it was cooling
        (S.CLEANUP, S.COOLDOWN),
        (S.CLEANUP, S.AVAILABLE),
        (S.CLEANUP, S.QUARANTINE),
        (S.QUARANTINE, S.COOLDOWN),  # cleanup re-run successfully
        (S.QUARANTINE, S.AVAILABLE),
        (S.COOLDOWN, S.AVAILABLE),
        (S.AVAILABLE, S.QUARANTINE),  # a cleanup failed outside a lease cycle
        (S.COOLDOWN, S.QUARANTINE),
    }
)


class PendingCleanup(Record):
    """A cleanup result that arrived before the termination of the lease it cleans up after."""

    succeeded: bool
    completed_at: datetime
    error: str | None = None


class EarlyReleaseRecord(Record):
    by: ActorRef
    at: datetime
    reason: str
    request_key: str
    """The command's idempotency key: the same request twice is recognised as such."""


class Account(Record):
    """An account as stored in ``accounts`` (``_id`` = account id) and in each change."""

    account_id: str
    name: str
    email: str | None
    status: AccountStatus
    status_since: datetime
    registered_at: datetime
    version: int = 1
    """Bumped by every stored change; the store's concurrency control keys on it."""
    lease_id: str | None = None
    lease_started_at: datetime | None = None
    lease_terminated_at: datetime | None = None
    last_cleanup_completed_at: datetime | None = None
    """The last *successful* cleanup (acquisition prefers accounts cleaned long ago)."""
    last_cleanup_outcome_at: datetime | None = None
    """The last cleanup result applied, success or failure (orders late and duplicate results)."""
    last_cleanup_error: str | None = None
    cooldown_started_at: datetime | None = None
    cooldown_until: datetime | None = None
    cooldown_version: int | None = None
    """The version that entered Cooldown: it names the account's release-schedule entry."""
    cooldown_mode: CooldownMode | None = None
    settle_terms: SettleTerms | None = None
    """Settled mode only: when the Cooldown may end (``cooldown_until`` is the latest)."""
    early_release: EarlyReleaseRecord | None = None
    pending_cleanup: PendingCleanup | None = None
    billing: LeaseBilling | None = None
    """The last lease's cost (from its end until the account is acquired again)."""


# --- Invariants --------------------------------------------------------------------------


def _cooldown_fields(account: Account) -> list[str]:
    cooling = (account.cooldown_started_at, account.cooldown_until, account.cooldown_version)
    in_cooldown = account.status is S.COOLDOWN
    problems = []
    if in_cooldown != all(value is not None for value in cooling):
        problems.append("cooldown fields are set exactly when the account is in Cooldown")
    if not in_cooldown and any(value is not None for value in cooling):
        problems.append("cooldown fields linger outside Cooldown")
    cleaned = account.last_cleanup_completed_at
    if in_cooldown and (cleaned is None or account.cooldown_until is None or account.cooldown_until <= cleaned):
        problems.append("a Cooldown account ends its cooldown after its last successful cleanup")
    if in_cooldown != (account.cooldown_mode is not None):
        problems.append("a Cooldown account, and only one, has a cooldown mode")
    settled = account.cooldown_mode is CooldownMode.SETTLED
    if settled != (account.settle_terms is not None):
        problems.append("settle terms are set exactly when the Cooldown is in settled mode")
    return problems


def _billing(account: Account) -> list[str]:
    billing = account.billing
    if billing is None:
        return []
    problems = []
    if account.status is S.ACTIVE:
        problems.append("an Active account records no billing of an earlier lease")
    if billing.released and account.status is S.COOLDOWN:
        problems.append("a Cooldown account's billing is not settled yet")
    if billing.released and billing.next_read_at is not None:
        problems.append("a settled billing schedules no read")
    if billing.lease_id != account.lease_id:
        problems.append("the billing is that of the account's last lease")
    until, next_read = account.cooldown_until, billing.next_read_at
    if until is not None and next_read is not None and next_read > until:
        problems.append("no cost read of a cooling account is scheduled after its latest release")
    return problems


def _status_records(account: Account) -> list[str]:
    """What an Active, CleanUp or Quarantine account must record about how it got there."""
    status = account.status
    if status is S.ACTIVE and (
        account.lease_id is None or account.lease_started_at is None or account.lease_terminated_at is not None
    ):
        return ["an Active account has a running lease acquired here"]
    if status is S.CLEANUP and (account.lease_id is None or account.lease_terminated_at is None):
        return ["a CleanUp account records the lease that ended"]
    if status is S.QUARANTINE and (account.last_cleanup_outcome_at is None or account.last_cleanup_error is None):
        return ["a Quarantine account records the failed cleanup"]
    return []


def _pending_cleanup(account: Account) -> list[str]:
    pending = account.pending_cleanup
    if pending is None:
        return []
    problems = []
    if account.status not in (S.ACTIVE, S.AVAILABLE, S.COOLDOWN):
        problems.append("a cleanup result waits only while no cleanup is expected")
    last = account.last_cleanup_outcome_at
    if last is not None and pending.completed_at <= last:
        problems.append("a waiting cleanup result is newer than the last one applied")
    return problems


def _history(account: Account) -> list[str]:
    problems = []
    cleaned, outcome = account.last_cleanup_completed_at, account.last_cleanup_outcome_at
    if cleaned is not None and (outcome is None or cleaned > outcome):
        problems.append("the last successful cleanup is among the cleanup results applied")
    if account.version < 1:
        problems.append("versions start at 1")
    return problems


_INVARIANTS: tuple[Callable[[Account], list[str]], ...] = (
    _cooldown_fields,
    _status_records,
    _pending_cleanup,
    _history,
    _billing,
)


def violations(account: Account) -> list[str]:
    """Broken invariants of a stored account (empty when legal). The service refuses to
    store an account that breaks one; the property tests drive every rule against them."""
    return [problem for invariant in _INVARIANTS for problem in invariant(account)]
