"""RabbitMQ defaults for every service, in one place.

* durable quorum queues with an explicit ``x-delivery-limit`` and a dead-letter queue each;
* persistent messages with a ``message_id``, publisher confirms, unroutable publishes raise;
* a bounded prefetch; nothing is acked before the handler (and so its effects) finished;
* FastStream's per-message INFO log off unless ``LOG_MESSAGES`` is set.

The whole topology (exchanges, every queue and binding) comes from the broker definitions
(:mod:`graceperiod.runtime.broker_definitions`), loaded before any service starts, so an event
is never published before the queue of a consumer that has not started yet exists. A service
declares only its own queues again at start-up (what its broker identity may configure);
:func:`declare_topology` declares everything, for tools connected as a broker administrator.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final, Protocol, cast

from aio_pika.exceptions import ChannelPreconditionFailed
from faststream import AckPolicy
from faststream.rabbit import (
    Channel,
    ExchangeType,
    QueueType,
    RabbitBroker,
    RabbitExchange,
    RabbitQueue,
)

if TYPE_CHECKING:
    from faststream.rabbit.schemas.queue import QuorumQueueArgs

from graceperiod.contracts.base import Message
from graceperiod.contracts.topology import (
    DEAD_LETTER_EXCHANGE,
    EVENTS_EXCHANGE,
    TICKS_EXCHANGE,
    Binding,
    QueueKind,
    Queues,
    ServiceName,
    dead_letter_queue,
)
from graceperiod.runtime.actor_assertions import RequestVerifier
from graceperiod.runtime.logs import get_logger
from graceperiod.runtime.middleware import (
    RetryPolicy,
    current_correlation_id,
)
from graceperiod.runtime.settings import ServiceSettings, broker_user
from graceperiod.runtime.signing_keys import PublicKeys
from graceperiod.runtime.tracing import Tracing

log = get_logger("graceperiod.messaging")

#: Deliveries before RabbitMQ itself dead-letters a message. Part of the queue's identity:
#: every service declares every queue, so this must not vary per deployment (a mismatch
#: fails declaration with PRECONDITION_FAILED). Tune it with a RabbitMQ policy instead.
DELIVERY_LIMIT: Final = 50
#: Ticks older than the newest few are worthless: drop them instead of piling them up.
TICK_QUEUE_MAX_LENGTH: Final = 5

#: The exchanges, as the services use them: never declared by a service (it may not configure
#: them); the broker definitions create them, and :func:`declare_topology` for tools.
EVENTS = RabbitExchange(EVENTS_EXCHANGE, type=ExchangeType.TOPIC, durable=True, declare=False)
TICKS = RabbitExchange(TICKS_EXCHANGE, type=ExchangeType.FANOUT, durable=True, declare=False)
DEAD_LETTERS = RabbitExchange(DEAD_LETTER_EXCHANGE, type=ExchangeType.DIRECT, durable=True, declare=False)

_EXCHANGES = {EVENTS_EXCHANGE: EVENTS, TICKS_EXCHANGE: TICKS}


def exchange_for(binding: Binding) -> RabbitExchange | None:
    return _EXCHANGES.get(binding.exchange)


def queue_for(binding: Binding) -> RabbitQueue:
    """The RabbitQueue (name, type and arguments) of a binding from the contracts topology."""
    arguments: dict[str, Any] = {"x-delivery-limit": DELIVERY_LIMIT}
    if binding.kind is QueueKind.TICKS:
        # No dead-letter exchange: RabbitMQ dead-letters what drop-head overflow drops, so the
        # stale ticks this bound is there to discard would pile up in the DLQ instead (found by
        # the chaos suite). A poison tick is still dead-lettered, by the reliability middleware.
        arguments |= {"x-max-length": TICK_QUEUE_MAX_LENGTH, "x-overflow": "drop-head"}
    else:
        arguments |= {"x-dead-letter-exchange": DEAD_LETTER_EXCHANGE, "x-dead-letter-routing-key": binding.queue}
    if binding.kind in (QueueKind.EVENTS, QueueKind.COMMANDS):
        # Dead-letter at least once: a message that exhausted its deliveries is never lost
        # on its way to the DLQ (requires reject-publish overflow).
        arguments |= {"x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"}
    return RabbitQueue(
        binding.queue,
        queue_type=QueueType.QUORUM,
        routing_key=binding.routing_key,
        arguments=cast("QuorumQueueArgs", arguments),
    )


def dead_letter_queue_for(binding: Binding) -> RabbitQueue:
    return RabbitQueue(
        dead_letter_queue(binding.queue),
        queue_type=QueueType.QUORUM,
        routing_key=binding.queue,
    )


def build_broker(
    settings: ServiceSettings,
    *,
    app_id: str,
    middlewares: Sequence[Any] = (),
    tracing: Tracing | None = None,
    publish_as: str | None = None,
    assertion_keys: PublicKeys | None = None,
) -> RabbitBroker:
    """A broker with the project's delivery guarantees. Subscribers inherit them.

    Everything it publishes carries its user as ``user_id`` (RabbitMQ validates it), or
    ``publish_as``: a test harness's administrator tagged ``impersonator`` acting as the gateway.
    Every command and query it consumes is verified against the gateway's actor-assertion
    public keys (``assertion_keys``, else read from the settings on first use).

    With ``tracing`` on, FastStream's telemetry middleware comes first, so a message's span
    covers everything the service does with it (the retry back-off included)."""
    url = settings.broker_url
    policy = RetryPolicy(
        user_id=publish_as or broker_user(url),
        requests=RequestVerifier(
            (lambda: assertion_keys) if assertion_keys is not None else lambda: _public_keys(settings),
            max_command_age=timedelta(days=settings.inbox_retention_days),
        ),
        max_handler_errors=settings.max_handler_errors,
        max_body_bytes=settings.max_body_bytes,
        backoff_base_seconds=settings.retry_backoff_base_seconds,
        backoff_cap_seconds=settings.retry_backoff_cap_seconds,
    )
    broker = RabbitBroker(
        url,
        app_id=app_id,
        default_channel=Channel(prefetch_count=settings.prefetch, publisher_confirms=True, on_return_raises=True),
        # The reliability middleware decides ack / retry / dead-letter for every outcome;
        # NACK_ON_ERROR is only the fallback should an error ever slip past it.
        ack_policy=AckPolicy.NACK_ON_ERROR,
        middlewares=(*(tracing or Tracing.off()).broker_middlewares(), policy.middleware(), *middlewares),
        logger=logging.getLogger(f"graceperiod.{app_id}.broker"),
        log_level=logging.INFO if settings.log_messages else logging.DEBUG,
        graceful_timeout=15.0,
    )
    policy.broker = broker  # dead letters are published through the same connection
    return broker


def _public_keys(settings: ServiceSettings) -> PublicKeys:
    keys = PublicKeys.from_files(settings.assertion_public_keys_dir, settings.assertion_jwks_file)
    if not len(keys):
        log.warning(
            "no actor-assertion public keys (ASSERTION_PUBLIC_KEYS_DIR, ASSERTION_JWKS_FILE): "
            "every command and query from the gateway is refused"
        )
    return keys


async def declare_topology(broker: RabbitBroker) -> None:
    """Declare every exchange, queue, binding and dead-letter queue of the system: for tools
    and tests connected as a broker administrator. Idempotent."""
    for exchange in (EVENTS, TICKS, DEAD_LETTERS):
        await broker.declare_exchange(RabbitExchange(exchange.name, type=exchange.type, durable=True))
    for binding in Queues.all():
        await _declare(broker, binding)


async def declare_service_queues(broker: RabbitBroker, service: ServiceName) -> None:
    """Declare ``service``'s own queues, their dead-letter queues and their bindings (what its
    broker identity may configure); the exchanges exist already (the broker definitions make
    them). Idempotent; call it after ``broker.connect()`` and before subscribers start."""
    for binding in Queues.of(service):
        await _declare(broker, binding)


async def _declare(broker: RabbitBroker, binding: Binding) -> None:
    if binding.kind is QueueKind.TICKS:
        await _replace_if_redefined(broker, queue_for(binding))
    dlq = await broker.declare_queue(dead_letter_queue_for(binding))
    await dlq.bind(await broker.declare_exchange(DEAD_LETTERS), routing_key=binding.queue)
    queue = await broker.declare_queue(queue_for(binding))
    if exchange := exchange_for(binding):
        await queue.bind(await broker.declare_exchange(exchange), routing_key=binding.routing_key)


async def _replace_if_redefined(broker: RabbitBroker, queue: RabbitQueue) -> None:
    """Delete a tick queue declared with other arguments by an earlier version.

    RabbitMQ cannot change a queue's arguments, and refuses to declare it with new ones
    (PRECONDITION_FAILED), which would stop every service at start-up after an upgrade that
    changed them (tick queues lost their dead-letter exchange). Ticks are disposable — the
    next one does the same work — so a tick queue is simply replaced; no other kind is.
    """
    # FastStream keeps no public handle on its aio-pika connection; a channel of our own keeps
    # the expected refusal away from the channel the broker declares with.
    connection = cast("Any", broker)._connection
    channel = await connection.channel()
    try:
        await channel.declare_queue(queue.name, durable=queue.durable, arguments=queue.arguments)
    except ChannelPreconditionFailed:
        channel = await connection.channel()  # the refusal closed the first one
        await channel.queue_delete(queue.name)
        log.warning("tick queue declared with other arguments by an earlier version: replaced", queue=queue.name)
    finally:
        if not channel.is_closed:
            await channel.close()


class EventSink(Protocol):
    """Where a service's domain code sends its events (a fake in unit tests)."""

    async def publish(self, event: Message, *, message_id: str) -> None: ...


