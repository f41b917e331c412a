"""Listing every commitment an account holds: its Savings Plans (global), and in each Region
scanned its EC2 Reserved Instances and the reserved nodes of RDS, ElastiCache, Redshift,
MemoryDB and OpenSearch; and which Regions the account has enabled.

Each describe is paged to the end. One call's failure is that product's (in that Region) only:
the listing reports it and carries on with the rest.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any

from graceperiod.contracts.enums import AwsService, CommitmentKind
from graceperiod.revocation.adapters.times import parse_time
from graceperiod.revocation.domain.aws_answers import AwsCallError
from graceperiod.revocation.domain.discovery import Found, Listing
from graceperiod.revocation.domain.records import AwsState
from graceperiod.runtime.aws import AwsSessions, Role, request_id
from graceperiod.runtime.clock import Clock

Reply = dict[str, Any]
Fetch = Callable[[dict[str, Any]], Awaitable[Reply]]
#: Runs one AWS call with the caller's own rounds of back-off around botocore's retries.
Attempt = Callable[[Callable[[], Awaitable[Reply]]], Awaitable[Reply]]
_YEAR = 31_536_000


@dataclass(frozen=True)
class _NodeApi:
    result: str
    id_field: str
    type_field: str
    count_field: str
    payment_field: str = "OfferingType"
    cursor: str = "Marker"
    """The page cursor: the request parameter and the reply field have the same name."""


_NODES = {
    AwsService.RDS: _NodeApi("ReservedDBInstances", "ReservedDBInstanceId", "DBInstanceClass", "DBInstanceCount"),
    AwsService.ELASTICACHE: _NodeApi("ReservedCacheNodes", "ReservedCacheNodeId", "CacheNodeType", "CacheNodeCount"),
    AwsService.REDSHIFT: _NodeApi("ReservedNodes", "ReservedNodeId", "NodeType", "NodeCount"),
    AwsService.MEMORYDB: _NodeApi("ReservedNodes", "ReservationId", "NodeType", "NodeCount", cursor="NextToken"),
    AwsService.OPENSEARCH: _NodeApi(
        "ReservedInstances", "ReservedInstanceId", "InstanceType", "InstanceCount", "PaymentOption", "NextToken"
    ),
}
#: OpenSearch spells payment options as constants; Grace Period uses the others' words.
_PAYMENT = {"ALL_UPFRONT": "All Upfront", "PARTIAL_UPFRONT": "Partial Upfront", "NO_UPFRONT": "No Upfront"}


def _money(value: Any) -> Decimal:
    return Decimal(str(value or 0))


def _hourly(charges: list[dict[str, Any]] | None, amount: str, frequency: str) -> Decimal:
    return sum((_money(c.get(amount)) for c in charges or [] if c.get(frequency, "Hourly") == "Hourly"), Decimal(0))


def _sku(kind: str, count: int) -> str:
    return f"{kind} x{count}" if count > 1 else kind


class Discovery:
    def __init__(self, sessions: AwsSessions, clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    async def enabled_regions(self, role: Role) -> list[str]:
        reply = await self._sessions.call(role, "ec2", "DescribeRegions", role.global_region)
        return sorted(r["RegionName"] for r in reply.get("Regions") or [] if r.get("OptInStatus") != "not-opted-in")

    async def commitments(self, role: Role, regions: tuple[str, ...], attempt: Attempt) -> Listing:
        """Every commitment of the account (Savings Plans once, the rest in each Region). The
        Regions are read at the same time (a scan's wait is then its slowest Region's, not the
        sum of all), each Region's products one after the other; the listing is in that order."""
        plans, *per_region = await asyncio.gather(
            self._global(role, attempt), *(self._region(role, region, attempt) for region in regions)
        )
        listing = plans
        for part in per_region:
            listing.found += part.found
            listing.errors += part.errors
            listing.reads += part.reads
        return listing

    async def _global(self, role: Role, attempt: Attempt) -> Listing:
        listing = Listing()
        await self._collect(listing, "savingsplans", self._savings_plans(role, listing, attempt))
        return listing

    async def _region(self, role: Role, region: str, attempt: Attempt) -> Listing:
        listing = Listing()
        await self._collect(listing, f"ec2@{region}", self._reserved_instances(role, region, listing, attempt))
        for service in _NODES:
            await self._collect(listing, f"{service}@{region}", self._nodes(role, service, region, listing, attempt))
        return listing

    @staticmethod
    async def _collect(listing: Listing, where: str, read: Awaitable[None]) -> None:
        try:
            await read
        except AwsCallError as exc:
            listing.errors.append((where, exc))

    @staticmethod
    async def _pages(listing: Listing, fetch: Fetch, cursor: tuple[str, str], attempt: Attempt) -> list[Reply]:
        """Every page: ``cursor`` names the request parameter and the reply field."""
        replies: list[Reply] = []
        params: dict[str, Any] = {}
        while True:
            reply = await attempt(partial(fetch, params))
            listing.reads += 1
            replies.append(reply)
            token = reply.get(cursor[1])
            if not token:
                return replies
            params = {cursor[0]: token}

    def _aws(self, reply: Reply, state: Any, start: Any, returnable: Any = None) -> AwsState:
        return AwsState(
            known=True,
            state=None if state is None else str(state),
            start=parse_time(start),
            returnable_until=parse_time(returnable),
            read_at=self._clock.now(),
            request_id=request_id(reply),
        )

    async def _savings_plans(self, role: Role, listing: Listing, attempt: Attempt) -> None:
        call = self._sessions.call

        def fetch(params: dict[str, Any]) -> Awaitable[Reply]:
            return call(role, "savingsplans", "DescribeSavingsPlans", role.global_region, maxResults=1000, **params)

        for reply in await self._pages(listing, fetch, ("nextToken", "nextToken"), attempt):
            listing.found += [self._plan(role, reply, plan) for plan in reply.get("savingsPlans") or []]

    def _plan(self, role: Role, reply: Reply, plan: dict[str, Any]) -> Found:
        term = int(plan.get("termDurationInSeconds") or _YEAR)
        rate = plan.get("commitment") or "0"
        return Found(
            service=AwsService.SAVINGS_PLANS,
            kind=CommitmentKind.SAVINGS_PLAN,
            commitment_id=plan["savingsPlanId"],
            region=plan.get("region") or role.global_region,
            aws=self._aws(reply, plan.get("state"), plan.get("start"), plan.get("returnableUntil")),
            sku=f"{plan.get('savingsPlanType') or 'Compute'} Savings Plan, {max(1, term // _YEAR)}yr, ${rate}/h",
            payment_option=plan.get("paymentOption") or "unknown",
            duration_seconds=term,
            currency=plan.get("currency") or "USD",
            upfront=_money(plan.get("upfrontPaymentAmount")),
            hourly=_money(plan.get("recurringPaymentAmount")),
        )

    async def _reserved_instances(self, role: Role, region: str, listing: Listing, attempt: Attempt) -> None:
        call = self._sessions.call
        reply = await attempt(lambda: call(role, "ec2", "DescribeReservedInstances", region))
        listing.reads += 1
        for ri in reply.get("ReservedInstances") or []:
            count = int(ri.get("InstanceCount") or 1)
            listing.found.append(
                Found(
                    service=AwsService.EC2,
                    kind=CommitmentKind.RESERVED_INSTANCE,
                    commitment_id=ri["ReservedInstancesId"],
                    region=region,
                    aws=self._aws(reply, ri.get("State"), ri.get("Start")),
                    sku=_sku(str(ri.get("InstanceType")), count),
                    payment_option=ri.get("OfferingType") or "unknown",
                    duration_seconds=int(ri.get("Duration") or _YEAR),
                    currency=ri.get("CurrencyCode") or "USD",
                    upfront=_money(ri.get("FixedPrice")),
                    hourly=_hourly(ri.get("RecurringCharges"), "Amount", "Frequency"),
                )
            )

    def _node_page(self, role: Role, service: AwsService, region: str) -> Fetch:
        """One page of a product's reserved nodes (one literal call per product: the IAM test
        reads the actions the adapters use from their source)."""
        call = self._sessions.call
        pages: dict[AwsService, Fetch] = {
            AwsService.RDS: lambda p: call(role, "rds", "DescribeReservedDBInstances", region, **p),
            AwsService.ELASTICACHE: lambda p: call(role, "elasticache", "DescribeReservedCacheNodes", region, **p),
            AwsService.REDSHIFT: lambda p: call(role, "redshift", "DescribeReservedNodes", region, **p),
            AwsService.MEMORYDB: lambda p: call(role, "memorydb", "DescribeReservedNodes", region, **p),
            AwsService.OPENSEARCH: lambda p: call(role, "opensearch", "DescribeReservedInstances", region, **p),
        }
        return pages[service]

    async def _nodes(self, role: Role, service: AwsService, region: str, listing: Listing, attempt: Attempt) -> None:
        api = _NODES[service]
        fetch = self._node_page(role, service, region)
        for reply in await self._pages(listing, fetch, (api.cursor, api.cursor), attempt):
            for node in reply.get(api.result) or []:
                count = int(node.get(api.count_field) or 1)
                payment = str(node.get(api.payment_field) or "unknown")
                listing.found.append(
                    Found(
                        service=service,
                        kind=CommitmentKind.RESERVED_NODE,
                        commitment_id=node[api.id_field],
                        region=region,
                        aws=self._aws(reply, node.get("State"), node.get("StartTime")),
                        sku=_sku(str(node.get(api.type_field)), count),
                        payment_option=_PAYMENT.get(payment, payment),
                        duration_seconds=int(node.get("Duration") or _YEAR),
                        currency=node.get("CurrencyCode") or "USD",
                        upfront=_money(node.get("FixedPrice")),
                        hourly=_hourly(
                            node.get("RecurringCharges"), "RecurringChargeAmount", "RecurringChargeFrequency"
                        ),
                    )
                )
