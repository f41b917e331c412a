"""Per-account request rates: token buckets at AWS's published figures, each service throttling
with its own error, per account and (where AWS says so) per Region."""

from __future__ import annotations

import asyncio
import time

import aioboto3
import pytest
from botocore.exceptions import ClientError

from graceperiod.devstack.aws_endpoint.control import EmulatorControl
from tests.integration.aws_endpoint.conftest import ClientFactory, assume, clients_for, onboarded


async def _count_until_throttled(call: object, limit: int) -> tuple[int, ClientError | None]:
    """Calls ``call`` up to ``limit`` times; how many succeeded before the first error, and it."""
    for done in range(limit):
        try:
            await call()  # type: ignore[operator]
        except ClientError as exc:
            return done, exc
    return limit, None


async def test_ec2_describe_offerings_bucket_holds_ten_then_throttles(client: ClientFactory) -> None:
    async with client("ec2") as ec2:
        started = time.monotonic()
        done, throttled = await _count_until_throttled(ec2.describe_reserved_instances_offerings, 20)
        elapsed = time.monotonic() - started
    assert throttled is not None
    assert throttled.response["Error"]["Code"] == "RequestLimitExceeded"
    assert throttled.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    # 10 tokens, plus at most what 10/s refilled while the calls ran.
    assert 10 <= done <= 10 + int(elapsed * 10) + 1


async def test_buckets_are_per_account_and_per_region(
    client: ClientFactory, control: EmulatorControl, vendor_client: ClientFactory, aws_endpoint_url: str
) -> None:
    async with client("ec2") as ec2:
        _, throttled = await _count_until_throttled(ec2.describe_reserved_instances_offerings, 40)
        assert throttled is not None
    async with client("ec2", "eu-west-1") as elsewhere:
        await elsewhere.describe_reserved_instances_offerings()  # another Region: its own bucket
    other = clients_for(aioboto3.Session(), aws_endpoint_url, await assume(vendor_client, await onboarded(control)))
    async with other("ec2") as ec2:
        await ec2.describe_reserved_instances_offerings()  # another account: its own bucket
    async with client("ec2") as ec2:
        await ec2.describe_reserved_instances()  # another API: its own bucket


async def test_the_bucket_refills_at_its_rate(client: ClientFactory) -> None:
    async with client("ec2") as ec2:
        await _count_until_throttled(ec2.describe_reserved_instances_offerings, 40)
        emptied = time.monotonic()
        await asyncio.sleep(0.35)  # 10 tokens a second: three calls' worth, and more while they run
        done, throttled = await _count_until_throttled(ec2.describe_reserved_instances_offerings, 40)
        elapsed = time.monotonic() - emptied
    assert throttled is not None
    assert 3 <= done <= int(elapsed * 10) + 1


async def test_rds_shares_one_bucket_of_300_across_its_api(client: ClientFactory) -> None:
    async with client("rds") as rds:
        calls = [rds.describe_reserved_db_instances, rds.describe_reserved_db_instances_offerings]

        async def alternate() -> None:
            alternate.n += 1  # type: ignore[attr-defined]
            await calls[alternate.n % 2]()  # type: ignore[attr-defined]

        alternate.n = 0  # type: ignore[attr-defined]
        started = time.monotonic()
        done, throttled = await _count_until_throttled(alternate, 400)
        elapsed = time.monotonic() - started
    assert throttled is not None
    assert throttled.response["Error"]["Code"] == "Throttling"
    assert 300 <= done <= 300 + int(elapsed * 12) + 1


@pytest.mark.parametrize(
    ("service", "operation", "action", "code", "status"),
    [
        ("memorydb", "describe_reserved_nodes", "memorydb:DescribeReservedNodes", "ThrottlingException", 400),
        ("opensearch", "describe_reserved_instances", "es:DescribeReservedInstances", "ThrottlingException", 400),
        ("savingsplans", "describe_savings_plans", "savingsplans:DescribeSavingsPlans", "ThrottlingException", 400),
        ("elasticache", "describe_reserved_cache_nodes", "elasticache:DescribeReservedCacheNodes", "Throttling", 400),
        ("account", "list_regions", "account:ListRegions", "TooManyRequestsException", 429),
    ],
)
async def test_each_service_throttles_with_its_own_error(
    client: ClientFactory, control: EmulatorControl, service: str, operation: str, action: str, code: str, status: int
) -> None:
    if action != "account:ListRegions":  # published: 5/s, burst 5; the others publish none
        await control.rate_limit(action, capacity=2, refill_per_second=0.01)
    async with client(service) as api:
        done, throttled = await _count_until_throttled(getattr(api, operation), 10)
    assert throttled is not None
    assert throttled.response["Error"]["Code"] == code
    assert throttled.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert done == (5 if action == "account:ListRegions" else 2)


async def test_unpublished_rates_are_not_limited_and_limits_can_be_switched_off(
    client: ClientFactory, control: EmulatorControl, account: str
) -> None:
    async with client("savingsplans") as sp:
        for _ in range(150):
            await sp.describe_savings_plans()
    await control.configure(rate_limits=False)
    async with client("ec2") as ec2:
        for _ in range(30):
            await ec2.describe_reserved_instances_offerings()
    plans = await control.calls(account=account, action="savingsplans:DescribeSavingsPlans")
    offerings = await control.calls(account=account, action="ec2:DescribeReservedInstancesOfferings")
    assert [c["status"] for c in plans] == [200] * 150
    assert [c["status"] for c in offerings] == [200] * 30


async def test_botocore_retries_a_throttled_call_until_tokens_refill(
    client: ClientFactory, control: EmulatorControl
) -> None:
    # One token every 2 s: slower than a call here, so the patient call surely meets an empty bucket.
    await control.rate_limit("ec2:DescribeReservedInstancesOfferings", capacity=1, refill_per_second=0.5)
    async with client("ec2") as ec2, client("ec2", attempts=6) as patient:
        await _count_until_throttled(ec2.describe_reserved_instances_offerings, 40)
        reply = await patient.describe_reserved_instances_offerings()
    assert reply["ResponseMetadata"]["RetryAttempts"] >= 1
    assert reply["ReservedInstancesOfferings"]


async def test_the_published_figures_and_their_sources(control: EmulatorControl) -> None:
    limits = (await control.rate_limits())["limits"]
    assert limits["ec2:DescribeReservedInstances"]["capacity"] == 100
    assert limits["ec2:DescribeReservedInstances"]["refill_per_second"] == 20
    assert limits["rds:DescribeReservedDBInstances"]["group"] == "rds:*"
    assert limits["ec2:DescribeReservedInstances"]["source"].startswith("https://docs.aws.amazon.com/")
    assert "savingsplans:DescribeSavingsPlans" not in limits
