"""The rules that end a Cooldown: on time (a tick) or early (an admin's command)."""

from __future__ import annotations

from datetime import datetime, timedelta

from graceperiod.contracts.cooldown import AccountStatus, ActorRef, Cause
from graceperiod.cooldown.domain.accounts import Account, EarlyReleaseRecord
from graceperiod.cooldown.domain.decisions import Decision, Verdict, bump, leaving_cooldown, move, unchanged

S = AccountStatus


def release_due(account: Account, *, now: datetime) -> Decision:
    """A tick: Cooldown → Available once ``cooldown_until`` has passed (``<= now``)."""
    if account.status is not S.COOLDOWN or account.cooldown_until is None:
        return unchanged(Verdict.IGNORED, account, f"the account is {account.status}, not in Cooldown")
    if account.cooldown_until > now:
        return unchanged(Verdict.IGNORED, account, f"cooling until {account.cooldown_until.isoformat()}")
    after, transition = move(leaving_cooldown(bump(account)), S.AVAILABLE, now=now, cause=Cause.COOLDOWN_ELAPSED)
    return Decision(Verdict.APPLIED, account, after, (transition,), "cooldown elapsed: Available")


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


def _release_now(account: Account, release: EarlyReleaseRecord) -> Decision:
    assert account.cooldown_until is not None
    now = release.at
    base = leaving_cooldown(bump(account, early_release=release))
    after, transition = move(
        base, S.AVAILABLE, now=now, cause=Cause.RELEASED_EARLY, actor=release.by, reason=release.reason
    )
    left = max(account.cooldown_until - now, timedelta(0))
    return Decision(
        Verdict.APPLIED,
        account,
        after,
        (transition,),
        f"released {_hours(left)} before its cooldown ended: Available; billing attribution may be inaccurate",
    )


def _hours(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.1f} h"
