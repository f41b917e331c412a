"""EC2 Reserved Instances: regional, DryRun answers, per-id failures inside an HTTP 200."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from graceperiod.devstack.aws_endpoint.control import EmulatorControl
from tests.integration.aws_endpoint.conftest import ClientFactory

NOW = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)


async def test_describe_is_regional_and_reports_state_and_start(
    client: ClientFactory, control: EmulatorControl, account: str
) -> None:
    await control.set_clock(now=NOW)
    ri = await control.reserved_instance(account, region="eu-west-1", start=NOW + timedelta(days=2))
    async with client("ec2", "eu-west-1") as ec2:
        found = await ec2.describe_reserved_instances(ReservedInstancesIds=[ri["ReservedInstancesId"]])
        queued = await ec2.describe_reserved_instances(Filters=[{"Name": "state", "Values": ["queued"]}])
    async with client("ec2", "us-east-1") as ec2:
        with pytest.raises(ClientError) as elsewhere:
            await ec2.describe_reserved_instances(ReservedInstancesIds=[ri["ReservedInstancesId"]])
    [described] = found["ReservedInstances"]
    assert described["State"] == "queued"
    assert described["Start"] == NOW + timedelta(days=2)
    assert [r["ReservedInstancesId"] for r in queued["ReservedInstances"]] == [ri["ReservedInstancesId"]]
    assert elsewhere.value.response["Error"]["Code"] == "InvalidReservedInstancesId"


async def test_dry_run_says_allowed_or_denied(client: ClientFactory, control: EmulatorControl, account: str) -> None:
    async with client("ec2") as ec2:
        with pytest.raises(ClientError) as allowed:
            await ec2.delete_queued_reserved_instances(ReservedInstancesIds=["probe"], DryRun=True)
    await control.account(account, denied_actions=["ec2:DeleteQueuedReservedInstances"])
    async with client("ec2") as ec2:
        with pytest.raises(ClientError) as denied:
            await ec2.delete_queued_reserved_instances(ReservedInstancesIds=["probe"], DryRun=True)
        described = await ec2.describe_reserved_instances()
    assert allowed.value.response["Error"]["Code"] == "DryRunOperation"
    assert allowed.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert denied.value.response["Error"]["Code"] == "UnauthorizedOperation"
    assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert described["ReservedInstances"] == []


async def test_delete_queued_reports_each_id_in_an_http_200(
    client: ClientFactory, control: EmulatorControl, account: str
) -> None:
    await control.set_clock(now=NOW)
    queued = await control.reserved_instance(account, start=NOW + timedelta(days=1))
    active = await control.reserved_instance(account, start=NOW - timedelta(days=1))
    ids = [queued["ReservedInstancesId"], active["ReservedInstancesId"], "ri-unknown"]
    async with client("ec2") as ec2:
        reply = await ec2.delete_queued_reserved_instances(ReservedInstancesIds=ids)
        after = await ec2.describe_reserved_instances(ReservedInstancesIds=[queued["ReservedInstancesId"]])
    assert reply["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert reply["SuccessfulQueuedPurchaseDeletions"] == [{"ReservedInstancesId": queued["ReservedInstancesId"]}]
    failures = {f["ReservedInstancesId"]: f["Error"]["Code"] for f in reply["FailedQueuedPurchaseDeletions"]}
    assert failures == {
        active["ReservedInstancesId"]: "reserved-instances-not-in-queued-state",
        "ri-unknown": "reserved-instances-id-invalid",
    }
    assert after["ReservedInstances"][0]["State"] == "queued-deleted"


async def test_a_queued_ri_becomes_active_at_its_start(
    client: ClientFactory, control: EmulatorControl, account: str
) -> None:
    await control.set_clock(now=NOW)
    ri = await control.reserved_instance(account, start=NOW + timedelta(minutes=5))
    await control.set_clock(now=NOW + timedelta(minutes=5))
    async with client("ec2") as ec2:
        reply = await ec2.delete_queued_reserved_instances(ReservedInstancesIds=[ri["ReservedInstancesId"]])
    assert reply["FailedQueuedPurchaseDeletions"][0]["Error"]["Code"] == "reserved-instances-not-in-queued-state"


@pytest.mark.parametrize(
    ("service", "spec_id", "call", "kwargs_key", "result_key"),
    [
        ("rds", "r-1", "describe_reserved_db_instances", "ReservedDBInstanceId", "ReservedDBInstances"),
        ("elasticache", "e-1", "describe_reserved_cache_nodes", "ReservedCacheNodeId", "ReservedCacheNodes"),
        ("redshift", "rs-1", "describe_reserved_nodes", "ReservedNodeId", "ReservedNodes"),
        ("memorydb", "m-1", "describe_reserved_nodes", "ReservationId", "ReservedNodes"),
        (
            "opensearch",
            "11111111-2222-3333-4444-555555555555",
            "describe_reserved_instances",
            "ReservedInstanceId",
            "ReservedInstances",
        ),
    ],
)
async def test_other_reserved_products_can_be_described(
    client: ClientFactory,
    control: EmulatorControl,
    account: str,
    service: str,
    spec_id: str,
    call: str,
    kwargs_key: str,
    result_key: str,
) -> None:
    await control.reserved_node(account, service=service, id=spec_id, start=NOW, state="active")
    async with client(service) as api:
        reply = await getattr(api, call)(**{kwargs_key: spec_id})
        with pytest.raises(ClientError):
            await getattr(api, call)(**{kwargs_key: "00000000-0000-0000-0000-000000000000"})
    [node] = reply[result_key]
    assert node["State"] == "active"
    assert node["StartTime"] == NOW
