"""How an account is shown to callers (the contracts' AccountView)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from graceperiod.contracts.cooldown import AccountView, EarlyRelease, Transition
from graceperiod.cooldown.domain.accounts import Account
from graceperiod.cooldown.domain.billing import expected_release


def expected_release_at(account: Account, now: datetime) -> datetime | None:
    """When a cooling account is expected to be released if its cost stays as it is."""
    until = account.cooldown_until
    if until is None:
        return None
    return expected_release(
        mode=account.cooldown_mode, terms=account.settle_terms, billing=account.billing, until=until, now=now
    )


def account_view(account: Account, history: Sequence[Transition] = (), *, now: datetime | None = None) -> AccountView:
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
        cooldown_mode=account.cooldown_mode,
        expected_release_at=expected_release_at(account, now or account.status_since),
        billing=account.billing.view() if account.billing else None,
        last_cleanup_error=account.last_cleanup_error,
    )
