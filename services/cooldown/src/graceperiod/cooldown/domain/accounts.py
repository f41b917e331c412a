"""The account state machine: pure rules, no I/O, every instant passed in.

Each rule takes the account as it is and returns a :class:`Decision`: the account as it
becomes (``version`` + 1 when anything changed), the status transitions made on the way,
and a sentence saying why. The service stores a decision only if nobody changed the
account in between (see ``store.py``), so rules never have to think about concurrency.

Ordering rules for events that arrive late, twice or out of order (docs/cooldown.md):

* A cleanup result is matched to a lease cycle by time. One that finished at or before the
  last result the account already recorded is a duplicate or stale; one that finished
  before the lease it would close ended belongs to an earlier cycle and is stale.
* A cleanup *success* that arrives while no cleanup is expected (the account is Active, or
  Available/Cooldown and used by a lease acquired elsewhere) is remembered on the account
  and applied the moment that lease's termination arrives, if it finished at or after it.
* A cleanup *failure* that arrives for an Available or Cooldown account quarantines it at
  once: an account whose cleanup failed must never be handed out.
* A ``lease.terminated`` for the lease the account already closed is a duplicate. One for a
  lease this service never handed out, on an Available or Cooldown account, means the
  account was used elsewhere: it goes to CleanUp (unless it ended before anything the
  account already records, then it is stale).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from graceperiod.contracts.cooldown import AccountStatus, ActorRef, Cause, CooldownPolicy, Transition

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


@dataclass(frozen=True, slots=True)
class PendingCleanup:
    """A cleanup result that arrived before the termination of the lease it cleans up after."""

    succeeded: bool
    completed_at: datetime
    error: str | None = None


@dataclass(frozen=True, slots=True)
class EarlyReleaseRecord:
    by: ActorRef
    at: datetime
    reason: str
    request_key: str
    """The command's idempotency key: the same request twice is recognised as such."""


@dataclass(frozen=True, slots=True)
class Account:
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
    early_release: EarlyReleaseRecord | None = None
    pending_cleanup: PendingCleanup | None = None


class Verdict(StrEnum):
    APPLIED = "applied"
    """The status changed (one or more transitions)."""
    RECORDED = "recorded"
    """Something was remembered without a status change (e.g. an early cleanup result)."""
    DUPLICATE = "duplicate"
    """Already done: nothing to change."""
    STALE = "stale"
    """Older than what the account already records: nothing to change."""
    IGNORED = "ignored"
    """Does not apply to the account as it is: nothing to change."""
    REFUSED = "refused"
    """A command that the account's status does not allow."""


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    before: Account | None
    after: Account
    transitions: tuple[Transition, ...] = ()
    note: str = ""

    @property
    def changed(self) -> bool:
        return self.verdict in (Verdict.APPLIED, Verdict.RECORDED)


def cooldown_period(policy: CooldownPolicy) -> timedelta | None:
    """The cooldown a cleaned account serves under this policy; None when there is none
    (enforcement off, or a period of 0 hours)."""
    if not policy.enforce_account_cooldown or policy.cooldown_period_hours == 0:
        return None
    return timedelta(hours=policy.cooldown_period_hours)


def _unchanged(verdict: Verdict, account: Account, note: str) -> Decision:
    return Decision(verdict, account, account, (), note)


def _bump(account: Account, **changes: object) -> Account:
    return replace(account, version=account.version + 1, **changes)  # type: ignore[arg-type]


def _move(
    account: Account,
    to: AccountStatus,
    *,
    now: datetime,
    cause: Cause,
    lease_id: str | None = None,
    actor: ActorRef | None = None,
    reason: str | None = None,
) -> tuple[Account, Transition]:
    if (account.status, to) not in ALLOWED_TRANSITIONS:  # pragma: no cover - a bug in a rule
        msg = f"illegal transition {account.status} -> {to}"
        raise AssertionError(msg)
    transition = Transition(
        from_status=account.status,
        to_status=to,
        at=now,
        cause=cause,
        lease_id=lease_id if lease_id is not None else account.lease_id,
        actor=actor,
        reason=reason,
    )
    return replace(account, status=to, status_since=now), transition


def _leaving_cooldown(account: Account) -> Account:
    return replace(account, cooldown_started_at=None, cooldown_until=None, cooldown_version=None)


def _latest(*instants: datetime | None) -> datetime | None:
    known = [instant for instant in instants if instant is not None]
    return max(known) if known else None


# --- Registration ------------------------------------------------------------------------


