"""The revocation service, in-process, over a real broker, FerretDB and the AWS endpoint.

The service reaches the endpoint only through ``AWS_ENDPOINT_URL`` (as in production it
reaches AWS), talks to the test through RabbitMQ RPC as the gateway does, and runs on a
FrozenClock the tests move; the emulator's clock is moved with it where a test needs both.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import aio_pika
import pytest
from faststream.rabbit import RabbitBroker
from pydantic import BaseModel

from graceperiod.contracts.enums import ActionPath, Permission
from graceperiod.contracts.identities import BrokerIdentity
from graceperiod.contracts.notifier import DeliveryStatus, EmailDelivered, EmailKind
from graceperiod.contracts.revocation import (
    AccountAccessReply,
    CommandReply,
    GetPurchase,
    ListAccountAccess,
    PurchaseReply,
    RegisterAccountRole,
)
from graceperiod.contracts.revocation_views import PurchaseView
from graceperiod.contracts.rpc import Actor, CommandStatus
from graceperiod.contracts.topology import EVENTS_EXCHANGE, Queues
from graceperiod.contracts.upstream import Tick
from graceperiod.devstack.aws_endpoint.control import EmulatorControl
from graceperiod.devstack.testkit.fixtures import running
from graceperiod.devstack.testkit.samples import purchase_payload
from graceperiod.devstack.testkit.tokens import LinkSigner
from graceperiod.devstack.testkit.upstream import publish_upstream
from graceperiod.revocation.app import create_app
from graceperiod.revocation.settings import RevocationSettings
from graceperiod.runtime.clock import FrozenClock
from graceperiod.runtime.messaging import build_broker, declare_topology, publish_tick
from graceperiod.runtime.rpc import call
from graceperiod.runtime.settings import ServiceSettings

ReplyT = TypeVar("ReplyT", bound=BaseModel)

ROLE_NAME = "GracePeriodRevocation"
#: The notifier's link key in these tests: the service verifies email-link requests with it.
LINK_SIGNER = LinkSigner()
LINK_JWKS_FILE = Path(tempfile.mkdtemp(prefix="revocation-links-")) / "links.jwks.json"
LINK_JWKS_FILE.write_text(json.dumps(LINK_SIGNER.jwks()))
ADMIN = Actor(
    user_id="u-admin",
    email="admin@example.com",
    permissions=[Permission.REVOKE_ANY_PURCHASES, Permission.UPDATE_CONFIG],
    path=ActionPath.DASHBOARD,
)
ALICE = Actor(
    user_id="u-alice",
    email="alice@example.com",
    permissions=[Permission.REVOKE_OWN_PURCHASES],
    path=ActionPath.DASHBOARD,
)
BOB = Actor(
    user_id="u-bob", email="bob@example.com", permissions=[Permission.REVOKE_OWN_PURCHASES], path=ActionPath.DASHBOARD
)


def new_account_id() -> str:
    return "".join(secrets.choice("0123456789") for _ in range(12))


def key() -> str:
    return f"k-{uuid.uuid4().hex}"


def service_settings(amqp_url: str, mongodb_url: str, database: str, **overrides: Any) -> RevocationSettings:
    values: dict[str, Any] = {
        "amqp_url": amqp_url,
        "mongodb_url": mongodb_url,
        "mongodb_database": database,
        "retry_backoff_base_seconds": 0.05,
        "retry_backoff_cap_seconds": 0.5,
        "aws_max_attempts": 3,
        "aws_backoff_base_seconds": 0.05,
        "aws_backoff_cap_seconds": 0.2,
        "reply_within_seconds": 5.0,
        "link_jwks_file": LINK_JWKS_FILE,
        # Discovery scans one Region here (each Region costs six describes per account and scan).
        "discovery_regions": ["us-east-1"],
    }
    return RevocationSettings(**(values | overrides))


@dataclass
class Harness:
    amqp_url: str
    control: EmulatorControl
    client: RabbitBroker
    upstream: RabbitBroker
    clock: FrozenClock
    database: str
    events: list[dict[str, Any]] = field(default_factory=list)

    def email_sent(self, purchase_id: str, recipient: str = "owner@example.com") -> EmailDelivered:
        """The notifier's report of one purchase-executed email sent (in an older notifier's
        shape: one email, no ``deliveries``)."""
        return EmailDelivered(
            occurred_at=self.clock.now(),
            purchase_id=purchase_id,
            kind=EmailKind.PURCHASE_EXECUTED,
            recipient=recipient,
            status=DeliveryStatus.SENT,
        )

    async def report_email(self, event: EmailDelivered | dict[str, Any], message_id: str) -> None:
        """Publish an email report as the notifier does (its broker identity)."""
        body = event.model_dump(mode="json") if isinstance(event, EmailDelivered) else event
        await publish_upstream(
            self.upstream, "notifier.email.delivered", body, message_id=message_id, user_id=BrokerIdentity.NOTIFIER
        )

    async def command(self, command: BaseModel, *, timeout: float = 20.0) -> CommandReply:
        return await call(
            self.client,
            Queues.REVOCATION_COMMANDS,
            command,
            CommandReply,
            timeout=timeout,
            user_id=BrokerIdentity.GATEWAY,
        )

    async def query(self, query: BaseModel, reply_type: type[ReplyT]) -> ReplyT:
        return await call(
            self.client, Queues.REVOCATION_QUERIES, query, reply_type, timeout=20.0, user_id=BrokerIdentity.GATEWAY
        )

    async def view(self, purchase_id: str, actor: Actor = ADMIN) -> PurchaseView:
        reply = await self.query(GetPurchase(actor=actor, purchase_id=purchase_id), PurchaseReply)
        assert reply.purchase is not None, reply.problem
        return reply.purchase

    async def account(
        self,
        *,
        support_plan: str = "business",
        denied: list[str] | None = None,
        register: bool = True,
        **registration: Any,
    ) -> str:
        """A fresh customer account in the emulator with Grace Period's role, registered (with
        ``registration``'s name, contact emails or Regions)."""
        account_id = new_account_id()
        await self.control.account(
            account_id, roles={ROLE_NAME: f"ext-{account_id}"}, support_plan=support_plan, denied_actions=denied or []
        )
        if register:
            await self.register(account_id, **registration)
        return account_id

    async def register(self, account_id: str, **registration: Any) -> None:
        reply = await self.command(
            RegisterAccountRole(
                actor=ADMIN,
                idempotency_key=key(),
                account_id=account_id,
                external_id=f"ext-{account_id}",
                **registration,
            )
        )
        assert reply.status in (CommandStatus.DONE, CommandStatus.IN_PROGRESS), reply
        if reply.status is CommandStatus.IN_PROGRESS:  # a loaded machine: the probes finish later
            await self.registered(account_id)

    async def registered(self, account_id: str, *, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reply = await self.query(ListAccountAccess(actor=ADMIN), AccountAccessReply)
            if any(a.account_id == account_id and a.checked_at is not None for a in reply.accounts):
                return
            await asyncio.sleep(0.2)
        msg = f"account {account_id} was not registered within {timeout} s"
        raise TimeoutError(msg)

    async def purchase(self, account_id: str, **kwargs: Any) -> dict[str, Any]:
        body = purchase_payload(account_id=account_id, executed_at=self.clock.now(), **kwargs)
        await publish_upstream(self.upstream, "purchase.executed", body, message_id=body["purchase_id"])
        await self.wait_for(body["purchase_id"], lambda view: True)
        return body

    async def wait_for(
        self, purchase_id: str, check: Callable[[PurchaseView], bool], *, timeout: float = 20.0
    ) -> PurchaseView:
        deadline = time.monotonic() + timeout
        last: PurchaseView | None = None
        while time.monotonic() < deadline:
            reply = await self.query(GetPurchase(actor=ADMIN, purchase_id=purchase_id), PurchaseReply)
            if reply.purchase is not None:
                last = reply.purchase
                if check(last):
                    return last
            await asyncio.sleep(0.1)
        msg = f"purchase {purchase_id} did not reach the expected state; last: {last and last.phase}"
        raise TimeoutError(msg)

    async def tick(self) -> None:
        now = self.clock.now()
        tick = Tick(tick_id=f"tick-{uuid.uuid4().hex}", at=now, occurred_at=now)
        await publish_tick(self.client, tick, message_id=tick.tick_id)

    def changes(self, purchase_id: str) -> list[str]:
        return [e["change"] for e in self.events if e.get("change") and e["purchase"]["purchase_id"] == purchase_id]

    async def wait_event(
        self, purchase_id: str, change: str, *, timeout: float = 20.0, count: int = 1
    ) -> dict[str, Any]:
        """The ``count``-th distinct event of this kind (duplicates by message id are one)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = {
                e["_message_id"]: e
                for e in self.events
                if e.get("change") == change and e["purchase"]["purchase_id"] == purchase_id
            }
            if len(found) >= count:
                return list(found.values())[count - 1]
            await asyncio.sleep(0.05)
        msg = f"no {change} event for {purchase_id}; saw {self.changes(purchase_id)}"
        raise TimeoutError(msg)


async def collect_events(amqp_url: str, into: list[dict[str, Any]]) -> aio_pika.abc.AbstractRobustConnection:
    connection = await aio_pika.connect_robust(amqp_url)
    channel = await connection.channel()
    exchange = await channel.get_exchange(EVENTS_EXCHANGE)
    queue = await channel.declare_queue(exclusive=True, auto_delete=True)
    await queue.bind(exchange, routing_key="revocation.purchase.#")

    async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        async with message.process():
            body = json.loads(message.body)
            body["_message_id"] = message.message_id
            into.append(body)

    await queue.consume(on_message)
    return connection


@contextlib.asynccontextmanager
async def _harness(
    amqp_url: str,
    mongodb_url: str,
    database: str,
    aws_endpoint_url: str,
    upstream: RabbitBroker,
    *,
    in_process: bool,
    settings: dict[str, Any] | None = None,
) -> AsyncIterator[Harness]:
    clock = FrozenClock(datetime.now(UTC))
    client = build_broker(ServiceSettings(amqp_url=amqp_url), app_id="test-gateway")
    await client.connect()
    await declare_topology(client)
    await client.start()
    overrides = settings or {}
    apps = (
        [create_app(service_settings(amqp_url, mongodb_url, database, **overrides), clock=clock)] if in_process else []
    )
    async with EmulatorControl(aws_endpoint_url) as control:
        await control.configure(return_delay_seconds=0)
        harness = Harness(amqp_url, control, client, upstream, clock, database)
        connection = await collect_events(amqp_url, harness.events)
        try:
            async with running(*apps):
                yield harness
        finally:
            await connection.close()
            await client.stop()
            await control.clear_faults()
            await control.set_clock(real=True)
            await control.configure(return_delay_seconds=2)


@pytest.fixture
async def harness(
    amqp_url: str,
    mongodb_url: str,
    db_prefix: str,
    aws_endpoint_url: str,
    upstream: RabbitBroker,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Harness]:
    """The service in this process, on a FrozenClock."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_endpoint_url)
    async with _harness(
        amqp_url, mongodb_url, f"{db_prefix}_revocation", aws_endpoint_url, upstream, in_process=True
    ) as harness:
        yield harness


@pytest.fixture
async def bare_harness(
    amqp_url: str, mongodb_url: str, db_prefix: str, aws_endpoint_url: str, upstream: RabbitBroker
) -> AsyncIterator[Harness]:
    """Everything but the service: the test runs it (as a process) itself."""
    async with _harness(
        amqp_url, mongodb_url, f"{db_prefix}_revocation", aws_endpoint_url, upstream, in_process=False
    ) as harness:
        yield harness
