"""The rules that end a Cooldown: on time (a tick), when its lease's cost has settled (a
cost read, ``cost_reads``) or early (an admin's command)."""

from __future__ import annotations

from datetime import datetime, timedelta

from graceperiod.contracts.cooldown import AccountStatus, ActorRef, Cause
from graceperiod.contracts.lease_costs import LeaseCost
from graceperiod.cooldown.domain.accounts import Account, EarlyReleaseRecord
from graceperiod.cooldown.domain.decisions import Decision, Verdict, bump, leaving_cooldown, move, unchanged

S = AccountStatus

#: How long the release pass leaves a due account to its final cost read before releasing it
#: without one (the read is made by the cost pass of the same tick, normally).
FINAL_READ_GRACE = timedelta(minutes=10)


def release(
    account: Account,
    *,
    cause: Cause,
    now: datetime,
    final: LeaseCost | None,
    unknown_reason: str | None,
    note: str,
    actor: ActorRef | None = None,
    reason: str | None = None,
    **changes: object,
) -> Decision:
    """Cooldown → Available, the lease's billing settled with ``final`` (or why it is unknown)."""
    billing = account.billing
    if billing is not None:
        billing = billing.model_copy(
            update={
                "released": True,
                "final_cost": final,
                "unknown_reason": None if final is not None else unknown_reason,
                "next_read_at": None,
            }
        )
    base = leaving_cooldown(bump(account, billing=billing, **changes))
    after, transition = move(base, S.AVAILABLE, now=now, cause=cause, actor=actor, reason=reason)
    return Decision(Verdict.APPLIED, account, after, (transition,), note)


def _unread_reason(account: Account, now: datetime) -> str | None:
    billing = account.billing
    if billing is None:
        return None
    if billing.next_read_at is not None and billing.next_read_at <= now:
        minutes = FINAL_READ_GRACE.total_seconds() / 60
        return f"the final cost read was not made within {minutes:g} minutes of the deadline"
    if billing.last_problem:
        return f"the last cost read failed: {billing.last_problem}"
    return "no cost read was made at the deadline"


def release_due(account: Account, *, now: datetime) -> Decision:
    """A tick: Cooldown → Available once ``cooldown_until`` has passed (``<= now``). An account
    whose final cost read is due is left to that read for :data:`FINAL_READ_GRACE`."""
    if account.status is not S.COOLDOWN or account.cooldown_until is None:
        return unchanged(Verdict.IGNORED, account, f"the account is {account.status}, not in Cooldown")
    until = account.cooldown_until
    if until > now:
        return unchanged(Verdict.IGNORED, account, f"cooling until {until.isoformat()}")
    billing = account.billing
    read_due = billing is not None and billing.next_read_at is not None and billing.next_read_at <= now
    if read_due and now < until + FINAL_READ_GRACE:
        return unchanged(Verdict.IGNORED, account, "its final cost read is due: the read releases it")
    reason = _unread_reason(account, now)
    note = "cooldown elapsed: Available" + (f"; cost unknown: {reason}" if reason else "")
    return release(account, cause=Cause.COOLDOWN_ELAPSED, now=now, final=None, unknown_reason=reason, note=note)


_REFUSALS = {
    S.CLEANUP: "the account is in CleanUp: its cleanup has not finished, so it cannot be released",
    S.QUARANTINE: "the account is in Quarantine after a failed cleanup; fix it and re-run the cleanup instead",
}


def release_early(account: Account, *, actor: ActorRef, reason: str, request_key: str, now: datetime) -> Decision:
    """An admin's early release: Cooldown → Available now. Idempotent; refused otherwise."""
    earlier = account.early_release
    if earlier is not None and earlier.request_key == request_key:
        return unchanged(
            Verdict.DUPLICATE,
            account,
            f"this request already released the account at {earlier.at.isoformat()}; nothing more to do",
        )
    status = account.status
    if status is S.COOLDOWN:
        return _release_now(account, EarlyReleaseRecord(by=actor, at=now, reason=reason, request_key=request_key))
    if status is S.AVAILABLE:
        if earlier is not None and earlier.at == account.status_since:
            return unchanged(
                Verdict.DUPLICATE,
                account,
                f"already released early by {earlier.by.email} at {earlier.at.isoformat()}; nothing to do",
            )
        return unchanged(
            Verdict.DUPLICATE,
            account,
            f"the account is already Available (since {account.status_since.isoformat()}); nothing to release",
        )
    if status is S.ACTIVE:
        refusal = f"the account is Active (lease {account.lease_id}); only a Cooldown account can be released"
        return unchanged(Verdict.REFUSED, account, refusal)
    return unchanged(Verdict.REFUSED, account, _REFUSALS[status])


def _release_now(account: Account, early: EarlyReleaseRecord) -> Decision:
    assert account.cooldown_until is not None
    now = early.at
    left = max(account.cooldown_until - now, timedelta(0))
    return release(
        account,
        cause=Cause.RELEASED_EARLY,
        now=now,
        final=None,
        unknown_reason="released early, before its costs were final",
        note=f"released {_hours(left)} before its cooldown ended: Available; billing attribution may be inaccurate",
        actor=early.by,
        reason=early.reason,
        early_release=early,
    )


def _hours(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.1f} h"
