"""Scenarios 1-4: a process or server dies or goes away while purchases flow.

1. ``kill-<service>``: ``kill -9`` of one worker, started again after ``down_seconds``.
2. ``rabbitmq-restart``: the broker stops and starts again (same node, same data).
3. ``ferretdb-outage``: the database is down for ``outage_seconds``.
4. ``smtp-outage``: the mail server is down for ``outage_seconds``; some recipients are
   refused for good (550) and must be tried exactly once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from pymongo import AsyncMongoClient

from graceperiod.devstack.chaos.core import Run, scenario
from graceperiod.devstack.chaos.results import Result, Ui
from graceperiod.devstack.chaos.sizes import Size
from graceperiod.devstack.chaos.stack import WORKERS, ChaosStack

KILL_TARGETS = ("revocation", "notifier", "cooldown")
#: Emails a notifier replica sends at once (``NOTIFIER_MAX_CONCURRENT_SENDS``, default 8): a
#: kill -9 can catch each of them between the mail server's 250 and the record of it.
NOTIFIER_CONCURRENT_SENDS = 8
#: External effects a crash can leave unrecorded, per killed service (see Run.tolerate_crash_window).
CRASH_WINDOW = {"notifier": NOTIFIER_CONCURRENT_SENDS}


async def under_load(
    stack: ChaosStack,
    size: Size,
    ui: Ui,
    *,
    name: str,
    title: str,
    inject: Callable[[Run], Awaitable[None]],
    rejected_every: int = 0,
    cooldown: bool = False,
    check: Callable[[Run, Result], Awaitable[None]] | None = None,
    workers: Sequence[str] = WORKERS,
    prepare: Callable[[Run], Awaitable[None]] | None = None,
) -> Result:
    """Deploy ``workers`` (then ``prepare``, e.g. more replicas) and publish ``size.purchases``
    at ``size.rate`` (with ``cooldown``, also the lifecycle of ``size.cooldown_accounts`` sandbox
    accounts, interleaved, and a tick every second); at 20% confirmed, ``inject`` the fault (it
    returns when the system is back); then wait for every effect, and run ``check`` while the
    deployment still exists."""
    async with Run.start(stack, name, title, ui, workers=workers) as run:
        if prepare is not None:
            await prepare(run)
        messages = [
            run.flow.purchase(rejected_requester=bool(rejected_every) and index % rejected_every == 0)
            for index in range(size.purchases)
        ]
        if cooldown:
            lifecycle = await run.add_cooldown(size.cooldown_accounts)
            step = max(1, len(messages) // max(1, len(lifecycle)))
            for index, message in enumerate(lifecycle):
                messages.insert(min(len(messages), (index + 1) * step), message)
            run.start_ticking()
        load = run.publish_in_background(messages, rate=size.rate)
        await run.when_confirmed(int(len(messages) * 0.2))
        await inject(run)
        await load
        result = await run.finish(deadline_seconds=size.deadline_seconds, settle_seconds=size.settle_seconds)
        if check is not None:
            await check(run, result)
        return result


def _kill_title(target: str) -> str:
    what = "accounts are released and purchases flow" if target == "cooldown" else "purchases flow"
    return f"kill -9 of {target} while {what}, then restart"


def _kill_scenario(target: str) -> Callable[[ChaosStack, Size, Ui], Awaitable[Result]]:
    name = f"kill-{target}"
    title = _kill_title(target)

    async def run(stack: ChaosStack, size: Size, ui: Ui) -> Result:
        async def inject(run: Run) -> None:
            run.tolerate_crash_window(CRASH_WINDOW.get(target, 0))
            run.fault(f"kill -9 {target}")
            run.deployment.kill(target)
            await asyncio.sleep(size.down_seconds)
            await run.deployment.restart(target)
            run.recovered(f"{target} started again")

        return await under_load(stack, size, ui, name=name, title=title, inject=inject, cooldown=target == "cooldown")

    return run


for _target in KILL_TARGETS:
    scenario(f"kill-{_target}", _kill_title(_target))(_kill_scenario(_target))


RABBITMQ_RESTART = "RabbitMQ stopped and started again during load"


@scenario("rabbitmq-restart", RABBITMQ_RESTART)
async def rabbitmq_restart(stack: ChaosStack, size: Size, ui: Ui) -> Result:
    async def inject(run: Run) -> None:
        run.fault("RabbitMQ stopping")
        await asyncio.to_thread(stack.rabbit.stop)
        await asyncio.to_thread(stack.rabbit.start, 120)
        run.recovered("RabbitMQ started again")

    async def check(run: Run, result: Result) -> None:
        if run.publisher.stats.retries == 0:
            result.notes.append("the publisher needed no retry (its publishes waited for the reconnection)")

    return await under_load(
        stack, size, ui, name="rabbitmq-restart", title=RABBITMQ_RESTART, inject=inject, check=check
    )


@scenario("ferretdb-outage", "FerretDB stopped during load, started again; nothing dead-lettered")
async def ferretdb_outage(stack: ChaosStack, size: Size, ui: Ui) -> Result:
    async def inject(run: Run) -> None:
        run.fault(f"FerretDB stopped for {size.outage_seconds:g}s")
        await asyncio.to_thread(stack.ferret.stop)
        await asyncio.sleep(size.outage_seconds)
        await asyncio.to_thread(stack.ferret.start)
        run.recovered("FerretDB started again")
        run.metrics["outage_seconds"] = size.outage_seconds

    async def check(run: Run, result: Result) -> None:
        # Retries are what rode out the outage; dead letters (checked by finish) must be none.
        result.metrics["retried"] = {
            service: run.deployment.metric(service, "graceperiod_messages_retried_total")
            + run.deployment.metric(service, "graceperiod_record_retries_total")
            for service in ("revocation", "notifier")
        }

    return await under_load(
        stack,
        size,
        ui,
        name="ferretdb-outage",
        title=f"FerretDB down {size.outage_seconds:g}s during load",
        inject=inject,
        check=check,
    )


REJECTED_EVERY = 5


@scenario("smtp-outage", "SMTP server down during load, then up; some recipients refused for good (550)")
async def smtp_outage(stack: ChaosStack, size: Size, ui: Ui) -> Result:
    async def inject(run: Run) -> None:
        run.fault(f"SMTP server stopped for {size.outage_seconds:g}s")
        await asyncio.to_thread(stack.smtp.stop)
        await asyncio.sleep(size.outage_seconds)
        await asyncio.to_thread(stack.smtp.start)
        run.recovered("SMTP server started again")
        run.metrics["outage_seconds"] = size.outage_seconds

    async def check(run: Run, result: Result) -> None:
        refused = sum(1 for key in run.flow.expected() if key.startswith("refused:"))
        recorded = await rejected_deliveries(stack.ferret.url, run.deployment.database("notifier"))
        result.metrics["refused_recipients"] = refused
        result.metrics["rejections_recorded_by_notifier"] = recorded
        if recorded is None:
            result.notes.append("the notifier keeps no 'deliveries' collection: rejections not checked in its store")
        elif recorded != refused:
            result.problems.append(f"the notifier recorded {recorded} rejections, expected {refused}")
        result.notes.append(
            f"every {REJECTED_EVERY}th requester is refused with 550: each must be tried exactly once "
            "(counted in the sink's refusal log) and recorded as rejected"
        )

    return await under_load(
        stack,
        size,
        ui,
        name="smtp-outage",
        title=f"SMTP down {size.outage_seconds:g}s during load; 550 recipients",
        inject=inject,
        rejected_every=REJECTED_EVERY,
        check=check,
    )


async def rejected_deliveries(mongodb_url: str, database: str) -> int | None:
    """Rejections the notifier recorded (its ``deliveries`` collection); None when it has none."""
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(mongodb_url, serverSelectionTimeoutMS=3000)
    try:
        if "deliveries" not in await client[database].list_collection_names():
            return None
        return await client[database]["deliveries"].count_documents({"status": "rejected"})
    finally:
        await client.close()
