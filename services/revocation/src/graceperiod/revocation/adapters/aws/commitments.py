"""Commitments in a customer account: read one (Savings Plans, EC2 Reserved Instances, the
reserved nodes of RDS, ElastiCache, Redshift, MemoryDB and OpenSearch) and undo it where AWS
has an API for that (return or delete a queued Savings Plan, delete a queued RI)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from graceperiod.contracts.enums import AwsService, CommitmentKind
from graceperiod.contracts.upstream import PurchaseExecuted
from graceperiod.revocation.adapters.aws.wire import first, json_safe
from graceperiod.revocation.adapters.times import parse_time
from graceperiod.revocation.domain.aws_answers import ActionResult, AwsCallError, Failure
from graceperiod.revocation.domain.commitments import DESCRIBE_ACTIONS
from graceperiod.revocation.domain.records import AwsState
from graceperiod.runtime.aws import AwsSessions, Role, request_id
from graceperiod.runtime.clock import Clock

#: The list each reserved-node describe returns its reservations in.
_NODE_RESULTS: dict[AwsService, str] = {
    AwsService.RDS: "ReservedDBInstances",
    AwsService.ELASTICACHE: "ReservedCacheNodes",
    AwsService.REDSHIFT: "ReservedNodes",
    AwsService.MEMORYDB: "ReservedNodes",
    AwsService.OPENSEARCH: "ReservedInstances",
}
NODE_SERVICES = tuple(_NODE_RESULTS)


class Commitments:
    def __init__(self, sessions: AwsSessions, clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    async def describe(self, role: Role, purchase: PurchaseExecuted) -> AwsState:
        """The commitment as AWS describes it now (raises :class:`AwsCallError`)."""
        service, commitment = purchase.aws_product()
        if commitment.kind is CommitmentKind.SAVINGS_PLAN:
            return await self._savings_plan(role, commitment.id)
        if service is AwsService.EC2:
            return await self._reserved_instance(role, commitment.region, commitment.id)
        if service not in _NODE_RESULTS:
            action = f"{service}:describe"
            raise AwsCallError(Failure.REJECTED, f"no describe call for {service}", action=action)
        reply = await self.read_node(role, service, commitment.region, commitment.id)
        what = f"{service} reservation {commitment.id} in {commitment.region}"
        node = first(reply, _NODE_RESULTS[service], what, action=DESCRIBE_ACTIONS[service])
        return self._state(reply, node.get("State"), node.get("StartTime"))

    def _state(self, reply: dict[str, Any], state: Any, start: Any, returnable_until: Any = None) -> AwsState:
        return AwsState(
            known=True,
            state=state,
            start=parse_time(start),
            returnable_until=parse_time(returnable_until),
            read_at=self._clock.now(),
            request_id=request_id(reply),
        )

    async def _savings_plan(self, role: Role, plan_id: str) -> AwsState:
        reply = await self._sessions.call(
            role, "savingsplans", "DescribeSavingsPlans", role.global_region, savingsPlanIds=[plan_id]
        )
        what = f"Savings Plan {plan_id} in account {role.account_id}"
        plan = first(reply, "savingsPlans", what, action="savingsplans:DescribeSavingsPlans")
        return self._state(reply, plan.get("state"), plan.get("start"), plan.get("returnableUntil"))

    async def _reserved_instance(self, role: Role, region: str, ri_id: str) -> AwsState:
        reply = await self._sessions.call(
            role, "ec2", "DescribeReservedInstances", region, ReservedInstancesIds=[ri_id]
        )
        what = f"Reserved Instance {ri_id} in {region}"
        ri = first(reply, "ReservedInstances", what, action="ec2:DescribeReservedInstances")
        return self._state(reply, ri.get("State"), ri.get("Start"))

    def read_node(self, role: Role, service: AwsService, region: str, node_id: str) -> Awaitable[dict[str, Any]]:
        """The describe of one reserved node (one literal call per service: the IAM test reads
        the actions the adapters use from their source)."""
        call = self._sessions.call
        reads: dict[AwsService, Callable[[], Awaitable[dict[str, Any]]]] = {
            AwsService.RDS: lambda: call(
                role, "rds", "DescribeReservedDBInstances", region, ReservedDBInstanceId=node_id
            ),
            AwsService.ELASTICACHE: lambda: call(
                role, "elasticache", "DescribeReservedCacheNodes", region, ReservedCacheNodeId=node_id
            ),
            AwsService.REDSHIFT: lambda: call(
                role, "redshift", "DescribeReservedNodes", region, ReservedNodeId=node_id
            ),
            AwsService.MEMORYDB: lambda: call(role, "memorydb", "DescribeReservedNodes", region, ReservationId=node_id),
            AwsService.OPENSEARCH: lambda: call(
                role, "opensearch", "DescribeReservedInstances", region, ReservedInstanceId=node_id
            ),
        }
        return reads[service]()

    async def return_savings_plan(self, role: Role, plan_id: str, *, client_token: str) -> ActionResult:
        reply = await self._sessions.call(
            role,
            "savingsplans",
            "ReturnSavingsPlan",
            role.global_region,
            savingsPlanId=plan_id,
            clientToken=client_token,
        )
        return ActionResult(request_id(reply), json_safe(reply))

    async def delete_queued_savings_plan(self, role: Role, plan_id: str) -> ActionResult:
        reply = await self._sessions.call(
            role, "savingsplans", "DeleteQueuedSavingsPlan", role.global_region, savingsPlanId=plan_id
        )
        return ActionResult(request_id(reply), json_safe(reply))

    async def delete_queued_reserved_instance(self, role: Role, region: str, ri_id: str) -> ActionResult:
        """An HTTP 200 can still carry a failure for our id: that is raised as ``REJECTED``
        with AWS's per-id error code."""
        action = "ec2:DeleteQueuedReservedInstances"
        reply = await self._sessions.call(
            role, "ec2", "DeleteQueuedReservedInstances", region, ReservedInstancesIds=[ri_id]
        )
        request = request_id(reply)
        for failure in reply.get("FailedQueuedPurchaseDeletions") or []:
            if failure.get("ReservedInstancesId") == ri_id:
                error = failure.get("Error") or {}
                code = str(error.get("Code") or "unexpected-error")
                kind = Failure.UNAVAILABLE if code == "unexpected-error" else Failure.REJECTED
                message = f"{code}: {error.get('Message') or code}"
                raise AwsCallError(kind, message, action=action, code=code, request_id=request)
        succeeded = {s.get("ReservedInstancesId") for s in reply.get("SuccessfulQueuedPurchaseDeletions") or []}
        if ri_id not in succeeded:
            message = f"AWS reported neither success nor failure for {ri_id}"
            raise AwsCallError(Failure.UNAVAILABLE, message, action=action, request_id=request)
        return ActionResult(request, json_safe(reply))
