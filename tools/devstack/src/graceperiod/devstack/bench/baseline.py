"""The baseline: raw aio-pika through the same broker, with the same delivery guarantees
(durable quorum queue, persistent messages, publisher confirms, manual acks, prefetch 32),
and no application work. Everything Grace Period does is quoted as a ratio of this."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import aio_pika
from rich.progress import Progress

from graceperiod.devstack.bench.core import Result
from graceperiod.devstack.testkit.samples import purchase_payload

CONFIRM_WINDOW = 200  # publishes in flight awaiting confirms, for baseline and pipeline alike


async def publish_pipelined(
    channel: aio_pika.abc.AbstractChannel,
    exchange: aio_pika.abc.AbstractExchange,
    bodies: list[tuple[str, bytes]],
    routing_key: str,
    *,
    rate: float | None = None,
    on_published: dict[str, float] | None = None,
    progress: Progress | None = None,
    task: object = None,
) -> float:
    """Publish persistently with publisher confirms, at most CONFIRM_WINDOW unconfirmed at a
    time, optionally paced to ``rate`` messages/s. Returns the seconds taken."""
    window = asyncio.Semaphore(CONFIRM_WINDOW)
    started = time.perf_counter()
    pending: set[asyncio.Task[object]] = set()

    async def one(message_id: str, body: bytes) -> None:
        try:
            await exchange.publish(
                aio_pika.Message(
                    body,
                    message_id=message_id,
                    content_type="application/json",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=routing_key,
            )
        finally:
            window.release()
            if progress is not None:
                progress.advance(task)  # type: ignore[arg-type]

    for index, (message_id, body) in enumerate(bodies):
        if rate:
            due = started + index / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        await window.acquire()
        if on_published is not None:
            on_published[message_id] = time.time()
        pending.add(asyncio.create_task(one(message_id, body)))
        pending = {t for t in pending if not t.done()}
    await asyncio.gather(*pending)
    return time.perf_counter() - started


async def run(amqp_url: str, count: int, progress: Progress) -> Result:
    body = json.dumps(purchase_payload()).encode()
    bodies = [(uuid.uuid4().hex, body) for _ in range(count)]
    publish_task = progress.add_task("baseline: publish (aio-pika)", total=count)
    consume_task = progress.add_task("baseline: consume (aio-pika)", total=count)

    connection = await aio_pika.connect_robust(amqp_url)
    consumer_connection = await aio_pika.connect_robust(amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        queue_name = f"bench.baseline.{uuid.uuid4().hex[:8]}"
        queue = await channel.declare_queue(queue_name, durable=True, arguments={"x-queue-type": "quorum"})
        consumer_channel = await consumer_connection.channel()
        await consumer_channel.set_qos(prefetch_count=32)
        consumer_queue = await consumer_channel.get_queue(queue_name)
        received = 0
        done = asyncio.Event()

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            nonlocal received
            json.loads(message.body)  # the decode any consumer does
            await message.ack()
            received += 1
            progress.advance(consume_task)
            if received >= count:
                done.set()

        await consumer_queue.consume(on_message)
        started = time.perf_counter()
        publish_seconds = await publish_pipelined(
            channel, channel.default_exchange, bodies, queue_name, progress=progress, task=publish_task
        )
        await asyncio.wait_for(done.wait(), timeout=300)
        total_seconds = time.perf_counter() - started
        await queue.delete(if_unused=False, if_empty=False)
    finally:
        await consumer_connection.close()
        await connection.close()

    return Result(
        name="amqp_baseline",
        description="raw aio-pika: persistent publish with confirms → quorum queue → consume + ack",
        metrics={
            "messages": count,
            "body_bytes": len(body),
            "publish_per_s": round(count / publish_seconds, 1),
            "end_to_end_per_s": round(count / total_seconds, 1),
            "seconds": round(total_seconds, 2),
        },
    )