def register(*, account_id: str, name: str, email: str | None, now: datetime) -> Decision:
    """A new account joins the pool as Available (version 1)."""
    account = Account(
        account_id=account_id,
        name=name,
        email=email,
        status=S.AVAILABLE,
        status_since=now,
        registered_at=now,
        version=1,
    )
    transition = Transition(from_status=None, to_status=S.AVAILABLE, at=now, cause=Cause.REGISTERED)
    return Decision(Verdict.APPLIED, None, account, (transition,), "registered: Available")


# --- Upstream events ---------------------------------------------------------------------


def lease_terminated(
    account: Account, *, lease_id: str, terminated_at: datetime, policy: CooldownPolicy, now: datetime
) -> Decision:
    """``lease.terminated``: Active → CleanUp (and on, if the cleanup result came first)."""
    if lease_id == account.lease_id:
        if account.status is S.ACTIVE:
            return _terminate(account, lease_id, terminated_at, policy, now, acquired_here=True)
        return _unchanged(
            Verdict.DUPLICATE, account, f"lease {lease_id} has already ended; the account is {account.status}"
        )
    if account.status is S.ACTIVE:
        return _unchanged(
            Verdict.IGNORED,
            account,
            f"the account is Active for lease {account.lease_id}; lease {lease_id} is not its current lease",
        )
    if account.status in (S.CLEANUP, S.QUARANTINE):
        return _unchanged(
            Verdict.IGNORED,
            account,
            f"the account is already in {account.status} after lease {account.lease_id}; "
            f"the end of lease {lease_id} changes nothing",
        )
    known = _latest(account.registered_at, account.lease_terminated_at, account.last_cleanup_outcome_at)
    if known is not None and terminated_at <= known:
        return _unchanged(
            Verdict.STALE,
            account,
            f"lease {lease_id} ended at {terminated_at.isoformat()}, before what the account already records",
        )
    return _terminate(account, lease_id, terminated_at, policy, now, acquired_here=False)


def _terminate(
    account: Account,
    lease_id: str,
    terminated_at: datetime,
    policy: CooldownPolicy,
    now: datetime,
    *,
    acquired_here: bool,
) -> Decision:
    base = _leaving_cooldown(
        _bump(
            account,
            lease_id=lease_id,
            lease_terminated_at=terminated_at,
            lease_started_at=account.lease_started_at if acquired_here else None,
            pending_cleanup=None,
        )
    )
    after, first = _move(base, S.CLEANUP, now=now, cause=Cause.LEASE_TERMINATED, lease_id=lease_id)
    transitions = [first]
    if acquired_here:
        note = f"lease {lease_id} ended: CleanUp"
    elif account.status is S.COOLDOWN:
        note = (
            f"lease {lease_id}, acquired elsewhere, used the account while it was cooling after lease "
            f"{account.lease_id}: CleanUp (lease {account.lease_id} will not be settled)"
        )
    else:
        note = f"lease {lease_id}, acquired elsewhere, ended: CleanUp"
    pending = account.pending_cleanup
    if pending is not None:
        if pending.completed_at >= terminated_at:
            after, more, outcome = _cleanup_outcome(after, pending, policy, now)
            transitions.extend(more)
            note = f"{note}; the cleanup result that arrived first applies: {outcome}"
        else:
            note = f"{note}; a cleanup result that finished before the lease ended was dropped"
    return Decision(Verdict.APPLIED, account, after, tuple(transitions), note)


def _cleanup_outcome(
    account: Account, result: PendingCleanup, policy: CooldownPolicy, now: datetime
) -> tuple[Account, list[Transition], str]:
    """CleanUp or Quarantine → Cooldown | Available | Quarantine. ``account`` is already bumped."""
    if result.succeeded:
        base = replace(
            account,
            last_cleanup_completed_at=result.completed_at,
            last_cleanup_outcome_at=result.completed_at,
            last_cleanup_error=None,
            pending_cleanup=None,
        )
        period = cooldown_period(policy)
        if period is None:
            after, transition = _move(base, S.AVAILABLE, now=now, cause=Cause.CLEANUP_SUCCEEDED)
            return after, [transition], "cleanup succeeded, cooldown not enforced: Available"
        until = result.completed_at + period
        base = replace(base, cooldown_started_at=now, cooldown_until=until, cooldown_version=base.version)
        after, transition = _move(base, S.COOLDOWN, now=now, cause=Cause.CLEANUP_SUCCEEDED)
        return after, [transition], f"cleanup succeeded: Cooldown until {until.isoformat()}"
    base = replace(
        account,
        last_cleanup_outcome_at=result.completed_at,
        last_cleanup_error=result.error,
        pending_cleanup=None,
    )
    after, transition = _move(base, S.QUARANTINE, now=now, cause=Cause.CLEANUP_FAILED, reason=result.error)
    return after, [transition], "cleanup failed: Quarantine"


