"""Publishing as the upstream systems do: purchase executors, lease managers, schedulers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from faststream.rabbit import RabbitBroker

from graceperiod.contracts.enums import ActionPath, Permission
from graceperiod.contracts.revocation import CommandReply, RegisterAccountRole
from graceperiod.contracts.rpc import Actor
from graceperiod.contracts.topology import Queues
from graceperiod.devstack.aws_endpoint.control import EmulatorControl
from graceperiod.runtime.messaging import EVENTS, declare_topology
from graceperiod.runtime.rpc import call

DEMO_ROLE = "GracePeriodRevocation"
DEMO_EXTERNAL_ID = "graceperiod-demo-external-id"


async def connect(amqp_url: str) -> RabbitBroker:
    broker = RabbitBroker(amqp_url, log_level=10)
    await broker.connect()
    await declare_topology(broker)
    return broker


async def publish_upstream(
    broker: RabbitBroker,
    routing_key: str,
    body: dict[str, Any] | bytes,
    *,
    message_id: str,
    content_type: str = "application/json",
    headers: dict[str, Any] | None = None,
) -> None:
    """Publish a raw body to ``graceperiod.events`` the way an upstream system would:
    JSON, persistent, with the AMQP ``message_id`` as the idempotency key."""
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    await broker.publish(
        payload,
        exchange=EVENTS,
        routing_key=routing_key,
        message_id=message_id,
        content_type=content_type,
        persist=True,
        headers=headers,
    )


async def seed_demo_account(aws_endpoint_url: str, broker: RabbitBroker, purchase: dict[str, Any]) -> None:
    """Make the local AWS endpoint know the demo purchase (a returnable Savings Plan in an
    account with Grace Period's role and a Business support plan) and register that role."""
    await seed_returnable_plans(aws_endpoint_url, broker, purchase["account"]["id"], [purchase["commitment"]["id"]])


async def seed_returnable_plans(
    aws_endpoint_url: str, broker: RabbitBroker, account_id: str, plan_ids: list[str]
) -> None:
    """An account with Grace Period's role and a Business support plan in the local AWS
    endpoint, holding returnable Savings Plans of these ids, and the role registered with the
    revocation service (which must be running): what an onboarded customer looks like."""
    now = datetime.now(UTC)
    async with EmulatorControl(aws_endpoint_url) as control:
        await control.account(account_id, roles={DEMO_ROLE: DEMO_EXTERNAL_ID}, support_plan="business")
        for plan_id in plan_ids:
            await control.savings_plan(
                account_id, savingsPlanId=plan_id, start=now, returnableUntil=now + timedelta(days=2)
            )
    admin = Actor(
        user_id="devstack", email="devstack@example.com", permissions=[Permission.UPDATE_CONFIG], path=ActionPath.SYSTEM
    )
    command = RegisterAccountRole(
        actor=admin, idempotency_key=f"demo-{account_id}", account_id=account_id, external_id=DEMO_EXTERNAL_ID
    )
    await broker.start()
    await call(broker, Queues.REVOCATION_COMMANDS, command, CommandReply, timeout=15)
