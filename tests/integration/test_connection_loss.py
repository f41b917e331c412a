"""A broker connection lost while handlers run: the handlers finish (their effects are not
left half-done), the consumer reconnects and consumes again, and the unacked message is
redelivered. Found by the chaos suite: aiormq cancels a closed channel's delivery tasks, so
a notifier cut off mid-send left its claim held and sent the email again later."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from urllib.parse import quote, unquote, urlsplit

import pytest
from faststream.rabbit import RabbitBroker
from pydantic import BaseModel

from graceperiod.contracts.identities import BrokerIdentity
from graceperiod.contracts.topology import Queues
from graceperiod.devstack.servers.processes import management_request
from graceperiod.devstack.testkit.fixtures import RabbitEndpoint
from graceperiod.devstack.testkit.upstream import publish_upstream
from graceperiod.runtime.messaging import build_broker, declare_topology, exchange_for, queue_for
from graceperiod.runtime.rpc import RpcClient, ServiceUnavailable
from graceperiod.runtime.settings import ServiceSettings


async def _close_connections(management_url: str, vhost: str) -> int:
    """Force-close every connection to ``vhost`` (as a broker restart does)."""
    mine: list[str] = []
    async with asyncio.timeout(20):  # the management API lists new connections a few seconds late
        while not mine:
            connections = management_request(management_url, "GET", "api/connections") or []
            mine = [c["name"] for c in connections if c.get("vhost") == vhost]
            await asyncio.sleep(0.2)
    for name in mine:
        management_request(management_url, "DELETE", f"api/connections/{quote(name, safe='')}")
    return len(mine)


async def test_a_handler_cut_off_by_a_lost_connection_finishes_and_the_message_is_redelivered(
    amqp_url: str, rabbit: RabbitEndpoint, upstream: RabbitBroker
) -> None:
    if not rabbit.management_url:
        pytest.skip("the broker's management API is not reachable")
    vhost = unquote(urlsplit(amqp_url).path.lstrip("/"))
    broker = build_broker(ServiceSettings(amqp_url=amqp_url), app_id="test")
    started: list[str] = []
    finished: list[str] = []
    cut = asyncio.Event()
    first_started = asyncio.Event()
    all_finished = asyncio.Event()
    binding = Queues.COOLDOWN_LEASE_TERMINATED

    @broker.subscriber(queue_for(binding), exchange_for(binding))
    async def handle(body: dict[str, object]) -> None:
        started.append(str(body["n"]))
        first_started.set()
        if len(started) == 1:
            await cut.wait()  # the connection dies while this first attempt is still running
            await asyncio.sleep(0.2)
        finished.append(str(body["n"]))
        if len(finished) == 3:
            all_finished.set()

    async with broker:
        await broker.connect()
        await declare_topology(broker)
        await broker.start()
        await publish_upstream(upstream, binding.routing_key, {"n": "first"}, message_id=uuid.uuid4().hex)
        await asyncio.wait_for(first_started.wait(), timeout=10)
        assert await _close_connections(rabbit.management_url, vhost) >= 1
        cut.set()
        async with asyncio.timeout(30):  # the publisher's connection was closed too: retry until confirmed
            while True:
                try:
                    await publish_upstream(upstream, binding.routing_key, {"n": "second"}, message_id="second")
                    break
                except Exception:
                    await asyncio.sleep(0.2)
        await asyncio.wait_for(all_finished.wait(), timeout=30)

    # The first attempt ran to the end although its channel died under it; the unacked
    # message came back once, and the consumer resumed after reconnecting.
    assert started[0] == "first"
    assert sorted(finished) == ["first", "first", "second"]


async def test_the_rpc_client_is_back_at_once_after_the_broker_closed_its_connection(
    amqp_url: str, rabbit: RabbitEndpoint, identity_url: Callable[[BrokerIdentity], str]
) -> None:
    """Found by the cluster chaos runs: after a broker node's restart closed the gateway's
    connection, aio-pika still called it open, every channel it opened failed with
    ``RuntimeError: ... closed``, and ``/ready`` answered 500 for 23-48 s."""
    if not rabbit.management_url:
        pytest.skip("the broker's management API is not reachable")
    vhost = unquote(urlsplit(amqp_url).path.lstrip("/"))
    client = RpcClient(identity_url(BrokerIdentity.GATEWAY), app_id="test-gateway")
    try:
        assert await client.ping() is True
        assert await _close_connections(rabbit.management_url, vhost) == 1
        await asyncio.sleep(0.5)  # the broker's Connection.Close has arrived
        for _ in range(3):
            assert await client.ping() is True
        with pytest.raises(ServiceUnavailable, match="did not answer"):  # reached the broker: nobody serves it
            await client.call(Queues.NOTIFIER_QUERIES, Ping(), Ping, timeout=0.5)
    finally:
        await client.close()


class Ping(BaseModel):
    text: str = "anyone?"