def cleanup_finished(  # noqa: PLR0911 - a decision table: one return per case
    account: Account,
    *,
    succeeded: bool,
    completed_at: datetime,
    error: str | None,
    policy: CooldownPolicy,
    now: datetime,
) -> Decision:
    """``account.cleanup.succeeded`` / ``account.cleanup.failed``."""
    result = PendingCleanup(succeeded=succeeded, completed_at=completed_at, error=None if succeeded else error)
    what = "cleanup success" if succeeded else "cleanup failure"
    last = account.last_cleanup_outcome_at
    if last is not None and completed_at <= last:
        if completed_at == last:
            return _unchanged(Verdict.DUPLICATE, account, f"this {what} was already applied")
        return _unchanged(
            Verdict.STALE, account, f"this {what} is older than the last cleanup result ({last.isoformat()})"
        )
    status = account.status
    if status in (S.CLEANUP, S.QUARANTINE):
        ended = account.lease_terminated_at
        if status is S.CLEANUP and ended is not None and completed_at < ended:
            return _unchanged(
                Verdict.STALE,
                account,
                f"this {what} finished before lease {account.lease_id} ended: it belongs to an earlier cycle",
            )
        if status is S.QUARANTINE and not succeeded:
            after = _bump(account, last_cleanup_outcome_at=completed_at, last_cleanup_error=error)
            return Decision(Verdict.RECORDED, account, after, (), "cleanup failed again: still in Quarantine")
        after, transitions, note = _cleanup_outcome(_bump(account), result, policy, now)
        return Decision(Verdict.APPLIED, account, after, tuple(transitions), note)
    # No cleanup is expected (Active, Available, Cooldown): the lease's termination is still to come.
    if not succeeded and status is not S.ACTIVE:
        base = _leaving_cooldown(
            _bump(account, last_cleanup_outcome_at=completed_at, last_cleanup_error=error, pending_cleanup=None)
        )
        after, transition = _move(base, S.QUARANTINE, now=now, cause=Cause.CLEANUP_FAILED, reason=error)
        return Decision(
            Verdict.APPLIED,
            account,
            after,
            (transition,),
            f"a cleanup failed while the account was {status}: Quarantine (it must not be handed out)",
        )
    started = account.lease_started_at
    if status is S.ACTIVE and started is not None and completed_at < started:
        return _unchanged(
            Verdict.STALE, account, f"this {what} finished before the current lease {account.lease_id} started"
        )
    pending = account.pending_cleanup
    if pending is not None and completed_at <= pending.completed_at:
        verdict = Verdict.DUPLICATE if completed_at == pending.completed_at else Verdict.STALE
        return _unchanged(verdict, account, "a cleanup result as recent is already waiting for its lease's end")
    after = _bump(account, pending_cleanup=result)
    return Decision(
        Verdict.RECORDED,
        account,
        after,
        (),
        f"{what} arrived before the lease's termination: kept until the termination arrives",
    )


# --- Release -----------------------------------------------------------------------------


def release_due(account: Account, *, now: datetime) -> Decision:
    """A tick: Cooldown → Available once ``cooldown_until`` has passed (``<= now``)."""
    if account.status is not S.COOLDOWN or account.cooldown_until is None:
        return _unchanged(Verdict.IGNORED, account, f"the account is {account.status}, not in Cooldown")
    if account.cooldown_until > now:
        return _unchanged(Verdict.IGNORED, account, f"cooling until {account.cooldown_until.isoformat()}")
    after, transition = _move(_leaving_cooldown(_bump(account)), S.AVAILABLE, now=now, cause=Cause.COOLDOWN_ELAPSED)
    return Decision(Verdict.APPLIED, account, after, (transition,), "cooldown elapsed: Available")


