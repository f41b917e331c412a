"""The rules of a lease cycle: an account joins the pool, a lease ends, its cleanup reports.

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

from dataclasses import dataclass
from datetime import datetime

from graceperiod.contracts.cooldown import AccountStatus, Cause, CooldownPolicy, Transition
from graceperiod.contracts.lease_costs import LeaseCost
from graceperiod.cooldown.domain.accounts import Account, PendingCleanup
from graceperiod.cooldown.domain.billing import first_cooldown_read, start_billing
from graceperiod.cooldown.domain.decisions import Decision, Verdict, bump, leaving_cooldown, move, unchanged
from graceperiod.cooldown.domain.policy import cooling_for

S = AccountStatus


def _latest(*instants: datetime | None) -> datetime | None:
    known = [instant for instant in instants if instant is not None]
    return max(known) if known else None


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


# --- lease.terminated --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Rules:
    policy: CooldownPolicy
    read_costs: bool
    now: datetime


def lease_terminated(
    account: Account,
    *,
    lease_id: str,
    terminated_at: datetime,
    policy: CooldownPolicy,
    now: datetime,
    read_costs: bool = False,
    cost: LeaseCost | None = None,
) -> Decision:
    """``lease.terminated``: Active → CleanUp (and on, if the cleanup result came first). With
    ``read_costs`` the lease's cost is read from its end; ``cost`` is one the lease manager gave."""
    rules = _Rules(policy, read_costs, now)
    if lease_id == account.lease_id:
        if account.status is S.ACTIVE:
            return _terminate(account, lease_id, terminated_at, rules, cost, acquired_here=True)
        return unchanged(
            Verdict.DUPLICATE, account, f"lease {lease_id} has already ended; the account is {account.status}"
        )
    if account.status is S.ACTIVE:
        return unchanged(
            Verdict.IGNORED,
            account,
            f"the account is Active for lease {account.lease_id}; lease {lease_id} is not its current lease",
        )
    if account.status in (S.CLEANUP, S.QUARANTINE):
        return unchanged(
            Verdict.IGNORED,
            account,
            f"the account is already in {account.status} after lease {account.lease_id}; "
            f"the end of lease {lease_id} changes nothing",
        )
    known = _latest(account.registered_at, account.lease_terminated_at, account.last_cleanup_outcome_at)
    if known is not None and terminated_at <= known:
        return unchanged(
            Verdict.STALE,
            account,
            f"lease {lease_id} ended at {terminated_at.isoformat()}, before what the account already records",
        )
    return _terminate(account, lease_id, terminated_at, rules, cost, acquired_here=False)


def _termination_note(account: Account, lease_id: str, *, acquired_here: bool) -> str:
    if acquired_here:
        return f"lease {lease_id} ended: CleanUp"
    if account.status is S.COOLDOWN:
        return (
            f"lease {lease_id}, acquired elsewhere, used the account while it was cooling after lease "
            f"{account.lease_id}: CleanUp (lease {account.lease_id} will not be settled)"
        )
    return f"lease {lease_id}, acquired elsewhere, ended: CleanUp"


def _window_start(account: Account, *, acquired_here: bool) -> datetime | None:
    """Where the ended lease's billing window starts: its acquisition here; for a lease
    acquired elsewhere, when the account last became Available (or, if it was cooling, the
    end of the previous lease's cleanup)."""
    if acquired_here:
        return account.lease_started_at
    if account.status is S.COOLDOWN:
        return account.last_cleanup_completed_at
    return account.status_since


def _terminate(
    account: Account,
    lease_id: str,
    terminated_at: datetime,
    rules: _Rules,
    cost: LeaseCost | None,
    *,
    acquired_here: bool,
) -> Decision:
    now = rules.now
    billing = start_billing(
        lease_id=lease_id,
        started=_window_start(account, acquired_here=acquired_here),
        terminated_at=terminated_at,
        given=cost,
        read=rules.read_costs,
        now=now,
    )
    base = leaving_cooldown(
        bump(
            account,
            lease_id=lease_id,
            lease_terminated_at=terminated_at,
            lease_started_at=account.lease_started_at if acquired_here else None,
            pending_cleanup=None,
        )
    ).model_copy(update={"billing": billing})
    after, first = move(base, S.CLEANUP, now=now, cause=Cause.LEASE_TERMINATED, lease_id=lease_id)
    transitions = [first]
    note = _termination_note(account, lease_id, acquired_here=acquired_here)
    pending = account.pending_cleanup
    if pending is not None:
        if pending.completed_at >= terminated_at:
            after, more, outcome = _cleanup_outcome(after, pending, rules)
            transitions.extend(more)
            note = f"{note}; the cleanup result that arrived first applies: {outcome}"
        else:
            note = f"{note}; a cleanup result that finished before the lease ended was dropped"
    return Decision(Verdict.APPLIED, account, after, tuple(transitions), note)


# --- account.cleanup.succeeded / account.cleanup.failed ----------------------------------


