"""The account state machine, rule by rule (pure: no servers)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from graceperiod.contracts.cooldown import (
    COOLDOWN_HOURS_MAX,
    COOLDOWN_HOURS_MIN,
    AccountStatus,
    ActorRef,
    Cause,
    CooldownPolicy,
    SetCooldownPolicy,
)
from graceperiod.contracts.enums import ActionPath, Permission
from graceperiod.contracts.rpc import Actor
from graceperiod.cooldown.domain import accounts, acquisition, lease_cycle, release
from graceperiod.cooldown.domain.accounts import ALLOWED_TRANSITIONS, Account
from graceperiod.cooldown.domain.decisions import Decision, Verdict, move
from graceperiod.cooldown.domain.policy import cooldown_period

S = AccountStatus
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)
MS = timedelta(milliseconds=1)
OFF = CooldownPolicy()
ON = CooldownPolicy(enforce_account_cooldown=True, cooldown_period_hours=24)
ZERO = CooldownPolicy(enforce_account_cooldown=True, cooldown_period_hours=0)
ADMIN = ActorRef(user_id="u-admin", email="admin@example.com")
ACCOUNT_ID = "123456789012"


def registered(at: datetime = T0) -> Account:
    return lease_cycle.register(account_id=ACCOUNT_ID, name="Sandbox 1", email="sb1@example.com", now=at).after


def active(lease: str = "L1", at: datetime = T0 + H) -> Account:
    return acquisition.acquire(registered(), lease_id=lease, now=at).after


def cleaning(lease: str = "L1", ended: datetime = T0 + 5 * H) -> Account:
    return lease_cycle.lease_terminated(active(lease), lease_id=lease, terminated_at=ended, policy=ON, now=ended).after


def cleaned(policy: CooldownPolicy = ON, done: datetime = T0 + 6 * H) -> Account:
    return succeed(cleaning(), done, policy).after


def quarantined(failed: datetime = T0 + 6 * H) -> Account:
    return fail(cleaning(), failed).after


def succeed(account: Account, at: datetime, policy: CooldownPolicy = ON, now: datetime | None = None) -> Decision:
    return lease_cycle.cleanup_finished(
        account, succeeded=True, completed_at=at, error=None, policy=policy, now=now or at
    )


def fail(account: Account, at: datetime, error: str = "nuke failed: 3 resources left") -> Decision:
    return lease_cycle.cleanup_finished(account, succeeded=False, completed_at=at, error=error, policy=ON, now=at)


def terminate(account: Account, lease: str, at: datetime, policy: CooldownPolicy = ON) -> Decision:
    return lease_cycle.lease_terminated(account, lease_id=lease, terminated_at=at, policy=policy, now=at)


def path(decision: Decision) -> list[tuple[S | None, S, Cause]]:
    return [(t.from_status, t.to_status, t.cause) for t in decision.transitions]


def assert_unchanged(decision: Decision, verdict: Verdict) -> None:
    assert decision.verdict is verdict
    assert decision.after == decision.before
    assert decision.transitions == ()
    assert not decision.changed


# --- registration and acquisition ----------------------------------------------------------


def test_registration_makes_an_available_account_at_version_one() -> None:
    decision = lease_cycle.register(account_id=ACCOUNT_ID, name="Sandbox 1", email=None, now=T0)
    assert decision.verdict is Verdict.APPLIED
    assert decision.after.status is S.AVAILABLE
    assert decision.after.version == 1
    assert path(decision) == [(None, S.AVAILABLE, Cause.REGISTERED)]


def test_acquisition_marks_an_available_account_active_for_the_lease() -> None:
    decision = acquisition.acquire(registered(), lease_id="L1", now=T0 + H)
    assert decision.verdict is Verdict.APPLIED
    after = decision.after
    assert (after.status, after.lease_id, after.lease_started_at, after.version) == (S.ACTIVE, "L1", T0 + H, 2)
    assert path(decision) == [(S.AVAILABLE, S.ACTIVE, Cause.ACQUIRED)]
    assert decision.transitions[0].lease_id == "L1"


@pytest.mark.parametrize("account", [active("L9"), cleaning(), cleaned(ON), quarantined()], ids=lambda a: a.status)
def test_acquisition_never_takes_an_account_that_is_not_available(account: Account) -> None:
    assert_unchanged(acquisition.acquire(account, lease_id="L2", now=T0 + 9 * H), Verdict.REFUSED)


def test_acquiring_again_for_the_same_lease_is_a_duplicate() -> None:
    assert_unchanged(acquisition.acquire(active("L1"), lease_id="L1", now=T0 + 2 * H), Verdict.DUPLICATE)


def test_an_abandoned_acquisition_returns_the_account_to_available() -> None:
    decision = acquisition.abandon_acquisition(
        active("L1"), lease_id="L1", kept_account_id="210987654321", now=T0 + 2 * H
    )
    assert path(decision) == [(S.ACTIVE, S.AVAILABLE, Cause.ACQUISITION_ABANDONED)]
    assert decision.after.lease_id is None
    assert decision.transitions[0].reason == "lease L1 already holds account 210987654321"
    assert_unchanged(
        acquisition.abandon_acquisition(active("L2"), lease_id="L1", kept_account_id="x", now=T0), Verdict.IGNORED
    )


# --- lease termination ---------------------------------------------------------------------


def test_the_current_lease_ending_moves_the_account_to_cleanup() -> None:
    decision = terminate(active("L1"), "L1", T0 + 5 * H)
    assert path(decision) == [(S.ACTIVE, S.CLEANUP, Cause.LEASE_TERMINATED)]
    assert decision.after.lease_terminated_at == T0 + 5 * H
    assert decision.after.lease_started_at == T0 + H


@pytest.mark.parametrize(
    "account", [cleaning(), cleaned(ON), cleaned(OFF), quarantined()], ids=["cleanup", "cooldown", "available", "q"]
)
def test_the_same_lease_ending_twice_is_a_duplicate(account: Account) -> None:
    assert_unchanged(terminate(account, "L1", T0 + 5 * H), Verdict.DUPLICATE)


def test_another_lease_ending_while_the_account_is_active_is_ignored() -> None:
    assert_unchanged(terminate(active("L2"), "L1", T0 + 9 * H), Verdict.IGNORED)


@pytest.mark.parametrize("account", [cleaning(), quarantined()], ids=["cleanup", "quarantine"])
def test_another_lease_ending_while_cleanup_is_pending_changes_nothing(account: Account) -> None:
    assert_unchanged(terminate(account, "L7", T0 + 9 * H), Verdict.IGNORED)


def test_a_lease_acquired_elsewhere_ending_on_an_available_account_sends_it_to_cleanup() -> None:
    decision = terminate(cleaned(OFF), "L7", T0 + 9 * H)
    assert path(decision) == [(S.AVAILABLE, S.CLEANUP, Cause.LEASE_TERMINATED)]
    assert decision.after.lease_id == "L7"
    assert decision.after.lease_started_at is None  # not acquired here: no known start


def test_a_lease_acquired_elsewhere_using_a_cooling_account_ends_the_cooldown() -> None:
    decision = terminate(cleaned(ON), "L7", T0 + 9 * H)
    assert path(decision) == [(S.COOLDOWN, S.CLEANUP, Cause.LEASE_TERMINATED)]
    assert decision.after.cooldown_until is None
    assert "will not be settled" in decision.note


def test_a_foreign_lease_that_ended_before_what_the_account_records_is_stale() -> None:
    assert_unchanged(terminate(cleaned(OFF, done=T0 + 6 * H), "L7", T0 + 6 * H), Verdict.STALE)
    assert_unchanged(terminate(registered(T0), "L7", T0 - H), Verdict.STALE)


# --- cleanup results -------------------------------------------------------------------------


def test_cleanup_success_with_enforcement_off_makes_the_account_available() -> None:
    decision = succeed(cleaning(), T0 + 6 * H, OFF)
    assert path(decision) == [(S.CLEANUP, S.AVAILABLE, Cause.CLEANUP_SUCCEEDED)]
    assert decision.after.last_cleanup_completed_at == T0 + 6 * H
    assert decision.after.cooldown_until is None


@pytest.mark.parametrize("hours", [1, 24, 72, COOLDOWN_HOURS_MAX])
def test_cleanup_success_with_enforcement_on_cools_for_the_period_from_completion(hours: int) -> None:
    policy = CooldownPolicy(enforce_account_cooldown=True, cooldown_period_hours=hours)
    decision = succeed(cleaning(), T0 + 6 * H, policy, now=T0 + 7 * H)
    assert path(decision) == [(S.CLEANUP, S.COOLDOWN, Cause.CLEANUP_SUCCEEDED)]
    after = decision.after
    assert after.cooldown_until == T0 + 6 * H + hours * H
    assert after.cooldown_started_at == T0 + 7 * H
    assert after.cooldown_version == after.version


def test_the_period_an_admin_may_set_is_bounded_by_the_contract() -> None:
    actor = Actor(
        user_id="u-admin", email="admin@example.com", permissions=[Permission.UPDATE_CONFIG], path=ActionPath.API
    )

    def command(hours: int) -> SetCooldownPolicy:
        return SetCooldownPolicy(
            actor=actor, idempotency_key="k1", enforce_account_cooldown=True, cooldown_period_hours=hours
        )

    for hours in (COOLDOWN_HOURS_MIN, COOLDOWN_HOURS_MAX):
        assert command(hours).cooldown_period_hours == hours
        assert CooldownPolicy(cooldown_period_hours=hours).cooldown_period_hours == hours
    for hours in (COOLDOWN_HOURS_MIN - 1, COOLDOWN_HOURS_MAX + 1):
        with pytest.raises(ValidationError):
            command(hours)
        with pytest.raises(ValidationError):
            CooldownPolicy(cooldown_period_hours=hours)


def test_a_period_of_zero_hours_means_no_cooldown() -> None:
    assert cooldown_period(ZERO) is None
    assert cooldown_period(OFF) is None
    assert cooldown_period(ON) == 24 * H
    assert succeed(cleaning(), T0 + 6 * H, ZERO).after.status is S.AVAILABLE


def test_cleanup_failure_quarantines_the_account_with_the_error() -> None:
    decision = fail(cleaning(), T0 + 6 * H, "boom")
    assert path(decision) == [(S.CLEANUP, S.QUARANTINE, Cause.CLEANUP_FAILED)]
    assert decision.after.last_cleanup_error == "boom"
    assert decision.transitions[0].reason == "boom"


def test_the_same_cleanup_result_twice_is_a_duplicate_and_an_older_one_is_stale() -> None:
    account = cleaned(ON, done=T0 + 6 * H)
    assert_unchanged(succeed(account, T0 + 6 * H), Verdict.DUPLICATE)
    assert_unchanged(succeed(account, T0 + 6 * H - MS), Verdict.STALE)
    assert_unchanged(fail(quarantined(T0 + 6 * H), T0 + 6 * H), Verdict.DUPLICATE)


def test_a_cleanup_that_finished_before_the_lease_ended_belongs_to_an_earlier_cycle() -> None:
    assert_unchanged(succeed(cleaning(ended=T0 + 5 * H), T0 + 4 * H), Verdict.STALE)


def test_quarantine_is_left_by_a_later_successful_cleanup() -> None:
    decision = succeed(quarantined(T0 + 6 * H), T0 + 30 * H)
    assert path(decision) == [(S.QUARANTINE, S.COOLDOWN, Cause.CLEANUP_SUCCEEDED)]
    assert decision.after.last_cleanup_error is None
    assert succeed(quarantined(), T0 + 30 * H, OFF).after.status is S.AVAILABLE


def test_another_failure_in_quarantine_is_recorded_without_a_transition() -> None:
    decision = fail(quarantined(T0 + 6 * H), T0 + 8 * H, "still broken")
    assert decision.verdict is Verdict.RECORDED
    assert decision.transitions == ()
    assert decision.after.status is S.QUARANTINE
    assert decision.after.last_cleanup_error == "still broken"
    assert decision.after.version == decision.before.version + 1  # type: ignore[union-attr]
    # ...so the success that ran before it (and arrived later) is stale
    assert_unchanged(succeed(decision.after, T0 + 7 * H), Verdict.STALE)


# --- out of order: the cleanup result before the lease's termination ---------------------------


def test_a_success_before_the_termination_is_kept_then_applied_when_the_termination_arrives() -> None:
    early = succeed(active("L1"), T0 + 6 * H, now=T0 + 6 * H)
    assert early.verdict is Verdict.RECORDED
    assert early.after.status is S.ACTIVE
    assert early.after.pending_cleanup == accounts.PendingCleanup(succeeded=True, completed_at=T0 + 6 * H)
    late = terminate(early.after, "L1", T0 + 5 * H)
    assert path(late) == [
        (S.ACTIVE, S.CLEANUP, Cause.LEASE_TERMINATED),
        (S.CLEANUP, S.COOLDOWN, Cause.CLEANUP_SUCCEEDED),
    ]
    in_order = cleaned(ON, done=T0 + 6 * H)
    for field in ("status", "lease_id", "lease_terminated_at", "last_cleanup_completed_at", "cooldown_until"):
        assert getattr(late.after, field) == getattr(in_order, field), field
    assert late.after.pending_cleanup is None


def test_a_failure_before_the_termination_quarantines_when_the_termination_arrives() -> None:
    early = fail(active("L1"), T0 + 6 * H)
    assert early.verdict is Verdict.RECORDED
    late = terminate(early.after, "L1", T0 + 5 * H)
    assert [t.to_status for t in late.transitions] == [S.CLEANUP, S.QUARANTINE]


def test_a_kept_result_that_finished_at_the_termination_instant_applies() -> None:
    early = succeed(active("L1"), T0 + 5 * H).after
    assert [t.to_status for t in terminate(early, "L1", T0 + 5 * H).transitions] == [S.CLEANUP, S.COOLDOWN]


def test_a_kept_result_older_than_the_termination_is_dropped() -> None:
    early = succeed(active("L1", at=T0 + H), T0 + 2 * H)
    late = terminate(early.after, "L1", T0 + 5 * H)
    assert path(late) == [(S.ACTIVE, S.CLEANUP, Cause.LEASE_TERMINATED)]
    assert late.after.pending_cleanup is None
    assert "dropped" in late.note


def test_a_cleanup_result_from_before_the_current_lease_is_stale() -> None:
    assert_unchanged(succeed(active("L1", at=T0 + 3 * H), T0 + 2 * H), Verdict.STALE)


def test_the_same_early_result_twice_is_a_duplicate() -> None:
    early = succeed(active("L1"), T0 + 6 * H).after
    assert_unchanged(succeed(early, T0 + 6 * H), Verdict.DUPLICATE)


def test_a_success_before_the_end_of_a_lease_acquired_elsewhere_is_applied_when_it_ends() -> None:
    available = cleaned(OFF, done=T0 + 6 * H)
    early = succeed(available, T0 + 12 * H)
    assert early.verdict is Verdict.RECORDED
    late = terminate(early.after, "L7", T0 + 11 * H)
    assert [t.to_status for t in late.transitions] == [S.CLEANUP, S.COOLDOWN]
    assert late.after.cooldown_until == T0 + 12 * H + 24 * H


@pytest.mark.parametrize("account", [cleaned(OFF), cleaned(ON)], ids=["available", "cooldown"])
def test_a_failure_outside_a_cycle_quarantines_at_once(account: Account) -> None:
    decision = fail(account, T0 + 12 * H)
    assert [(t.from_status, t.to_status) for t in decision.transitions] == [(account.status, S.QUARANTINE)]
    assert decision.after.cooldown_until is None


# --- release -----------------------------------------------------------------------------------


def test_a_cooling_account_is_released_exactly_when_its_cooldown_ends() -> None:
    account = cleaned(ON, done=T0 + 6 * H)
    due = T0 + 30 * H
    assert_unchanged(release.release_due(account, now=due - MS), Verdict.IGNORED)
    decision = release.release_due(account, now=due)
    assert path(decision) == [(S.COOLDOWN, S.AVAILABLE, Cause.COOLDOWN_ELAPSED)]
    assert decision.after.cooldown_until is None
    assert decision.after.last_cleanup_completed_at == T0 + 6 * H
    assert release.release_due(account, now=due + 7 * H).verdict is Verdict.APPLIED


@pytest.mark.parametrize("account", [registered(), active(), cleaning(), quarantined()], ids=lambda a: a.status)
def test_release_ignores_accounts_that_are_not_cooling(account: Account) -> None:
    assert_unchanged(release.release_due(account, now=T0 + 900 * H), Verdict.IGNORED)


def test_early_release_frees_a_cooling_account_and_records_who_when_and_why() -> None:
    account = cleaned(ON, done=T0 + 6 * H)
    decision = release.release_early(account, actor=ADMIN, reason="pool empty", request_key="k1", now=T0 + 10 * H)
    assert path(decision) == [(S.COOLDOWN, S.AVAILABLE, Cause.RELEASED_EARLY)]
    assert decision.transitions[0].actor == ADMIN
    assert decision.transitions[0].reason == "pool empty"
    record = decision.after.early_release
    assert record is not None
    assert (record.by, record.at, record.reason, record.request_key) == (ADMIN, T0 + 10 * H, "pool empty", "k1")
    assert "20.0 h before its cooldown ended" in decision.note
    assert "billing attribution may be inaccurate" in decision.note


def test_a_second_early_release_is_a_no_op_that_says_so() -> None:
    account = cleaned(ON)
    first = release.release_early(account, actor=ADMIN, reason="r", request_key="k1", now=T0 + 10 * H).after
    again = release.release_early(first, actor=ADMIN, reason="r", request_key="k1", now=T0 + 11 * H)
    assert_unchanged(again, Verdict.DUPLICATE)
    assert "this request already released the account" in again.note
    other = release.release_early(first, actor=ADMIN, reason="r", request_key="k2", now=T0 + 11 * H)
    assert_unchanged(other, Verdict.DUPLICATE)
    assert "already released early by admin@example.com" in other.note


def test_early_release_of_an_account_whose_cooldown_already_ended_is_a_no_op() -> None:
    released = release.release_due(cleaned(ON), now=T0 + 40 * H).after
    decision = release.release_early(released, actor=ADMIN, reason="r", request_key="k", now=T0 + 41 * H)
    assert_unchanged(decision, Verdict.DUPLICATE)
    assert "already Available" in decision.note


@pytest.mark.parametrize(
    ("account", "reason"),
    [
        (active("L1"), "the account is Active (lease L1)"),
        (cleaning(), "its cleanup has not finished"),
        (quarantined(), "re-run the cleanup"),
    ],
    ids=["active", "cleanup", "quarantine"],
)
def test_early_release_is_refused_with_a_reason_for_other_statuses(account: Account, reason: str) -> None:
    decision = release.release_early(account, actor=ADMIN, reason="r", request_key="k", now=T0 + 9 * H)
    assert_unchanged(decision, Verdict.REFUSED)
    assert reason in decision.note


# --- acquisition preference ------------------------------------------------------------------


def test_an_account_cleaned_less_than_the_window_ago_is_recently_used() -> None:
    account = cleaned(OFF, done=T0 + 6 * H)
    window = 24 * H
    assert acquisition.recently_cleaned(account, now=T0 + 30 * H - MS, window=window)
    assert not acquisition.recently_cleaned(account, now=T0 + 30 * H, window=window)
    assert not acquisition.recently_cleaned(registered(), now=T0, window=window)


def test_the_recent_use_warning_is_the_upstream_wording() -> None:
    assert acquisition.recent_use_warning(24 * H) == (
        "The account acquired for the lease has been used within the last 24 hours "
        "and may result in inaccurate cost data"
    )
    assert "within the last 36 hours" in acquisition.recent_use_warning(36 * H)


# --- invariants --------------------------------------------------------------------------------


def test_the_rules_make_exactly_the_allowed_transitions_and_only_acquisition_makes_an_account_active() -> None:
    """Drive every rule from every status it applies to: the transitions made are exactly the
    table (none missing from it, none in it that no rule makes), only an Available account
    becomes Active, and a transition outside the table is refused rather than made."""
    later = T0 + 30 * H
    decisions = [
        lease_cycle.register(account_id=ACCOUNT_ID, name="Sandbox", email=None, now=T0),
        acquisition.acquire(registered(), lease_id="L1", now=T0 + H),
        acquisition.abandon_acquisition(active("L1"), lease_id="L1", kept_account_id="210987654321", now=T0 + 2 * H),
        terminate(active("L1"), "L1", T0 + 5 * H),
        terminate(registered(), "L-elsewhere", T0 + 5 * H),
        terminate(cleaned(ON), "L-elsewhere", T0 + 7 * H),
        succeed(cleaning(), T0 + 6 * H, ON),
        succeed(cleaning(), T0 + 6 * H, OFF),
        fail(cleaning(), T0 + 6 * H),
        succeed(quarantined(), T0 + 8 * H, ON),
        succeed(quarantined(), T0 + 8 * H, OFF),
        fail(registered(), T0 + 2 * H),
        fail(cleaned(ON), T0 + 7 * H),
        release.release_due(cleaned(ON), now=later),
        release.release_early(cleaned(ON), actor=ADMIN, reason="pool ran dry", request_key="k1", now=T0 + 7 * H),
    ]
    made = {(t.from_status, t.to_status) for d in decisions for t in d.transitions}
    assert made == ALLOWED_TRANSITIONS
    assert {origin for origin, to in made if to is S.ACTIVE} == {S.AVAILABLE}
    for status in (S.COOLDOWN, S.CLEANUP, S.QUARANTINE, S.ACTIVE):
        refused = acquisition.acquire(registered().model_copy(update={"status": status}), lease_id="L2", now=later)
        assert refused.transitions == ()
    with pytest.raises(AssertionError, match="illegal transition"):
        move(cleaned(ON), S.ACTIVE, now=later, cause=Cause.ACQUIRED)


@pytest.mark.parametrize(
    ("account", "problem"),
    [
        (cleaned(ON).model_copy(update={"cooldown_until": None}), "cooldown fields are set exactly"),
        (cleaned(OFF).model_copy(update={"cooldown_version": 3}), "cooldown fields linger"),
        (active().model_copy(update={"lease_started_at": None}), "Active account has a running lease"),
        (cleaning().model_copy(update={"lease_terminated_at": None}), "CleanUp account records the lease"),
        (
            quarantined().model_copy(update={"last_cleanup_error": None}),
            "Quarantine account records the failed cleanup",
        ),
        (
            cleaning().model_copy(
                update={"pending_cleanup": accounts.PendingCleanup(succeeded=True, completed_at=T0 + 9 * H)}
            ),
            "waits only while no cleanup is expected",
        ),
        (registered().model_copy(update={"version": 0}), "versions start at 1"),
    ],
)
def test_violations_name_each_broken_invariant(account: Account, problem: str) -> None:
    assert any(problem in text for text in accounts.violations(account))


def test_legal_accounts_have_no_violations() -> None:
    for account in (registered(), active(), cleaning(), cleaned(ON), cleaned(OFF), quarantined()):
        assert accounts.violations(account) == []
