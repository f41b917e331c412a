"""Fixtures of the cooldown service's integration tests: the service on a private vhost and
database with a frozen clock, an RPC client, upstream publishing and event reading."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import aio_pika
import pytest
from faststream.rabbit import RabbitBroker
from pydantic import BaseModel
from pymongo import AsyncMongoClient

from graceperiod.contracts.cooldown import (
    AccountCommandReply,
    AccountStatus,
    AcquireAccount,
    PolicyReply,
    ReleaseAccountEarly,
    SetCooldownPolicy,
)
from graceperiod.contracts.enums import ActionPath, Permission
from graceperiod.contracts.identities import BrokerIdentity
from graceperiod.contracts.rpc import Actor
from graceperiod.contracts.topology import EVENTS_EXCHANGE, Queues
from graceperiod.contracts.upstream import Tick
from graceperiod.contracts.wait_list import CancelWait, ListWaitList, WaitListReply, WaitReply
from graceperiod.cooldown.app import CooldownComponents, build
from graceperiod.cooldown.domain.accounts import Account
from graceperiod.cooldown.settings import CooldownSettings
from graceperiod.devstack.aws_endpoint.control import EmulatorControl
from graceperiod.devstack.aws_endpoint.cost_control import CostControl
from graceperiod.devstack.testkit.fixtures import running, unique
from graceperiod.devstack.testkit.upstream import publish_upstream
from graceperiod.runtime.clock import FrozenClock
from graceperiod.runtime.messaging import build_broker, declare_topology, publish_tick
from graceperiod.runtime.mongo import Document
from graceperiod.runtime.rpc import call
from graceperiod.runtime.settings import ServiceSettings
from tests.integration.progress import Finished

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ReplyT = TypeVar("ReplyT", bound=BaseModel)

ADMIN = Actor(
    user_id="u-admin",
    email="admin@example.com",
    permissions=[Permission.RELEASE_ANY_ACCOUNTS, Permission.UPDATE_CONFIG],
    path=ActionPath.API,
)
LEASE_MANAGER = Actor(
    user_id="svc-lease-manager",
    email="lease-manager@example.com",
    permissions=[Permission.ACQUIRE_ACCOUNTS],
    path=ActionPath.SYSTEM,
)
VIEWER = Actor(user_id="u-viewer", email="viewer@example.com", permissions=[], path=ActionPath.API)

SETTLED_QUEUE = Queues.LEASE_MANAGER_ACCOUNT_SETTLED.queue
STATUS_QUEUE = Queues.LEASE_MANAGER_ACCOUNT_STATUS_CHANGED.queue


def account_id(n: int) -> str:
    return f"{100000000000 + n:012d}"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@dataclass
class Cooldown:
    """The running service (one or more replicas on one vhost and database) and helpers."""

    replicas: list[CooldownComponents]
    clock: FrozenClock
    upstream: RabbitBroker
    rpc: RabbitBroker
    amqp_url: str

    @property
    def main(self) -> CooldownComponents:
        return self.replicas[0]

    async def publish(self, routing_key: str, body: dict[str, Any], *, message_id: str | None = None) -> None:
        await publish_upstream(self.upstream, routing_key, body, message_id=message_id or unique("m"))

    async def register(self, account: str, name: str = "Sandbox") -> None:
        body = {"schema_version": 1, "occurred_at": self.now(), "account_id": account, "name": name}
        await self.publish("account.registered", body, message_id=f"registered-{account}")

    async def terminate(self, account: str, lease: str, at: datetime | None = None, **kw: Any) -> None:
        body = {
            "schema_version": 1,
            "occurred_at": self.now(),
            "lease_id": lease,
            "account_id": account,
            "terminated_at": (at or self.clock.now()).isoformat(),
            "reason": "Expired",
        }
        await self.publish("lease.terminated", body, **kw)

    async def cleaned(self, account: str, at: datetime | None = None, **kw: Any) -> None:
        body = {
            "schema_version": 1,
            "occurred_at": self.now(),
            "account_id": account,
            "completed_at": (at or self.clock.now()).isoformat(),
        }
        await self.publish("account.cleanup.succeeded", body, **kw)

    async def cleanup_failed(self, account: str, at: datetime | None = None, **kw: Any) -> None:
        body = {
            "schema_version": 1,
            "occurred_at": self.now(),
            "account_id": account,
            "completed_at": (at or self.clock.now()).isoformat(),
            "error": "aws-nuke: 3 resources could not be deleted",
        }
        await self.publish("account.cleanup.failed", body, **kw)

    async def tick(self, *, copies: int = 1, tick_id: str | None = None) -> None:
        now = self.clock.now()
        tick = Tick(tick_id=tick_id or unique("tick"), at=now, occurred_at=now)
        for _ in range(copies):
            await publish_tick(self.upstream, tick, message_id=tick.tick_id)

    async def ticked(self, *, copies: int = 1) -> None:
        """Tick and wait until every copy was handled (their effects stored, events published)."""
        ticks = Finished(Queues.COOLDOWN_TICKS.queue)
        await self.tick(copies=copies)
        await ticks.wait(copies)

    async def bind_observer(self, queue: str, routing_key: str) -> None:
        """A queue of this test's own on the events exchange (to read what the service publishes)."""
        connection = await aio_pika.connect(self.amqp_url)
        try:
            channel = await connection.channel()
            exchange = await channel.get_exchange(EVENTS_EXCHANGE)
            observed = await channel.declare_queue(queue, durable=True)
            await observed.bind(exchange, routing_key=routing_key)
        finally:
            await connection.close()

    def now(self) -> str:
        return self.clock.now().isoformat()

    async def command(self, request: BaseModel, reply: type[ReplyT]) -> ReplyT:
        return await call(
            self.rpc, Queues.COOLDOWN_COMMANDS, request, reply, timeout=20, user_id=BrokerIdentity.GATEWAY
        )

    async def query(self, request: BaseModel, reply: type[ReplyT]) -> ReplyT:
        return await call(self.rpc, Queues.COOLDOWN_QUERIES, request, reply, timeout=20, user_id=BrokerIdentity.GATEWAY)

    async def set_policy(self, enforce: bool, hours: int = 24) -> PolicyReply:
        command = SetCooldownPolicy(
            actor=ADMIN, idempotency_key=unique("p"), enforce_account_cooldown=enforce, cooldown_period_hours=hours
        )
        reply = await self.command(command, PolicyReply)
        assert reply.problem is None, reply.problem
        return reply

    async def acquire(
        self,
        lease: str,
        actor: Actor = LEASE_MANAGER,
        *,
        wait: bool = False,
        key: str | None = None,
        wait_hours: float | None = None,
    ) -> AccountCommandReply:
        command = AcquireAccount(
            actor=actor, idempotency_key=key or unique("a"), lease_id=lease, wait=wait, wait_hours=wait_hours
        )
        return await self.command(command, AccountCommandReply)

    async def cancel_wait(self, lease: str, actor: Actor = LEASE_MANAGER) -> WaitReply:
        return await self.command(CancelWait(actor=actor, idempotency_key=unique("c"), lease_id=lease), WaitReply)

    async def wait_list(self) -> WaitListReply:
        return await self.query(ListWaitList(actor=VIEWER), WaitListReply)

    async def change_policy(self, **changes: Any) -> PolicyReply:
        """SetCooldownPolicy with enforcement on and ``changes`` (the rest unchanged)."""
        values: dict[str, Any] = {"enforce_account_cooldown": True, "cooldown_period_hours": 24, **changes}
        reply = await self.command(SetCooldownPolicy(actor=ADMIN, idempotency_key=unique("p"), **values), PolicyReply)
        assert reply.problem is None, reply.problem
        return reply

    async def release_early(
        self, account: str, *, key: str | None = None, actor: Actor = ADMIN, reason: str = "the pool ran dry"
    ) -> AccountCommandReply:
        command = ReleaseAccountEarly(
            actor=actor, idempotency_key=key or unique("r"), account_id=account, reason=reason
        )
        return await self.command(command, AccountCommandReply)

    async def into_cleanup(self, account: str, lease: str) -> Account:
        """End a lease acquired elsewhere on an Available (or cooling) account: it goes to CleanUp."""
        self.clock.advance(timedelta(minutes=1))
        await self.terminate(account, lease)
        return await self.wait_for(
            account, lambda a: a.status is AccountStatus.CLEANUP and a.lease_id == lease, what=f"CleanUp after {lease}"
        )

    async def into_cooldown(self, account: str, lease: str) -> Account:
        """CleanUp, then a successful cleanup a minute later (enforcement must be on)."""
        await self.into_cleanup(account, lease)
        self.clock.advance(timedelta(minutes=1))
        await self.cleaned(account)
        return await self.wait_for(account, lambda a: a.status is AccountStatus.COOLDOWN, what="Cooldown")

    async def registered(self, *accounts: str) -> None:
        for account in accounts:
            await self.register(account, name=f"Sandbox {account[-3:]}")
        for account in accounts:
            await self.wait_for(account, lambda a: a.status is AccountStatus.AVAILABLE, what="Available")

    async def account(self, account: str) -> Account:
        found = await self.main.store.get(account)
        assert found is not None, f"account {account} is not stored"
        return found

    async def wait_for(
        self, account: str, check: Callable[[Account], bool], *, timeout: float = 15.0, what: str = ""
    ) -> Account:
        deadline = time.monotonic() + timeout
        last: Account | None = None
        while time.monotonic() < deadline:
            last = await self.main.store.get(account)
            if last is not None and check(last):
                return last
            await asyncio.sleep(0.05)
        msg = f"account {account} did not reach {what or 'the expected state'} within {timeout}s; last: {last}"
        raise AssertionError(msg)


