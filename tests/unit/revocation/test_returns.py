"""The limits shown with a Savings Plan (domain/returns.py): the month cut-off and the year."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from graceperiod.revocation.domain.returns import RETURNED_STATES, month_cutoff


@pytest.mark.parametrize(
    ("executed", "cutoff"),
    [
        (datetime(2026, 5, 4, 10, 0, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC)),
        (datetime(2026, 12, 31, 23, 59, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
        (datetime(2026, 1, 1, 0, 0, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)),
        # 01:30 on 1 June in UTC+2 is still May in UTC: AWS's month is UTC's
        (datetime(2026, 6, 1, 1, 30, tzinfo=timezone(timedelta(hours=2))), datetime(2026, 6, 1, tzinfo=UTC)),
    ],
)
def test_a_plan_can_be_returned_only_until_its_utc_calendar_month_ends(executed: datetime, cutoff: datetime) -> None:
    assert month_cutoff(executed) == cutoff


def test_a_deleted_queued_plan_is_not_a_return() -> None:
    assert {"pending-return", "returned"} == RETURNED_STATES