def release_early(account: Account, *, actor: ActorRef, reason: str, request_key: str, now: datetime) -> Decision:
    """An admin's early release: Cooldown → Available now. Idempotent; refused otherwise."""
    earlier = account.early_release
    if earlier is not None and earlier.request_key == request_key:
        return _unchanged(
            Verdict.DUPLICATE,
            account,
            f"this request already released the account at {earlier.at.isoformat()}; nothing more to do",
        )
    status = account.status
    if status is S.COOLDOWN:
        assert account.cooldown_until is not None
        base = _leaving_cooldown(
            _bump(account, early_release=EarlyReleaseRecord(by=actor, at=now, reason=reason, request_key=request_key))
        )
        after, transition = _move(base, S.AVAILABLE, now=now, cause=Cause.RELEASED_EARLY, actor=actor, reason=reason)
        left = max(account.cooldown_until - now, timedelta(0))
        return Decision(
            Verdict.APPLIED,
            account,
            after,
            (transition,),
            f"released {_hours(left)} before its cooldown ended: Available; billing attribution may be inaccurate",
        )
    if status is S.AVAILABLE:
        if earlier is not None and earlier.at == account.status_since:
            return _unchanged(
                Verdict.DUPLICATE,
                account,
                f"already released early by {earlier.by.email} at {earlier.at.isoformat()}; nothing to do",
            )
        return _unchanged(
            Verdict.DUPLICATE,
            account,
            f"the account is already Available (since {account.status_since.isoformat()}); nothing to release",
        )
    refusals = {
        S.ACTIVE: f"the account is Active (lease {account.lease_id}); only a Cooldown account can be released",
        S.CLEANUP: "the account is in CleanUp: its cleanup has not finished, so it cannot be released",
        S.QUARANTINE: "the account is in Quarantine after a failed cleanup; fix it and re-run the cleanup instead",
    }
    return _unchanged(Verdict.REFUSED, account, refusals[status])


def _hours(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.1f} h"


# --- Acquisition -------------------------------------------------------------------------


def acquire(account: Account, *, lease_id: str, now: datetime) -> Decision:
    """Available → Active for ``lease_id``."""
    if account.status is not S.AVAILABLE:
        if account.status is S.ACTIVE and account.lease_id == lease_id:
            return _unchanged(Verdict.DUPLICATE, account, f"already Active for lease {lease_id}")
        return _unchanged(Verdict.REFUSED, account, f"the account is {account.status}, not Available")
    base = _bump(account, lease_id=lease_id, lease_started_at=now, lease_terminated_at=None, pending_cleanup=None)
    after, transition = _move(base, S.ACTIVE, now=now, cause=Cause.ACQUIRED, lease_id=lease_id)
    return Decision(Verdict.APPLIED, account, after, (transition,), f"acquired for lease {lease_id}: Active")


def abandon_acquisition(account: Account, *, lease_id: str, kept_account_id: str, now: datetime) -> Decision:
    """Two acquisitions ran at once for one lease and the other account was kept: this one
    goes back to Available as it was."""
    if account.status is not S.ACTIVE or account.lease_id != lease_id:
        return _unchanged(Verdict.IGNORED, account, f"the account is not Active for lease {lease_id}")
    base = _bump(account, lease_id=None, lease_started_at=None)
    reason = f"lease {lease_id} already holds account {kept_account_id}"
    after, transition = _move(
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


# --- Invariants --------------------------------------------------------------------------


def violations(account: Account) -> list[str]:
    """Broken invariants of a stored account (empty when legal). The service refuses to
    store an account that breaks one; the property tests drive every rule against them."""
    problems: list[str] = []
    status = account.status
    cooling = (account.cooldown_started_at, account.cooldown_until, account.cooldown_version)
    if (status is S.COOLDOWN) != all(value is not None for value in cooling):
        problems.append("cooldown fields are set exactly when the account is in Cooldown")
    if status is not S.COOLDOWN and any(value is not None for value in cooling):
        problems.append("cooldown fields linger outside Cooldown")
    if status is S.COOLDOWN:
        cleaned = account.last_cleanup_completed_at
        if cleaned is None or account.cooldown_until is None or account.cooldown_until <= cleaned:
            problems.append("a Cooldown account ends its cooldown after its last successful cleanup")
    if status is S.ACTIVE and (
        account.lease_id is None or account.lease_started_at is None or account.lease_terminated_at is not None
    ):
        problems.append("an Active account has a running lease acquired here")
    if status is S.CLEANUP and (account.lease_id is None or account.lease_terminated_at is None):
        problems.append("a CleanUp account records the lease that ended")
    if status is S.QUARANTINE and (account.last_cleanup_outcome_at is None or account.last_cleanup_error is None):
        problems.append("a Quarantine account records the failed cleanup")
    if account.pending_cleanup is not None:
        if status not in (S.ACTIVE, S.AVAILABLE, S.COOLDOWN):
            problems.append("a cleanup result waits only while no cleanup is expected")
        last = account.last_cleanup_outcome_at
        if last is not None and account.pending_cleanup.completed_at <= last:
            problems.append("a waiting cleanup result is newer than the last one applied")
    cleaned, outcome = account.last_cleanup_completed_at, account.last_cleanup_outcome_at
    if cleaned is not None and (outcome is None or cleaned > outcome):
        problems.append("the last successful cleanup is among the cleanup results applied")
    if account.version < 1:
        problems.append("versions start at 1")
    return problems
