"""Credentials and clients: one ``aioboto3.Session`` per process, the vendor's STS client
entered once at start-up, and per customer role (assumed with its per-account ExternalId) a
set of clients, cached and replaced before the credentials expire.

botocore retries each call (``standard`` or ``adaptive`` mode) on throttling and 5xx.
Endpoints are AWS's own unless the standard ``AWS_ENDPOINT_URL`` /
``AWS_ENDPOINT_URL_<SERVICE>`` variables say otherwise (the local endpoint in development).
Every operation goes through :meth:`AwsSessions.call` with literal service and operation
names: a unit test reads them from the adapters' source and checks them against
``iam.REQUIRED_IAM_ACTIONS``.
"""

from __future__ import annotations

import asyncio
import contextlib
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aioboto3
from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from graceperiod.revocation.adapters.aws.wire import classify
from graceperiod.revocation.domain.aws_answers import AwsCallError, Failure
from graceperiod.runtime.clock import Clock

#: Signing/endpoint region of the global services (Savings Plans, Support, STS), per partition.
GLOBAL_REGIONS = {"aws": "us-east-1", "aws-cn": "cn-north-1", "aws-us-gov": "us-gov-west-1"}


@dataclass(frozen=True)
class Role:
    """The role Grace Period assumes in a customer account."""

    account_id: str
    role_arn: str
    external_id: str

    @property
    def partition(self) -> str:
        return self.role_arn.split(":", 2)[1]

    @property
    def global_region(self) -> str:
        return GLOBAL_REGIONS.get(self.partition, "us-east-1")


@dataclass
class _RoleSession:
    credentials: dict[str, str]
    expires: datetime
    stack: AsyncExitStack = field(default_factory=AsyncExitStack)
    clients: dict[tuple[str, str], Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ClientOptions:
    retry_mode: str = "standard"
    max_attempts: int = 4
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    session_name: str = "graceperiod-revocation"
    session_seconds: int = 3600
    refresh_margin: timedelta = timedelta(minutes=5)
    max_pool_connections: int = 20


class AwsSessions:
    def __init__(self, *, clock: Clock, options: ClientOptions | None = None) -> None:
        options = options or ClientOptions()
        self._clock = clock
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

    async def _assume(self, role: Role) -> _RoleSession:
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
        """One AWS operation in the role's account; errors become :class:`AwsCallError`."""
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
