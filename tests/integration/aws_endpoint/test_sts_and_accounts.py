"""STS enforces the registered role and ExternalId; the assumed identity selects the account's state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aioboto3
import pytest
from botocore.exceptions import ClientError

from graceperiod.devstack.aws_endpoint.control import EmulatorControl
from tests.integration.aws_endpoint.conftest import ROLE, ClientFactory, new_account_id


@pytest.mark.parametrize(
    ("role", "external_id"),
    [(ROLE, "wrong"), (ROLE, None), ("SomeOtherRole", "ext-{account}")],
    ids=["wrong-external-id", "missing-external-id", "unknown-role"],
)
async def test_assume_role_is_denied_unless_role_and_external_id_match(
    vendor_client: ClientFactory, account: str, role: str, external_id: str | None
) -> None:
    extra = {"ExternalId": external_id.format(account=account)} if external_id else {}
    async with vendor_client("sts") as sts:
        with pytest.raises(ClientError) as caught:
            await sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/{role}", RoleSessionName="tests", **extra)
    assert caught.value.response["Error"]["Code"] == "AccessDenied"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert f"arn:aws:iam::{account}:role/{role}" in caught.value.response["Error"]["Message"]


async def test_the_assumed_identity_is_the_role_in_the_target_account(
    client: ClientFactory, vendor_client: ClientFactory, account: str
) -> None:
    async with client("sts") as sts:
        me = await sts.get_caller_identity()
    async with vendor_client("sts") as sts:
        vendor = await sts.get_caller_identity()
    assert me["Account"] == account
    assert me["Arn"] == f"arn:aws:sts::{account}:assumed-role/{ROLE}/tests"
    assert vendor["Account"] != account


async def test_state_is_per_account(
    client: ClientFactory, vendor_client: ClientFactory, control: EmulatorControl, account: str
) -> None:
    plan = await control.savings_plan(account)
    other = new_account_id()
    await control.savings_plan(other)
    async with client("savingsplans") as sp:
        mine = await sp.describe_savings_plans()
    async with vendor_client("savingsplans") as sp:
        vendor = await sp.describe_savings_plans(savingsPlanIds=[plan["savingsPlanId"]])
    assert [p["savingsPlanId"] for p in mine["savingsPlans"]] == [plan["savingsPlanId"]]
    assert vendor["savingsPlans"] == []


async def test_assumed_credentials_expire_on_the_emulator_clock(
    client: ClientFactory, control: EmulatorControl
) -> None:
    await control.set_clock(now=datetime.now(UTC) + timedelta(hours=2))
    async with client("savingsplans") as sp:
        with pytest.raises(ClientError) as caught:
            await sp.describe_savings_plans()
    assert caught.value.response["Error"]["Code"] == "ExpiredTokenException"


async def test_denying_assume_role_for_an_account(
    vendor_client: ClientFactory, control: EmulatorControl, account: str
) -> None:
    await control.account(account, denied_actions=["sts:AssumeRole"])
    async with vendor_client("sts") as sts:
        with pytest.raises(ClientError, match="AccessDenied"):
            await sts.assume_role(
                RoleArn=f"arn:aws:iam::{account}:role/{ROLE}", RoleSessionName="tests", ExternalId=f"ext-{account}"
            )


async def test_clients_find_the_endpoint_through_the_standard_variable(
    aws_endpoint_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_endpoint_url)
    async with aioboto3.Session().client("sts", region_name="eu-west-1") as sts:
        identity = await sts.get_caller_identity()
    assert identity["Arn"].startswith("arn:aws:iam::")


async def test_what_the_emulator_does_not_answer_goes_to_moto(vendor_client: ClientFactory) -> None:
    async with vendor_client("sesv2") as ses:
        await ses.create_email_identity(EmailIdentity="sender@example.com")
        sent = await ses.send_email(
            FromEmailAddress="sender@example.com",
            Destination={"ToAddresses": ["someone@example.com"]},
            Content={"Simple": {"Subject": {"Data": "hi"}, "Body": {"Text": {"Data": "hello"}}}},
        )
    assert sent["MessageId"]
