"""The wait-list and the low-pool alert as pure rules (no server): who may queue, the order, the
expected time, expiry, and when an alert is due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from graceperiod.contracts.cooldown import CooldownPolicy
from graceperiod.contracts.wait_list import WaitStatus
from graceperiod.cooldown.domain import waits
from graceperiod.cooldown.domain.pool_alerts import PoolAlert, alert_due
from graceperiod.cooldown.domain.waits import WaitRequest, WaitState

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)
POLICY = CooldownPolicy(wait_expiry_hours=24)


def request(lease: str, at: datetime, state: WaitState = WaitState.WAITING) -> WaitRequest:
    queued = waits.new_request(lease, request_key=f"k-{lease}", requested_by=None, limit=24 * H, now=at)
    return queued.model_copy(update={"state": state})


def test_first_in_first_out_with_the_lease_id_breaking_ties() -> None:
    line = [
        request("L3", T0 + 2 * H),
        request("L2", T0),
        request("L1", T0),
        request("L0", T0 - H, WaitState.GRANTED),
        request("L4", T0 + H, WaitState.GRANTING),
    ]
    assert waits.positions(line) == {"L1": 1, "L2": 2, "L4": 3, "L3": 4}


def test_the_expected_time_is_now_while_accounts_are_available_then_the_cooldown_deadlines_in_order() -> None:
    upcoming = [T0 + 30 * H, T0 + 5 * H, T0 + 12 * H]
    assert waits.estimate(1, available=1, upcoming=upcoming, now=T0).at == T0
    second = waits.estimate(2, available=1, upcoming=upcoming, now=T0)
    assert second.at == T0 + 5 * H
    assert "release 1 of 3" in second.note
    assert waits.estimate(4, available=1, upcoming=upcoming, now=T0).at == T0 + 30 * H
    beyond = waits.estimate(5, available=1, upcoming=upcoming, now=T0)
    assert beyond.at is None
    assert "4 releases needed, 3 accounts cooling" in beyond.note


def test_a_lease_with_an_account_or_an_open_request_may_not_queue() -> None:
    assert waits.refusal("L1", existing=None, held_account="123456789012") == (
        "lease L1 already holds account 123456789012"
    )
    refusal = waits.refusal("L1", existing=request("L1", T0), held_account=None)
    assert refusal is not None
    assert "already has an open request" in refusal
    assert waits.refusal("L1", existing=request("L1", T0, WaitState.GRANTING), held_account=None) is not None
    for closed in (WaitState.EXPIRED, WaitState.CANCELLED):
        assert waits.refusal("L1", existing=request("L1", T0, closed), held_account=None) is None
    assert waits.refusal("L1", existing=None, held_account=None) is None


def test_a_request_waits_what_it_asked_for_at_most_the_policys_expiry() -> None:
    assert waits.wait_limit(POLICY, None) == 24 * H
    assert waits.wait_limit(POLICY, 2) == 2 * H
    assert waits.wait_limit(POLICY, 100) == 24 * H


def test_only_a_waiting_request_expires_and_only_once_its_time_is_up() -> None:
    queued = request("L1", T0)
    assert not waits.expired(queued, T0 + 23 * H)
    assert waits.expired(queued, T0 + 24 * H)
    assert not waits.expired(queued.model_copy(update={"state": WaitState.GRANTING}), T0 + 30 * H)


def test_a_grant_in_progress_is_taken_over_only_once_overdue() -> None:
    granting = request("L1", T0).model_copy(update={"state": WaitState.GRANTING, "granting_since": T0})
    assert not waits.granting_overdue(granting, T0 + timedelta(seconds=29), timedelta(seconds=30))
    assert waits.granting_overdue(granting, T0 + timedelta(seconds=30), timedelta(seconds=30))


def test_a_grant_in_progress_shows_as_waiting_and_a_closed_request_has_no_position() -> None:
    estimate = waits.Estimate(at=T0, note="n")
    granting = request("L1", T0, WaitState.GRANTING).view(position=1, eta=estimate)
    assert (granting.status, granting.position, granting.eta) == (WaitStatus.WAITING, 1, T0)
    granted = request("L1", T0, WaitState.GRANTED).view(position=1)
    assert (granted.status, granted.position) == (WaitStatus.GRANTED, None)


def test_an_alert_is_due_below_the_threshold_at_most_once_per_period() -> None:
    policy = CooldownPolicy(low_pool_threshold=3, low_pool_alert_hours=6)
    last = PoolAlert(number=1, at=T0, available=1, threshold=3)
    assert alert_due(policy, available=2, last=None, now=T0)
    assert not alert_due(policy, available=3, last=None, now=T0)  # "below": 3 is not below 3
    assert not alert_due(policy, available=0, last=last, now=T0 + 5 * H)
    assert alert_due(policy, available=0, last=last, now=T0 + 6 * H)
    assert not alert_due(CooldownPolicy(low_pool_threshold=0), available=0, last=None, now=T0)