async def wait_until(predicate: Callable[[], Awaitable[bool]], *, timeout: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.05)
    msg = f"timed out after {timeout}s waiting for {what or 'a condition'}"
    raise AssertionError(msg)


async def read_events(
    amqp_url: str, queue: str, *, expect: int, timeout: float = 20.0, settle: float = 0.0
) -> list[tuple[str, dict[str, Any]]]:
    """Take (and ack) messages from a queue: at least ``expect``, and whatever else is there.

    To check that nothing more was published, first wait for the positive signal that the
    messages that could publish it were handled (``tests.integration.progress.Finished``):
    then the queue already holds everything they published."""
    connection = await aio_pika.connect(amqp_url)
    found: list[tuple[str, dict[str, Any]]] = []
    try:
        channel = await connection.channel()
        source = await channel.get_queue(queue, ensure=False)
        deadline = time.monotonic() + timeout
        quiet_until: float | None = None
        while True:
            message = await source.get(fail=False, no_ack=False)
            if message is not None:
                await message.ack()
                found.append((str(message.message_id), json.loads(message.body)))
                continue
            now = time.monotonic()
            if len(found) >= expect:
                quiet_until = quiet_until or now + settle
                if now >= quiet_until:
                    return found
            elif now >= deadline:
                return found
            await asyncio.sleep(0.05)
    finally:
        await connection.close()


