"""Scenario 7: two replicas of every worker share the load (each handles messages of its own,
counted on its /metrics); no effect twice; throughput of one replica vs two, measured in the
same run on the same servers (reported, not checked: on a small shared machine a second
replica need not be faster).

Three phases, each waiting for all its effects: (a) one replica each, ``replica_purchases``
at full speed; (b) a second replica of every worker started, the same number again;
(c) two replicas, every purchase and every sandbox-account lifecycle event published twice,
ticks every second, so copies of one message race on two replicas (claims, unique inserts
and conditional updates must keep the effects single: one record, one email per recipient,
one release per account).
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Sequence

from graceperiod.devstack.chaos.core import Run, scenario
from graceperiod.devstack.chaos.load import Outgoing
from graceperiod.devstack.chaos.results import Result, Ui, load_average
from graceperiod.devstack.chaos.sizes import Size
from graceperiod.devstack.chaos.stack import WORKERS, ChaosStack


async def _phase(
    run: Run, count: int, size: Size, *, label: str, twice: bool = False, extra: Sequence[Outgoing] = ()
) -> float:
    """Publish ``count`` purchases (and ``extra``) as fast as the broker confirms; seconds until all effects."""
    purchases = [*run.purchases(count), *extra]
    messages = [*purchases, *purchases] if twice else purchases
    if twice:
        random.shuffle(messages)
    started = time.monotonic()
    await run.publish(messages, label=label)
    counted, complete_at = await run.wait_for_effects(deadline_seconds=size.deadline_seconds, settle_seconds=0)
    if complete_at is None:
        run.problems.append(f"{label}: {counted.lost} effects missing after {size.deadline_seconds:.0f}s")
        return float("nan")
    # The next phase starts from empty queues (follow-up work of this one must not slow it).
    await run.drain(timeout=size.deadline_seconds)
    return complete_at - started


@scenario("replicas", "two replicas of every worker: no effect twice; throughput 1 vs 2 replicas")
async def replicas(stack: ChaosStack, size: Size, ui: Ui) -> Result:
    count = size.replica_purchases
    async with Run.start(stack, "replicas", "two replicas of every worker share the load", ui) as run:
        one = await _phase(run, count, size, label="1 replica: publish")
        for worker in WORKERS:
            await run.deployment.start(worker)
        two = await _phase(run, count, size, label="2 replicas: publish")
        lifecycle = await run.add_cooldown(size.cooldown_accounts)
        run.start_ticking()
        await _phase(run, count // 2, size, label="2 replicas: every event twice", twice=True, extra=lifecycle)
        result = await run.finish(deadline_seconds=size.deadline_seconds, settle_seconds=size.settle_seconds)
        per_s_one, per_s_two = count / one, count / two
        handled = "graceperiod_messages_handled_total"
        result.metrics |= {
            "handled_per_replica": {
                worker: [run.deployment.metric(worker, handled, replica=index) for index in (0, 1)]
                for worker in WORKERS
            },
            "purchases_per_phase": count,
            "one_replica_purchases_per_s": round(per_s_one, 1),
            "two_replicas_purchases_per_s": round(per_s_two, 1),
            "ratio_two_vs_one": round(per_s_two / per_s_one, 2),
            "cpus": os.cpu_count(),
            "load_average_after": load_average(),
        }
        result.notes.append(
            f"throughput two vs one replica: {per_s_two / per_s_one:.2f}x on {os.cpu_count()} CPU cores shared "
            "by RabbitMQ, FerretDB, the SMTP sink, the load generator and every replica"
        )
        return result
