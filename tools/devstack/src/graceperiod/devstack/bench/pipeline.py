"""Issue 2 step 9 at speed: purchase.executed → revocation (stores, announces) → notifier
(claims, renders, sends) → SMTP sink. Services run as separate processes, as in production."""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import aio_pika
from rich.progress import Progress, TaskID

from graceperiod.devstack.bench.baseline import publish_pipelined
from graceperiod.devstack.bench.core import MachineCpu, Result, Servers, percentiles, service_processes
from graceperiod.devstack.testkit.fixtures import unique
from graceperiod.devstack.testkit.samples import GLOBAL_NOTIFICATION_EMAIL, purchase_payload
from graceperiod.devstack.testkit.upstream import seed_returnable_plans
from graceperiod.runtime import signing_keys as keys
from graceperiod.runtime.messaging import build_broker, declare_topology
from graceperiod.runtime.settings import ServiceSettings

_PURCHASE = re.compile(rb"Purchase: (pur-[0-9a-f]+)")
RECIPIENTS = 3  # the global address, one account contact, the requester
ACCOUNT = "210987654321"


def _accepted(maildir: Path, since_ns: int, seen: dict[Path, tuple[str, float]]) -> None:
    """Scan new .eml files: purchase id and acceptance time (the sink names files by time_ns)."""
    if not maildir.exists():
        return
    for path in maildir.glob("*.eml"):
        if path in seen:
            continue
        accepted_ns = int(path.name.split("-", 1)[0])
        if accepted_ns < since_ns:
            continue
        match = _PURCHASE.search(path.read_bytes())
        if match:
            seen[path] = (match.group(1).decode(), accepted_ns / 1e9)


async def run(servers: Servers, amqp_url: str, count: int, progress: Progress, *, rate: float | None) -> Result:
    label = f"{rate:g}/s" if rate else "saturation"
    tasks = (
        progress.add_task(f"pipeline ({label}): publish", total=count),
        progress.add_task(f"pipeline ({label}): emails", total=count * RECIPIENTS),
    )
    db_prefix = unique("bench")

    broker = build_broker(ServiceSettings(amqp_url=amqp_url), app_id="bench")
    async with broker:
        await broker.connect()
        await declare_topology(broker)

    keys_dir = servers.workdir / f"link-keys-{db_prefix}"
    keys.generate(keys_dir, "bench")
    env = {"NOTIFIER_GLOBAL_NOTIFICATION_EMAIL": GLOBAL_NOTIFICATION_EMAIL, "NOTIFIER_LINK_KEYS_DIR": str(keys_dir)}
    with service_processes(servers, amqp_url, ["revocation", "notifier"], db_prefix=db_prefix, extra_env=env):
        # Every purchase is a returnable Savings Plan in an onboarded account, so revocation
        # assumes the role and reads AWS for each, as in production.
        payloads = [
            purchase_payload(account_id=ACCOUNT, contacts=["owner@example.com"], requester_email="alice@example.com")
            for _ in range(count)
        ]
        async with build_broker(ServiceSettings(amqp_url=amqp_url), app_id="bench") as seeder:
            await seeder.connect()
            await seed_returnable_plans(
                servers.aws_endpoint_url, seeder, ACCOUNT, [p["commitment"]["id"] for p in payloads]
            )
        bodies = [(p["purchase_id"], json.dumps(p).encode()) for p in payloads]
        collected = await _publish_and_collect(servers, amqp_url, bodies, rate=rate, progress=progress, tasks=tasks)
    return _result(collected, count, rate, label)


@dataclass
class _Run:
    published_at: dict[str, float] = field(default_factory=dict)
    """Purchase id → when its purchase.executed was confirmed."""
    seen: dict[Path, tuple[str, float]] = field(default_factory=dict)
    """Email file → (purchase id, when the sink accepted it)."""
    seconds: float = 0.0
    machine: MachineCpu = field(default_factory=MachineCpu)
    """The machine's CPU from the first publish to the last email."""


async def _publish_and_collect(
    servers: Servers,
    amqp_url: str,
    bodies: list[tuple[str, bytes]],
    *,
    rate: float | None,
    progress: Progress,
    tasks: tuple[TaskID, TaskID],
) -> _Run:
    """Publish every purchase (at ``rate``, or all at once) while counting the emails the sink accepts."""
    publish_task, email_task = tasks
    count = len(bodies)
    run = _Run()
    since_ns = time.time_ns()
    connection = await aio_pika.connect_robust(amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange("graceperiod.events")
        started = time.perf_counter()
        with run.machine:
            publishing = asyncio.create_task(
                publish_pipelined(
                    channel,
                    exchange,
                    bodies,
                    "purchase.executed",
                    rate=rate,
                    on_published=run.published_at,
                    progress=progress,
                    task=publish_task,
                )
            )
            deadline = time.monotonic() + max(120.0, count / 5)
            while len(run.seen) < count * RECIPIENTS and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
                before = len(run.seen)
                _accepted(servers.smtp.maildir, since_ns, run.seen)
                progress.advance(email_task, len(run.seen) - before)
            await publishing
        run.seconds = time.perf_counter() - started
    finally:
        await connection.close()
    return run


def _result(run: _Run, count: int, rate: float | None, label: str) -> Result:
    last_email: dict[str, float] = {}
    for purchase_id, accepted in run.seen.values():
        last_email[purchase_id] = max(accepted, last_email.get(purchase_id, 0.0))
    latencies = [(last_email[p] - run.published_at[p]) * 1000 for p in last_email if p in run.published_at]
    emails = len(run.seen)
    result = Result(
        name=f"pipeline_{'saturation' if not rate else f'{rate:g}_per_s'}",
        description=f"purchase.executed → revocation → notifier → SMTP, {RECIPIENTS} recipients each ({label})",
        metrics={
            "purchases": count,
            "offered_rate_per_s": rate,
            "emails_expected": count * RECIPIENTS,
            "emails_accepted": emails,
            "purchases_per_s": round(len(last_email) / run.seconds, 1),
            "emails_per_s": round(emails / run.seconds, 1),
            "seconds": round(run.seconds, 2),
            **{f"publish_to_last_email_{k}": v for k, v in percentiles(latencies).items()},
            **run.machine.figures(len(last_email), "purchase"),
        },
    )
    if emails != count * RECIPIENTS:
        result.notes.append(f"only {emails} of {count * RECIPIENTS} emails arrived before the deadline")
    return result