@pytest.fixture
async def rpc_client(amqp_url: str) -> AsyncIterator[RabbitBroker]:
    broker = build_broker(ServiceSettings(amqp_url=amqp_url), app_id="test-client")
    await broker.connect()
    await declare_topology(broker)
    await broker.start()
    try:
        yield broker
    finally:
        await broker.stop()


def cooldown_settings(amqp_url: str, mongodb_url: str, db_prefix: str, **overrides: Any) -> CooldownSettings:
    values: dict[str, Any] = {
        "amqp_url": amqp_url,
        "mongodb_url": mongodb_url,
        "mongodb_database": f"{db_prefix}_cooldown",
        "retry_backoff_base_seconds": 0.05,
        "retry_backoff_cap_seconds": 0.5,
        **overrides,
    }
    return CooldownSettings(**values)


async def start_cooldown(
    stack: AsyncExitStack,
    *,
    replicas: int,
    amqp_url: str,
    mongodb_url: str,
    db_prefix: str,
    clock: FrozenClock,
    upstream: RabbitBroker,
    rpc: RabbitBroker,
    **overrides: Any,
) -> Cooldown:
    components = [
        build(cooldown_settings(amqp_url, mongodb_url, db_prefix, **overrides), clock=clock) for _ in range(replicas)
    ]
    await stack.enter_async_context(running(*(c.app for c in components)))
    return Cooldown(replicas=components, clock=clock, upstream=upstream, rpc=rpc, amqp_url=amqp_url)


