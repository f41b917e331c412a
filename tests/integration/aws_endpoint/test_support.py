"""AWS Support: the plan gate, the catalogue, cases that only humans resolve."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from graceperiod.devstack.aws_endpoint.control import EmulatorControl
from tests.integration.aws_endpoint.conftest import ClientFactory


@pytest.mark.parametrize("plan", ["basic", "developer"])
async def test_accounts_without_a_paid_plan_get_subscription_required(
    client: ClientFactory, control: EmulatorControl, account: str, plan: str
) -> None:
    await control.account(account, support_plan=plan)
    async with client("support") as support:
        for call in (support.describe_severity_levels(), support.create_case(subject="s", communicationBody="b")):
            with pytest.raises(ClientError) as caught:
                await call
            assert caught.value.response["Error"]["Code"] == "SubscriptionRequiredException"


async def test_catalogue_and_severities(client: ClientFactory, control: EmulatorControl, account: str) -> None:
    async with client("support") as support:
        levels = await support.describe_severity_levels()
        services = await support.describe_services(serviceCodeList=["billing"])
    await control.account(account, billing_categories=["other-billing-questions"], support_plan="enterprise")
    async with client("support") as support:
        trimmed = await support.describe_services(serviceCodeList=["billing"])
        enterprise = await support.describe_severity_levels()
    assert [s["code"] for s in levels["severityLevels"]] == ["low", "normal", "high", "urgent"]
    assert "critical" in [s["code"] for s in enterprise["severityLevels"]]
    [billing] = services["services"]
    assert billing["code"] == "billing"
    assert {"reserved-instances", "other-billing-questions"} <= {c["code"] for c in billing["categories"]}
    assert [c["code"] for c in trimmed["services"][0]["categories"]] == ["other-billing-questions"]


async def test_cases_are_created_and_change_only_when_a_human_acts(
    client: ClientFactory, control: EmulatorControl, account: str
) -> None:
    async with client("support") as support:
        created = await support.create_case(
            subject="[GP-1] refund",
            communicationBody="please",
            serviceCode="billing",
            categoryCode="reserved-instances",
            issueType="customer-service",
            severityCode="normal",
        )
        case_id = created["caseId"]
        first = await support.describe_cases(caseIdList=[case_id], includeResolvedCases=True)
        second = await support.describe_cases(caseIdList=[case_id], includeResolvedCases=True)
    assert case_id.startswith(f"case-{account}-")
    assert first["cases"][0]["status"] == second["cases"][0]["status"] == "opened"
    assert first["cases"][0]["severityCode"] == second["cases"][0]["severityCode"] == "normal"
    assert first["cases"][0]["recentCommunications"]["communications"][0]["body"] == "please"

    await control.set_case(account, case_id, status="resolved")
    async with client("support") as support:
        hidden = await support.describe_cases()
        shown = await support.describe_cases(includeResolvedCases=True)
        with pytest.raises(ClientError) as unknown:
            await support.describe_cases(caseIdList=["case-nope"])
    assert hidden["cases"] == []
    assert [c["status"] for c in shown["cases"]] == ["resolved"]
    assert unknown.value.response["Error"]["Code"] == "CaseIdNotFound"


async def test_invalid_codes_are_refused(client: ClientFactory, account: str) -> None:
    async with client("support") as support:
        with pytest.raises(ClientError) as caught:
            await support.create_case(subject="s", communicationBody="b", serviceCode="billing", categoryCode="nope")
    assert caught.value.response["Error"]["Code"] == "ValidationException"
