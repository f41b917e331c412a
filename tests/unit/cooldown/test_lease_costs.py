"""The lease's cost and the settled mode, as pure rules (no server): the billing window, when
reads are due, when costs count as settled, what a failed read or a used-up budget does, and
what the settlement event carries."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from graceperiod.contracts.cooldown import (
    AccountSettled,
    AccountStatus,
    ActorRef,
    Cause,
    CooldownMode,
    CooldownPolicy,
    Settlement,
)
from graceperiod.contracts.lease_costs import BillingWindow, CostAmounts, CostSource, LeaseCost, SettledMode
from graceperiod.cooldown.domain import accounts, acquisition, lease_cycle, release
from graceperiod.cooldown.domain.accounts import Account
from graceperiod.cooldown.domain.billing import (
    CostWindow,
    FailedRead,
    ReadFailure,
    ReadOutcome,
    expected_release,
    request_estimate,
)
from graceperiod.cooldown.domain.cost_reads import apply_read
from graceperiod.cooldown.domain.decisions import Decision, Verdict
from graceperiod.cooldown.domain.events import events_for
from graceperiod.cooldown.domain.views import account_view

S = AccountStatus
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)
SETTLED = CooldownPolicy(
    enforce_account_cooldown=True,
    mode=CooldownMode.SETTLED,
    settled=SettledMode(quiet_hours=6, min_hours=12, max_hours=48, read_interval_hours=2),
)
FIXED = CooldownPolicy(enforce_account_cooldown=True, cooldown_period_hours=24)


def cost(amount: str, at: datetime, *, estimated: bool = True) -> LeaseCost:
    return LeaseCost(unblended=Decimal(amount), amortized=Decimal(amount), estimated=estimated, read_at=at)


def throttled() -> FailedRead:
    return FailedRead(failure=ReadFailure.THROTTLED, reason="throttled: LimitExceededException: Rate exceeded")


def ended(policy: CooldownPolicy, *, reads: bool = True, given: LeaseCost | None = None) -> Account:
    """Acquired at T0, lease ended at T0+10h."""
    account = lease_cycle.register(account_id="123456789012", name="Sandbox", email=None, now=T0 - H).after
    account = acquisition.acquire(account, lease_id="L1", now=T0).after
    return lease_cycle.lease_terminated(
        account,
        lease_id="L1",
        terminated_at=T0 + 10 * H,
        policy=policy,
        now=T0 + 10 * H,
        read_costs=reads,
        cost=given,
    ).after


def cleaned(account: Account, policy: CooldownPolicy, *, reads: bool = True, at: datetime = T0 + 11 * H) -> Account:
    return lease_cycle.cleanup_finished(
        account, succeeded=True, completed_at=at, error=None, policy=policy, now=at, read_costs=reads
    ).after


def read(account: Account, outcome: ReadOutcome, now: datetime) -> Decision:
    assert account.billing is not None
    decision = apply_read(account, number=account.billing.reads + 1, outcome=outcome, now=now)
    assert accounts.violations(decision.after) == []
    return decision


def settled_event(decision: Decision, now: datetime) -> AccountSettled:
    [settled] = [e.event for e in events_for(decision, now=now) if isinstance(e.event, AccountSettled)]
    return settled


# --- the window ------------------------------------------------------------------------------


def test_the_window_is_whole_days_from_the_acquisition_to_the_termination_with_an_exclusive_end() -> None:
    window = CostWindow.covering(datetime(2026, 3, 2, 23, 30, tzinfo=UTC), datetime(2026, 3, 4, 0, 10, tzinfo=UTC))
    assert window.view() == BillingWindow(start=date(2026, 3, 2), end=date(2026, 3, 5))
    assert CostWindow.covering(None, T0).view() == BillingWindow(start=date(2026, 3, 2), end=date(2026, 3, 3))


def test_a_lease_acquired_elsewhere_is_billed_from_the_accounts_last_release() -> None:
    account = lease_cycle.register(account_id="123456789012", name="Sandbox", email=None, now=T0 - 50 * H).after
    terminated = lease_cycle.lease_terminated(
        account, lease_id="X9", terminated_at=T0, policy=SETTLED, now=T0, read_costs=True
    ).after
    assert terminated.billing is not None
    assert terminated.billing.window.view() == BillingWindow(start=date(2026, 2, 28), end=date(2026, 3, 3))


# --- off: today's behaviour ------------------------------------------------------------------------


def test_without_reads_nothing_is_tracked_and_the_release_is_todays() -> None:
    account = cleaned(ended(FIXED, reads=False), FIXED, reads=False)
    assert account.billing is None
    assert (account.cooldown_mode, account.cooldown_until) == (CooldownMode.FIXED, T0 + 35 * H)
    decision = release.release_due(account, now=T0 + 35 * H)
    assert decision.verdict is Verdict.APPLIED
    event = settled_event(decision, T0 + 35 * H)
    assert event.settlement is Settlement.PERIOD_ELAPSED
    assert (event.final_cost, event.cost_at_termination, event.billing_window, event.cost_unknown_reason) == (
        None,
        None,
        None,
        None,
    )


def test_settled_mode_without_reads_falls_back_to_the_fixed_period() -> None:
    account = cleaned(ended(SETTLED, reads=False), SETTLED, reads=False)
    assert (account.cooldown_mode, account.settle_terms) == (CooldownMode.FIXED, None)
    assert account.cooldown_until == T0 + 11 * H + 24 * H


# --- settled mode ------------------------------------------------------------------------------


def test_costs_that_keep_arriving_hold_the_account_until_they_stop_then_it_leaves_with_its_final_cost() -> None:
    account = ended(SETTLED)
    assert account.billing is not None
    assert account.billing.next_read_at == T0 + 10 * H  # the cost at termination, at once
    account = read(account, cost("4", T0 + 10 * H), T0 + 10 * H).after
    account = cleaned(account, SETTLED)
    assert account.settle_terms is not None
    assert account.settle_terms.earliest == T0 + 23 * H
    assert account.cooldown_until == T0 + 59 * H
    assert account.billing is not None
    assert account.billing.next_read_at == T0 + 17 * H  # a read earlier could not release it sooner

    figures = {17: "10", 19: "10", 21: "10", 23: "15", 25: "15", 27: "15"}
    for hour, amount in figures.items():
        decision = read(account, cost(amount, T0 + hour * H), T0 + hour * H)
        assert decision.verdict is Verdict.RECORDED, (hour, decision.note)
        account = decision.after
        assert account.billing is not None
        assert account.billing.next_read_at == T0 + (hour + 2) * H
    assert account.billing is not None
    assert account.billing.still_moving is False
    assert account.billing.changed_at == T0 + 23 * H  # the 23h read found 15: not settled at the earliest

    decision = read(account, cost("15", T0 + 29 * H), T0 + 29 * H)
    assert decision.verdict is Verdict.APPLIED
    assert decision.transitions[0].cause is Cause.COSTS_SETTLED
    assert decision.after.status is S.AVAILABLE
    event = settled_event(decision, T0 + 29 * H)
    assert event.settlement is Settlement.COSTS_SETTLED
    assert event.billing_window == BillingWindow(start=date(2026, 3, 2), end=date(2026, 3, 3))
    assert event.final_cost is not None
    assert event.final_cost.unblended == Decimal(15)
    assert event.cost_at_termination is not None
    assert event.cost_at_termination.unblended == Decimal(4)
    assert event.late_difference == CostAmounts(unblended=Decimal(11), amortized=Decimal(11))
    assert event.cost_unknown_reason is None


def test_an_unchanged_cost_is_not_settled_before_the_earliest_release() -> None:
    account = cleaned(read(ended(SETTLED), cost("4", T0 + 10 * H), T0 + 10 * H).after, SETTLED)
    decision = read(account, cost("4", T0 + 17 * H), T0 + 17 * H)  # unchanged for 7 h > 6 h quiet, but < 23 h
    assert decision.verdict is Verdict.RECORDED
    decision = read(decision.after, cost("4", T0 + 23 * H), T0 + 23 * H)
    assert decision.verdict is Verdict.APPLIED
    assert settled_event(decision, T0 + 23 * H).late_difference == CostAmounts(
        unblended=Decimal(0), amortized=Decimal(0)
    )


def test_costs_still_moving_at_the_latest_release_leave_with_the_last_figure() -> None:
    account = cleaned(read(ended(SETTLED), cost("1", T0 + 10 * H), T0 + 10 * H).after, SETTLED)
    amount = 1
    hour = 17
    while account.status is S.COOLDOWN:
        amount += 1
        decision = read(account, cost(str(amount), T0 + hour * H), T0 + hour * H)
        account = decision.after
        hour += 2
    assert hour - 2 == 59  # held to the latest release, read every 2 h
    assert decision.transitions[0].cause is Cause.COOLDOWN_ELAPSED
    event = settled_event(decision, T0 + 59 * H)
    assert event.settlement is Settlement.MAXIMUM_REACHED
    assert event.final_cost is not None
    assert event.final_cost.unblended == Decimal(amount)


def test_throttling_never_holds_an_account_past_its_latest_release() -> None:
    account = cleaned(read(ended(SETTLED), cost("4", T0 + 10 * H), T0 + 10 * H).after, SETTLED)
    hour = 17
    while account.status is S.COOLDOWN:
        decision = read(account, throttled(), T0 + hour * H)
        account = decision.after
        assert account.billing is not None
        hour += 2
    assert decision.after.status_since == T0 + 59 * H
    event = settled_event(decision, T0 + 59 * H)
    assert event.settlement is Settlement.MAXIMUM_REACHED
    assert event.final_cost is None
    assert event.cost_unknown_reason is not None
    assert "LimitExceededException" in event.cost_unknown_reason
    assert event.cost_at_termination is not None  # still reported
    view = account_view(decision.after)
    assert view.billing is not None
    assert view.billing.unknown_reason == event.cost_unknown_reason


def test_a_used_up_budget_postpones_the_read_to_the_next_utc_day() -> None:
    account = cleaned(read(ended(SETTLED), cost("4", T0 + 10 * H), T0 + 10 * H).after, SETTLED)
    budget = FailedRead(failure=ReadFailure.BUDGET, reason="the daily budget of 1 Cost Explorer requests is used up")
    after = read(account, budget, T0 + 17 * H).after
    assert after.billing is not None
    assert after.billing.next_read_at == datetime(2026, 3, 4, tzinfo=UTC)  # read at 02:00 on the 3rd
    assert after.billing.last_problem == budget.reason


def test_a_read_out_of_turn_changes_nothing() -> None:
    account = ended(SETTLED)
    done = apply_read(account, number=1, outcome=cost("4", T0 + 10 * H), now=T0 + 10 * H)
    again = apply_read(done.after, number=1, outcome=cost("9", T0 + 10 * H), now=T0 + 10 * H)
    ahead = apply_read(done.after, number=3, outcome=cost("9", T0 + 10 * H), now=T0 + 10 * H)
    assert (again.verdict, ahead.verdict) == (Verdict.DUPLICATE, Verdict.STALE)
    assert again.after == ahead.after == done.after


def test_the_release_pass_leaves_a_due_final_read_to_the_cost_pass_then_releases_without_it() -> None:
    account = cleaned(read(ended(FIXED), cost("4", T0 + 10 * H), T0 + 10 * H).after, FIXED)
    assert account.billing is not None
    assert account.billing.next_read_at == account.cooldown_until == T0 + 35 * H
    assert release.release_due(account, now=T0 + 35 * H).verdict is Verdict.IGNORED
    decision = release.release_due(account, now=T0 + 35 * H + release.FINAL_READ_GRACE)
    assert decision.verdict is Verdict.APPLIED
    event = settled_event(decision, T0 + 36 * H)
    assert event.final_cost is None
    assert event.cost_unknown_reason is not None
    assert "not made within 10 minutes" in event.cost_unknown_reason


def test_fixed_mode_reads_the_final_cost_at_the_deadline_and_releases_with_it() -> None:
    account = cleaned(read(ended(FIXED), cost("4", T0 + 10 * H), T0 + 10 * H).after, FIXED)
    decision = read(account, cost("6", T0 + 35 * H, estimated=False), T0 + 35 * H)
    assert decision.transitions[0].cause is Cause.COOLDOWN_ELAPSED
    event = settled_event(decision, T0 + 35 * H)
    assert event.settlement is Settlement.PERIOD_ELAPSED
    assert event.final_cost == cost("6", T0 + 35 * H, estimated=False)
    assert event.late_difference == CostAmounts(unblended=Decimal(2), amortized=Decimal(2))


def test_a_cost_the_lease_manager_gives_is_the_cost_at_termination() -> None:
    given = LeaseCost(unblended=Decimal("3.5"), read_at=T0 + 10 * H, source=CostSource.LEASE_MANAGER)
    account = ended(SETTLED, given=given)
    assert account.billing is not None
    assert account.billing.at_termination == given
    assert account.billing.next_read_at is None  # nothing to read until the Cooldown
    account = cleaned(account, SETTLED)
    assert account.billing is not None
    assert account.billing.next_read_at == T0 + 17 * H


def test_an_early_release_publishes_no_final_cost_and_says_why() -> None:
    account = cleaned(read(ended(SETTLED), cost("4", T0 + 10 * H), T0 + 10 * H).after, SETTLED)
    admin = ActorRef(user_id="u", email="a@example.com")
    decision = release.release_early(account, actor=admin, reason="needed", request_key="k", now=T0 + 12 * H)
    event = settled_event(decision, T0 + 12 * H)
    assert event.settlement is Settlement.RELEASED_EARLY
    assert event.final_cost is None
    assert event.cost_unknown_reason == "released early, before its costs were final"


def test_acquiring_the_account_again_forgets_the_last_leases_billing() -> None:
    account = cleaned(read(ended(SETTLED), cost("4", T0 + 10 * H), T0 + 10 * H).after, SETTLED)
    released = read(read(account, cost("4", T0 + 17 * H), T0 + 17 * H).after, cost("4", T0 + 23 * H), T0 + 23 * H)
    assert released.after.billing is not None
    assert released.after.billing.released
    assert acquisition.acquire(released.after, lease_id="L2", now=T0 + 24 * H).after.billing is None


# --- expected release and request estimate -----------------------------------------------------------


def test_the_expected_release_follows_the_last_change_and_the_read_grid() -> None:
    account = cleaned(read(ended(SETTLED), cost("4", T0 + 10 * H), T0 + 10 * H).after, SETTLED)
    until = account.cooldown_until
    assert until is not None

    def expected(a: Account, now: datetime) -> datetime:
        return expected_release(mode=a.cooldown_mode, terms=a.settle_terms, billing=a.billing, until=until, now=now)

    assert expected(account, T0 + 11 * H) == T0 + 23 * H  # settled at the earliest if the cost stays put
    moved = read(account, cost("9", T0 + 21 * H), T0 + 21 * H).after
    assert expected(moved, T0 + 21 * H) == T0 + 27 * H
    assert account_view(moved, now=T0 + 21 * H).expected_release_at == T0 + 27 * H


@pytest.mark.parametrize(
    ("policy", "low", "high"),
    [
        (FIXED, 2, 2),
        (SETTLED, 5, 23),
        (CooldownPolicy(enforce_account_cooldown=True, mode=CooldownMode.SETTLED), 8, 32),
    ],
)
def test_the_request_estimate_per_lease_and_per_month(policy: CooldownPolicy, low: int, high: int) -> None:
    estimate = request_estimate(policy, leases_last_30_days=100, requests_last_30_days=42)
    assert (estimate.requests_per_lease_low, estimate.requests_per_lease_high) == (low, high)
    assert estimate.expected_monthly_requests == min(100 * high, policy.cost_requests_per_day * 30)
    assert estimate.expected_monthly_cost_usd == Decimal(estimate.expected_monthly_requests) * Decimal("0.01")
    assert estimate.monthly_budget_cap_usd == Decimal(policy.cost_requests_per_day * 30) * Decimal("0.01")


def test_a_minimum_above_the_maximum_wins() -> None:
    upside_down = SETTLED.model_copy(update={"settled": SettledMode(quiet_hours=6, min_hours=50, max_hours=48)})
    account = cleaned(read(ended(upside_down), cost("4", T0 + 10 * H), T0 + 10 * H).after, upside_down)
    assert account.settle_terms is not None
    assert account.settle_terms.earliest == account.cooldown_until == T0 + 61 * H
