"""Cost Explorer's GetCostAndUsage through the real aioboto3 client: AWS's response shape, the
exclusive End, the linked-account filter, the payer's view, Estimated, costs that keep
arriving after a lease ended, validation errors and throttling."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import ClientError

from graceperiod.devstack.aws_endpoint.control import EmulatorControl
from graceperiod.devstack.aws_endpoint.cost_control import CostControl
from tests.integration.aws_endpoint.conftest import ClientFactory, new_account_id

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)


@pytest.fixture
async def costs(aws_endpoint_url: str, control: EmulatorControl) -> AsyncIterator[CostControl]:
    await control.set_clock(now=NOW)
    async with CostControl(aws_endpoint_url) as ctl:
        yield ctl


def linked(account: str) -> dict[str, Any]:
    return {"Dimensions": {"Key": "LINKED_ACCOUNT", "Values": [account], "MatchOptions": ["EQUALS"]}}


async def cost_and_usage(client: ClientFactory, start: str, end: str, **extra: Any) -> dict[str, Any]:
    async with client("ce") as ce:
        reply: dict[str, Any] = await ce.get_cost_and_usage(
            TimePeriod={"Start": start, "End": end},
            Granularity=extra.pop("Granularity", "DAILY"),
            Metrics=extra.pop("Metrics", ["UnblendedCost", "AmortizedCost"]),
            **extra,
        )
    return reply


async def test_daily_costs_of_one_linked_account_with_an_exclusive_end(
    client: ClientFactory, costs: CostControl, account: str
) -> None:
    sandbox, other = new_account_id(), new_account_id()
    days = [date(2026, 3, 5), date(2026, 3, 6), date(2026, 3, 7)]
    await costs.lines(
        sandbox,
        payer=account,
        lines=[{"day": day, "unblended": Decimal("10.25"), "amortized": Decimal("12.5")} for day in days],
    )
    await costs.lines(other, payer=account, lines=[{"day": days[0], "unblended": Decimal(99)}])

    reply = await cost_and_usage(client, "2026-03-05", "2026-03-07", Filter=linked(sandbox))

    assert reply["GroupDefinitions"] == []
    assert "NextPageToken" not in reply
    results = reply["ResultsByTime"]
    assert [r["TimePeriod"] for r in results] == [
        {"Start": "2026-03-05", "End": "2026-03-06"},
        {"Start": "2026-03-06", "End": "2026-03-07"},
    ]  # End is exclusive: the 7th is not reported
    for result in results:
        assert result["Total"] == {
            "UnblendedCost": {"Amount": "10.25", "Unit": "USD"},
            "AmortizedCost": {"Amount": "12.5", "Unit": "USD"},
        }
        assert result["Groups"] == []
        assert result["Estimated"] is True  # March's bill is not final on March 10th

    everyone = await cost_and_usage(client, "2026-03-05", "2026-03-06")
    assert everyone["ResultsByTime"][0]["Total"]["UnblendedCost"]["Amount"] == "109.25"


async def test_only_the_payer_sees_a_linked_accounts_costs(
    client: ClientFactory, costs: CostControl, control: EmulatorControl, account: str
) -> None:
    sandbox, someone_else = new_account_id(), new_account_id()
    await costs.lines(sandbox, payer=someone_else, lines=[{"day": date(2026, 3, 5), "unblended": Decimal(5)}])
    reply = await cost_and_usage(client, "2026-03-05", "2026-03-06", Filter=linked(sandbox))
    assert reply["ResultsByTime"][0]["Total"]["UnblendedCost"]["Amount"] == "0"


async def test_a_leases_costs_keep_arriving_after_it_ended_then_stop(
    client: ClientFactory, costs: CostControl, control: EmulatorControl, account: str
) -> None:
    sandbox = new_account_id()
    start, end = datetime(2026, 3, 9, 6, tzinfo=UTC), datetime(2026, 3, 10, 6, tzinfo=UTC)
    await costs.usage(sandbox, payer=account, start=start, end=end, hourly=Decimal("0.5"), delay_seconds=8 * 3600)

    async def total(at: datetime) -> Decimal:
        await control.set_clock(now=at)
        reply = await cost_and_usage(client, "2026-03-09", "2026-03-11", Filter=linked(sandbox))
        return sum((Decimal(r["Total"]["UnblendedCost"]["Amount"]) for r in reply["ResultsByTime"]), Decimal(0))

    at_end = await total(end)
    later = await total(end + 4 * H)
    settled = await total(end + 8 * H)
    assert at_end == Decimal("8.0")  # 16 of the 24 hours had arrived when the lease ended
    assert later == Decimal("10.0")
    assert settled == Decimal("12.0")
    assert await total(end + 30 * H) == settled  # nothing more arrives


async def test_estimated_until_the_month_is_final(
    client: ClientFactory, costs: CostControl, control: EmulatorControl, account: str
) -> None:
    sandbox = new_account_id()
    final_at = NOW + 2 * H
    await costs.lines(
        sandbox, payer=account, lines=[{"day": date(2026, 3, 5), "unblended": Decimal(3), "final_at": final_at}]
    )
    before = await cost_and_usage(client, "2026-03-05", "2026-03-06", Filter=linked(sandbox))
    await control.set_clock(now=final_at)
    after = await cost_and_usage(client, "2026-03-05", "2026-03-06", Filter=linked(sandbox))
    assert [before["ResultsByTime"][0]["Estimated"], after["ResultsByTime"][0]["Estimated"]] == [True, False]


@pytest.mark.parametrize(
    ("start", "end", "extra", "message"),
    [
        ("2026-03-07", "2026-03-07", {}, "should be before end date"),
        ("2026-03-11", "2026-03-12", {}, "no later than the current date"),
        ("2026-03-01", "2026-04-02", {}, "end date past the beginning of next month"),
        ("2026-03-01", "2026-03-02", {"Metrics": ["Dollars"]}, "Invalid metrics"),
        ("2026-03-01", "2026-03-02", {"GroupBy": [{"Type": "DIMENSION", "Key": "SERVICE"}]}, "GroupBy"),
    ],
)
async def test_invalid_requests_are_refused_like_aws_does(
    client: ClientFactory, costs: CostControl, start: str, end: str, extra: dict[str, Any], message: str
) -> None:
    with pytest.raises(ClientError) as caught:
        await cost_and_usage(client, start, end, **extra)
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert message in error["Message"]


async def test_a_month_end_window_up_to_the_first_of_next_month_is_allowed(
    client: ClientFactory, costs: CostControl, control: EmulatorControl
) -> None:
    await control.set_clock(now=datetime(2026, 3, 31, 23, tzinfo=UTC))
    reply = await cost_and_usage(client, "2026-03-31", "2026-04-01")
    assert len(reply["ResultsByTime"]) == 1


async def test_long_periods_come_in_pages(client: ClientFactory, costs: CostControl, control: EmulatorControl) -> None:
    await control.set_clock(now=datetime(2026, 6, 15, tzinfo=UTC))
    first = await cost_and_usage(client, "2026-01-01", "2026-06-01")
    assert len(first["ResultsByTime"]) == 90
    rest = await cost_and_usage(client, "2026-01-01", "2026-06-01", NextPageToken=first["NextPageToken"])
    assert len(rest["ResultsByTime"]) == 151 - 90
    assert "NextPageToken" not in rest


async def test_throttling_is_cost_explorers_limit_exceeded(
    client: ClientFactory, costs: CostControl, control: EmulatorControl, account: str
) -> None:
    await control.fault("ce:GetCostAndUsage", account=account, kind="throttle", count=5)
    with pytest.raises(ClientError) as caught:
        await cost_and_usage(client, "2026-03-05", "2026-03-06")
    assert caught.value.response["Error"]["Code"] == "LimitExceededException"


async def test_a_role_without_the_permission_is_denied(
    client: ClientFactory, costs: CostControl, control: EmulatorControl, account: str
) -> None:
    await control.account(account, denied_actions=["ce:GetCostAndUsage"])
    with pytest.raises(ClientError) as caught:
        await cost_and_usage(client, "2026-03-05", "2026-03-06")
    assert caught.value.response["Error"]["Code"] == "AccessDeniedException"
