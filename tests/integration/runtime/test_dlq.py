"""The dead-letter tool against a real broker: listing moves nothing out, replay puts each
message back where it was first published (or straight into its work queue), once."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from subprocess import PIPE
from typing import Any

import aio_pika
import pytest
from faststream.rabbit import RabbitBroker
from faststream.rabbit.annotations import RabbitMessage

from graceperiod.contracts.topology import EVENTS_EXCHANGE, Queues
from graceperiod.devstack.testkit.fixtures import unique
from graceperiod.devstack.testkit.upstream import publish_upstream
from graceperiod.runtime.dlq import DeadLetterQueue, Origin
from graceperiod.runtime.messaging import DELIVERY_LIMIT, build_broker, declare_topology, exchange_for, queue_for
from graceperiod.runtime.middleware import PermanentMessageError
from graceperiod.runtime.settings import ServiceSettings

REGISTERED = Queues.COOLDOWN_ACCOUNT_REGISTERED
TERMINATED = Queues.COOLDOWN_LEASE_TERMINATED


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            msg = f"condition not met within {timeout}s"
            raise TimeoutError(msg)
        await asyncio.sleep(0.05)


async def run_tool(*args: str) -> str:
    """Run ``python -m graceperiod.runtime.dlq`` and return its output (it must succeed)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "graceperiod.runtime.dlq", *args, stdout=PIPE, stderr=PIPE
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, stderr.decode()
    return stdout.decode()


@dataclass
class Consumer:
    """A consumer of cooldown.account.registered behind the real reliability middleware,
    refusing every message until it is repaired."""

    repaired: bool = False
    received: dict[str, dict[str, Any]] = field(default_factory=dict)


@pytest.fixture
async def consumer(amqp_url: str) -> AsyncIterator[Consumer]:
    state = Consumer()
    broker = build_broker(ServiceSettings(amqp_url=amqp_url, retry_backoff_base_seconds=0.01), app_id="dlq-test")

    @broker.subscriber(queue_for(REGISTERED), exchange_for(REGISTERED))
    async def on_registered(body: dict[str, Any], message: RabbitMessage) -> None:
        if not state.repaired:
            raise PermanentMessageError("the account registry refuses this account")
        assert message.message_id is not None
        state.received[message.message_id] = dict(message.headers)

    await broker.connect()
    await declare_topology(broker)
    await broker.start()
    try:
        yield state
    finally:
        await broker.stop()


@pytest.fixture
async def connection(amqp_url: str) -> AsyncIterator[aio_pika.abc.AbstractConnection]:
    conn = await aio_pika.connect(amqp_url)
    try:
        yield conn
    finally:
        await conn.close()


def _registered(account_id: str) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "occurred_at": "2026-11-21T10:00:00Z",
        "account_id": account_id,
        "name": f"sandbox {account_id}",
    }


async def test_service_dead_letters_are_listed_without_being_consumed_then_replayed_to_their_origin(
    consumer: Consumer, upstream: RabbitBroker, connection: aio_pika.abc.AbstractConnection
) -> None:
    first, second = unique("m"), unique("m")
    for message_id, account in ((first, "111111111111"), (second, "222222222222")):
        await publish_upstream(upstream, "account.registered", _registered(account), message_id=message_id)
    dlq = DeadLetterQueue(connection, REGISTERED.queue)

    async def both_dead() -> bool:
        return await dlq.depth() == 2

    await eventually(both_dead)

    for _ in range(3):  # listing again and again neither loses nor consumes anything
        letters = await dlq.list()
        assert {letter.message_id for letter in letters} == {first, second}
        assert await dlq.depth() == 2
    letter = next(letter for letter in letters if letter.message_id == first)
    assert letter.kind == "bad-input"
    assert letter.reason == "PermanentMessageError: the account registry refuses this account"
    assert letter.origin == Origin(EVENTS_EXCHANGE, "account.registered")
    assert json.loads(letter.body)["account_id"] == "111111111111"

    consumer.repaired = True
    report = await dlq.replay(message_ids=[first])
    assert report.replayed == [(first, Origin(EVENTS_EXCHANGE, "account.registered"))]
    assert report.kept == [(second, "not selected")]
    assert not report.failed

    async def first_handled() -> bool:
        return first in consumer.received

    await eventually(first_handled)
    assert await dlq.depth() == 1
    headers = consumer.received[first]
    assert headers["x-gp-replay-count"] == 1
    assert headers["x-gp-replayed-from"] == "cooldown.account.registered.dlq"
    assert "x-gp-error" not in headers

    report = await dlq.replay()
    assert [message_id for message_id, _ in report.replayed] == [second]

    async def second_handled() -> bool:
        return second in consumer.received

    await eventually(second_handled)
    assert await dlq.depth() == 0
    assert set(consumer.received) == {first, second}


