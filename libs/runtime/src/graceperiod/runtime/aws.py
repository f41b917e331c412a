"""Calling AWS in another account through a role it lets Grace Period assume (aioboto3).

Shared by every service that calls AWS in a customer's accounts (the revocation service in
each purchasing account, the cooldown service in the organisation's management account):

* one ``aioboto3.Session`` per process; the vendor's own STS client is entered once;
* per role (ARN + its ExternalId) a set of clients made with the role's temporary
  credentials, cached, and replaced before the credentials expire (or at once, and once, when
  AWS says they expired early);
* botocore retries each call (``standard`` or ``adaptive`` mode) on throttling and 5xx;
* endpoints are AWS's own unless the standard ``AWS_ENDPOINT_URL`` /
  ``AWS_ENDPOINT_URL_<SERVICE>`` variables say otherwise (the local endpoint in development);
* every failure becomes an :class:`~graceperiod.runtime.aws_errors.AwsCallError` saying how it
  failed (:class:`~graceperiod.runtime.aws_errors.Failure`) and which IAM action it was.

With tracing on, each operation (and each role assumption) is a span ``aws <action>``:
nothing maintained instruments aiobotocore.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from contextlib import AbstractContextManager, AsyncExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aioboto3
from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from opentelemetry.trace import NoOpTracer, Span, SpanKind, Tracer

from graceperiod.runtime.aws_errors import AwsCallError, Failure
from graceperiod.runtime.clock import Clock

__all__ = [
    "GLOBAL_REGIONS",
    "AwsCallError",
    "AwsSessions",
    "ClientOptions",
    "Failure",
    "Role",
    "classify",
    "request_id",
]

#: Signing/endpoint region of the global services (STS, Savings Plans, Support, Cost
#: Explorer), per partition.
GLOBAL_REGIONS = {"aws": "us-east-1", "aws-cn": "cn-north-1", "aws-us-gov": "us-gov-west-1"}

#: IAM prefix of a client name, where they differ.
_IAM_PREFIX = {"opensearch": "es"}

_THROTTLE_CODES = frozenset(
    {"Throttling", "ThrottlingException", "ThrottledException", "RequestLimitExceeded", "TooManyRequestsException"}
)
#: Services whose throttling error has a name of its own (Cost Explorer: "You have exceeded
#: the rate limit", LimitExceededException).
_SERVICE_THROTTLE_CODES = {"ce": frozenset({"LimitExceededException"})}
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


def request_id(response: Mapping[str, Any]) -> str | None:
    metadata = response.get("ResponseMetadata") or {}
    found = metadata.get("RequestId")
    return str(found) if found else None


def _failure(code: str, status: int, action: str) -> Failure:
    service = action.split(":", 1)[0]
    if code in _THROTTLE_CODES or code in _SERVICE_THROTTLE_CODES.get(service, ()):
        return Failure.THROTTLED
    if code in _DENIED_CODES:
        return Failure.NOT_ASSUMABLE if action == "sts:AssumeRole" else Failure.ACCESS_DENIED
    if code == "SubscriptionRequiredException":
        return Failure.SUBSCRIPTION_REQUIRED
    if code in _EXPIRED_CODES:
        return Failure.EXPIRED
    if code in _NOT_FOUND_CODES:
        return Failure.NOT_FOUND
    return Failure.UNAVAILABLE if status >= 500 else Failure.REJECTED


def classify(exc: ClientError, action: str) -> AwsCallError:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    message = str(error.get("Message", "")) or code
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return AwsCallError(
        _failure(code, status, action),
        f"{code}: {message}",
        action=action,
        code=code,
        request_id=request_id(exc.response),
    )


@dataclass(frozen=True)
class Role:
    """A role Grace Period assumes in another account, with the ExternalId it requires."""

    account_id: str
    role_arn: str
    external_id: str

    @property
    def partition(self) -> str:
        return self.role_arn.split(":", 2)[1]

    @property
    def global_region(self) -> str:
        return GLOBAL_REGIONS.get(self.partition, "us-east-1")


@dataclass(frozen=True)
class ClientOptions:
    retry_mode: str = "standard"
    max_attempts: int = 4
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    session_name: str = "graceperiod"
    session_seconds: int = 3600
    refresh_margin: timedelta = timedelta(minutes=5)
    max_pool_connections: int = 20


@dataclass
class _RoleSession:
    credentials: dict[str, str]
    expires: datetime
    stack: AsyncExitStack = field(default_factory=AsyncExitStack)
    clients: dict[tuple[str, str], Any] = field(default_factory=dict)


class AwsSessions:
    """Credentials and clients per assumed role, and the one way to call an operation."""

    def __init__(self, *, clock: Clock, options: ClientOptions | None = None, tracer: Tracer | None = None) -> None:
        options = options or ClientOptions()
        self._clock = clock
        self._tracer = tracer or NoOpTracer()
        self._options = options
        self._session = aioboto3.Session()
        self._config = Config(
            retries={"mode": options.retry_mode, "total_max_attempts": options.max_attempts},
            connect_timeout=options.connect_timeout,
            read_timeout=options.read_timeout,
            max_pool_connections=options.max_pool_connections,
        )
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

    async def _vendor_client(self, service: str, region: str) -> Any:
        key = (service, region)
        if key not in self._vendor:
            self._vendor[key] = await self._stack.enter_async_context(
                self._session.client(service, region_name=region, config=self._config)
            )
        return self._vendor[key]

    def _span(self, role: Role, service: str, operation: str, region: str) -> AbstractContextManager[Span]:
        """The span of one AWS operation (OpenTelemetry's AWS SDK conventions)."""
        attributes = {
            "rpc.system": "aws-api",
            "rpc.service": service,
            "rpc.method": operation,
            "cloud.region": region,
            "cloud.account.id": role.account_id,
        }
        name = f"aws {_action(service, operation)}"
        return self._tracer.start_as_current_span(name, kind=SpanKind.CLIENT, attributes=attributes)

    async def _assume(self, role: Role) -> _RoleSession:
        with self._span(role, "sts", "AssumeRole", role.global_region) as span:
            sts = await self._vendor_client("sts", role.global_region)
            try:
                reply = await sts.assume_role(
                    RoleArn=role.role_arn,
                    RoleSessionName=self._options.session_name,
                    ExternalId=role.external_id,
                    DurationSeconds=self._options.session_seconds,
                )
            except ClientError as exc:
                raise classify(exc, "sts:AssumeRole") from exc
            except BotoCoreError as exc:
                raise AwsCallError(Failure.UNAVAILABLE, str(exc), action="sts:AssumeRole") from exc
            _answered(span, reply)
        creds = reply["Credentials"]
        return _RoleSession(
            credentials={
                "aws_access_key_id": creds["AccessKeyId"],
                "aws_secret_access_key": creds["SecretAccessKey"],
                "aws_session_token": creds["SessionToken"],
            },
            expires=creds["Expiration"],
        )

    def _fresh(self, current: _RoleSession | None) -> bool:
        return current is not None and self._clock.now() < current.expires - self._options.refresh_margin

    async def _role_session(self, role: Role) -> _RoleSession:
        current = self._roles.get(role)
        if current is not None and self._fresh(current):
            return current
        async with self._locks.setdefault(role, asyncio.Lock()):
            current = self._roles.get(role)
            if current is not None and self._fresh(current):
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

    async def call(self, role: Role, service: str, operation: str, region: str, **params: Any) -> dict[str, Any]:
        """One AWS operation in the role's account; errors become :class:`AwsCallError`.
        Callers pass ``service`` and ``operation`` as literals: the IAM tests read them from
        the adapters' source and check them against the actions each role is granted."""
        with self._span(role, service, operation, region) as span:
            response = await self._call(role, service, operation, region, params)
            _answered(span, response)
            return response

    async def _call(
        self, role: Role, service: str, operation: str, region: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        action = _action(service, operation)
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


def _action(service: str, operation: str) -> str:
    """The IAM action of an operation (``savingsplans:ReturnSavingsPlan``)."""
    return f"{_IAM_PREFIX.get(service, service)}:{operation}"


def _answered(span: Span, response: dict[str, Any]) -> None:
    if (found := request_id(response)) is not None:
        span.set_attribute("aws.request_id", found)
