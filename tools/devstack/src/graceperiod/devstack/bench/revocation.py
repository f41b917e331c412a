"""Revoke commands against the local AWS endpoint, at a fixed offered rate (for ``make bench``).

:func:`bench_revoke` seeds one customer account with ``count`` queued Savings Plans, records a
purchase for each, then sends one ``RevokePurchase`` per purchase on an open-loop schedule
(``rate`` per second, not waiting for answers) and measures, per command, the time from publish
to the reply carrying the outcome. "Own" time subtracts what the emulator itself spent in the
AWS calls of that purchase (its server-side duration per call, from the call log); loopback HTTP
transport therefore still counts as ours, which errs on the pessimistic side.

Replies are read with RabbitMQ direct reply-to and correlation ids on one channel, so many
commands are in flight at once (FastStream's ``broker.request`` sends one at a time).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika
from faststream.rabbit import RabbitBroker

from graceperiod.contracts.enums import ActionPath, Permission
from graceperiod.contracts.identities import BrokerIdentity
from graceperiod.contracts.revocation import CommandReply, RegisterAccountRole, RevokePurchase
from graceperiod.contracts.rpc import Actor, CommandStatus
from graceperiod.contracts.topology import Queues
from graceperiod.devstack.aws_endpoint.control import EmulatorControl
from graceperiod.devstack.bench.core import MachineCpu, until_done
from graceperiod.devstack.testkit.fixtures import running
from graceperiod.devstack.testkit.samples import purchase_payload
from graceperiod.devstack.testkit.upstream import connect, publish_upstream
from graceperiod.runtime.actor_assertions import tool_signer
from graceperiod.runtime.rpc import signed

_ROLE = "GracePeriodRevocation"
_ACTOR = Actor(
    user_id="bench",
    email="bench@example.com",
    permissions=[Permission.REVOKE_ANY_PURCHASES, Permission.UPDATE_CONFIG],
    path=ActionPath.API,
)


@dataclass(frozen=True)
class RevokeBenchResult:
    offered_rate: float
    sent: int
    done: int
    other_outcomes: dict[str, int]
    commands_per_second: float
    p50_ms: float
    p99_ms: float
    own_p50_ms: float
    own_p99_ms: float
    emulator_p50_ms: float
    machine: dict[str, float] = field(default_factory=dict)
    """The machine's busy cores and CPU per revoke while the commands were offered."""

    def as_dict(self) -> dict[str, Any]:
        figures = asdict(self)
        machine = figures.pop("machine")
        return {**figures, **machine}


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


