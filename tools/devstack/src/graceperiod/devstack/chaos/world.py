"""The outside world a scenario sets up before its load: customer accounts in the AWS
endpoint with Grace Period's role (registered with revocation, with their ExternalId), the
Savings Plans the purchases name, and a sandbox-account pool for the cooldown service.

Everything goes through the real interfaces: the AWS endpoint's control API
(:class:`EmulatorControl`), revocation's RPC commands, the cooldown service's own code on its
own database (to register accounts *in the past*; see :class:`CooldownFlow`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika
from faststream.rabbit import RabbitBroker
from pymongo import AsyncMongoClient
from structlog.testing import capture_logs

from graceperiod.contracts.base import Message
from graceperiod.contracts.cooldown import AccountStatus, Cause, SetCooldownPolicy
from graceperiod.contracts.enums import ActionPath, Permission
from graceperiod.contracts.identities import BrokerIdentity
from graceperiod.contracts.rpc import Actor
from graceperiod.contracts.topology import EVENTS_EXCHANGE, TICKS_EXCHANGE, RoutingKey
from graceperiod.contracts.upstream import AccountCleanupSucceeded, AccountRegistered, LeaseTerminated
from graceperiod.cooldown.service import CooldownService
from graceperiod.cooldown.store import AccountStore
from graceperiod.devstack.aws_endpoint.control import EmulatorControl
from graceperiod.devstack.chaos.load import Outgoing
from graceperiod.devstack.testkit.upstream import onboard_account
from graceperiod.runtime.clock import FrozenClock
from graceperiod.runtime.messaging import build_broker
from graceperiod.runtime.settings import ServiceSettings
from graceperiod.runtime.ticker import new_tick

ADMIN = Actor(
    user_id="u-chaos",
    email="chaos@example.com",
    permissions=[Permission.REVOKE_ANY_PURCHASES, Permission.UPDATE_CONFIG],
    path=ActionPath.DASHBOARD,
)
SEED_CONCURRENCY = 16


def new_account_id() -> str:
    return "".join(secrets.choice("0123456789") for _ in range(12))


def key() -> str:
    return f"chaos-{uuid.uuid4().hex}"


@contextlib.asynccontextmanager
async def rpc_client(
    amqp_url: str, *, acting_as: BrokerIdentity = BrokerIdentity.GATEWAY
) -> AsyncIterator[RabbitBroker]:
    """A caller of the services through the stack's administrator, acting as the gateway (or
    the lease manager): the administrator is tagged ``impersonator`` in chaos stacks."""
    broker = build_broker(ServiceSettings(amqp_url=amqp_url), app_id="chaos", publish_as=acting_as)
    await broker.connect()
    try:
        yield broker
    finally:
        await broker.stop()


async def register_accounts(
    amqp_url: str, aws_url: str, count: int, *, denied_actions: Sequence[str] = ()
) -> list[str]:
    """``count`` customer accounts with Grace Period's role in the AWS endpoint, each registered
    with revocation (RegisterAccountRole over RPC, as the gateway does)."""
    accounts = [new_account_id() for _ in range(count)]
    async with EmulatorControl(aws_url) as control, rpc_client(amqp_url) as client:
        for account in accounts:
            await onboard_account(control, client, account, external_id=f"ext-{account}", denied_actions=denied_actions)
    return accounts


async def seed_plans(aws_url: str, plans: Sequence[tuple[str, str]]) -> None:
    """A returnable, active Savings Plan for each (account, plan id) in the AWS endpoint."""
    if not plans:
        return
    now = datetime.now(UTC)
    window = asyncio.Semaphore(SEED_CONCURRENCY)
    async with EmulatorControl(aws_url) as control:

        async def seed(account: str, plan_id: str) -> None:
            async with window:
                await control.savings_plan(
                    account, savingsPlanId=plan_id, start=now, returnableUntil=now + timedelta(days=2)
                )

        await asyncio.gather(*(seed(account, plan) for account, plan in plans))


def tick() -> Outgoing:
    body = new_tick(datetime.now(UTC))
    return Outgoing(
        message_id=body.tick_id, body=body.model_dump_json().encode(), routing_key="", exchange=TICKS_EXCHANGE
    )


def upstream(event: Message, message_id: str) -> Outgoing:
    assert event.routing_key is not None
    return Outgoing(message_id=message_id, body=event.model_dump_json().encode(), routing_key=event.routing_key)


async def releases(mongodb_url: str, database: str, counts: Callable[[dict[str, Any]], bool]) -> Counter[str]:
    """``released:<account>`` for every stored transition of the cooldown service that ``counts``."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_url, serverSelectionTimeoutMS=1000)
    try:
        found: Counter[str] = Counter()
        cursor = client[database]["changes"].find({}, projection={"account_id": 1, "transitions": 1})
        async for doc in cursor:
            for transition in doc.get("transitions") or []:
                if counts(transition):
                    found[f"released:{doc['account_id']}"] += 1
        return found
    finally:
        await client.close()


class NoEvents:
    """Seeding registers accounts in the past; their registration events are nobody's concern."""

    async def publish(self, event: Message, *, message_id: str) -> None:
        return None


