"""Calling AWS in another account through a role it lets Grace Period assume (aioboto3).

Shared by every service that calls AWS in a customer's accounts (the revocation service in
each purchasing account, the cooldown service in the organisation's management account):

* one ``aioboto3.Session`` per process; the vendor's own STS client is entered once;
* per role (ARN + its ExternalId) its temporary credentials, cached, and replaced before they
  expire (or at once, and once, when AWS says they expired early);
* one client per AWS service and Region shared by every role: each call signs with its role's
  credentials (botocore's per-request credentials). A client per account and Region costs about
  a megabyte and tens of milliseconds to build: too much for the hundreds of accounts the
  revocation service's discovery scans in every Region;
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
from collections.abc import Mapping
from contextlib import AbstractContextManager, AsyncExitStack
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aioboto3
from aiobotocore.credentials import AioCredentials
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


@dataclass(frozen=True)
class _RoleSession:
    credentials: AioCredentials
    expires: datetime


#: The credentials of the role the current call is made for: set by :meth:`AwsSessions.call`
#: in the calling task around the call, read by the shared clients when they sign it.
_CALL_CREDENTIALS: ContextVar[AioCredentials | None] = ContextVar("graceperiod_role_credentials", default=None)
#: What customer-account clients are built with; never used to sign (see the hook below).
_PLACEHOLDER = {"aws_access_key_id": "per-call", "aws_secret_access_key": "per-call"}


def _sign_with_the_calls_role(context: dict[str, Any], **_: Any) -> None:
    """botocore ``before-call`` hook: sign with the role's credentials, never anything else."""
    credentials = _CALL_CREDENTIALS.get()
    if credentials is None:
        msg = "a customer-account client was called outside AwsSessions.call"
        raise RuntimeError(msg)
    context.setdefault("signing", {})["request_credentials"] = credentials


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
        self._shared: dict[tuple[str, str], Any] = {}
        self._building = asyncio.Lock()
        self._roles: dict[Role, _RoleSession] = {}
        self._locks: dict[Role, asyncio.Lock] = {}

    async def start(self) -> None:
        await self._vendor_client("sts", "us-east-1")

    async def close(self) -> None:
        self._roles.clear()
        await self._stack.aclose()
        self._vendor.clear()
        self._shared.clear()

    async def vendor_client(self, service: str, region: str) -> Any:
        """A client signed with Grace Period's own identity (its queue, its STS)."""
        return await self._vendor_client(service, region)

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
            credentials=AioCredentials(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]),
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
            return fresh

    def _forget(self, role: Role) -> None:
        self._roles.pop(role, None)

    async def _client(self, service: str, region: str) -> Any:
        """The client of ``service`` in ``region`` every role's calls share."""
        key = (service, region)
        if key not in self._shared:
            async with self._building:
                if key not in self._shared:
                    client = await self._stack.enter_async_context(
                        self._session.client(service, region_name=region, config=self._config, **_PLACEHOLDER)
                    )
                    client.meta.events.register("before-call", _sign_with_the_calls_role)
                    self._shared[key] = client
        return self._shared[key]

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
        client = await self._client(service, region)
        for attempt in range(2):
            session = await self._role_session(role)
            signing = _CALL_CREDENTIALS.set(session.credentials)
            try:
                response: dict[str, Any] = await getattr(client, xform_name(operation))(**params)
            except ClientError as exc:
                error = classify(exc, action)
                if error.failure is Failure.EXPIRED and attempt == 0:
                    self._forget(role)  # credentials died early: assume again, once
                    continue
                raise error from exc
            except BotoCoreError as exc:
                raise AwsCallError(Failure.UNAVAILABLE, f"{type(exc).__name__}: {exc}", action=action) from exc
            finally:
                _CALL_CREDENTIALS.reset(signing)
            return response
        raise AssertionError("unreachable")  # pragma: no cover


def _action(service: str, operation: str) -> str:
    """The IAM action of an operation (``savingsplans:ReturnSavingsPlan``)."""
    return f"{_IAM_PREFIX.get(service, service)}:{operation}"


def _answered(span: Span, response: dict[str, Any]) -> None:
    if (found := request_id(response)) is not None:
        span.set_attribute("aws.request_id", found)
