"""The reminder's rules (domain/reminders.py): when one is scheduled, moved, cancelled or missed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from graceperiod.contracts.revocation import PurchaseChanged, PurchaseChangeKind, PurchaseRecorded
from graceperiod.contracts.revocation_views import Audit, Phase, Windows
from graceperiod.devstack.testkit.samples import sample_purchase
from graceperiod.notifier.domain.reminders import (
    ReminderRecord,
    ReminderState,
    after_change,
    at_due_time,
    reminder_for,
)

T0 = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
H = timedelta(hours=1)


def recorded(self_service: timedelta | None, phase: Phase = Phase.SELF_SERVICE) -> PurchaseRecorded:
    windows = Windows(
        self_service_until=T0 + self_service if self_service is not None else None,
        support_case_until=T0 + 168 * H,
        closes_at=T0 + 168 * H,
    )
    return PurchaseRecorded(occurred_at=T0, purchase=sample_purchase(executed_at=T0), windows=windows, phase=phase)


def changed(record: ReminderRecord, phase: Phase, until: datetime | None) -> PurchaseChanged:
    return PurchaseChanged(
        occurred_at=T0,
        change=PurchaseChangeKind.REVOCATION_FAILED,
        purchase=record.purchase,
        windows=record.windows.model_copy(update={"self_service_until": until}),
        phase=phase,
        audit=Audit(),
        summary="something happened",
    )


def scheduled() -> ReminderRecord:
    found = reminder_for(recorded(72 * H), hours_before=24, now=T0)
    assert found is not None
    return found


def test_a_self_service_purchase_is_reminded_the_configured_hours_before_its_window_closes() -> None:
    record = scheduled()
    assert record.due_at == T0 + 48 * H
    assert record.deadline == T0 + 72 * H
    assert record.state is ReminderState.SCHEDULED


@pytest.mark.parametrize(
    ("event", "hours"),
    [
        (recorded(72 * H), 0),  # reminders off
        (recorded(20 * H), 24),  # the executed email, sent now, already names the deadline
        (recorded(24 * H), 24),  # due exactly now: the same
        (recorded(None, Phase.SUPPORT_CASE), 24),  # nothing to undo through the API
        (recorded(72 * H, Phase.SUPPORT_UNAVAILABLE), 24),
    ],
)
def test_no_reminder_when_it_would_tell_nothing_new(event: PurchaseRecorded, hours: int) -> None:
    assert reminder_for(event, hours_before=hours, now=T0) is None


def test_leaving_the_self_service_phase_cancels_it() -> None:
    record = scheduled()
    for phase in (Phase.REVOCATION_PENDING, Phase.REVOKED, Phase.SUPPORT_CASE, Phase.CLOSED):
        after = after_change(record, changed(record, phase, record.deadline), T0 + H)
        assert after is not None
        assert after.state is ReminderState.CANCELLED, phase


def test_a_window_aws_moved_moves_the_reminder_and_an_unchanged_one_changes_nothing() -> None:
    record = scheduled()
    assert after_change(record, changed(record, Phase.SELF_SERVICE, record.deadline), T0 + H) is None
    moved = after_change(record, changed(record, Phase.SELF_SERVICE, T0 + 30 * H), T0 + H)
    assert moved is not None
    assert (moved.state, moved.due_at) == (ReminderState.SCHEDULED, T0 + 6 * H)


def test_a_reminder_already_sent_or_cancelled_is_never_changed_again() -> None:
    for state in (ReminderState.SENT, ReminderState.CANCELLED, ReminderState.MISSED):
        record = scheduled().model_copy(update={"state": state})
        assert after_change(record, changed(record, Phase.REVOKED, None), T0 + H) is None


def test_a_reminder_whose_window_closed_before_it_could_go_out_is_missed() -> None:
    record = scheduled()
    assert at_due_time(record, T0 + 71 * H) is None
    missed = at_due_time(record, T0 + 72 * H)
    assert missed is not None
    assert missed.state is ReminderState.MISSED
