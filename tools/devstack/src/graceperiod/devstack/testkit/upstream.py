"""Publishing as the upstream systems do: purchase executors, lease managers, schedulers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from faststream.rabbit import RabbitBroker

from graceperiod.contracts.enums import ActionPath, Permission
from graceperiod.contracts.identities import BrokerIdentity
from graceperiod.contracts.revocation import CommandReply, RegisterAccountRole, RegisterAzurePrincipal
from graceperiod.contracts.rpc import Actor, CommandStatus
from graceperiod.contracts.topology import Queues
from graceperiod.devstack.aws_endpoint.control import EmulatorControl
from graceperiod.runtime.messaging import EVENTS, declare_topology
from graceperiod.runtime.rpc import call

#: Revocation's default role name (``REVOCATION_DEFAULT_ROLE_NAME``).
ROLE_NAME = "GracePeriodRevocation"
DEMO_EXTERNAL_ID = "graceperiod-demo-external-id"
#: The dev kit registers roles as the gateway would for an administrator: through an
#: administrator connection tagged ``impersonator`` (test, local and chaos stacks only).
GATEWAY = BrokerIdentity.GATEWAY
DEVSTACK_ADMIN = Actor(
    user_id="devstack", email="devstack@example.com", permissions=[Permission.UPDATE_CONFIG], path=ActionPath.SYSTEM
)


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
    user_id: str | None = None,
) -> None:
    """Publish a raw body to ``graceperiod.events`` the way an upstream system would:
    JSON, persistent, with the AMQP ``message_id`` as the idempotency key. ``user_id``: the
    identity the message claims (RabbitMQ accepts it only from that user or an impersonator,
    the test harness's administrator)."""
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    await broker.publish(
        payload,
        exchange=EVENTS,
        routing_key=routing_key,
        message_id=message_id,
        content_type=content_type,
        persist=True,
        headers=headers,
        user_id=user_id,
    )


async def seed_demo_account(aws_endpoint_url: str, broker: RabbitBroker, purchase: dict[str, Any]) -> None:
    """Make the local AWS endpoint know the demo purchase (a returnable Savings Plan in an
    account with Grace Period's role and a Business support plan) and register that role."""
    await seed_returnable_plans(aws_endpoint_url, broker, purchase["account"]["id"], [purchase["commitment"]["id"]])


async def seed_returnable_plans(
    aws_endpoint_url: str, broker: RabbitBroker, account_id: str, plan_ids: list[str]
) -> None:
    """An onboarded account (:func:`onboard_account`) holding returnable Savings Plans of these
    ids in the local AWS endpoint."""
    now = datetime.now(UTC)
    async with EmulatorControl(aws_endpoint_url) as control:
        await broker.start()
        await onboard_account(control, broker, account_id, external_id=DEMO_EXTERNAL_ID)
        for plan_id in plan_ids:
            await control.savings_plan(
                account_id, savingsPlanId=plan_id, start=now, returnableUntil=now + timedelta(days=2)
            )


async def onboard_account(
    control: EmulatorControl,
    client: RabbitBroker,
    account_id: str,
    *,
    external_id: str,
    denied_actions: Sequence[str] = (),
) -> None:
    """What an onboarded customer looks like: an account with Grace Period's role (trusting
    ``external_id``, lacking ``denied_actions``) and a Business support plan in the local AWS
    endpoint, and that role registered with the revocation service (which must be running)."""
    await control.account(
        account_id,
        roles={ROLE_NAME: external_id},
        support_plan="business",
        denied_actions=list(denied_actions),
    )
    command = RegisterAccountRole(
        actor=DEVSTACK_ADMIN, idempotency_key=f"onboard-{account_id}", account_id=account_id, external_id=external_id
    )
    await register_as_gateway(client, command, f"the role of account {account_id}")


async def register_as_gateway(
    client: RabbitBroker, command: RegisterAccountRole | RegisterAzurePrincipal, what: str
) -> None:
    """Send a registration command as the gateway would and wait for it to be done."""
    reply = await call(client, Queues.REVOCATION_COMMANDS, command, CommandReply, timeout=60, user_id=GATEWAY)
    # A cold cloud endpoint (the AWS one's first calls load moto's services) can outlast the
    # service's reply deadline: the command goes on; asking again with the same key returns its outcome.
    for _ in range(60):
        if reply.status is not CommandStatus.IN_PROGRESS:
            break
        await asyncio.sleep(1.0)
        reply = await call(client, Queues.REVOCATION_COMMANDS, command, CommandReply, timeout=60, user_id=GATEWAY)
    if reply.status is not CommandStatus.DONE:
        msg = f"registering {what} failed: {reply.problem}"
        raise RuntimeError(msg)
