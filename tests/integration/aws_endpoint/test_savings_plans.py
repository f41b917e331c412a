"""Savings Plans as AWS answers them: returnableUntil, Return with a client token, DeleteQueued."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from graceperiod.devstack.aws_endpoint.control import EmulatorControl
from tests.integration.aws_endpoint.conftest import ClientFactory

NOW = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)


async def _describe(client: ClientFactory, plan_id: str) -> dict[str, object]:
    async with client("savingsplans") as sp:
        reply = await sp.describe_savings_plans(savingsPlanIds=[plan_id])
    plan: dict[str, object] = reply["savingsPlans"][0]
    return plan


async def test_an_active_plan_is_returnable_for_seven_days_within_its_month(
    client: ClientFactory, control: EmulatorControl, account: str
) -> None:
    await control.set_clock(now=NOW)
    early = await control.savings_plan(account, start=NOW - timedelta(days=1))
    late = await control.savings_plan(account, start=datetime(2026, 11, 28, tzinfo=UTC), state="active")
    big = await control.savings_plan(account, start=NOW, commitment="150")
    assert (await _describe(client, early["savingsPlanId"]))["returnableUntil"] == "2026-11-16T12:00:00.000Z"
    assert (await _describe(client, late["savingsPlanId"]))["returnableUntil"] == "2026-12-01T00:00:00.000Z"
    # Not returnable: returnableUntil reflects the start (AWS's documented convention).
    assert (await _describe(client, big["savingsPlanId"]))["returnableUntil"] == "2026-11-10T12:00:00.000Z"
    assert (await _describe(client, early["savingsPlanId"]))["state"] == "active"


async def test_return_is_idempotent_by_client_token_and_completes_after_the_delay(
    client: ClientFactory, control: EmulatorControl, account: str
) -> None:
    await control.set_clock(now=NOW)
    plan = await control.savings_plan(account, start=NOW - timedelta(hours=1))
    async with client("savingsplans") as sp:
        first = await sp.return_savings_plan(savingsPlanId=plan["savingsPlanId"], clientToken="token-1")
        again = await sp.return_savings_plan(savingsPlanId=plan["savingsPlanId"], clientToken="token-1")
        with pytest.raises(ClientError) as other_token:
            await sp.return_savings_plan(savingsPlanId=plan["savingsPlanId"], clientToken="token-2")
    assert first["savingsPlanId"] == again["savingsPlanId"] == plan["savingsPlanId"]
    assert other_token.value.response["Error"]["Code"] == "ValidationException"
    assert (await _describe(client, plan["savingsPlanId"]))["state"] == "pending-return"
    await control.set_clock(now=NOW + timedelta(seconds=1.9))
    assert (await _describe(client, plan["savingsPlanId"]))["state"] == "pending-return"
    await control.set_clock(now=NOW + timedelta(seconds=2))
    assert (await _describe(client, plan["savingsPlanId"]))["state"] == "returned"
    returns = await control.calls(account=account, action="savingsplans:ReturnSavingsPlan")
    assert [c["status"] for c in returns] == [200, 200, 400]


@pytest.mark.parametrize("offset", [timedelta(0), timedelta(seconds=1)], ids=["at-the-limit", "after"])
async def test_return_is_refused_from_returnable_until_on(
    client: ClientFactory, control: EmulatorControl, account: str, offset: timedelta
) -> None:
    plan = await control.savings_plan(account, start=NOW, returnableUntil=NOW + timedelta(days=3))
    await control.set_clock(now=NOW + timedelta(days=3) + offset)
    async with client("savingsplans") as sp:
        with pytest.raises(ClientError) as caught:
            await sp.return_savings_plan(savingsPlanId=plan["savingsPlanId"])
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


async def test_the_yearly_return_quota(client: ClientFactory, control: EmulatorControl, account: str) -> None:
    await control.set_clock(now=NOW)
    await control.account(account, return_quota_used=10)
    plan = await control.savings_plan(account, start=NOW)
    async with client("savingsplans") as sp:
        with pytest.raises(ClientError) as caught:
            await sp.return_savings_plan(savingsPlanId=plan["savingsPlanId"])
    assert caught.value.response["Error"]["Code"] == "ServiceQuotaExceededException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 402


async def test_delete_queued_plan(client: ClientFactory, control: EmulatorControl, account: str) -> None:
    await control.set_clock(now=NOW)
    queued = await control.savings_plan(account, start=NOW + timedelta(days=10))
    active = await control.savings_plan(account, start=NOW - timedelta(days=1))
    assert queued["state"] == "queued"
    assert queued["returnableUntil"] == queued["start"]
    async with client("savingsplans") as sp:
        await sp.delete_queued_savings_plan(savingsPlanId=queued["savingsPlanId"])
        with pytest.raises(ClientError) as not_queued:
            await sp.delete_queued_savings_plan(savingsPlanId=active["savingsPlanId"])
        with pytest.raises(ClientError) as unknown:
            await sp.delete_queued_savings_plan(savingsPlanId="00000000-0000-0000-0000-000000000000")
    assert (await _describe(client, queued["savingsPlanId"]))["state"] == "queued-deleted"
    assert not_queued.value.response["Error"]["Code"] == "ValidationException"
    assert unknown.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert unknown.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


async def test_a_queued_plan_becomes_active_at_its_start(
    client: ClientFactory, control: EmulatorControl, account: str
) -> None:
    await control.set_clock(now=NOW)
    plan = await control.savings_plan(account, start=NOW + timedelta(hours=1))
    await control.set_clock(now=NOW + timedelta(hours=1) - timedelta(seconds=1))
    assert (await _describe(client, plan["savingsPlanId"]))["state"] == "queued"
    await control.set_clock(now=NOW + timedelta(hours=1))
    assert (await _describe(client, plan["savingsPlanId"]))["state"] == "active"


async def test_filters_and_pagination(client: ClientFactory, control: EmulatorControl, account: str) -> None:
    await control.set_clock(now=NOW)
    for _ in range(3):
        await control.savings_plan(account, start=NOW)
    await control.savings_plan(account, start=NOW + timedelta(days=1))
    async with client("savingsplans") as sp:
        first = await sp.describe_savings_plans(states=["active"], maxResults=2)
        second = await sp.describe_savings_plans(states=["active"], maxResults=2, nextToken=first["nextToken"])
        queued = await sp.describe_savings_plans(states=["queued"])
    assert len(first["savingsPlans"]) == 2
    assert len(second["savingsPlans"]) == 1
    assert "nextToken" not in second
    assert [p["state"] for p in queued["savingsPlans"]] == ["queued"]
