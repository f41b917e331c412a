"""Events announced per decision, and the account view."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from graceperiod.contracts.cooldown import (
    AccountSettled,
    AccountStatus,
    AccountStatusChanged,
    ActorRef,
    CooldownPolicy,
    Settlement,
)
from graceperiod.cooldown.domain import accounts, acquisition, lease_cycle, release
from graceperiod.cooldown.domain.events import events_for
from graceperiod.cooldown.domain.views import account_view

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)
ON = CooldownPolicy(enforce_account_cooldown=True, cooldown_period_hours=24)
ADMIN = ActorRef(user_id="u-admin", email="admin@example.com")


def _cooling() -> accounts.Account:
    account = lease_cycle.register(account_id="123456789012", name="Sandbox", email=None, now=T0).after
    account = acquisition.acquire(account, lease_id="L1", now=T0 + H).after
    account = lease_cycle.lease_terminated(
        account, lease_id="L1", terminated_at=T0 + 5 * H, policy=ON, now=T0 + 5 * H
    ).after
    return lease_cycle.cleanup_finished(
        account, succeeded=True, completed_at=T0 + 6 * H, error=None, policy=ON, now=T0 + 6 * H
    ).after


def test_each_transition_is_announced_with_an_id_naming_account_version_and_position() -> None:
    active = acquisition.acquire(
        lease_cycle.register(account_id="123456789012", name="S", email=None, now=T0).after, lease_id="L1", now=T0 + H
    ).after
    early = lease_cycle.cleanup_finished(
        active, succeeded=True, completed_at=T0 + 6 * H, error=None, policy=ON, now=T0 + 6 * H
    ).after
    decision = lease_cycle.lease_terminated(early, lease_id="L1", terminated_at=T0 + 5 * H, policy=ON, now=T0 + 7 * H)
    events = events_for(decision, now=T0 + 7 * H)
    version = decision.after.version
    assert [e.message_id for e in events] == [
        f"cooldown:status-changed:123456789012:{version}:0",
        f"cooldown:status-changed:123456789012:{version}:1",
    ]
    assert all(isinstance(e.event, AccountStatusChanged) for e in events)
    assert [e.event.transition.to_status for e in events] == [  # type: ignore[union-attr]
        AccountStatus.CLEANUP,
        AccountStatus.COOLDOWN,
    ]


def test_leaving_cooldown_settles_the_lease_with_its_cost_window() -> None:
    cooling = _cooling()
    decision = release.release_due(cooling, now=T0 + 30 * H)
    events = events_for(decision, now=T0 + 30 * H)
    settled = events[-1]
    assert settled.message_id == f"cooldown:settled:123456789012:{decision.after.version}"
    assert settled.event == AccountSettled(
        occurred_at=T0 + 30 * H,
        account_id="123456789012",
        lease_id="L1",
        cost_window_start=T0 + H,
        cost_window_end=T0 + 6 * H,
        settled_at=T0 + 30 * H,
        released_early=False,
        lease_terminated_at=T0 + 5 * H,
        cooldown_until=T0 + 30 * H,
        settlement=Settlement.PERIOD_ELAPSED,
    )


def test_an_early_release_settles_flagged_as_early() -> None:
    decision = release.release_early(_cooling(), actor=ADMIN, reason="r", request_key="k", now=T0 + 8 * H)
    settled = events_for(decision, now=T0 + 8 * H)[-1].event
    assert isinstance(settled, AccountSettled)
    assert settled.released_early
    assert settled.settled_at == T0 + 8 * H


def test_leaving_cooldown_any_other_way_settles_nothing() -> None:
    cooling = _cooling()
    used_elsewhere = lease_cycle.lease_terminated(
        cooling, lease_id="L7", terminated_at=T0 + 9 * H, policy=ON, now=T0 + 9 * H
    )
    failed = lease_cycle.cleanup_finished(
        cooling, succeeded=False, completed_at=T0 + 9 * H, error="x", policy=ON, now=T0
    )
    for decision in (used_elsewhere, failed):
        assert not any(isinstance(e.event, AccountSettled) for e in events_for(decision, now=T0 + 9 * H))


def test_an_unchanged_decision_announces_nothing() -> None:
    assert events_for(release.release_due(_cooling(), now=T0 + 7 * H), now=T0 + 7 * H) == []


def test_the_view_shows_the_cooldown_the_lease_and_the_early_release() -> None:
    cooling = _cooling()
    view = account_view(cooling)
    assert (view.status, view.cooldown_until, view.lease_id) == (AccountStatus.COOLDOWN, T0 + 30 * H, "L1")
    assert (view.lease_started_at, view.lease_terminated_at, view.cooldown_started_at) == (
        T0 + H,
        T0 + 5 * H,
        T0 + 6 * H,
    )
    released = release.release_early(cooling, actor=ADMIN, reason="needed", request_key="k", now=T0 + 8 * H).after
    early = account_view(released).early_release
    assert early is not None
    assert (early.by, early.at, early.reason) == (ADMIN, T0 + 8 * H, "needed")
