"""A release pass stores and announces a batch at a time (``ChangeProtocol.finish_many``) with
several batches in flight: every account still released and announced exactly once between
concurrent passes, and a pass that stops between storing a batch and announcing it leaves
nothing half-released — over real RabbitMQ and FerretDB."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from faststream.rabbit import RabbitBroker

from graceperiod.contracts.base import Message
from graceperiod.contracts.cooldown import AccountSettled, AccountStatus, AccountStatusChanged
from graceperiod.cooldown.options import CooldownOptions
from graceperiod.cooldown.service import CooldownService
from graceperiod.runtime.messaging import EventPublisher, EventSink

from .conftest import Cooldown
from .test_release import _cooling_pool, _released_once

S = AccountStatus
SMALL_BATCHES = CooldownOptions(release_batch_size=7, release_pipeline=3)


def _pass(cooldown: Cooldown, events: EventSink, options: CooldownOptions = SMALL_BATCHES) -> CooldownService:
    """A release worker of its own over the service's database (another replica)."""
    return CooldownService(store=cooldown.main.store, events=events, clock=cooldown.clock, options=options)


class _StopsBeforeAnnouncing:
    """A worker that stops (its publish fails) after storing its batch's accounts."""

    async def publish(self, event: Message, *, message_id: str) -> None:
        raise ConnectionError("the worker stopped here")


async def test_concurrent_batched_passes_release_and_announce_each_account_once(
    two_replicas: Cooldown, rpc_client: RabbitBroker
) -> None:
    cooldown = two_replicas
    ids, due = await _cooling_pool(cooldown, 40)
    cooldown.clock.set(due)
    events = EventPublisher(rpc_client, [AccountStatusChanged, AccountSettled])
    passes = [_pass(cooldown, events) for _ in range(3)]
    counts = await asyncio.gather(*(p.release_due() for p in passes), cooldown.main.service.release_due())
    assert sum(counts) == len(ids)
    await _released_once(cooldown, ids)


async def test_a_batch_stored_but_not_announced_is_announced_by_a_later_pass(
    cooldown: Cooldown, rpc_client: RabbitBroker
) -> None:
    ids, due = await _cooling_pool(cooldown, 10)
    cooldown.clock.set(due)
    try:
        await _pass(cooldown, _StopsBeforeAnnouncing()).release_due()
    except ConnectionError:
        pass
    else:
        raise AssertionError("the stopping worker's pass should have failed")
    store = cooldown.main.store
    assert len(await store.due(cooldown.clock.now(), limit=100)) == len(ids)  # the entries: their outbox

    # While its claims are young, another pass leaves them to that worker.
    events = EventPublisher(rpc_client, [AccountStatusChanged, AccountSettled])
    assert await _pass(cooldown, events).release_due() == 0
    assert len(await store.due(cooldown.clock.now(), limit=100)) == len(ids)

    cooldown.clock.advance(timedelta(seconds=31))
    await _pass(cooldown, events).release_due()
    assert await store.due(cooldown.clock.now(), limit=100) == []
    await _released_once(cooldown, ids)
