"""RPC over the real broker: replies are typed, silence becomes ServiceUnavailable, commands outlive callers."""

from __future__ import annotations

import asyncio

import pytest
from faststream.rabbit import RabbitBroker
from pydantic import BaseModel

from graceperiod.contracts.identities import BrokerIdentity
from graceperiod.contracts.topology import Queues
from graceperiod.runtime.messaging import build_broker, declare_topology, queue_for
from graceperiod.runtime.rpc import BadReply, ServiceUnavailable, call
from graceperiod.runtime.settings import ServiceSettings


class Ping(BaseModel):
    text: str


class Pong(BaseModel):
    text: str
    served_by: str


async def _client(amqp_url: str) -> RabbitBroker:
    broker = build_broker(ServiceSettings(amqp_url=amqp_url), app_id="test-client")
    await broker.connect()
    await declare_topology(broker)
    await broker.start()
    return broker


async def test_a_query_gets_its_typed_reply(amqp_url: str) -> None:
    server = build_broker(ServiceSettings(amqp_url=amqp_url), app_id="test-server")

    @server.subscriber(queue_for(Queues.COOLDOWN_QUERIES))
    async def answer(body: Ping) -> Pong:
        return Pong(text=body.text.upper(), served_by="cooldown")

    client = await _client(amqp_url)
    async with server:
        await server.start()
        reply = await call(
            client, Queues.COOLDOWN_QUERIES, Ping(text="hi"), Pong, timeout=5, user_id=BrokerIdentity.GATEWAY
        )
    await client.stop()
    assert reply == Pong(text="HI", served_by="cooldown")


async def test_an_unexpected_reply_body_is_reported_not_passed_on(amqp_url: str) -> None:
    server = build_broker(ServiceSettings(amqp_url=amqp_url), app_id="test-server")

    @server.subscriber(queue_for(Queues.COOLDOWN_QUERIES))
    async def answer(body: Ping) -> dict[str, str]:
        return {"unexpected": body.text}

    client = await _client(amqp_url)
    async with server:
        await server.start()
        with pytest.raises(BadReply, match="unexpected body"):
            await call(
                client, Queues.COOLDOWN_QUERIES, Ping(text="hi"), Pong, timeout=5, user_id=BrokerIdentity.GATEWAY
            )
    await client.stop()


async def test_silence_is_service_unavailable_and_a_command_is_kept_for_later(amqp_url: str) -> None:
    client = await _client(amqp_url)
    with pytest.raises(ServiceUnavailable, match=r"the revocation service did not answer within 0\.5 s"):
        await call(
            client, Queues.REVOCATION_COMMANDS, Ping(text="later"), Pong, timeout=0.5, user_id=BrokerIdentity.GATEWAY
        )
    with pytest.raises(ServiceUnavailable):
        await call(
            client, Queues.REVOCATION_QUERIES, Ping(text="stale"), Pong, timeout=0.5, user_id=BrokerIdentity.GATEWAY
        )

    # The service comes up afterwards: the command is still there, the expired query is not.
    seen: list[str] = []
    server = build_broker(ServiceSettings(amqp_url=amqp_url), app_id="test-server")

    @server.subscriber(queue_for(Queues.REVOCATION_COMMANDS))
    async def on_command(body: Ping) -> None:
        seen.append(body.text)

    @server.subscriber(queue_for(Queues.REVOCATION_QUERIES))
    async def on_query(body: Ping) -> None:
        seen.append(body.text)

    async with server:
        await server.start()
        for _ in range(100):
            if seen:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
    await client.stop()
    assert seen == ["later"]
