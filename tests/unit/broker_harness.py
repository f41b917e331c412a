"""A service's message handlers on FastStream's in-memory ``TestRabbitBroker`` (no server).

The broker is built as every service builds it (``build_broker``: the reliability middleware
included), so decoding, routing, typed replies and dead-lettering of bad input run as they
do in production; only the transport is in memory. What the middleware dead-letters is
taken where it is published to the dead-letter exchange (RabbitMQ's routing of it to the
queue's DLQ is covered by the integration tests).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from faststream.rabbit import RabbitBroker, RabbitRouter, TestRabbitBroker
from pydantic import BaseModel

from graceperiod.contracts.topology import DEAD_LETTER_EXCHANGE, Binding
from graceperiod.runtime.messaging import build_broker, exchange_for
from graceperiod.runtime.settings import ServiceSettings

ReplyT = TypeVar("ReplyT", bound=BaseModel)


@dataclass(frozen=True)
class DeadLetter:
    body: bytes
    reason: str
    kind: str
    message_id: str | None


@dataclass
class Harness:
    broker: RabbitBroker
    dead_letters: dict[str, list[DeadLetter]] = field(default_factory=dict)
    """By queue: what the middleware dead-lettered (the raw body and the reason)."""

    async def publish(
        self,
        binding: Binding,
        body: BaseModel | dict[str, Any] | bytes,
        *,
        message_id: str = "m-1",
        content_type: str = "application/json",
    ) -> None:
        """Deliver ``body`` to the binding's queue as its exchange would (the default exchange
        routes by queue name)."""
        payload = body.model_dump(mode="json") if isinstance(body, BaseModel) else body
        exchange = exchange_for(binding)
        await self.broker.publish(
            payload,
            routing_key=binding.routing_key if exchange else binding.queue,
            exchange=exchange,
            message_id=message_id,
            content_type=content_type,
        )

    async def ask(self, binding: Binding, request: BaseModel, reply_type: type[ReplyT]) -> ReplyT:
        """Send an RPC request to the binding's queue and read the reply as ``reply_type``."""
        response = await self.broker.request(
            request.model_dump(mode="json"), queue=binding.queue, content_type="application/json"
        )
        return reply_type.model_validate_json(response.body)

    def letters(self, binding: Binding) -> list[DeadLetter]:
        return self.dead_letters.get(binding.queue, [])


@asynccontextmanager
async def handlers_on_test_broker(router: RabbitRouter) -> AsyncIterator[Harness]:
    """The router's handlers on an in-memory broker built like a service's."""
    broker = build_broker(ServiceSettings(), app_id="handler-test")
    broker.include_router(router)
    harness = Harness(broker)
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
