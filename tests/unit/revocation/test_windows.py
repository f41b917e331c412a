from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from graceperiod.contracts.revocation import Phase
from graceperiod.revocation.domain.windows import compute_windows, phase_at

EXECUTED = datetime(2026, 11, 3, 14, 22, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def test_support_window_is_policy_days_after_execution() -> None:
    windows = compute_windows(executed_at=EXECUTED, support_window=timedelta(days=7))
    assert windows.support_case_until == EXECUTED + timedelta(days=7)
    assert windows.closes_at == windows.support_case_until
    assert windows.self_service_until is None


def test_closes_at_is_the_later_of_the_windows() -> None:
    later = EXECUTED + timedelta(days=20)
    windows = compute_windows(executed_at=EXECUTED, support_window=timedelta(days=7), self_service_until=later)
    assert windows.closes_at == later


@pytest.mark.parametrize(
    ("offset", "phase"),
    [
        (-SECOND, Phase.SELF_SERVICE),
        (timedelta(0), Phase.SUPPORT_CASE),
        (SECOND, Phase.SUPPORT_CASE),
    ],
)
def test_self_service_ends_exactly_at_its_limit(offset: timedelta, phase: Phase) -> None:
    limit = EXECUTED + timedelta(days=2)
    windows = compute_windows(executed_at=EXECUTED, support_window=timedelta(days=7), self_service_until=limit)
    assert phase_at(windows, limit + offset) is phase


@pytest.mark.parametrize(
    ("offset", "phase"),
    [(-SECOND, Phase.SUPPORT_CASE), (timedelta(0), Phase.CLOSED), (SECOND, Phase.CLOSED)],
)
def test_support_window_ends_exactly_at_its_limit(offset: timedelta, phase: Phase) -> None:
    windows = compute_windows(executed_at=EXECUTED, support_window=timedelta(days=7))
    assert phase_at(windows, EXECUTED + timedelta(days=7) + offset) is phase
