"""The scenario registry and the harness every
scenario uses: deploy the workers, publish the load, inject the fault, wait for the effects,
tally them, check the queues and dead letters.

A new scenario is a function registered with :func:`scenario`::

    @scenario("kill-cooldown", "kill -9 of cooldown while accounts are released")
    async def kill_cooldown(stack: ChaosStack, size: Size, ui: Ui) -> Result:
        async with Run.start(stack, "kill-cooldown", ui) as run:
            ...
            return await run.finish(inputs=...)
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aio_pika

from graceperiod.contracts.topology import DEAD_LETTER_SUFFIX
from graceperiod.devstack.chaos.effects import EMPTY, Flow, PurchaseFlow, Tally, tally
from graceperiod.devstack.chaos.load import Outgoing, ReliablePublisher
from graceperiod.devstack.chaos.results import Result, Ui, load_average
from graceperiod.devstack.chaos.sizes import Size
from graceperiod.devstack.chaos.stack import WORKERS, ChaosStack, Deployment, Topology
from graceperiod.devstack.chaos.world import CooldownFlow, register_accounts, seed_plans, tick

#: Customer accounts (with Grace Period's role) the purchases of a run are spread over.
PURCHASE_ACCOUNTS = 3
#: After the effects, queues may hold follow-up work (revocation adding each email delivery to
#: the purchase's timeline lags behind on FerretDB): waiting continues while they shrink, and
#: a queue is *stuck* once its depth has not gone down for this long.
STALL_SECONDS = 30.0
#: How often a run that waits for tick-driven effects publishes a tick.
TICK_SECONDS = 1.0


ScenarioFn = Callable[[ChaosStack, Size, Ui], Awaitable[Result]]


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    run: ScenarioFn
    pending: str | None = None
    """Why it cannot run on this branch yet (it is reported, and skipped in pytest)."""
    long_only: bool = False
    """Runs only when asked for explicitly (the soak)."""
    topology: Topology = "single"
    """The stack it runs against: one RabbitMQ node, or the three-node cluster on test hosts."""


REGISTRY: dict[str, Scenario] = {}


def scenario(
    name: str, title: str, *, pending: str | None = None, long_only: bool = False, topology: Topology = "single"
) -> Callable[[ScenarioFn], ScenarioFn]:
    def register(fn: ScenarioFn) -> ScenarioFn:
        if name in REGISTRY:
            msg = f"scenario {name!r} registered twice"
            raise ValueError(msg)
        REGISTRY[name] = Scenario(name, title, fn, pending, long_only, topology)
        return fn

    return register


async def run_scenario(stack: ChaosStack, name: str, size: Size, ui: Ui | None = None) -> Result:
    chosen = REGISTRY[name]
    if chosen.pending is not None:
        return Result(name, chosen.title, pending=chosen.pending)
    if stack.topology != chosen.topology:
        msg = f"{name} runs on the {chosen.topology} stack, not on the {stack.topology} one"
        raise ValueError(msg)
    started = time.monotonic()
    stack.env = dict(size.env)
    result = await chosen.run(stack, size, ui or Ui())
    result.seconds = round(time.monotonic() - started, 1)
    result.metrics.setdefault("size", size.name)
    return result


class Run:
    """One scenario's deployment, flow, load and bookkeeping."""

    def __init__(self, name: str, title: str, stack: ChaosStack, deployment: Deployment, ui: Ui) -> None:
        self.name = name
        self.title = title
        self.stack = stack
        self.deployment = deployment
        self.ui = ui
        self.flow = PurchaseFlow(
            maildir=stack.smtp.maildir,
            refusals_log=stack.smtp.refusals,
            mongodb_url=stack.ferret.url,
            revocation_database=deployment.database("revocation"),
        )
        self.flows: list[Flow] = [self.flow]
        self.problems: list[str] = []
        self.notes: list[str] = []
        self.metrics: dict[str, Any] = {}
        self.inputs = 0
        self.recovered_at: float | None = None
        self.fault_at: float | None = None
        self.expected_dead_letters: dict[str, int] = {}
        self.crash_window_duplicates = 0
        """See :meth:`tolerate_crash_window`."""
        self._publisher: ReliablePublisher | None = None
        self._confirmed = 0
        self._confirmations = asyncio.Event()
        self.cooldown: CooldownFlow | None = None
        self._ticker: asyncio.Task[None] | None = None
        self.ticks_sent = 0

    @classmethod
    @contextlib.asynccontextmanager
    async def start(
        cls,
        stack: ChaosStack,
        name: str,
        title: str,
        ui: Ui,
        *,
        workers: Sequence[str] = WORKERS,
        env: dict[str, str] | None = None,
    ) -> AsyncIterator[Run]:
        async with stack.deploy(name, workers=workers, env=env) as deployment:
            run = cls(name, title, stack, deployment, ui)
            if "revocation" in workers:
                run.flow.accounts = await register_accounts(deployment.amqp_url, stack.aws.url, PURCHASE_ACCOUNTS)
            async with ReliablePublisher(deployment.amqp_url) as publisher:
                run._publisher = publisher
                try:
                    yield run
                finally:
                    await run._stop_ticking()
                    if run.cooldown is not None:
                        await run.cooldown.close()

    async def add_cooldown(self, accounts: int) -> list[Outgoing]:
        """Seed ``accounts`` sandbox accounts (see :class:`CooldownFlow`), watch their releases,
        and return their lease.terminated + cleanup.succeeded messages (to publish)."""
        flow = CooldownFlow(
            mongodb_url=self.stack.ferret.url,
            database=self.deployment.database("cooldown"),
            amqp_url=self.deployment.amqp_url,
            vhost_tag=self.deployment.vhost,
        )
        await flow.start()
        self.cooldown = flow
        self.flows.append(flow)
        return flow.lifecycle(await flow.seed(accounts))

    def start_ticking(self, every: float = TICK_SECONDS, *, copies: int = 1) -> None:
        """Publish a tick every ``every`` seconds until the run ends (cooldown releases on ticks),
        each ``copies`` times (same message id)."""

        async def ticking() -> None:
            while True:
                one = tick()
                for _ in range(copies):
                    await self.publisher.publish(one)
                    self.ticks_sent += 1
                await asyncio.sleep(every)

        if self._ticker is None:
            self._ticker = asyncio.create_task(ticking())

    async def _stop_ticking(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None

    @property
    def publisher(self) -> ReliablePublisher:
        assert self._publisher is not None
        return self._publisher

    def purchases(self, count: int, **kwargs: Any) -> list[Outgoing]:
        return [self.flow.purchase(**kwargs) for _ in range(count)]

    async def publish(
        self, messages: Sequence[Outgoing], *, rate: float | None = None, label: str = "publish"
    ) -> float:
        """Publish (every message confirmed, retried across faults); ``inputs`` counts them.
        The Savings Plans of new purchases are seeded in the AWS endpoint first."""
        await seed_plans(self.stack.aws.url, self.flow.unseeded())
        task = self.ui.task(f"{self.name}: {label}", len(messages))
        done = 0

        def on_confirmed(_: Outgoing) -> None:
            nonlocal done
            done += 1
            self._confirmed += 1
            self._confirmations.set()
            self.ui.update(task, done)

        seconds = await self.publisher.publish_all(messages, rate=rate, on_confirmed=on_confirmed)
        self.inputs += len(messages)
        return seconds

    def publish_in_background(
        self, messages: Sequence[Outgoing], *, rate: float | None = None, label: str = "publish"
    ) -> asyncio.Task[float]:
        return asyncio.create_task(self.publish(messages, rate=rate, label=label))

    async def when_confirmed(self, count: int) -> None:
        while self._confirmed < count:
            self._confirmations.clear()
            await self._confirmations.wait()

    def tolerate_crash_window(self, limit: int) -> None:
        """Accept up to ``limit`` duplicated emails, each a resend of the *same* email (one
        Message-ID): a process killed after the mail server accepted an email and before the
        record of it was stored cannot know it was sent. SMTP has no idempotent submission,
        so no design closes that window; the stable Message-ID lets mail systems drop the copy."""
        self.crash_window_duplicates = limit

    def fault(self, what: str) -> None:
        self.fault_at = time.monotonic()
        self.ui.note(f"{self.name}: {what}")

    def recovered(self, what: str) -> None:
        self.recovered_at = time.monotonic()
        self.ui.note(f"{self.name}: {what}")

    async def observe(self) -> Tally:
        total = EMPTY
        for flow in self.flows:
            total = total + tally(flow.expected(), await flow.observe())
        return total

    async def wait_for_effects(self, *, deadline_seconds: float, settle_seconds: float) -> tuple[Tally, float | None]:
        """Wait until every expected effect is seen (or the deadline), then keep watching for
        ``settle_seconds`` so late duplicates are caught. Returns the tally and when it was complete."""
        expected = sum(sum(flow.expected().values()) for flow in self.flows)
        task = self.ui.task(f"{self.name}: effects", expected)
        deadline = time.monotonic() + deadline_seconds
        complete_at: float | None = None
        current = await self.observe()
        while time.monotonic() < deadline:
            current = await self.observe()
            self.ui.update(task, current.expected - current.lost)
            if current.complete:
                complete_at = time.monotonic()
                # Ticks were only needed to drive the effects; a steady trickle would keep
                # the tick queues from draining.
                await self._stop_ticking()
                break
            await asyncio.sleep(0.5)
        if complete_at is not None:
            await asyncio.sleep(settle_seconds)
            current = await self.observe()
        return current, complete_at

    async def drain(self, *, timeout: float) -> dict[str, int]:
        """Wait for the follow-up work the effects leave behind to drain, as long as it makes
        progress (at most ``timeout``); record how long it took. Returns what is left."""
        started = time.monotonic()
        deadline = started + timeout
        best: int | None = None
        progress_at = started
        while True:
            left = await self.wait_until_drained(timeout=0)
            total = sum(left.values())
            now = time.monotonic()
            if best is None or total < best:
                best, progress_at = total, now
            if not left or now >= deadline or now - progress_at >= STALL_SECONDS:
                break
            await asyncio.sleep(1.0)
        took = round(time.monotonic() - started, 1)
        self.metrics["drain_s"] = max(took, float(self.metrics.get("drain_s", 0.0)))
        return left

    async def wait_until_drained(self, *, timeout: float) -> dict[str, int]:
        """Wait until the consumed queues hold nothing (ready or unacked); returns what is left."""
        deadline = time.monotonic() + timeout
        left: dict[str, int] = {}
        while True:
            queues = await asyncio.to_thread(self.deployment.queues)
            left = {
                name: int(q.get("messages") or 0)
                for name, q in queues.items()
                if not name.endswith(DEAD_LETTER_SUFFIX) and q.get("consumers") and q.get("messages")
            }
            if not left or time.monotonic() >= deadline:
                return left
            await asyncio.sleep(1.0)

    async def dead_letters(self) -> dict[str, int]:
        """Messages in each ``<queue>.dlq``, now (passive declares: the management API's
        counts lag by seconds, long enough to see dead letters a scenario already took)."""
        queues = await asyncio.to_thread(self.deployment.queues)
        names = [name for name in queues if name.endswith(DEAD_LETTER_SUFFIX)]
        connection = await aio_pika.connect(self.deployment.amqp_url)
        try:
            channel = await connection.channel()
            found: dict[str, int] = {}
            for name in names:
                queue = await channel.declare_queue(name, passive=True)
                if count := int(queue.declaration_result.message_count or 0):
                    found[name.removesuffix(DEAD_LETTER_SUFFIX)] = count
            return found
        finally:
            await connection.close()

    async def finish(self, *, deadline_seconds: float, settle_seconds: float) -> Result:
        counted, complete_at = await self.wait_for_effects(
            deadline_seconds=deadline_seconds, settle_seconds=settle_seconds
        )
        left = await self.drain(timeout=deadline_seconds)
        if complete_at is not None:
            counted = await self.observe()  # whatever the drained follow-up work did counts too
        else:
            self.problems.append(
                f"{counted.lost} of {counted.expected} effects still missing after {deadline_seconds:.0f}s "
                f"(e.g. {', '.join(counted.lost_examples)}); messages still queued: {left or 'none'} "
                "(queued ones are late, not lost)"
            )
        tolerated = self._judge_duplicates(counted)
        letters = await self.dead_letters()
        if letters != self.expected_dead_letters:
            self.problems.append(f"dead letters {letters or 'none'}, expected {self.expected_dead_letters or 'none'}")
        if left:
            await self._report_stuck(left, deadline_seconds)
        if dead := self.deployment.dead():
            self.problems.append(f"service processes exited on their own: {dead}")
        recover = None
        if complete_at is not None and self.recovered_at is not None:
            recover = round(max(0.0, complete_at - self.recovered_at), 1)
        self._gather_metrics(letters)
        return Result(
            scenario=self.name,
            title=self.title,
            inputs_sent=self.inputs,
            effects_expected=counted.expected,
            effects_observed=counted.observed,
            lost=counted.lost,
            duplicated=counted.duplicated + counted.unexpected,
            recover_seconds=recover,
            tolerated_duplicates=tolerated,
            problems=self.problems,
            notes=self.notes,
            metrics=self.metrics,
        )

    def _judge_duplicates(self, counted: Tally) -> int:
        """Records duplicated and unexpected effects as problems, except crash-window resends
        (every duplicate an email resent with its Message-ID, within the scenario's bound);
        returns the duplicates tolerated."""
        tolerated = 0
        if counted.duplicated:
            ids = self.flow.duplicate_message_ids()
            same = sum(1 for n in ids.values() if n == 1)
            text = (
                f"{counted.duplicated} duplicated effects (e.g. {', '.join(counted.duplicated_examples)}); "
                f"{same} of {len(ids)} duplicated emails carry one Message-ID"
            )
            all_resends = same == len(ids) and sum(ids.values()) > 0 and counted.duplicated == len(ids)
            if all_resends and counted.duplicated <= self.crash_window_duplicates:
                tolerated = self.crash_window_duplicates
                self.notes.append(f"{text}: crash-window resends, within the bound of {tolerated}")
            else:
                self.problems.append(text)
        if counted.unexpected:
            self.problems.append(
                f"{counted.unexpected} unexpected effects (e.g. {', '.join(counted.unexpected_examples)})"
            )
        return tolerated

    async def _report_stuck(self, left: dict[str, int], deadline_seconds: float) -> None:
        queues = await asyncio.to_thread(self.deployment.queues)
        detail = {
            name: {k: queues.get(name, {}).get(k) for k in ("messages_ready", "messages_unacknowledged", "consumers")}
            for name in left
        }
        self.problems.append(
            f"queues stuck (no progress for {STALL_SECONDS:.0f}s, or {deadline_seconds:.0f}s passed): {left} ({detail})"
        )

    def _gather_metrics(self, letters: dict[str, int]) -> None:
        stats = self.publisher.stats
        self.metrics |= {
            "publish_attempts": stats.attempts,
            "publish_retries": stats.retries,
            "publisher_reconnects": stats.reconnects,
            "publish_failures": stats.failures,
            "longest_unconfirmed_s": round(stats.longest_unconfirmed_seconds, 2),
            "dead_letters": letters,
            "load_average": load_average(),
            "recorded_without_aws_read": len(self.flow.recorded_without_aws),
        }
        if self.cooldown is not None:
            self.metrics["ticks_sent"] = self.ticks_sent
            self.metrics["settled_event_copies"] = self.cooldown.settled_copies
        if self.flow.recorded_without_aws:
            self.notes.append(
                f"{len(self.flow.recorded_without_aws)} purchases recorded without an AWS read "
                "(self-service window unknown; kept for a later read)"
            )