class CooldownFlow:
    """Sandbox accounts: registered → ``lease.terminated`` → ``account.cleanup.succeeded``, with
    cooldown enforced → Cooldown → released on a tick, **exactly once**:

    * ``released:<account>``: transitions to Available after the registration, in the cooldown
      service's ``changes`` collection (one stored change per version; a second release, by
      any cause, would be a second transition);
    * ``settled:<account>``: distinct ``cooldown.account.settled`` events (by ``message_id``,
      the consumers' idempotency key) in a queue this flow binds on the events exchange.

    The period is whole hours (``SetCooldownPolicy``) and the services run on the real clock,
    so the accounts are registered three hours in the past by the cooldown service's own code
    on its database (a FrozenClock), the lease ends two hours ago and the cleanup 61 minutes
    ago: with a 1-hour period each account enters a Cooldown that is already over, and the
    next tick releases it."""

    name = "cooldown"
    PERIOD_HOURS = 1

    def __init__(self, *, mongodb_url: str, database: str, amqp_url: str, vhost_tag: str) -> None:
        self._mongodb_url = mongodb_url
        self._database = database
        self._amqp_url = amqp_url
        self.queue = f"chaos.observed.cooldown-settled.{vhost_tag}"
        self._expected: dict[str, int] = {}
        self._settled: dict[str, set[str]] = {}
        self.settled_copies = 0
        self._connection: aio_pika.abc.AbstractRobustConnection | None = None
        self._channel: aio_pika.abc.AbstractChannel | None = None
        self._last_query = 0.0
        self._released: Counter[str] = Counter()

    async def start(self) -> None:
        """Bind the observation queue (a quorum queue: it keeps events across a broker restart,
        and across a node's loss in a cluster)."""
        self._connection = await aio_pika.connect_robust(self._amqp_url, reconnect_interval=1.0)
        self._channel = await self._connection.channel()
        exchange = await self._channel.get_exchange(EVENTS_EXCHANGE)
        queue = await self._channel.declare_queue(self.queue, durable=True, arguments={"x-queue-type": "quorum"})
        await queue.bind(exchange, routing_key=RoutingKey.ACCOUNT_SETTLED)

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()

    async def seed(self, count: int) -> list[str]:
        """``count`` accounts registered three hours ago; cooldown enforced with a 1-hour period."""
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(self._mongodb_url)
        try:
            store = AccountStore(client[self._database])
            await store.ensure_indexes()
            past = FrozenClock(datetime.now(UTC) - timedelta(hours=3))
            service = CooldownService(store=store, events=NoEvents(), clock=past)
            with capture_logs():
                reply = await service.set_policy(
                    SetCooldownPolicy(
                        actor=ADMIN,
                        idempotency_key=key(),
                        enforce_account_cooldown=True,
                        cooldown_period_hours=self.PERIOD_HOURS,
                    )
                )
            if reply.problem is not None:
                msg = f"setting the cooldown policy failed: {reply.problem}"
                raise RuntimeError(msg)
            accounts = [new_account_id() for _ in range(count)]
            window = asyncio.Semaphore(SEED_CONCURRENCY)

            async def register(account: str) -> None:
                async with window:
                    await service.account_registered(
                        AccountRegistered(
                            schema_version=1, occurred_at=past.now(), account_id=account, name=f"Sandbox {account}"
                        )
                    )

            with capture_logs():  # the service's own log lines: not the run's output
                await asyncio.gather(*(register(a) for a in accounts))
        finally:
            await client.close()
        for account in accounts:
            self._expected[f"released:{account}"] = 1
            self._expected[f"settled:{account}"] = 1
        return accounts

    @staticmethod
    def lifecycle(accounts: Sequence[str]) -> list[Outgoing]:
        """For each account: its lease ended two hours ago, its cleanup 61 minutes ago."""
        now = datetime.now(UTC)
        messages: list[Outgoing] = []
        for account in accounts:
            lease = f"lease-{uuid.uuid4().hex[:12]}"
            ended = LeaseTerminated(
                schema_version=1,
                occurred_at=now,
                lease_id=lease,
                account_id=account,
                terminated_at=now - timedelta(hours=2),
                reason="chaos",
            )
            completed = now - timedelta(minutes=61)
            cleaned = AccountCleanupSucceeded(
                schema_version=1, occurred_at=now, account_id=account, completed_at=completed
            )
            messages += [upstream(ended, f"ended-{lease}"), upstream(cleaned, f"cleaned-{lease}")]
        return messages

    def expected(self) -> Mapping[str, int]:
        return self._expected

    async def observe(self) -> Counter[str]:
        await self._drain_events()
        if time.monotonic() - self._last_query >= 2.0:
            self._last_query = time.monotonic()
            with contextlib.suppress(Exception):  # the database may be down (a scenario stopped it)
                self._released = await self._releases()
        seen: Counter[str] = Counter(self._released)
        for account, ids in self._settled.items():
            seen[f"settled:{account}"] += len(ids)
        return seen

    async def _drain_events(self) -> None:
        if self._channel is None:
            return
        with contextlib.suppress(Exception):  # the broker may be restarting
            queue = await self._channel.get_queue(self.queue, ensure=False)
            while (message := await queue.get(fail=False, no_ack=True)) is not None:
                body = json.loads(message.body)
                self.settled_copies += 1
                self._settled.setdefault(str(body["account_id"]), set()).add(str(message.message_id))

    async def _releases(self) -> Counter[str]:
        return await releases(
            self._mongodb_url,
            self._database,
            lambda t: t.get("to_status") == AccountStatus.AVAILABLE and t.get("cause") != Cause.REGISTERED,
        )