class _RpcClient:
    def __init__(self, channel: aio_pika.abc.AbstractChannel) -> None:
        self._channel = channel
        self._waiting: dict[str, asyncio.Future[bytes]] = {}

    async def start(self) -> None:
        reply_queue = await self._channel.get_queue("amq.rabbitmq.reply-to", ensure=False)
        await reply_queue.consume(self._on_reply, no_ack=True)

    async def _on_reply(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        future = self._waiting.pop(message.correlation_id or "", None)
        if future is not None and not future.done():
            future.set_result(message.body)

    async def send(self, body: bytes) -> asyncio.Future[bytes]:
        correlation_id = uuid.uuid4().hex
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._waiting[correlation_id] = future
        headers, at = signed(tool_signer(), Queues.REVOCATION_COMMANDS, body)
        await self._channel.default_exchange.publish(
            aio_pika.Message(
                body,
                headers=headers or None,
                timestamp=at,
                content_type="application/json",
                correlation_id=correlation_id,
                message_id=correlation_id,
                reply_to="amq.rabbitmq.reply-to",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                user_id=BrokerIdentity.GATEWAY,  # as the gateway (the bench's administrator impersonates it)
            ),
            routing_key=Queues.REVOCATION_COMMANDS.queue,
        )
        return future


@contextlib.asynccontextmanager
async def _service(amqp_url: str, mongodb_url: str, database: str, start: bool) -> AsyncIterator[None]:
    if not start:
        yield
        return
    from graceperiod.revocation.app import create_app  # noqa: PLC0415 - only when we run it
    from graceperiod.revocation.settings import RevocationSettings  # noqa: PLC0415

    settings = RevocationSettings(amqp_url=amqp_url, mongodb_url=mongodb_url, mongodb_database=database)
    async with running(create_app(settings)):
        yield


async def _register(client: _RpcClient, account_id: str) -> None:
    register = RegisterAccountRole(
        actor=_ACTOR,
        idempotency_key=f"bench-{account_id}",
        account_id=account_id,
        external_id=f"bench-{account_id}",
    )

    async def ask() -> CommandReply:
        sent = await client.send(register.model_dump_json().encode())
        return CommandReply.model_validate_json(await asyncio.wait_for(sent, 30))

    await until_done(ask, "registering the bench account", tries=30)


async def _seed_purchases(
    control: EmulatorControl, upstream: RabbitBroker, account_id: str, count: int
) -> dict[str, str]:
    """Buys ``count`` Savings Plans in the endpoint and announces each; returns plan ids by purchase id."""
    start = datetime.now(UTC) + timedelta(days=30)
    plans: dict[str, str] = {}
    for _ in range(count):
        plan = await control.savings_plan(account_id, start=start)
        body = purchase_payload(account_id=account_id, commitment_id=plan["savingsPlanId"])
        await publish_upstream(upstream, "purchase.executed", body, message_id=body["purchase_id"])
        plans[body["purchase_id"]] = plan["savingsPlanId"]
    return plans


async def _offer(
    client: _RpcClient, plans: dict[str, str], *, rate: float, reply_timeout: float
) -> tuple[dict[str, float], dict[str, int], float]:
    """Sends one RevokePurchase per purchase at ``rate``/s; returns the reply latencies (ms), the
    outcomes counted by status, and the seconds it took."""
    latencies: dict[str, float] = {}
    outcomes: dict[str, int] = {}
    began = time.perf_counter()

    async def one(purchase_id: str, at: float) -> None:
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        command = RevokePurchase(actor=_ACTOR, idempotency_key=f"bench-{purchase_id}", purchase_id=purchase_id)
        sent = time.perf_counter()
        future = await client.send(command.model_dump_json().encode())
        try:
            answer = json.loads(await asyncio.wait_for(future, reply_timeout))
        except TimeoutError:
            outcomes["no-reply"] = outcomes.get("no-reply", 0) + 1
            return
        latencies[purchase_id] = (time.perf_counter() - sent) * 1000
        outcomes[answer["status"]] = outcomes.get(answer["status"], 0) + 1

    await asyncio.gather(*(one(pid, began + i / rate) for i, pid in enumerate(plans)))
    return latencies, outcomes, time.perf_counter() - began


async def bench_revoke(
    *,
    amqp_url: str,
    mongodb_url: str,
    aws_endpoint_url: str,
    rate: float = 50.0,
    count: int = 500,
    database: str | None = None,
    start_service: bool = True,
    reply_timeout: float = 30.0,
) -> RevokeBenchResult:
    """Offer ``count`` revoke commands at ``rate``/s; return throughput and latency percentiles.

    With ``start_service`` the revocation service runs in this process (it reads
    ``AWS_ENDPOINT_URL`` from the environment, which the caller sets to ``aws_endpoint_url``);
    otherwise a running one (on the same broker and database) is used.
    """
    database = database or f"bench_{uuid.uuid4().hex[:8]}_revocation"
    account_id = "".join(str(int(c, 16) % 10) for c in uuid.uuid4().hex[:12])
    async with _service(amqp_url, mongodb_url, database, start_service), EmulatorControl(aws_endpoint_url) as control:
        await control.account(account_id, roles={_ROLE: f"bench-{account_id}"}, support_plan="business")
        upstream = await connect(amqp_url)
        connection = await aio_pika.connect_robust(amqp_url)
        try:
            channel = await connection.channel(publisher_confirms=False)
            client = _RpcClient(channel)
            await client.start()
            await _register(client, account_id)
            plans = await _seed_purchases(control, upstream, account_id, count)
            await _wait_recorded(control, account_id, count)
            with MachineCpu() as machine:
                latencies, outcomes, elapsed = await _offer(client, plans, rate=rate, reply_timeout=reply_timeout)
        finally:
            await connection.close()
            await upstream.stop()

        emulator_ms = await _emulator_time(control, account_id, plans)
    own = [latencies[pid] - emulator_ms.get(plans[pid], 0.0) for pid in latencies]
    total = list(latencies.values())
    return RevokeBenchResult(
        offered_rate=rate,
        sent=count,
        done=outcomes.get(CommandStatus.DONE.value, 0),
        other_outcomes={k: v for k, v in outcomes.items() if k != CommandStatus.DONE.value},
        commands_per_second=len(latencies) / elapsed if elapsed else float("nan"),
        p50_ms=_percentile(total, 50),
        p99_ms=_percentile(total, 99),
        own_p50_ms=_percentile(own, 50),
        own_p99_ms=_percentile(own, 99),
        emulator_p50_ms=_percentile(list(emulator_ms.values()), 50),
        machine=machine.figures(count, "revoke"),
    )


async def _wait_recorded(control: EmulatorControl, account_id: str, count: int, timeout: float = 120.0) -> None:
    """Recording reads each plan once (DescribeSavingsPlans with its id): wait for all of them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        calls = await control.calls(account=account_id, action="savingsplans:DescribeSavingsPlans")
        if (
            len({tuple(c["params"].get("savingsPlanIds") or []) for c in calls if c["params"].get("savingsPlanIds")})
            >= count
        ):
            await asyncio.sleep(0.5)
            return
        await asyncio.sleep(0.2)
    msg = f"not all {count} bench purchases were recorded within {timeout:.0f}s"
    raise TimeoutError(msg)


async def _emulator_time(control: EmulatorControl, account_id: str, plans: dict[str, str]) -> dict[str, float]:
    """Server-side emulator milliseconds per plan, for the calls made while revoking it."""
    wanted = set(plans.values())
    spent: dict[str, float] = {}
    for call in await control.calls(account=account_id):
        params = call.get("params") or {}
        if call["action"] == "savingsplans:DeleteQueuedSavingsPlan":
            plan_ids = [params.get("savingsPlanId")]
        elif call["action"] == "savingsplans:DescribeSavingsPlans":
            plan_ids = list(params.get("savingsPlanIds") or [])
        else:
            continue
        for plan_id in plan_ids:
            if plan_id in wanted:
                spent[plan_id] = spent.get(plan_id, 0.0) + float(call.get("duration_ms") or 0.0)
    # Recording also read each plan once, before the timed part: take that read out again.
    recording: dict[str, float] = {}
    for call in await control.calls(account=account_id, action="savingsplans:DescribeSavingsPlans"):
        for plan_id in call["params"].get("savingsPlanIds") or []:
            recording.setdefault(plan_id, float(call.get("duration_ms") or 0.0))
    return {plan_id: ms - recording.get(plan_id, 0.0) for plan_id, ms in spent.items()}
