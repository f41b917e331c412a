"""An upstream publisher that never gives up on a message: at-least-once from the publisher side.

Every message is published persistently with publisher confirms and retried, with the same
``message_id``, until the broker confirms it: across a broker restart, a dropped connection
or a lost confirm. A retry after a lost confirm can deliver the message twice; consumers
deduplicate (that is the contract: the ``message_id`` is the idempotency key).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractRobustConnection

#: Unconfirmed publishes in flight at once (as in the benchmarks).
CONFIRM_WINDOW = 200
#: How the broker's management API names a load publisher's connection (which node it is on), with a
#: suffix of its own: a listing of an earlier run's closed publisher can never be taken for it.
CONNECTION_NAME = "graceperiod-chaos-publisher"


@dataclass(frozen=True)
class Outgoing:
    """One message as an upstream system sends it."""

    message_id: str
    body: bytes
    routing_key: str
    exchange: str = "graceperiod.events"
    content_type: str | None = "application/json"
    user_id: str | None = None
    """The identity it claims: a poison sent straight to a queue claims the queue's usual
    publisher (the chaos stack's administrator may), so it is refused for its body."""


@dataclass
class PublishStats:
    sent: int = 0
    attempts: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    first_published_at: dict[str, float] = field(default_factory=dict)
    longest_unconfirmed_seconds: float = 0.0
    reconnects: int = 0
    """How often the connection was lost and opened again. A publish waits for the reconnection
    inside its attempt, so a quick failover can cost no retry at all."""

    @property
    def retries(self) -> int:
        return self.attempts - self.sent


class ReliablePublisher:
    def __init__(
        self,
        amqp_url: str,
        *,
        attempt_timeout: float = 5.0,
        window: int = CONFIRM_WINDOW,
        connection_name: str | None = None,
    ) -> None:
        self._url = amqp_url
        self.connection_name = connection_name or f"{CONNECTION_NAME}-{uuid.uuid4().hex[:8]}"
        self._attempt_timeout = attempt_timeout
        self._window = window
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractChannel | None = None
        self.stats = PublishStats()

    async def __aenter__(self) -> ReliablePublisher:
        self._connection = await aio_pika.connect_robust(
            self._url,
            reconnect_interval=1.0,
            fail_fast=True,
            client_properties={"connection_name": self.connection_name},
        )
        self._connection.reconnect_callbacks.add(self._reconnected)
        self._channel = await self._connection.channel(publisher_confirms=True)
        return self

    def _reconnected(self, *_: object) -> None:
        self.stats.reconnects += 1

    async def __aexit__(self, *_: object) -> None:
        if self._connection is not None:
            await self._connection.close()

    async def publish(self, message: Outgoing) -> None:
        """Publish one message; return only once the broker confirmed it."""
        assert self._channel is not None, "use `async with ReliablePublisher(...)`"
        first = time.monotonic()
        self.stats.first_published_at.setdefault(message.message_id, time.time())
        delay = 0.1
        while True:
            self.stats.attempts += 1
            try:
                # The deadline covers waiting for a reconnection too, not only the confirm.
                async with asyncio.timeout(self._attempt_timeout):
                    exchange = await self._channel.get_exchange(message.exchange, ensure=False)
                    await exchange.publish(
                        aio_pika.Message(
                            message.body,
                            message_id=message.message_id,
                            content_type=message.content_type,
                            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                            user_id=message.user_id,
                        ),
                        routing_key=message.routing_key,
                    )
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure: the broker did not confirm, so try again
                kind = type(exc).__name__
                self.stats.failures[kind] = self.stats.failures.get(kind, 0) + 1
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            self.stats.sent += 1
            self.stats.longest_unconfirmed_seconds = max(
                self.stats.longest_unconfirmed_seconds, time.monotonic() - first
            )
            return

    async def publish_all(
        self,
        messages: Sequence[Outgoing],
        *,
        rate: float | None = None,
        on_confirmed: Callable[[Outgoing], None] | None = None,
    ) -> float:
        """Publish everything, at most ``window`` unconfirmed at once, optionally paced to
        ``rate`` messages/s. Returns the seconds taken (all confirmed)."""
        window = asyncio.Semaphore(self._window)
        started = time.monotonic()

        async def one(message: Outgoing) -> None:
            try:
                await self.publish(message)
                if on_confirmed is not None:
                    on_confirmed(message)
            finally:
                window.release()

        tasks: list[asyncio.Task[None]] = []
        for index, message in enumerate(messages):
            if rate:
                delay = started + index / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            await window.acquire()
            tasks.append(asyncio.create_task(one(message)))
        await asyncio.gather(*tasks)
        return time.monotonic() - started
