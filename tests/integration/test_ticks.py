"""Tick queues keep only the newest few ticks and drop the rest, without dead-lettering them
(found by the chaos suite: drop-head overflow used to fill every ``*.ticks.dlq``)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit

import aio_pika
import pytest
from faststream.rabbit import RabbitBroker

from graceperiod.contracts.topology import DEAD_LETTER_EXCHANGE, QueueKind, Queues, dead_letter_queue
from graceperiod.contracts.upstream import Tick
from graceperiod.devstack.servers.processes import management_request
from graceperiod.devstack.testkit.fixtures import RabbitEndpoint
from graceperiod.runtime.messaging import (
    TICK_QUEUE_MAX_LENGTH,
    declare_topology,
    publish_tick,
    queue_for,
)


async def test_surplus_ticks_are_dropped_not_dead_lettered(
    upstream: RabbitBroker, amqp_url: str, rabbit: RabbitEndpoint
) -> None:
    if not rabbit.management_url:
        pytest.skip("the broker's management API is not reachable")
    for _ in range(TICK_QUEUE_MAX_LENGTH * 4):
        now = datetime.now(UTC)
        tick = Tick(tick_id=f"tick-{uuid.uuid4().hex}", at=now, occurred_at=now)
        await publish_tick(upstream, tick, message_id=tick.tick_id)

    vhost = unquote(urlsplit(amqp_url).path.lstrip("/"))
    tick_queues = [b.queue for b in Queues.all() if b.kind is QueueKind.TICKS]
    depths: dict[str, int] = {}
    for _ in range(100):  # the management API's counters lag by a few seconds
        queues = {q["name"]: q for q in management_request(rabbit.management_url, "GET", f"api/queues/{vhost}")}
        depths = {name: int(queues[name].get("messages") or 0) for name in tick_queues}
        depths |= {dead_letter_queue(n): int(queues[dead_letter_queue(n)].get("messages") or 0) for n in tick_queues}
        if all(depths[name] == TICK_QUEUE_MAX_LENGTH for name in tick_queues):
            break
        await asyncio.sleep(0.2)

    assert {name: depths[name] for name in tick_queues} == dict.fromkeys(tick_queues, TICK_QUEUE_MAX_LENGTH)
    assert {dead_letter_queue(n): depths[dead_letter_queue(n)] for n in tick_queues} == {
        dead_letter_queue(n): 0 for n in tick_queues
    }


async def test_a_tick_queue_declared_by_an_earlier_version_is_replaced_at_start_up(amqp_url: str) -> None:
    # Before tick queues lost their dead-letter exchange, they were declared with one; RabbitMQ
    # refuses to redeclare a queue with other arguments, which stopped every service at start.
    binding = next(b for b in Queues.all() if b.kind is QueueKind.TICKS)
    current = queue_for(binding)
    earlier = {**current.arguments, "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE}
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        await channel.queue_delete(binding.queue)  # the broker definitions made the current one
        await channel.declare_queue(binding.queue, durable=True, arguments=earlier)
        await channel.close()

        broker = RabbitBroker(amqp_url)
        async with broker:
            await broker.connect()
            await declare_topology(broker)
            await declare_topology(broker)  # and idempotent once replaced

        # Declaring with the current arguments is accepted only if the queue now has them.
        channel = await connection.channel()
        await channel.declare_queue(binding.queue, durable=True, arguments=current.arguments)
        with pytest.raises(aio_pika.exceptions.ChannelPreconditionFailed):
            await channel.declare_queue(binding.queue, durable=True, arguments=earlier)
    finally:
        await connection.close()
