"""Publishing as the upstream systems do: purchase executors, lease managers, schedulers."""

from __future__ import annotations

import json
from typing import Any

from faststream.rabbit import RabbitBroker

from graceperiod.runtime.messaging import EVENTS, declare_topology


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