async def test_broker_dead_letters_past_the_delivery_limit_replay_from_x_death(
    amqp_url: str, upstream: RabbitBroker, connection: aio_pika.abc.AbstractConnection
) -> None:
    message_id = unique("m")
    body = {"schema_version": 1, "occurred_at": "2026-11-21T10:00:00Z", "lease_id": "l-1", "account_id": "333333333333"}
    await publish_upstream(
        upstream,
        "lease.terminated",
        {**body, "terminated_at": body["occurred_at"], "reason": "x"},
        message_id=message_id,
    )

    # A consumer that crashes on the message every time: RabbitMQ itself dead-letters it
    # once it has been delivered more than DELIVERY_LIMIT times.
    channel = await connection.channel()
    work = await channel.get_queue(TERMINATED.queue, ensure=False)
    dlq = DeadLetterQueue(connection, TERMINATED.queue)
    deliveries = 0

    async def crash_until_dead_lettered() -> bool:
        nonlocal deliveries
        message = await work.get(no_ack=False, fail=False)
        if message is not None:
            deliveries += 1
            await message.nack(requeue=True)
        return await dlq.depth() == 1

    await eventually(crash_until_dead_lettered, timeout=30)
    assert deliveries >= DELIVERY_LIMIT

    [letter] = await dlq.list()
    assert letter.message_id == message_id
    assert letter.kind == "delivery-limit"
    assert letter.origin == Origin(EVENTS_EXCHANGE, "lease.terminated")

    # The command-line tool, as an operator runs it.
    listed = await run_tool("--amqp-url", amqp_url, "list", TERMINATED.queue, "--json")
    [summary] = [json.loads(line) for line in listed.splitlines()]
    assert summary["message_id"] == message_id
    assert summary["origin_routing_key"] == "lease.terminated"
    replayed = await run_tool("--amqp-url", amqp_url, "replay", f"{TERMINATED.queue}.dlq")
    assert "1 replayed, 0 kept" in replayed

    back = await work.get(no_ack=False, fail=False)
    assert back is not None
    assert back.message_id == message_id
    assert json.loads(back.body)["lease_id"] == "l-1"
    headers = dict(back.headers or {})
    assert "x-death" not in headers
    assert headers["x-gp-replay-count"] == 1
    await back.ack()
    assert await dlq.depth() == 0


async def test_to_queue_replays_to_the_work_queue_only_and_unknown_origins_stay(
    consumer: Consumer, upstream: RabbitBroker, connection: aio_pika.abc.AbstractConnection
) -> None:
    message_id = unique("m")
    await publish_upstream(upstream, "account.registered", _registered("444444444444"), message_id=message_id)
    dlq = DeadLetterQueue(connection, REGISTERED.queue)

    async def dead() -> bool:
        return await dlq.depth() == 1

    await eventually(dead)
    # A dead letter nobody can trace back (published into the DLQ by hand).
    channel = await connection.channel()
    await channel.default_exchange.publish(
        aio_pika.Message(b"{}", message_id="orphan", content_type="application/json"), routing_key=dlq.name
    )

    report = await dlq.replay(dry_run=True)
    assert report.replayed == []
    assert dict(report.kept) == {
        message_id: "dry run: would replay to graceperiod.events / account.registered",
        "orphan": "origin unknown (no x-gp-original-* or x-death header): use --to-queue",
    }
    assert report.failed  # the orphan could not be replayed
    consumer.repaired = True
    report = await dlq.replay()
    assert report.replayed == [(message_id, Origin(EVENTS_EXCHANGE, "account.registered"))]
    assert [message_id_ for message_id_, _ in report.kept] == ["orphan"]
    assert report.failed
    report = await dlq.replay(to_queue=True)
    assert report.replayed == [("orphan", Origin("", REGISTERED.queue))]

    async def both_handled() -> bool:
        return {message_id, "orphan"} <= set(consumer.received)

    await eventually(both_handled)
    assert await dlq.depth() == 0
