"""Which Regions an account may use, as EC2 DescribeRegions and Account ListRegions answer, and
how a call to a Region the account has not enabled fails."""

from __future__ import annotations

import aioboto3
import pytest
from botocore.exceptions import ClientError

from graceperiod.devstack.aws_endpoint.catalogue import DEFAULT_REGIONS
from graceperiod.devstack.aws_endpoint.control import EmulatorControl
from tests.integration.aws_endpoint.conftest import ClientFactory, assume, clients_for, onboarded


async def test_describe_regions_lists_the_enabled_ones(
    client: ClientFactory, control: EmulatorControl, account: str
) -> None:
    await control.account(account, opted_in_regions=["eu-south-1"])
    async with client("ec2") as ec2:
        enabled = await ec2.describe_regions()
        everything = await ec2.describe_regions(AllRegions=True)
    names = {r["RegionName"]: r["OptInStatus"] for r in enabled["Regions"]}
    assert set(names) == {*DEFAULT_REGIONS, "eu-south-1"}
    assert names["eu-south-1"] == "opted-in"
    assert names["us-east-1"] == "opt-in-not-required"
    statuses = {r["RegionName"]: r["OptInStatus"] for r in everything["Regions"]}
    assert statuses["af-south-1"] == "not-opted-in"


async def test_list_regions_answers_for_the_caller_and_for_members_to_the_management_account(
    client: ClientFactory, control: EmulatorControl, account: str, vendor_client: ClientFactory, aws_endpoint_url: str
) -> None:
    member = await onboarded(control)
    await control.account(member, opted_in_regions=["me-south-1"])
    await control.organization(account, [{"id": member, "name": "Data"}])
    async with client("account") as api:
        mine = await api.list_regions(MaxResults=50)
        theirs = await api.list_regions(AccountId=member, RegionOptStatusContains=["ENABLED"])
    member_clients = clients_for(aioboto3.Session(), aws_endpoint_url, await assume(vendor_client, member))
    async with member_clients("account") as api:
        with pytest.raises(ClientError) as denied:
            await api.list_regions(AccountId=account)
    statuses = {r["RegionName"]: r["RegionOptStatus"] for r in mine["Regions"]}
    assert statuses["us-east-1"] == "ENABLED_BY_DEFAULT"
    assert statuses["me-south-1"] == "DISABLED"
    assert theirs["Regions"] == [{"RegionName": "me-south-1", "RegionOptStatus": "ENABLED"}]
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"


@pytest.mark.parametrize(
    ("service", "operation", "code", "status"),
    [
        ("ec2", "describe_reserved_instances", "AuthFailure", 401),
        ("rds", "describe_reserved_db_instances", "InvalidClientTokenId", 403),
        ("memorydb", "describe_reserved_nodes", "UnrecognizedClientException", 403),
        ("opensearch", "describe_reserved_instances", "UnrecognizedClientException", 403),
    ],
)
async def test_a_region_the_account_has_not_enabled_refuses_the_credentials(
    client: ClientFactory, control: EmulatorControl, account: str, service: str, operation: str, code: str, status: int
) -> None:
    async with client(service, "ap-east-1") as api:
        with pytest.raises(ClientError) as refused:
            await getattr(api, operation)()
    await control.account(account, opted_in_regions=["ap-east-1"])
    async with client(service, "ap-east-1") as api:
        await getattr(api, operation)()
    assert refused.value.response["Error"]["Code"] == code
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
