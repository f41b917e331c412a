"""Buying commitments the way a console, the CLI or Terraform does: offerings, then the purchase,
then the describe that shows it, with the real clients over HTTP (aioboto3, and plain boto3)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from graceperiod.devstack.aws_endpoint.control import EmulatorControl
from tests.integration.aws_endpoint.conftest import ClientFactory

NOW = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)


async def _compute_offering(client: ClientFactory, payment: str = "All Upfront") -> dict[str, Any]:
    async with client("savingsplans") as sp:
        reply = await sp.describe_savings_plans_offerings(
            planTypes=["Compute"], paymentOptions=[payment], durations=[31536000]
        )
    [offering] = reply["searchResults"]
    return offering  # type: ignore[no-any-return]


async def test_a_savings_plan_bought_now_is_payment_pending_then_active(
    client: ClientFactory, control: EmulatorControl
) -> None:
    await control.set_clock(now=NOW)
    await control.configure(payment_delay_seconds=5)
    offering = await _compute_offering(client)
    async with client("savingsplans") as sp:
        created = await sp.create_savings_plan(savingsPlanOfferingId=offering["offeringId"], commitment="2.5")
        [plan] = (await sp.describe_savings_plans(savingsPlanIds=[created["savingsPlanId"]]))["savingsPlans"]
        await control.set_clock(now=NOW + timedelta(seconds=5))
        [later] = (await sp.describe_savings_plans(savingsPlanIds=[created["savingsPlanId"]]))["savingsPlans"]
    assert plan["state"] == "payment-pending"
    assert later["state"] == "active"
    assert plan["commitment"] == "2.5"
    assert Decimal(plan["upfrontPaymentAmount"]) == Decimal("2.5") * 8760  # all upfront, the whole year
    assert Decimal(plan["recurringPaymentAmount"]) == 0
    assert plan["termDurationInSeconds"] == 31536000
    assert plan["returnableUntil"] == "2026-11-17T12:00:00.000Z"  # seven days, within November
    assert plan["offeringId"] == offering["offeringId"]


async def test_create_savings_plan_is_idempotent_by_client_token(client: ClientFactory) -> None:
    offering = await _compute_offering(client)
    async with client("savingsplans") as sp:
        first = await sp.create_savings_plan(
            savingsPlanOfferingId=offering["offeringId"], commitment="1", clientToken="buy-1"
        )
        again = await sp.create_savings_plan(
            savingsPlanOfferingId=offering["offeringId"], commitment="1", clientToken="buy-1"
        )
        with pytest.raises(ClientError) as changed:
            await sp.create_savings_plan(
                savingsPlanOfferingId=offering["offeringId"], commitment="2", clientToken="buy-1"
            )
        other = await sp.create_savings_plan(
            savingsPlanOfferingId=offering["offeringId"], commitment="1", clientToken="buy-2"
        )
        plans = (await sp.describe_savings_plans())["savingsPlans"]
    assert first["savingsPlanId"] == again["savingsPlanId"] != other["savingsPlanId"]
    assert changed.value.response["Error"]["Code"] == "ValidationException"
    assert len(plans) == 2


async def test_a_future_purchase_time_queues_the_plan_until_then(
    client: ClientFactory, control: EmulatorControl
) -> None:
    await control.set_clock(now=NOW)
    offering = await _compute_offering(client, "No Upfront")
    starts = NOW + timedelta(days=3)
    async with client("savingsplans") as sp:
        created = await sp.create_savings_plan(
            savingsPlanOfferingId=offering["offeringId"], commitment="0.5", purchaseTime=starts
        )
        [plan] = (await sp.describe_savings_plans(savingsPlanIds=[created["savingsPlanId"]]))["savingsPlans"]
        with pytest.raises(ClientError) as past:
            await sp.create_savings_plan(
                savingsPlanOfferingId=offering["offeringId"], commitment="0.5", purchaseTime=NOW - timedelta(hours=1)
            )
        await control.set_clock(now=starts)
        [started] = (await sp.describe_savings_plans(savingsPlanIds=[created["savingsPlanId"]]))["savingsPlans"]
    assert plan["state"] == "queued"
    assert plan["start"] == plan["returnableUntil"] == "2026-11-13T12:00:00.000Z"
    assert Decimal(plan["upfrontPaymentAmount"]) == 0
    assert Decimal(plan["recurringPaymentAmount"]) == Decimal("0.5")
    assert started["state"] == "active"
    assert past.value.response["Error"]["Code"] == "ValidationException"


async def test_savings_plan_purchases_are_validated(client: ClientFactory) -> None:
    partial = await _compute_offering(client, "Partial Upfront")
    async with client("savingsplans") as sp:
        with pytest.raises(ClientError) as unknown:
            await sp.create_savings_plan(savingsPlanOfferingId="00000000-0000-0000-0000-000000000000", commitment="1")
        with pytest.raises(ClientError) as too_small:
            await sp.create_savings_plan(savingsPlanOfferingId=partial["offeringId"], commitment="0.0001")
        with pytest.raises(ClientError) as too_little_upfront:
            await sp.create_savings_plan(
                savingsPlanOfferingId=partial["offeringId"], commitment="1", upfrontPaymentAmount="100"
            )
        ok = await sp.create_savings_plan(
            savingsPlanOfferingId=partial["offeringId"], commitment="1", upfrontPaymentAmount="6000"
        )
    assert unknown.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert unknown.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert too_small.value.response["Error"]["Code"] == "ValidationException"
    assert too_little_upfront.value.response["Error"]["Code"] == "ValidationException"
    assert ok["savingsPlanId"]


async def test_a_reserved_instance_bought_with_plain_boto3(
    aws_endpoint_url: str, credentials: dict[str, str], control: EmulatorControl
) -> None:
    await control.configure(payment_delay_seconds=3600)

    def buy() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        ec2 = boto3.client("ec2", region_name="eu-west-1", endpoint_url=aws_endpoint_url, **credentials)
        offerings = ec2.describe_reserved_instances_offerings(
            InstanceType="m6i.large", OfferingType="All Upfront", OfferingClass="standard", MaxDuration=31536000
        )["ReservedInstancesOfferings"]
        bought = ec2.purchase_reserved_instances_offering(
            ReservedInstancesOfferingId=offerings[0]["ReservedInstancesOfferingId"], InstanceCount=2
        )
        [ri] = ec2.describe_reserved_instances(ReservedInstancesIds=[bought["ReservedInstancesId"]])[
            "ReservedInstances"
        ]
        return offerings[0], bought, ri

    offering, bought, ri = await asyncio.to_thread(buy)
    assert offering["Duration"] == 31536000
    assert ri["ReservedInstancesId"] == bought["ReservedInstancesId"]
    assert ri["State"] == "payment-pending"
    assert ri["InstanceCount"] == 2
    assert ri["FixedPrice"] == pytest.approx(offering["FixedPrice"] * 2)
    assert ri["OfferingType"] == "All Upfront"


async def test_a_queued_reserved_instance_can_be_deleted_before_its_time(
    client: ClientFactory, control: EmulatorControl
) -> None:
    await control.set_clock(now=NOW)
    async with client("ec2", "us-west-2") as ec2:
        [offering, *_] = (await ec2.describe_reserved_instances_offerings(InstanceType="c6i.large"))[
            "ReservedInstancesOfferings"
        ]
        bought = await ec2.purchase_reserved_instances_offering(
            ReservedInstancesOfferingId=offering["ReservedInstancesOfferingId"],
            InstanceCount=1,
            PurchaseTime=NOW + timedelta(days=1),
        )
        [ri] = (await ec2.describe_reserved_instances(ReservedInstancesIds=[bought["ReservedInstancesId"]]))[
            "ReservedInstances"
        ]
        deleted = await ec2.delete_queued_reserved_instances(ReservedInstancesIds=[bought["ReservedInstancesId"]])
        await control.set_clock(now=NOW + timedelta(days=2))
        [after] = (await ec2.describe_reserved_instances(ReservedInstancesIds=[bought["ReservedInstancesId"]]))[
            "ReservedInstances"
        ]
    async with client("ec2", "eu-west-1") as elsewhere:
        with pytest.raises(ClientError) as other_region:
            await elsewhere.purchase_reserved_instances_offering(
                ReservedInstancesOfferingId=offering["ReservedInstancesOfferingId"], InstanceCount=1
            )
    assert ri["State"] == "queued"
    assert ri["Start"] == NOW + timedelta(days=1)
    assert deleted["SuccessfulQueuedPurchaseDeletions"] == [{"ReservedInstancesId": bought["ReservedInstancesId"]}]
    assert after["State"] == "queued-deleted"  # its start passed: a deleted purchase never starts
    assert other_region.value.response["Error"]["Code"] == "InvalidReservedInstancesOfferingId"


async def test_offerings_are_paginated_and_filtered(client: ClientFactory) -> None:
    async with client("ec2") as ec2:
        first = await ec2.describe_reserved_instances_offerings(MaxResults=5)
        second = await ec2.describe_reserved_instances_offerings(MaxResults=5, NextToken=first["NextToken"])
        three_years = await ec2.describe_reserved_instances_offerings(
            Filters=[{"Name": "duration", "Values": ["94608000"]}]
        )
    ids = [o["ReservedInstancesOfferingId"] for o in first["ReservedInstancesOfferings"]]
    ids += [o["ReservedInstancesOfferingId"] for o in second["ReservedInstancesOfferings"]]
    assert len(set(ids)) == 10
    assert {o["Duration"] for o in three_years["ReservedInstancesOfferings"]} == {94608000}


#: (service, offerings call, its result, offering id field, purchase call, count parameter,
#:  describe call, describe result, reservation id field, pending state)
NODE_PRODUCTS = [
    (
        "rds",
        "describe_reserved_db_instances_offerings",
        "ReservedDBInstancesOfferings",
        "ReservedDBInstancesOfferingId",
        "purchase_reserved_db_instances_offering",
        "DBInstanceCount",
        "describe_reserved_db_instances",
        "ReservedDBInstances",
        "ReservedDBInstanceId",
        "payment-pending",
    ),
    (
        "elasticache",
        "describe_reserved_cache_nodes_offerings",
        "ReservedCacheNodesOfferings",
        "ReservedCacheNodesOfferingId",
        "purchase_reserved_cache_nodes_offering",
        "CacheNodeCount",
        "describe_reserved_cache_nodes",
        "ReservedCacheNodes",
        "ReservedCacheNodeId",
        "payment-pending",
    ),
    (
        "redshift",
        "describe_reserved_node_offerings",
        "ReservedNodeOfferings",
        "ReservedNodeOfferingId",
        "purchase_reserved_node_offering",
        "NodeCount",
        "describe_reserved_nodes",
        "ReservedNodes",
        "ReservedNodeId",
        "pending-payment",
    ),
    (
        "memorydb",
        "describe_reserved_nodes_offerings",
        "ReservedNodesOfferings",
        "ReservedNodesOfferingId",
        "purchase_reserved_nodes_offering",
        "NodeCount",
        "describe_reserved_nodes",
        "ReservedNodes",
        "ReservationId",
        "payment-pending",
    ),
    (
        "opensearch",
        "describe_reserved_instance_offerings",
        "ReservedInstanceOfferings",
        "ReservedInstanceOfferingId",
        "purchase_reserved_instance_offering",
        "InstanceCount",
        "describe_reserved_instances",
        "ReservedInstances",
        "ReservedInstanceId",
        "payment-pending",
    ),
]


@pytest.mark.parametrize(
    (
        "service",
        "offerings",
        "offerings_key",
        "offering_id",
        "purchase",
        "count",
        "describe",
        "result",
        "id_key",
        "pending",
    ),
    NODE_PRODUCTS,
    ids=[p[0] for p in NODE_PRODUCTS],
)
async def test_reserved_nodes_are_sold_and_described(
    client: ClientFactory,
    control: EmulatorControl,
    service: str,
    offerings: str,
    offerings_key: str,
    offering_id: str,
    purchase: str,
    count: str,
    describe: str,
    result: str,
    id_key: str,
    pending: str,
) -> None:
    await control.set_clock(now=NOW)
    await control.configure(payment_delay_seconds=60)
    async with client(service, "eu-central-1") as api:
        [offering, *_] = (await getattr(api, offerings)())[offerings_key]
        extra = {"ReservationName": "nightly-search"} if service == "opensearch" else {}
        bought = await getattr(api, purchase)(**{offering_id: offering[offering_id], count: 3}, **extra)
        reservation_id = bought[id_key] if id_key in bought else next(iter(bought.values()))[id_key]
        [node] = (await getattr(api, describe)())[result]
        await control.set_clock(now=NOW + timedelta(seconds=60))
        [later] = (await getattr(api, describe)())[result]
    async with client(service, "us-east-1") as other_region:
        assert (await getattr(other_region, describe)())[result] == []
    assert node[id_key] == reservation_id
    assert node["State"] == pending
    assert later["State"] == "active"
    assert node["StartTime"] == NOW
    assert node["Duration"] == offering["Duration"]
    assert node["FixedPrice"] == pytest.approx(offering["FixedPrice"] * 3)
    assert node[count] == 3


async def test_a_chosen_reservation_id_is_taken_once(client: ClientFactory) -> None:
    async with client("rds") as rds:
        [offering, *_] = (await rds.describe_reserved_db_instances_offerings())["ReservedDBInstancesOfferings"]
        await rds.purchase_reserved_db_instances_offering(
            ReservedDBInstancesOfferingId=offering["ReservedDBInstancesOfferingId"], ReservedDBInstanceId="mine"
        )
        with pytest.raises(ClientError) as again:
            await rds.purchase_reserved_db_instances_offering(
                ReservedDBInstancesOfferingId=offering["ReservedDBInstancesOfferingId"], ReservedDBInstanceId="mine"
            )
        with pytest.raises(ClientError) as unknown:
            await rds.purchase_reserved_db_instances_offering(ReservedDBInstancesOfferingId="no-such-offering")
    assert again.value.response["Error"]["Code"] == "ReservedDBInstanceAlreadyExists"
    assert unknown.value.response["Error"]["Code"] == "ReservedDBInstancesOfferingNotFound"
