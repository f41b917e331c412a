"""How an account is shown to callers (the contracts' AccountView)."""

from __future__ import annotations

from collections.abc import Sequence

from graceperiod.contracts.cooldown import AccountView, EarlyRelease, Transition
from graceperiod.cooldown.domain.accounts import Account


def account_view(account: Account, history: Sequence[Transition] = ()) -> AccountView:
    early = account.early_release
    return AccountView(
        account_id=account.account_id,
        name=account.name,
        email=account.email,
        status=account.status,
        status_since=account.status_since,
        lease_id=account.lease_id,
        last_cleanup_completed_at=account.last_cleanup_completed_at,
        cooldown_until=account.cooldown_until,
        early_release=EarlyRelease(by=early.by, at=early.at, reason=early.reason) if early else None,
        history=list(history),
        lease_started_at=account.lease_started_at,
        lease_terminated_at=account.lease_terminated_at,
        cooldown_started_at=account.cooldown_started_at,
    )