class EventPublisher:
    """Publishes a fixed set of event types to ``graceperiod.events``.

    One FastStream publisher per type, registered at construction, so the service's
    AsyncAPI document lists what it emits. Messages are persistent, carry a deterministic
    ``message_id`` (the consumers' idempotency key) and the correlation id of the message
    being handled, if any.
    """

    def __init__(self, broker: RabbitBroker, events: Sequence[type[Message]]) -> None:
        self._publishers: dict[type[Message], Any] = {}
        for event_type in events:
            if not event_type.routing_key:
                msg = f"{event_type.__name__} has no routing key"
                raise ValueError(msg)
            self._publishers[event_type] = broker.publisher(
                event_type.routing_key,
                exchange=EVENTS,
                persist=True,
                schema=event_type,
                title=f"{event_type.routing_key}:publish",
                description=(event_type.__doc__ or "").strip() or None,
            )

    async def publish(self, event: Message, *, message_id: str) -> None:
        publisher = self._publishers.get(type(event))
        if publisher is None:
            msg = f"{type(event).__name__} is not among this publisher's event types"
            raise TypeError(msg)
        await publisher.publish(
            event,
            message_id=message_id,
            correlation_id=current_correlation_id() or message_id,
            content_type="application/json",
        )


async def publish_tick(broker: RabbitBroker, tick: Message, *, message_id: str) -> None:
    await broker.publish(
        tick,
        exchange=TICKS,
        message_id=message_id,
        persist=True,
        content_type="application/json",
    )
