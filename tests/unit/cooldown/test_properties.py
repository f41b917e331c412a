"""Property tests: no sequence of events, commands, ticks and policy changes, at any times,
drives an account into an illegal state or makes a transition the machine does not allow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from graceperiod.contracts.cooldown import (
    COOLDOWN_HOURS_MAX,
    COOLDOWN_HOURS_MIN,
    AccountStatus,
    ActorRef,
    Cause,
    CooldownMode,
    CooldownPolicy,
)
from graceperiod.contracts.lease_costs import LeaseCost, SettledMode
from graceperiod.cooldown.domain import accounts, acquisition, lease_cycle, release
from graceperiod.cooldown.domain.accounts import ALLOWED_TRANSITIONS, Account
from graceperiod.cooldown.domain.billing import FailedRead, ReadFailure, ReadOutcome
from graceperiod.cooldown.domain.cost_reads import apply_read
from graceperiod.cooldown.domain.decisions import Decision, Verdict
from graceperiod.cooldown.domain.events import events_for
from graceperiod.cooldown.domain.policy import cooldown_period, cooling_for

S = AccountStatus
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ADMIN = ActorRef(user_id="u-admin", email="admin@example.com")

leases = st.sampled_from(["L1", "L2", "L3"])
minutes = st.integers(min_value=0, max_value=72 * 60).map(lambda m: timedelta(minutes=m))
#: Event instants relative to "now": mostly just past, sometimes days late, sometimes ahead (clock skew).
offsets = st.one_of(st.integers(min_value=-90, max_value=30), st.integers(min_value=-72 * 60, max_value=90)).map(
    lambda m: timedelta(minutes=m)
)
settled_modes = st.builds(
    SettledMode,
    quiet_hours=st.sampled_from([1, 6, 12]),
    min_hours=st.sampled_from([0, 12, 24]),
    max_hours=st.sampled_from([24, 48, 72]),
    read_interval_hours=st.sampled_from([1, 2, 5]),
)
policies = st.builds(
    CooldownPolicy,
    enforce_account_cooldown=st.booleans(),
    cooldown_period_hours=st.sampled_from([COOLDOWN_HOURS_MIN, 1, 24, 72, COOLDOWN_HOURS_MAX]),
    mode=st.sampled_from(list(CooldownMode)),
    settled=settled_modes,
)
amounts = st.sampled_from(["0", "4", "4", "9.5"]).map(Decimal)
failures = st.builds(FailedRead, failure=st.sampled_from(list(ReadFailure)), reason=st.just("it failed"))


class AccountLifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        self.policy = CooldownPolicy()
        self.reads = False
        self.account: Account = lease_cycle.register(
            account_id="123456789012", name="Sandbox", email=None, now=T0
        ).after

    def apply(self, decision: Decision) -> None:
        before = self.account
        assert decision.before == before
        if not decision.changed:
            assert decision.after == before
            assert decision.transitions == ()
            return
        after = decision.after
        assert after.version == before.version + 1
        assert (decision.verdict is Verdict.APPLIED) == bool(decision.transitions)
        status = before.status
        for transition in decision.transitions:
            assert (transition.from_status, transition.to_status) in ALLOWED_TRANSITIONS
            assert transition.from_status is status
            assert transition.at == self.now
            if transition.from_status is S.COOLDOWN and transition.to_status is S.AVAILABLE:
                self.check_release(before, transition.cause, transition.actor)
            if transition.to_status is S.COOLDOWN:
                assert after.last_cleanup_completed_at is not None
                cooling = cooling_for(self.policy, completed_at=after.last_cleanup_completed_at, read_costs=self.reads)
                assert cooling is not None
                assert (after.cooldown_until, after.cooldown_mode) == (cooling.until, cooling.mode)
            if transition.to_status is S.ACTIVE:
                assert transition.from_status is S.AVAILABLE
            status = transition.to_status
        assert status is after.status
        events = events_for(decision, now=self.now)
        assert len({e.message_id for e in events}) == len(events)
        settles = any(t.from_status is S.COOLDOWN and t.to_status is S.AVAILABLE for t in decision.transitions)
        assert len(events) == len(decision.transitions) + (1 if settles else 0)
        self.account = after

    def check_release(self, before: Account, cause: Cause, actor: ActorRef | None) -> None:
        assert cause in (Cause.COOLDOWN_ELAPSED, Cause.RELEASED_EARLY, Cause.COSTS_SETTLED)
        assert before.cooldown_until is not None
        if cause is Cause.COOLDOWN_ELAPSED:
            assert before.cooldown_until <= self.now  # never released before its time
        elif cause is Cause.COSTS_SETTLED:
            terms, billing = before.settle_terms, before.billing
            assert terms is not None
            assert billing is not None
            assert self.now >= terms.earliest  # never before the minimum
        else:
            assert actor == ADMIN

    @rule(step=minutes)
    def time_passes(self, step: timedelta) -> None:
        self.now += step

    @rule(policy=policies)
    def policy_changes(self, policy: CooldownPolicy) -> None:
        self.policy = policy

    @rule(reads=st.booleans())
    def cost_role_configured(self, reads: bool) -> None:
        self.reads = reads

    @rule(amount=amounts, failed=st.one_of(st.none(), failures), turn=st.sampled_from([0, 1, 1, 1, 2]))
    def cost_read(self, amount: Decimal, failed: FailedRead | None, turn: int) -> None:
        billing = self.account.billing
        number = (billing.reads if billing else 0) + turn
        outcome: ReadOutcome = failed or LeaseCost(unblended=amount, read_at=self.now)
        self.apply(apply_read(self.account, number=number, outcome=outcome, now=self.now))

    @rule(lease=leases)
    def acquire(self, lease: str) -> None:
        self.apply(acquisition.acquire(self.account, lease_id=lease, now=self.now))

    @rule(lease=leases, offset=offsets)
    def lease_terminated(self, lease: str, offset: timedelta) -> None:
        self.apply(
            lease_cycle.lease_terminated(
                self.account,
                lease_id=lease,
                terminated_at=self.now + offset,
                policy=self.policy,
                now=self.now,
                read_costs=self.reads,
            )
        )

    @rule(offset=offsets)
    def current_lease_terminated(self, offset: timedelta) -> None:
        self.lease_terminated(self.account.lease_id or "L1", offset)

    @rule(succeeded=st.booleans(), offset=offsets)
    def cleanup_finished(self, succeeded: bool, offset: timedelta) -> None:
        self.apply(
            lease_cycle.cleanup_finished(
                self.account,
                succeeded=succeeded,
                completed_at=self.now + offset,
                error=None if succeeded else "nuke failed",
                policy=self.policy,
                now=self.now,
                read_costs=self.reads,
            )
        )

    @rule()
    def tick(self) -> None:
        self.apply(release.release_due(self.account, now=self.now))

    @rule(key=st.sampled_from(["k1", "k2", "k3"]))
    def release_early(self, key: str) -> None:
        before = self.account
        decision = release.release_early(before, actor=ADMIN, reason="needed", request_key=key, now=self.now)
        if before.status is S.COOLDOWN and not (before.early_release and before.early_release.request_key == key):
            assert decision.verdict is Verdict.APPLIED
        elif before.status in (S.ACTIVE, S.CLEANUP, S.QUARANTINE) and not (
            before.early_release and before.early_release.request_key == key
        ):
            assert decision.verdict is Verdict.REFUSED
        else:
            assert decision.verdict is Verdict.DUPLICATE
        self.apply(decision)

    @rule(lease=leases)
    def abandon(self, lease: str) -> None:
        self.apply(acquisition.abandon_acquisition(self.account, lease_id=lease, kept_account_id="1", now=self.now))

    @invariant()
    def legal(self) -> None:
        assert accounts.violations(self.account) == []


TestAccountLifecycle = AccountLifecycle.TestCase
TestAccountLifecycle.settings = settings(max_examples=200, stateful_step_count=50, deadline=None)

_SETTLED_AT_ONCE = CooldownPolicy(
    enforce_account_cooldown=True,
    cooldown_period_hours=0,
    mode=CooldownMode.SETTLED,
    settled=SettledMode(quiet_hours=1, min_hours=0, max_hours=24, read_interval_hours=1),
)


def _cooling_with_reads() -> AccountLifecycle:
    machine = AccountLifecycle()
    machine.acquire(lease="L1")
    machine.policy_changes(policy=_SETTLED_AT_ONCE)
    machine.cost_role_configured(reads=True)
    machine.current_lease_terminated(offset=timedelta(minutes=0))
    machine.cleanup_finished(offset=timedelta(minutes=0), succeeded=True)
    return machine


def test_a_read_that_releases_the_account_is_one_change_of_the_account_it_was_given() -> None:
    """Found by the state machine: a read at the latest release time answered a decision whose
    ``before`` already held the read."""
    machine = _cooling_with_reads()
    machine.time_passes(step=timedelta(hours=24))
    machine.cost_read(amount=Decimal("0"), failed=None, turn=1)
    assert machine.account.status is S.AVAILABLE


def test_an_account_cooling_again_for_a_settled_lease_reads_its_cost_again() -> None:
    """Found by the state machine: released early, then a failed and a successful cleanup put the
    account back in Cooldown with its billing still marked settled."""
    machine = _cooling_with_reads()
    machine.release_early(key="k1")
    machine.time_passes(step=timedelta(minutes=1))
    machine.cleanup_finished(offset=timedelta(minutes=0), succeeded=False)
    machine.cleanup_finished(offset=timedelta(minutes=1), succeeded=True)
    machine.legal()
    assert machine.account.status is S.COOLDOWN
    billing = machine.account.billing
    assert billing is not None
    assert not billing.released
    assert billing.next_read_at is not None


@settings(max_examples=300, deadline=None)
@given(
    lease_for=minutes,
    cleanup_takes=minutes,
    handled_after=minutes,
    policy=policies,
    order=st.permutations(["end", "end", "clean", "clean"]),
)
def test_the_order_and_repetition_of_termination_and_cleanup_do_not_change_the_outcome(
    lease_for: timedelta,
    cleanup_takes: timedelta,
    handled_after: timedelta,
    policy: CooldownPolicy,
    order: list[str],
) -> None:
    started = T0 + timedelta(hours=1)
    ended = started + lease_for
    cleaned = ended + cleanup_takes
    now = cleaned + handled_after
    account = lease_cycle.register(account_id="123456789012", name="Sandbox", email=None, now=T0).after
    account = acquisition.acquire(account, lease_id="L1", now=started).after

    def deliver(current: Account, what: str) -> Account:
        if what == "end":
            return lease_cycle.lease_terminated(
                current, lease_id="L1", terminated_at=ended, policy=policy, now=now
            ).after
        return lease_cycle.cleanup_finished(
            current, succeeded=True, completed_at=cleaned, error=None, policy=policy, now=now
        ).after

    final = account
    for what in order:
        final = deliver(final, what)
    expected = deliver(deliver(account, "end"), "clean")
    period = cooldown_period(policy)
    assert final.status is (S.COOLDOWN if period else S.AVAILABLE)
    for field in ("status", "lease_id", "lease_terminated_at", "last_cleanup_completed_at", "cooldown_until"):
        assert getattr(final, field) == getattr(expected, field), field
    assert final.pending_cleanup is None
    assert accounts.violations(final) == []
