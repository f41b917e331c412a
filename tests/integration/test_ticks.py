"""Tick queues keep only the newest few ticks and drop the rest, without dead-lettering them
(found by the chaos suite: drop-head overflow used to fill every ``*.ticks.dlq``)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit

import pytest
from faststream.rabbit import RabbitBroker

from graceperiod.contracts.topology import QueueKind, Queues, dead_letter_queue
from graceperiod.contracts.upstream import Tick
from graceperiod.devstack.servers import management_request
from graceperiod.devstack.testing import RabbitEndpoint
from graceperiod.runtime.messaging import TICK_QUEUE_MAX_LENGTH, publish_tick


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
