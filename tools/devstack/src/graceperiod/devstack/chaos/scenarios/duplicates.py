"""Scenario 6: every upstream event published twice (same ``message_id``), some copies back
to back and some long after the first was handled, and every tick three times.

Upstream events: ``purchase.executed`` (recorded once, emailed once per recipient) and the
sandbox-account lifecycle (``lease.terminated``, ``account.cleanup.succeeded``: each account
released once, settled once). Ticks drive the releases; every tick goes out three times."""

from __future__ import annotations

import random

from graceperiod.contracts.topology import TICKS_EXCHANGE, Queues
from graceperiod.devstack.chaos.core import Run, scenario
from graceperiod.devstack.chaos.results import Result, Ui
from graceperiod.devstack.chaos.sizes import Size
from graceperiod.devstack.chaos.stack import ChaosStack
from graceperiod.devstack.chaos.world import tick
from graceperiod.runtime.messaging import TICK_QUEUE_MAX_LENGTH

TICKS = 10


@scenario("duplicates", "every upstream event published twice, every tick three times")
async def duplicates(stack: ChaosStack, size: Size, ui: Ui) -> Result:
    async with Run.start(stack, "duplicates", "every event twice, every tick three times", ui) as run:
        purchases = run.purchases(size.purchases)
        lifecycle = await run.add_cooldown(size.cooldown_accounts)
        ticks = [tick() for _ in range(TICKS)]
        messages = [*purchases, *purchases, *lifecycle, *lifecycle, *ticks, *ticks, *ticks]
        random.shuffle(messages)  # some copies adjacent (handled concurrently), some far apart
        # Releases need a tick after the cleanup: keep ticking, each tick three times, until the end.
        run.start_ticking(copies=3)
        await run.publish(messages, rate=size.rate * 2)
        result = await run.finish(deadline_seconds=size.deadline_seconds, settle_seconds=size.settle_seconds)

        queues = run.deployment.queues()
        tick_queues = [b.queue for b in Queues.all() if b.exchange == TICKS_EXCHANGE]
        consumed = [q for q in tick_queues if queues.get(q, {}).get("consumers")]
        for name in tick_queues:
            depth = int(queues.get(name, {}).get("messages") or 0)
            if depth > TICK_QUEUE_MAX_LENGTH:
                result.problems.append(f"{name} holds {depth} ticks (bounded at {TICK_QUEUE_MAX_LENGTH})")
        if consumed:
            result.notes.append(f"tick consumers: {', '.join(consumed)}")
        else:
            result.notes.append(
                f"no service consumes ticks on this branch: {len(ticks)}x3 ticks had no effect, "
                f"tick queues stayed bounded at ≤{TICK_QUEUE_MAX_LENGTH}; tick effects get a checker with "
                "the cooldown/revocation rewrites"
            )
        result.metrics["copies_per_purchase"] = 2
        result.metrics["copies_per_lifecycle_event"] = 2
        result.metrics["copies_per_tick"] = 3
        result.metrics["ticks_published"] = 3 * TICKS + run.ticks_sent
        return result
