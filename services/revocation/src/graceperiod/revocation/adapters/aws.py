"""Every AWS call the revocation service makes, through aioboto3.

* One ``aioboto3.Session`` per process. The vendor's STS client is entered once at start-up;
  clients in a customer account are created with the credentials of its assumed role (with
  its per-account ExternalId), cached per role, and replaced before the credentials expire.
* botocore retries each call (``standard`` or ``adaptive`` mode) on throttling and 5xx; the
  service adds its own back-off around whole operations where AWS may keep throttling.
* Endpoints are AWS's own unless the standard ``AWS_ENDPOINT_URL`` /
  ``AWS_ENDPOINT_URL_<SERVICE>`` variables say otherwise (the local endpoint in development).
* Every operation goes through :meth:`AwsAccounts._call` with literal service and operation
  names: a unit test reads them from this file and checks them against ``iam.REQUIRED_IAM_ACTIONS``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import aioboto3
from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from graceperiod.contracts.enums import AwsService, CommitmentKind
from graceperiod.contracts.upstream import PurchaseExecuted
from graceperiod.runtime.clock import Clock

#: Signing/endpoint region of the global services, per partition.
SUPPORT_REGIONS = {"aws": "us-east-1", "aws-cn": "cn-north-1", "aws-us-gov": "us-gov-west-1"}
SAVINGS_PLANS_REGIONS = {"aws": "us-east-1", "aws-cn": "cn-north-1", "aws-us-gov": "us-gov-west-1"}

#: The client each AWS service name in a purchase uses for its reserved-capacity describe.
_NODE_DESCRIBES: dict[AwsService, tuple[str, str, str, str]] = {
    # service: (client, operation, id parameter, result list)
    AwsService.RDS: ("rds", "DescribeReservedDBInstances", "ReservedDBInstanceId", "ReservedDBInstances"),
    AwsService.ELASTICACHE: (
        "elasticache",
        "DescribeReservedCacheNodes",
        "ReservedCacheNodeId",
        "ReservedCacheNodes",
    ),
    AwsService.REDSHIFT: ("redshift", "DescribeReservedNodes", "ReservedNodeId", "ReservedNodes"),
    AwsService.MEMORYDB: ("memorydb", "DescribeReservedNodes", "ReservationId", "ReservedNodes"),
    AwsService.OPENSEARCH: ("opensearch", "DescribeReservedInstances", "ReservedInstanceId", "ReservedInstances"),
}

_THROTTLE_CODES = frozenset(
    {"Throttling", "ThrottlingException", "ThrottledException", "RequestLimitExceeded", "TooManyRequestsException"}
)
_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})
_EXPIRED_CODES = frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired"})
_NOT_FOUND_CODES = frozenset(
    {
        "ResourceNotFoundException",
        "InvalidReservedInstancesId",
        "ReservedDBInstanceNotFound",
        "ReservedCacheNodeNotFound",
        "ReservedNodeNotFound",
        "ReservedNodeNotFoundFault",
        "CaseIdNotFound",
    }
)


def partition_of_region(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


class Failure(StrEnum):
    THROTTLED = "throttled"
    UNAVAILABLE = "unavailable"
    ACCESS_DENIED = "access-denied"
    SUBSCRIPTION_REQUIRED = "subscription-required"
    NOT_ASSUMABLE = "not-assumable"
    NOT_FOUND = "not-found"
    EXPIRED = "expired"
    REJECTED = "rejected"


class AwsCallError(Exception):
    """An AWS call failed; ``failure`` says how, ``action`` which IAM action it was."""

    def __init__(
        self, failure: Failure, message: str, *, action: str, code: str = "", request_id: str | None = None
    ) -> None:
        super().__init__(message)
        self.failure = failure
        self.message = message
        self.action = action
        self.code = code
        self.request_id = request_id

    @property
    def retryable(self) -> bool:
        return self.failure in (Failure.THROTTLED, Failure.UNAVAILABLE)


@dataclass(frozen=True)
class Role:
    account_id: str
    role_arn: str
    external_id: str

    @property
    def partition(self) -> str:
        return self.role_arn.split(":", 2)[1]


@dataclass(frozen=True)
class CommitmentRead:
    state: str | None
    start: datetime | None
    returnable_until: datetime | None
    request_id: str | None
    raw: dict[str, Any]


@dataclass(frozen=True)
class ActionResult:
    request_id: str | None
    response: dict[str, Any]


@dataclass(frozen=True)
class Probe:
    role_assumable: bool
    support_plan: str  # SupportPlan value
    missing_actions: frozenset[str]
    complete: bool
    message: str


@dataclass(frozen=True)
class CaseInfo:
    case_id: str
    display_id: str | None
    status: str
    subject: str
    time_created: str | None


@dataclass
class _RoleSession:
    credentials: dict[str, str]
    expires: datetime
    stack: AsyncExitStack = field(default_factory=AsyncExitStack)
    clients: dict[tuple[str, str], Any] = field(default_factory=dict)


def _json_safe(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _request_id(response: Mapping[str, Any]) -> str | None:
    metadata = response.get("ResponseMetadata") or {}
    request_id = metadata.get("RequestId")
    return str(request_id) if request_id else None


def _parse_time(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _first(reply: Mapping[str, Any], key: str, what: str, *, action: str) -> dict[str, Any]:
    """The one commitment a describe-by-id call returns; NOT_FOUND when AWS returns none."""
    items = reply.get(key) or []
    if not items:
        raise AwsCallError(Failure.NOT_FOUND, f"AWS knows no {what}", action=action, request_id=_request_id(reply))
    first: dict[str, Any] = items[0]
    return first


def classify(exc: ClientError, action: str) -> AwsCallError:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    message = str(error.get("Message", "")) or code
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    request_id = _request_id(exc.response)
    if code in _THROTTLE_CODES:
        failure = Failure.THROTTLED
    elif code in _DENIED_CODES:
        failure = Failure.NOT_ASSUMABLE if action == "sts:AssumeRole" else Failure.ACCESS_DENIED
    elif code == "SubscriptionRequiredException":
        failure = Failure.SUBSCRIPTION_REQUIRED
    elif code in _EXPIRED_CODES:
        failure = Failure.EXPIRED
    elif code in _NOT_FOUND_CODES:
        failure = Failure.NOT_FOUND
    elif status >= 500:
        failure = Failure.UNAVAILABLE
    else:
        failure = Failure.REJECTED
    return AwsCallError(failure, f"{code}: {message}", action=action, code=code, request_id=request_id)


class AwsAccounts:
    """The AWS side of the revocation service, one role per customer account."""

    def __init__(
        self,
        *,
        clock: Clock,
        retry_mode: str = "standard",
        max_attempts: int = 4,
        connect_timeout: float = 5.0,
        read_timeout: float = 15.0,
        session_name: str = "graceperiod-revocation",
        session_seconds: int = 3600,
        refresh_margin: timedelta = timedelta(minutes=5),
        max_pool_connections: int = 20,
    ) -> None:
        self._clock = clock
        self._session = aioboto3.Session()
        self._config = Config(
            retries={"mode": retry_mode, "total_max_attempts": max_attempts},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            max_pool_connections=max_pool_connections,
        )
        self._session_name = session_name
        self._session_seconds = session_seconds
        self._refresh_margin = refresh_margin
        self._stack = AsyncExitStack()
        self._vendor: dict[tuple[str, str], Any] = {}
        self._roles: dict[Role, _RoleSession] = {}
        self._locks: dict[Role, asyncio.Lock] = {}

    async def start(self) -> None:
        await self._vendor_client("sts", "us-east-1")

    async def close(self) -> None:
        for role_session in self._roles.values():
            with contextlib.suppress(Exception):
                await role_session.stack.aclose()
        self._roles.clear()
        await self._stack.aclose()
        self._vendor.clear()

    # --- clients and credentials -----------------------------------------------------------------

    async def _vendor_client(self, service: str, region: str) -> Any:
        key = (service, region)
        if key not in self._vendor:
            self._vendor[key] = await self._stack.enter_async_context(
                self._session.client(service, region_name=region, config=self._config)
            )
        return self._vendor[key]

    async def _assume(self, role: Role) -> _RoleSession:
        sts = await self._vendor_client("sts", SUPPORT_REGIONS.get(role.partition, "us-east-1"))
        try:
            reply = await sts.assume_role(
                RoleArn=role.role_arn,
                RoleSessionName=self._session_name,
                ExternalId=role.external_id,
                DurationSeconds=self._session_seconds,
            )
        except ClientError as exc:
            raise classify(exc, "sts:AssumeRole") from exc
        except BotoCoreError as exc:
            raise AwsCallError(Failure.UNAVAILABLE, str(exc), action="sts:AssumeRole") from exc
        creds = reply["Credentials"]
        return _RoleSession(
            credentials={
                "aws_access_key_id": creds["AccessKeyId"],
                "aws_secret_access_key": creds["SecretAccessKey"],
                "aws_session_token": creds["SessionToken"],
            },
            expires=creds["Expiration"],
        )

    async def _role_session(self, role: Role) -> _RoleSession:
        current = self._roles.get(role)
        if current is not None and self._clock.now() < current.expires - self._refresh_margin:
            return current
        lock = self._locks.setdefault(role, asyncio.Lock())
        async with lock:
            current = self._roles.get(role)
            if current is not None and self._clock.now() < current.expires - self._refresh_margin:
                return current
            fresh = await self._assume(role)
            self._roles[role] = fresh
            if current is not None:
                with contextlib.suppress(Exception):
                    await current.stack.aclose()
            return fresh

    async def _forget(self, role: Role) -> None:
        stale = self._roles.pop(role, None)
        if stale is not None:
            with contextlib.suppress(Exception):
                await stale.stack.aclose()

    async def _client(self, role: Role, service: str, region: str) -> Any:
        session = await self._role_session(role)
        key = (service, region)
        if key not in session.clients:
            session.clients[key] = await session.stack.enter_async_context(
                self._session.client(service, region_name=region, config=self._config, **session.credentials)
            )
        return session.clients[key]

    async def assume(self, role: Role) -> None:
        """Assume the role now (raises ``NOT_ASSUMABLE`` when AWS refuses)."""
        await self._role_session(role)

    async def _call(self, role: Role, service: str, operation: str, region: str, **params: Any) -> dict[str, Any]:
        action = f"{'es' if service == 'opensearch' else service}:{operation}"
        for attempt in range(2):
            client = await self._client(role, service, region)
            try:
                response: dict[str, Any] = await getattr(client, xform_name(operation))(**params)
            except ClientError as exc:
                error = classify(exc, action)
                if error.failure is Failure.EXPIRED and attempt == 0:
                    await self._forget(role)  # credentials died early: assume again, once
                    continue
                raise error from exc
            except BotoCoreError as exc:
                raise AwsCallError(Failure.UNAVAILABLE, f"{type(exc).__name__}: {exc}", action=action) from exc
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    # --- commitments -----------------------------------------------------------------------------------

    async def describe_commitment(self, role: Role, purchase: PurchaseExecuted) -> CommitmentRead:
        commitment = purchase.commitment
        if commitment.kind is CommitmentKind.SAVINGS_PLAN:
            region = SAVINGS_PLANS_REGIONS.get(role.partition, "us-east-1")
            reply = await self._call(
                role, "savingsplans", "DescribeSavingsPlans", region, savingsPlanIds=[commitment.id]
            )
            plan = _first(
                reply,
                "savingsPlans",
                f"Savings Plan {commitment.id} in account {role.account_id}",
                action="savingsplans:DescribeSavingsPlans",
            )
            return CommitmentRead(
                state=plan.get("state"),
                start=_parse_time(plan.get("start")),
                returnable_until=_parse_time(plan.get("returnableUntil")),
                request_id=_request_id(reply),
                raw=_json_safe(plan),
            )
        if purchase.service is AwsService.EC2:
            reply = await self._call(
                role, "ec2", "DescribeReservedInstances", commitment.region, ReservedInstancesIds=[commitment.id]
            )
            ri = _first(
                reply,
                "ReservedInstances",
                f"Reserved Instance {commitment.id} in {commitment.region}",
                action="ec2:DescribeReservedInstances",
            )
            return CommitmentRead(
                state=ri.get("State"),
                start=_parse_time(ri.get("Start")),
                returnable_until=None,
                request_id=_request_id(reply),
                raw=_json_safe(ri),
            )
        # One literal call per service (not a call through the table): the IAM test reads the
        # actions the adapters use from their source.
        if purchase.service is AwsService.RDS:
            reply = await self._call(
                role, "rds", "DescribeReservedDBInstances", commitment.region, ReservedDBInstanceId=commitment.id
            )
        elif purchase.service is AwsService.ELASTICACHE:
            reply = await self._call(
                role, "elasticache", "DescribeReservedCacheNodes", commitment.region, ReservedCacheNodeId=commitment.id
            )
        elif purchase.service is AwsService.REDSHIFT:
            reply = await self._call(
                role, "redshift", "DescribeReservedNodes", commitment.region, ReservedNodeId=commitment.id
            )
        elif purchase.service is AwsService.MEMORYDB:
            reply = await self._call(
                role, "memorydb", "DescribeReservedNodes", commitment.region, ReservationId=commitment.id
            )
        elif purchase.service is AwsService.OPENSEARCH:
            reply = await self._call(
                role, "opensearch", "DescribeReservedInstances", commitment.region, ReservedInstanceId=commitment.id
            )
        else:
            raise AwsCallError(
                Failure.REJECTED, f"no describe call for {purchase.service}", action=f"{purchase.service}:describe"
            )
        _, operation, _, result = _NODE_DESCRIBES[purchase.service]
        node = _first(
            reply,
            result,
            f"{purchase.service} reservation {commitment.id} in {commitment.region}",
            action=f"{purchase.service}:{operation}",
        )
        return CommitmentRead(
            state=node.get("State"),
            start=_parse_time(node.get("StartTime")),
            returnable_until=None,
            request_id=_request_id(reply),
            raw=_json_safe(node),
        )

    async def return_savings_plan(self, role: Role, plan_id: str, *, client_token: str) -> ActionResult:
        region = SAVINGS_PLANS_REGIONS.get(role.partition, "us-east-1")
        reply = await self._call(
            role, "savingsplans", "ReturnSavingsPlan", region, savingsPlanId=plan_id, clientToken=client_token
        )
        return ActionResult(_request_id(reply), _json_safe(reply))

    async def delete_queued_savings_plan(self, role: Role, plan_id: str) -> ActionResult:
        region = SAVINGS_PLANS_REGIONS.get(role.partition, "us-east-1")
        reply = await self._call(role, "savingsplans", "DeleteQueuedSavingsPlan", region, savingsPlanId=plan_id)
        return ActionResult(_request_id(reply), _json_safe(reply))

    async def delete_queued_reserved_instance(self, role: Role, region: str, ri_id: str) -> ActionResult:
        """An HTTP 200 can still carry a failure for our id: that is raised as ``REJECTED``
        with AWS's per-id error code."""
        action = "ec2:DeleteQueuedReservedInstances"
        reply = await self._call(role, "ec2", "DeleteQueuedReservedInstances", region, ReservedInstancesIds=[ri_id])
        request_id = _request_id(reply)
        for failure in reply.get("FailedQueuedPurchaseDeletions") or []:
            if failure.get("ReservedInstancesId") == ri_id:
                error = failure.get("Error") or {}
                code = str(error.get("Code") or "unexpected-error")
                kind = Failure.UNAVAILABLE if code == "unexpected-error" else Failure.REJECTED
                raise AwsCallError(
                    kind, f"{code}: {error.get('Message') or code}", action=action, code=code, request_id=request_id
                )
        succeeded = {s.get("ReservedInstancesId") for s in reply.get("SuccessfulQueuedPurchaseDeletions") or []}
        if ri_id not in succeeded:
            raise AwsCallError(
                Failure.UNAVAILABLE,
                f"AWS reported neither success nor failure for {ri_id}",
                action=action,
                request_id=request_id,
            )
        return ActionResult(request_id, _json_safe(reply))

    # --- probes --------------------------------------------------------------------------------------

    async def probe(self, role: Role, *, region: str) -> Probe:
        """Side-effect-free checks: read-only calls, EC2 ``DryRun``, ``DescribeSeverityLevels``
        (which also proves the Support plan). Every action of ``iam.PROBED_IAM_ACTIONS`` is
        checked; those with no safe probe (``iam.UNPROBED_IAM_ACTIONS``: Return and DeleteQueued
        of Savings Plans, CreateCase) are learnt when used."""
        try:
            await self.assume(role)
        except AwsCallError as exc:
            if exc.failure is Failure.NOT_ASSUMABLE:
                return Probe(False, "unknown", frozenset(), True, exc.message)
            return Probe(True, "unknown", frozenset(), False, f"could not assume the role: {exc.message}")
        missing: set[str] = set()
        incomplete: list[str] = []
        plan = "unknown"

        async def check(action: str, call: Any) -> str | None:
            try:
                await call
            except AwsCallError as exc:
                if exc.code == "DryRunOperation":
                    return "ok"
                if exc.failure is Failure.ACCESS_DENIED:
                    missing.add(action)
                    return "denied"
                if exc.failure is Failure.SUBSCRIPTION_REQUIRED:
                    return "no-plan"
                if exc.retryable or exc.failure is Failure.EXPIRED:
                    incomplete.append(f"{action}: {exc.message}")
                    return None
                return "ok"  # e.g. an unknown id: authorised, the probe did its job
            return "ok"

        sp_region = SAVINGS_PLANS_REGIONS.get(role.partition, "us-east-1")
        support_region = SUPPORT_REGIONS.get(role.partition, "us-east-1")
        await check(
            "savingsplans:DescribeSavingsPlans",
            self._call(role, "savingsplans", "DescribeSavingsPlans", sp_region, maxResults=1),
        )
        await check(
            "ec2:DescribeReservedInstances",
            self._call(role, "ec2", "DescribeReservedInstances", region, DryRun=True),
        )
        await check(
            "ec2:DeleteQueuedReservedInstances",
            self._call(
                role,
                "ec2",
                "DeleteQueuedReservedInstances",
                region,
                DryRun=True,
                ReservedInstancesIds=["00000000-0000-0000-0000-000000000000"],
            ),
        )
        # Reserved nodes: a describe of an id that cannot exist (authorised → "not found",
        # refused → denied). The nil UUID: OpenSearch's ids are UUIDs, checked before sending.
        nil = "00000000-0000-0000-0000-000000000000"
        await check(
            "rds:DescribeReservedDBInstances",
            self._call(role, "rds", "DescribeReservedDBInstances", region, ReservedDBInstanceId=nil),
        )
        await check(
            "elasticache:DescribeReservedCacheNodes",
            self._call(role, "elasticache", "DescribeReservedCacheNodes", region, ReservedCacheNodeId=nil),
        )
        await check(
            "redshift:DescribeReservedNodes",
            self._call(role, "redshift", "DescribeReservedNodes", region, ReservedNodeId=nil),
        )
        await check(
            "memorydb:DescribeReservedNodes",
            self._call(role, "memorydb", "DescribeReservedNodes", region, ReservationId=nil),
        )
        await check(
            "es:DescribeReservedInstances",
            self._call(role, "opensearch", "DescribeReservedInstances", region, ReservedInstanceId=nil),
        )
        levels = await check(
            "support:DescribeSeverityLevels",
            self._call(role, "support", "DescribeSeverityLevels", support_region),
        )
        if levels == "ok":
            plan = "api-access"
        elif levels == "no-plan":
            plan = "no-api-access"
        if plan != "no-api-access":
            await check(
                "support:DescribeServices",
                self._call(role, "support", "DescribeServices", support_region, serviceCodeList=["billing"]),
            )
            await check(
                "support:DescribeCases",
                self._call(
                    role,
                    "support",
                    "DescribeCases",
                    support_region,
                    maxResults=10,
                    includeResolvedCases=False,
                    includeCommunications=False,
                ),
            )
        message = "all probes answered" if not incomplete else "some probes did not answer: " + "; ".join(incomplete)
        return Probe(True, plan, frozenset(missing), not incomplete, message)

    # --- support -------------------------------------------------------------------------------------

    async def support_categories(self, role: Role, service_code: str = "billing") -> frozenset[str]:
        region = SUPPORT_REGIONS.get(role.partition, "us-east-1")
        reply = await self._call(role, "support", "DescribeServices", region, serviceCodeList=[service_code])
        for service in reply.get("services") or []:
            if service.get("code") == service_code:
                return frozenset(str(c.get("code")) for c in service.get("categories") or [])
        return frozenset()

    async def severity_levels(self, role: Role) -> list[str]:
        region = SUPPORT_REGIONS.get(role.partition, "us-east-1")
        reply = await self._call(role, "support", "DescribeSeverityLevels", region)
        return [str(level.get("code")) for level in reply.get("severityLevels") or []]

    async def create_case(
        self,
        role: Role,
        *,
        subject: str,
        body: str,
        service_code: str,
        category_code: str,
        severity_code: str,
        language: str = "en",
    ) -> ActionResult:
        region = SUPPORT_REGIONS.get(role.partition, "us-east-1")
        reply = await self._call(
            role,
            "support",
            "CreateCase",
            region,
            subject=subject,
            communicationBody=body,
            serviceCode=service_code,
            categoryCode=category_code,
            severityCode=severity_code,
            issueType="customer-service",
            language=language,
        )
        return ActionResult(_request_id(reply), _json_safe(reply))

    async def describe_cases(
        self, role: Role, *, case_ids: list[str] | None = None, after: datetime | None = None
    ) -> list[CaseInfo]:
        region = SUPPORT_REGIONS.get(role.partition, "us-east-1")
        params: dict[str, Any] = {"includeResolvedCases": True, "includeCommunications": False, "maxResults": 100}
        if case_ids:
            params["caseIdList"] = case_ids
        if after is not None:
            params["afterTime"] = after.isoformat()
        cases: list[CaseInfo] = []
        for _ in range(50):  # bounded pagination
            reply = await self._call(role, "support", "DescribeCases", region, **params)
            cases.extend(
                CaseInfo(
                    case_id=str(c.get("caseId")),
                    display_id=c.get("displayId"),
                    status=str(c.get("status") or "unknown"),
                    subject=str(c.get("subject") or ""),
                    time_created=c.get("timeCreated"),
                )
                for c in reply.get("cases") or []
            )
            if not reply.get("nextToken"):
                break
            params["nextToken"] = reply["nextToken"]
        return cases
