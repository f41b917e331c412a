"""A service's message handlers on FastStream's in-memory ``TestRabbitBroker`` (no server).

The broker is built as every service builds it (``build_broker``: the reliability middleware
included), so decoding, routing, typed replies and dead-lettering of bad input run as they
do in production; only the transport is in memory. What the middleware dead-letters is
taken where it is published to the dead-letter exchange (RabbitMQ's routing of it to the
queue's DLQ is covered by the integration tests).

Messages arrive as RabbitMQ delivers them: with the broker-validated ``user_id`` of their
publisher (an event's owner, the scheduler's ticks, the gateway's requests, by default).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from faststream.rabbit import RabbitBroker, RabbitRouter, TestRabbitBroker
from faststream.rabbit.annotations import RabbitMessage
from pydantic import BaseModel

from graceperiod.contracts.identities import BrokerIdentity, usual_publisher
from graceperiod.contracts.topology import DEAD_LETTER_EXCHANGE, Binding
from graceperiod.runtime.actor_assertions import AssertionSigner
from graceperiod.runtime.messaging import build_broker, exchange_for
from graceperiod.runtime.rpc import signed
from graceperiod.runtime.settings import ServiceSettings
from graceperiod.runtime.signing_keys import KeyRing, SigningKey

ReplyT = TypeVar("ReplyT", bound=BaseModel)
#: The gateway's actor-assertion keys in unit tests: it signs, the services verify.
GATEWAY_KEYS = KeyRing({"unit-gateway": SigningKey("unit-gateway", Ed25519PrivateKey.generate())})
GATEWAY_SIGNER = AssertionSigner(GATEWAY_KEYS)
REPLY_QUEUE = "handler-test.replies"


@dataclass(frozen=True)
class DeadLetter:
    body: bytes
    reason: str
    kind: str
    message_id: str | None


@dataclass
class Harness:
    broker: RabbitBroker
    waiting: dict[str, asyncio.Future[bytes]] = field(default_factory=dict)
    """Replies awaited by :meth:`ask`, by correlation id."""
    dead_letters: dict[str, list[DeadLetter]] = field(default_factory=dict)
    """By queue: what the middleware dead-lettered (the raw body and the reason)."""

    async def publish(
        self,
        binding: Binding,
        body: BaseModel | dict[str, Any] | bytes,
        *,
        message_id: str = "m-1",
        content_type: str = "application/json",
        user_id: str | None = None,
    ) -> None:
        """Deliver ``body`` to the binding's queue as its exchange would (the default exchange
        routes by queue name), published by ``user_id`` (default: the queue's usual publisher;
        "" for none); a request from the gateway is signed as the gateway signs it."""
        payload = body.model_dump(mode="json") if isinstance(body, BaseModel) else body
        exchange = exchange_for(binding)
        publisher = usual_publisher(binding) if user_id is None else user_id
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers, at = signed(GATEWAY_SIGNER if publisher == BrokerIdentity.GATEWAY else None, binding, raw)
        await self.broker.publish(
            raw,
            routing_key=binding.routing_key if exchange else binding.queue,
            exchange=exchange,
            message_id=message_id,
            content_type=content_type,
            user_id=publisher or None,
            timestamp=at,
            headers=headers,
        )

    async def ask(
        self,
        binding: Binding,
        request: BaseModel | dict[str, Any],
        reply_type: type[ReplyT],
        *,
        user_id: str = BrokerIdentity.GATEWAY,
    ) -> ReplyT:
        """Send an RPC request to the binding's queue as ``user_id`` (the gateway by default, its
        actor signed as the gateway signs it), with ``reply_to`` as a waiting caller's request
        has, and read the reply as ``reply_type``."""
        body = (request.model_dump_json() if isinstance(request, BaseModel) else json.dumps(request)).encode()
        headers, at = signed(GATEWAY_SIGNER if user_id == BrokerIdentity.GATEWAY else None, binding, body)
        correlation_id = uuid.uuid4().hex
        waiter: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.waiting[correlation_id] = waiter
        await self.broker.publish(
            body,
            queue=binding.queue,
            content_type="application/json",
            user_id=user_id,
            timestamp=at,
            headers=headers,
            reply_to=REPLY_QUEUE,
            correlation_id=correlation_id,
        )
        return reply_type.model_validate_json(await asyncio.wait_for(waiter, 5))

    def letters(self, binding: Binding) -> list[DeadLetter]:
        return self.dead_letters.get(binding.queue, [])


@asynccontextmanager
async def handlers_on_test_broker(router: RabbitRouter) -> AsyncIterator[Harness]:
    """The router's handlers on an in-memory broker built like a service's."""
    broker = build_broker(ServiceSettings(), app_id="handler-test", assertion_keys=GATEWAY_KEYS.public_keys())
    broker.include_router(router)
    harness = Harness(broker)

    # The caller's reply queue: a request carries reply_to, as a real RPC does (the services
    # answer a waiting caller and dead-letter what nobody waits for).
    @broker.subscriber(REPLY_QUEUE)
    async def on_reply(message: RabbitMessage) -> None:
        waiter = harness.waiting.pop(message.correlation_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(message.body)

    async with TestRabbitBroker(broker):
        publish = broker.publish

        async def publish_or_take_dead_letter(*args: Any, **options: Any) -> Any:
            if options.get("exchange") != DEAD_LETTER_EXCHANGE:
                return await publish(*args, **options)
            headers = options["headers"]
            reason, kind = str(headers["x-gp-error"]), str(headers["x-gp-error-kind"])
            letter = DeadLetter(args[0], reason, kind, options.get("message_id"))
            harness.dead_letters.setdefault(options["routing_key"], []).append(letter)
            return None

        broker.publish = publish_or_take_dead_letter  # type: ignore[method-assign]
        yield harness
