"""The concurrent RPC client on the real broker: calls overlap, late replies are dropped,
the request id travels with the request, silence and a missing broker are ServiceUnavailable."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable

import aio_pika
import aiormq
import pytest
from aio_pika.abc import AbstractIncomingMessage
from pydantic import BaseModel

from graceperiod.contracts.identities import BrokerIdentity
from graceperiod.contracts.topology import Queues
from graceperiod.runtime.messaging import build_broker, declare_topology
from graceperiod.runtime.middleware import correlation_scope
from graceperiod.runtime.rpc import RpcClient, ServiceUnavailable
from graceperiod.runtime.settings import ServiceSettings


class Ping(BaseModel):
    text: str
    delay: float = 0.0


class Pong(BaseModel):
    text: str


Answer = Callable[[AbstractIncomingMessage], Awaitable[None]]


@pytest.fixture
async def topology(amqp_url: str) -> None:
    broker = build_broker(ServiceSettings(amqp_url=amqp_url), app_id="test-topology")
    await broker.connect()
    await declare_topology(broker)
    await broker.stop()


@pytest.fixture
async def peer(amqp_url: str, topology: None) -> AsyncIterator[Callable[[str, Answer], Awaitable[None]]]:
    """A raw AMQP consumer answering on a service's queue (a test peer, not a service)."""
    connection = await aio_pika.connect(amqp_url)
    channel = await connection.channel()
    await channel.set_qos(prefetch_count=50)

    async def serve(queue_name: str, answer: Answer) -> None:
        queue = await channel.get_queue(queue_name, ensure=False)
        await queue.consume(answer)

    yield serve
    await connection.close()


async def reply(message: AbstractIncomingMessage, body: BaseModel) -> None:
    """Answer on the channel the request came in on (direct reply-to needs no declaration)."""
    assert message.reply_to
    await message.channel.basic_publish(
        body.model_dump_json().encode(),
        routing_key=message.reply_to,
        properties=aiormq.spec.Basic.Properties(correlation_id=message.correlation_id),
    )


@pytest.fixture
async def client(identity_url: Callable[[BrokerIdentity], str]) -> AsyncIterator[RpcClient]:
    rpc = RpcClient(identity_url(BrokerIdentity.GATEWAY), app_id="test-gateway")
    yield rpc
    await rpc.close()


async def test_calls_are_in_flight_together(client: RpcClient, peer: Callable[[str, Answer], Awaitable[None]]) -> None:
    arrived: list[AbstractIncomingMessage] = []
    all_in = asyncio.Event()

    async def answer(message: AbstractIncomingMessage) -> None:
        await message.ack()
        arrived.append(message)
        if len(arrived) == 5:
            all_in.set()
        # Nobody is answered before all five requests reached the service: a client that
        # sends one request at a time would time out here.
        await all_in.wait()
        await reply(message, Pong(text=json.loads(message.body)["text"].upper()))

    await peer(Queues.COOLDOWN_QUERIES.queue, answer)
    replies = await asyncio.gather(
        *(client.call(Queues.COOLDOWN_QUERIES, Ping(text=f"q{i}"), Pong, timeout=10) for i in range(5))
    )
    assert [r.text for r in replies] == ["Q0", "Q1", "Q2", "Q3", "Q4"]


async def test_a_late_reply_is_never_taken_for_the_next_answer(
    client: RpcClient, peer: Callable[[str, Answer], Awaitable[None]]
) -> None:
    async def answer(message: AbstractIncomingMessage) -> None:
        await message.ack()
        ping = Ping.model_validate_json(message.body)

        async def later() -> None:
            await asyncio.sleep(ping.delay)
            await reply(message, Pong(text=ping.text))

        asyncio.get_running_loop().create_task(later())

    await peer(Queues.REVOCATION_QUERIES.queue, answer)
    with correlation_scope("req-same"):
        with pytest.raises(ServiceUnavailable, match=r"the revocation service did not answer within 0\.3 s"):
            await client.call(Queues.REVOCATION_QUERIES, Ping(text="first", delay=0.8), Pong, timeout=0.3)
        # The first reply arrives while the second call (same request id) is waiting.
        second = await client.call(Queues.REVOCATION_QUERIES, Ping(text="second", delay=1.0), Pong, timeout=5)
    assert second.text == "second"


async def test_the_request_id_travels_with_the_command(
    client: RpcClient, peer: Callable[[str, Answer], Awaitable[None]]
) -> None:
    seen: list[AbstractIncomingMessage] = []

    async def answer(message: AbstractIncomingMessage) -> None:
        await message.ack()
        seen.append(message)
        await reply(message, Pong(text="ok"))

    await peer(Queues.REVOCATION_COMMANDS.queue, answer)
    with correlation_scope("req-42"):
        await client.call(Queues.REVOCATION_COMMANDS, Ping(text="x"), Pong, timeout=5, message_id="cmd-1")
    (message,) = seen
    assert message.headers["x-request-id"] == "req-42"
    assert message.correlation_id is not None
    assert message.correlation_id.startswith("req-42.")
    assert message.message_id == "cmd-1"
    assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert message.content_type == "application/json"


@pytest.mark.usefixtures("topology")
async def test_silence_and_a_missing_broker_are_service_unavailable(client: RpcClient) -> None:
    with pytest.raises(ServiceUnavailable, match=r"did not answer within 0\.5 s"):
        await client.call(Queues.NOTIFIER_QUERIES, Ping(text="anyone?"), Pong, timeout=0.5)

    nowhere = RpcClient("amqp://guest:guest@127.0.0.1:1/", app_id="test-gateway", connect_timeout=0.5)
    with pytest.raises(ServiceUnavailable, match="message broker cannot be reached"):
        await nowhere.call(Queues.NOTIFIER_QUERIES, Ping(text="anyone?"), Pong, timeout=2)
    assert await nowhere.ping(timeout=1) is False
    assert await client.ping() is True
    await nowhere.close()
