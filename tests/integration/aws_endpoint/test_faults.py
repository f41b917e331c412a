"""Injected throttling, 5xx, AccessDenied and delays, as botocore sees them."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError

from graceperiod.devstack.aws_endpoint.control import EmulatorControl
from tests.integration.aws_endpoint.conftest import ClientFactory


async def test_throttling_for_n_calls_is_retried_by_botocore(
    client: ClientFactory, control: EmulatorControl, account: str
) -> None:
    await control.fault("savingsplans:DescribeSavingsPlans", account=account, kind="throttle", count=2)
    async with client("savingsplans", attempts=3) as sp:
        reply = await sp.describe_savings_plans()
    assert reply["ResponseMetadata"]["RetryAttempts"] == 2


@pytest.mark.parametrize(
    ("service", "action", "expected"),
    [
        ("savingsplans", "savingsplans:DescribeSavingsPlans", "ThrottlingException"),
        ("ec2", "ec2:DescribeReservedInstances", "RequestLimitExceeded"),
        ("support", "support:DescribeSeverityLevels", "ThrottlingException"),
    ],
)
async def test_throttling_beyond_the_retries_surfaces(
    client: ClientFactory, control: EmulatorControl, account: str, service: str, action: str, expected: str
) -> None:
    await control.fault(action, account=account, kind="throttle", count=5)
    async with client(service, attempts=2) as api:
        operation = {
            "savingsplans": "describe_savings_plans",
            "ec2": "describe_reserved_instances",
            "support": "describe_severity_levels",
        }[service]
        with pytest.raises(ClientError) as caught:
            await getattr(api, operation)()
    assert caught.value.response["Error"]["Code"] == expected
    assert len(await control.calls(account=account, action=action)) == 2  # total_max_attempts=2


async def test_server_errors(client: ClientFactory, control: EmulatorControl, account: str) -> None:
    await control.fault("savingsplans:*", account=account, kind="server-error", count=1)
    await control.fault("ec2:*", account=account, kind="server-error", count=1)
    async with client("savingsplans") as sp:
        with pytest.raises(ClientError) as sp_error:
            await sp.describe_savings_plans()
    async with client("ec2") as ec2:
        with pytest.raises(ClientError) as ec2_error:
            await ec2.describe_reserved_instances()
        assert (await ec2.describe_reserved_instances())["ReservedInstances"] == []
    assert sp_error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert sp_error.value.response["Error"]["Code"] == "InternalServerException"
    assert ec2_error.value.response["Error"]["Code"] == "InternalError"


async def test_access_denied_per_account_and_action(
    client: ClientFactory, control: EmulatorControl, account: str
) -> None:
    plan = await control.savings_plan(account)
    await control.account(account, denied_actions=["savingsplans:ReturnSavingsPlan", "support:CreateCase"])
    async with client("savingsplans") as sp:
        assert len((await sp.describe_savings_plans())["savingsPlans"]) == 1
        with pytest.raises(ClientError) as denied:
            await sp.return_savings_plan(savingsPlanId=plan["savingsPlanId"])
    async with client("support") as support:
        with pytest.raises(ClientError) as support_denied:
            await support.create_case(subject="s", communicationBody="b")
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "savingsplans:ReturnSavingsPlan" in denied.value.response["Error"]["Message"]
    assert support_denied.value.response["Error"]["Code"] == "AccessDeniedException"
    assert (await control.get_account(account))["savings_plans"][0]["state"] == "active"


async def test_custom_error_and_delay(client: ClientFactory, control: EmulatorControl, account: str) -> None:
    await control.fault(
        "support:CreateCase", account=account, kind="error", code="CaseCreationLimitExceeded", status=400
    )
    await control.fault("support:DescribeSeverityLevels", account=account, kind="delay", delay_seconds=0.5)
    async with client("support") as support:
        with pytest.raises(ClientError, match="CaseCreationLimitExceeded"):
            await support.create_case(subject="s", communicationBody="b")
        started = time.monotonic()
        await support.describe_severity_levels()
    assert time.monotonic() - started >= 0.5