@pytest.fixture
async def cooldown(
    amqp_url: str,
    mongodb_url: str,
    db_prefix: str,
    clock: FrozenClock,
    upstream: RabbitBroker,
    rpc_client: RabbitBroker,
    mongo: AsyncMongoClient[Document],  # drops this test's databases afterwards
) -> AsyncIterator[Cooldown]:
    async with AsyncExitStack() as stack:
        yield await start_cooldown(
            stack,
            replicas=1,
            amqp_url=amqp_url,
            mongodb_url=mongodb_url,
            db_prefix=db_prefix,
            clock=clock,
            upstream=upstream,
            rpc=rpc_client,
        )


@pytest.fixture
async def two_replicas(
    amqp_url: str,
    mongodb_url: str,
    db_prefix: str,
    clock: FrozenClock,
    upstream: RabbitBroker,
    rpc_client: RabbitBroker,
    mongo: AsyncMongoClient[Document],
) -> AsyncIterator[Cooldown]:
    async with AsyncExitStack() as stack:
        yield await start_cooldown(
            stack,
            replicas=2,
            amqp_url=amqp_url,
            mongodb_url=mongodb_url,
            db_prefix=db_prefix,
            clock=clock,
            upstream=upstream,
            rpc=rpc_client,
        )


# --- lease costs: the service reading Cost Explorer on the local AWS endpoint -------------------

COST_ROLE = "GracePeriodCostReader"


@dataclass
class Billing:
    """The service with its cost role in a management account of the local AWS endpoint, the
    endpoint's clock kept with the service's."""

    cooldown: Cooldown
    control: EmulatorControl
    costs: CostControl
    management: str

    async def advance(self, delta: timedelta) -> None:
        self.cooldown.clock.advance(delta)
        await self.control.set_clock(now=self.cooldown.clock.now())

    async def cost_reads(self) -> int:
        return len(await self.control.calls(account=self.management, action="ce:GetCostAndUsage"))


StartBilling = Callable[..., Awaitable[Billing]]


@pytest.fixture
async def start_billing(
    amqp_url: str,
    mongodb_url: str,
    db_prefix: str,
    clock: FrozenClock,
    upstream: RabbitBroker,
    rpc_client: RabbitBroker,
    mongo: AsyncMongoClient[Document],
    aws_endpoint_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[StartBilling]:
    """Start the service (``replicas``, settings ``overrides``) with a cost role it may assume."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_endpoint_url)
    management = f"{secrets.randbelow(10**12):012d}"
    async with AsyncExitStack() as stack:
        control = await stack.enter_async_context(EmulatorControl(aws_endpoint_url))
        costs = await stack.enter_async_context(CostControl(aws_endpoint_url))
        await control.set_clock(now=clock.now())
        await control.account(management, roles={COST_ROLE: f"ext-{management}"})

        async def start(replicas: int = 1, **overrides: Any) -> Billing:
            settings = {
                "cost_role_arn": f"arn:aws:iam::{management}:role/{COST_ROLE}",
                "cost_external_id": f"ext-{management}",
                **overrides,
            }
            cooldown = await start_cooldown(
                stack,
                replicas=replicas,
                amqp_url=amqp_url,
                mongodb_url=mongodb_url,
                db_prefix=db_prefix,
                clock=clock,
                upstream=upstream,
                rpc=rpc_client,
                **settings,
            )
            return Billing(cooldown=cooldown, control=control, costs=costs, management=management)

        try:
            yield start
        finally:
            await control.clear_faults()
            await control.set_clock(real=True)
