from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from graceperiod.contracts.enums import AwsService, CommitmentKind
from graceperiod.contracts.revocation_views import Phase, SupportPlan
from graceperiod.revocation.domain.phase import AccessFacts, PurchaseFacts, assess
from graceperiod.revocation.domain.records import AwsState
from graceperiod.revocation.domain.windows import compute_windows
from tests.unit.revocation.provider_facts import aws_standing, aws_windows

EXECUTED = datetime(2026, 11, 3, 14, 22, tzinfo=UTC)
SECOND = timedelta(seconds=1)
ACCESS = AccessFacts(role_assumable=True, support_plan=SupportPlan.API_ACCESS)


def _phase_at(kind: CommitmentKind, service: AwsService, aws: AwsState, now: datetime) -> Phase:
    windows = aws_windows(kind, service, aws)
    return assess(PurchaseFacts("123456789012", windows), aws_standing(kind, service, aws), ACCESS, now).phase


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
    limit = EXECUTED + timedelta(days=2)  # a queued Savings Plan starting then
    queued = AwsState(known=True, state="queued", start=limit)
    assert _phase_at(CommitmentKind.SAVINGS_PLAN, AwsService.SAVINGS_PLANS, queued, limit + offset) is phase


@pytest.mark.parametrize(
    ("offset", "phase"),
    [(-SECOND, Phase.SUPPORT_CASE), (timedelta(0), Phase.CLOSED), (SECOND, Phase.CLOSED)],
)
def test_support_window_ends_exactly_at_its_limit(offset: timedelta, phase: Phase) -> None:
    node = AwsState(known=True, state="active", start=EXECUTED)  # no API undo: only the support window
    limit = EXECUTED + timedelta(days=7)
    assert _phase_at(CommitmentKind.RESERVED_NODE, AwsService.RDS, node, limit + offset) is phase