def _cleaned(account: Account, result: PendingCleanup, rules: _Rules) -> tuple[Account, list[Transition], str]:
    """A successful cleanup: Cooldown under the policy, or Available when it has none."""
    now = rules.now
    base = account.model_copy(
        update={
            "last_cleanup_completed_at": result.completed_at,
            "last_cleanup_outcome_at": result.completed_at,
            "last_cleanup_error": None,
            "pending_cleanup": None,
        }
    )
    cooling = cooling_for(rules.policy, completed_at=result.completed_at, read_costs=rules.read_costs)
    if cooling is None:
        after, transition = move(base, S.AVAILABLE, now=now, cause=Cause.CLEANUP_SUCCEEDED)
        return after, [transition], "cleanup succeeded, cooldown not enforced: Available"
    billing = base.billing
    if billing is not None:
        if billing.released:  # settled in an earlier Cooldown of this lease, before a cleanup ran again
            billing = billing.model_copy(update={"released": False, "final_cost": None, "unknown_reason": None})
        first_read = first_cooldown_read(billing, mode=cooling.mode, terms=cooling.terms, until=cooling.until, now=now)
        billing = billing.model_copy(update={"next_read_at": first_read})
    base = base.model_copy(
        update={
            "cooldown_started_at": now,
            "cooldown_until": cooling.until,
            "cooldown_version": base.version,
            "cooldown_mode": cooling.mode,
            "settle_terms": cooling.terms,
            "billing": billing,
        }
    )
    after, transition = move(base, S.COOLDOWN, now=now, cause=Cause.CLEANUP_SUCCEEDED)
    return after, [transition], f"cleanup succeeded: Cooldown ({cooling.mode}) until {cooling.until.isoformat()}"


def _cleanup_outcome(account: Account, result: PendingCleanup, rules: _Rules) -> tuple[Account, list[Transition], str]:
    """CleanUp or Quarantine → Cooldown | Available | Quarantine. ``account`` is already bumped."""
    now = rules.now
    if result.succeeded:
        return _cleaned(account, result, rules)
    base = account.model_copy(
        update={
            "last_cleanup_outcome_at": result.completed_at,
            "last_cleanup_error": result.error,
            "pending_cleanup": None,
        }
    )
    after, transition = move(base, S.QUARANTINE, now=now, cause=Cause.CLEANUP_FAILED, reason=result.error)
    return after, [transition], "cleanup failed: Quarantine"


def cleanup_finished(
    account: Account,
    *,
    succeeded: bool,
    completed_at: datetime,
    error: str | None,
    policy: CooldownPolicy,
    now: datetime,
    read_costs: bool = False,
) -> Decision:
    """``account.cleanup.succeeded`` / ``account.cleanup.failed``."""
    result = PendingCleanup(succeeded=succeeded, completed_at=completed_at, error=None if succeeded else error)
    what = "cleanup success" if succeeded else "cleanup failure"
    last = account.last_cleanup_outcome_at
    if last is not None and completed_at <= last:
        if completed_at == last:
            return unchanged(Verdict.DUPLICATE, account, f"this {what} was already applied")
        return unchanged(
            Verdict.STALE, account, f"this {what} is older than the last cleanup result ({last.isoformat()})"
        )
    if account.status in (S.CLEANUP, S.QUARANTINE):
        return _cleanup_expected(account, result, what, _Rules(policy, read_costs, now))
    return _cleanup_unexpected(account, result, what, now=now)


def _cleanup_expected(account: Account, result: PendingCleanup, what: str, rules: _Rules) -> Decision:
    """A cleanup result for an account in CleanUp or Quarantine: it settles the cycle."""
    ended = account.lease_terminated_at
    if account.status is S.CLEANUP and ended is not None and result.completed_at < ended:
        return unchanged(
            Verdict.STALE,
            account,
            f"this {what} finished before lease {account.lease_id} ended: it belongs to an earlier cycle",
        )
    if account.status is S.QUARANTINE and not result.succeeded:
        after = bump(account, last_cleanup_outcome_at=result.completed_at, last_cleanup_error=result.error)
        return Decision(Verdict.RECORDED, account, after, (), "cleanup failed again: still in Quarantine")
    after, transitions, note = _cleanup_outcome(bump(account), result, rules)
    return Decision(Verdict.APPLIED, account, after, tuple(transitions), note)


def _cleanup_unexpected(account: Account, result: PendingCleanup, what: str, *, now: datetime) -> Decision:
    """A cleanup result while no cleanup is expected (Active, Available, Cooldown): the
    lease's termination is still to come."""
    status = account.status
    if not result.succeeded and status is not S.ACTIVE:
        base = leaving_cooldown(
            bump(
                account,
                last_cleanup_outcome_at=result.completed_at,
                last_cleanup_error=result.error,
                pending_cleanup=None,
            )
        )
        after, transition = move(base, S.QUARANTINE, now=now, cause=Cause.CLEANUP_FAILED, reason=result.error)
        return Decision(
            Verdict.APPLIED,
            account,
            after,
            (transition,),
            f"a cleanup failed while the account was {status}: Quarantine (it must not be handed out)",
        )
    started = account.lease_started_at
    if status is S.ACTIVE and started is not None and result.completed_at < started:
        return unchanged(
            Verdict.STALE, account, f"this {what} finished before the current lease {account.lease_id} started"
        )
    pending = account.pending_cleanup
    if pending is not None and result.completed_at <= pending.completed_at:
        verdict = Verdict.DUPLICATE if result.completed_at == pending.completed_at else Verdict.STALE
        return unchanged(verdict, account, "a cleanup result as recent is already waiting for its lease's end")
    after = bump(account, pending_cleanup=result)
    return Decision(
        Verdict.RECORDED,
        account,
        after,
        (),
        f"{what} arrived before the lease's termination: kept until the termination arrives",
    )
