"""Purchase events: a purchase in an account whose bundle forwards them arrives in Grace Period's
SQS queue as EventBridge delivers a CloudTrail event, with the buying account stamped on it."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from graceperiod.devstack.aws_endpoint.control import EmulatorControl
from tests.integration.aws_endpoint.conftest import ClientFactory


@pytest.fixture
async def queue(vendor_client: ClientFactory) -> dict[str, str]:
    """Grace Period's own queue (the vendor account's)."""
    async with vendor_client("sqs") as sqs:
        url = (await sqs.create_queue(QueueName=f"gp-purchase-events-{uuid.uuid4().hex[:8]}"))["QueueUrl"]
        arn = (await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"]))["Attributes"]["QueueArn"]
    return {"url": url, "arn": arn}


async def _received(vendor_client: ClientFactory, url: str, *, wait: int = 1) -> list[dict[str, Any]]:
    async with vendor_client("sqs") as sqs:
        reply = await sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait)
    return [json.loads(m["Body"]) for m in reply.get("Messages", [])]


async def test_purchases_arrive_as_cloudtrail_events_with_the_buying_account(
    client: ClientFactory, control: EmulatorControl, account: str, vendor_client: ClientFactory, queue: dict[str, str]
) -> None:
    await control.account(account, purchase_events_queue=queue["arn"])
    async with client("savingsplans") as sp:
        [offering, *_] = (await sp.describe_savings_plans_offerings(planTypes=["Compute"]))["searchResults"]
        plan = await sp.create_savings_plan(savingsPlanOfferingId=offering["offeringId"], commitment="1")
    async with client("ec2", "eu-west-1") as ec2:
        [ri_offering, *_] = (await ec2.describe_reserved_instances_offerings())["ReservedInstancesOfferings"]
        ri = await ec2.purchase_reserved_instances_offering(
            ReservedInstancesOfferingId=ri_offering["ReservedInstancesOfferingId"], InstanceCount=1
        )
        with pytest.raises(ClientError):
            await ec2.purchase_reserved_instances_offering(ReservedInstancesOfferingId="nope", InstanceCount=1)
    events = await _received(vendor_client, queue["url"])
    by_name = {e["detail"]["eventName"]: e for e in events}
    assert set(by_name) == {"CreateSavingsPlan", "PurchaseReservedInstancesOffering"}  # not the failed one
    created, bought = by_name["CreateSavingsPlan"], by_name["PurchaseReservedInstancesOffering"]
    assert created["account"] == bought["account"] == account
    assert created["detail-type"] == "AWS API Call via CloudTrail"
    assert created["source"] == "aws.savingsplans"
    assert created["detail"]["responseElements"]["savingsPlanId"] == plan["savingsPlanId"]
    assert bought["source"] == "aws.ec2"
    assert bought["region"] == "eu-west-1"
    assert bought["detail"]["responseElements"]["ReservedInstancesId"] == ri["ReservedInstancesId"]


async def test_no_rule_no_event(
    client: ClientFactory, control: EmulatorControl, account: str, vendor_client: ClientFactory, queue: dict[str, str]
) -> None:
    async with client("rds") as rds:
        [offering, *_] = (await rds.describe_reserved_db_instances_offerings())["ReservedDBInstancesOfferings"]
        await rds.purchase_reserved_db_instances_offering(
            ReservedDBInstancesOfferingId=offering["ReservedDBInstancesOfferingId"]
        )
    assert await _received(vendor_client, queue["url"], wait=0) == []
    assert (await control.get_account(account))["purchase_events_queue"] is None
