"""Benchmark: events to emails (issue 4).

Publishes ``revocation.purchase.recorded`` events (3 recipients each, as their owner, the
revocation service) to a real RabbitMQ; the notifier runs as its own process as deployed (its
own broker identity, on a vhost made from the deployment's broker definitions) against FerretDB
and the SMTP sink. Measured:

* **fixed rate**: purchases offered at a steady rate (default 50/s); p50/p99 latency from
  publish to the SMTP sink's acceptance of each email;
* **saturation**: a burst of purchases published at once; emails accepted per second;
* **direct blast** (baseline): the same number of emails, byte for byte a notifier email,
  sent straight to the same sink with aiosmtplib over as many connections as the notifier's
  pool, with nothing else in between.

Acceptance time = the nanosecond timestamp the sink puts at the front of each ``.eml`` file
name as it accepts the message; publish time = taken just before each publish (same clock).
Targets: saturated rate >= 70% of the direct blast; p99 < 250 ms at 50 purchases/s.

    python -m graceperiod.devstack.bench.notifier [--rate 50] [--duration 20] [--burst 1000]

Each function returns a dict of numbers, so ``make bench`` can collect them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

import aiosmtplib
from faststream.rabbit import RabbitBroker

from graceperiod.contracts.identities import event_owner
from graceperiod.devstack.bench import core
from graceperiod.devstack.bench.core import Servers, service_processes
from graceperiod.devstack.servers.processes import ChildServer, ServiceProcess
from graceperiod.devstack.testkit.fixtures import unique
from graceperiod.devstack.testkit.samples import purchase_payload
from graceperiod.devstack.testkit.upstream import connect, publish_upstream
from graceperiod.notifier.rendering import PURCHASE_HEADER

RECORDED = "revocation.purchase.recorded"
RECIPIENTS_PER_PURCHASE = 3
TARGET_SATURATED_RATIO = 0.70
TARGET_P99_MS = 250.0


def recorded_event(purchase_id: str, now: datetime) -> dict[str, Any]:
    """A PurchaseRecorded body (plain JSON) whose emails go to 3 distinct recipients."""
    purchase = purchase_payload(
        purchase_id=purchase_id,
        executed_at=now,
        contacts=[f"owner+{purchase_id}@example.com"],
        requester_email=f"alice+{purchase_id}@example.com",
    )
    closes = (now + timedelta(days=7)).isoformat()
    return {
        "schema_version": 1,
        "occurred_at": now.isoformat(),
        "purchase": purchase,
        "windows": {
            "self_service_until": closes,
            "self_service_known": True,
            "support_case_until": closes,
            "closes_at": closes,
        },
        "phase": "self-service",
    }


# --- The mailbox ------------------------------------------------------------------------------


def acceptances(maildir: Path, purchase_ids: set[str]) -> list[tuple[str, int]]:
    """(purchase id, acceptance ns) of every email in the sink's maildir about these purchases."""
    parser = BytesHeaderParser()
    found = []
    for path in maildir.glob("*.eml"):
        with path.open("rb") as handle:
            headers = parser.parse(handle)
        purchase_id = headers.get(PURCHASE_HEADER)
        if purchase_id in purchase_ids:
            found.append((str(purchase_id), int(path.name.split("-", 1)[0])))
    return found


def _count(maildir: Path) -> int:
    return sum(1 for _ in maildir.glob("*.eml"))


async def wait_for_emails(maildir: Path, expected_total: int, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while _count(maildir) < expected_total:
        if time.monotonic() > deadline:
            msg = f"only {_count(maildir)} of {expected_total} emails arrived within {timeout:.0f} s"
            raise TimeoutError(msg)
        await asyncio.sleep(0.2)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def latency_summary(published: dict[str, int], accepted: Iterable[tuple[str, int]]) -> dict[str, float]:
    latencies = [(ns - published[pid]) / 1e6 for pid, ns in accepted]
    return {
        "p50_ms": round(percentile(latencies, 0.50), 1),
        "p90_ms": round(percentile(latencies, 0.90), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
        "max_ms": round(max(latencies), 1),
        "mean_ms": round(statistics.fmean(latencies), 1),
    }


# --- CPU accounting ---------------------------------------------------------------------------


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU seconds of every live process in a process group (Linux ``/proc``)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


class CpuMeter:
    """CPU used per email by each server process (and this process) during a scenario: the
    numbers that do not depend on what else the machine is doing."""

    def __init__(self, groups: dict[str, int]) -> None:
        self._groups = groups
        self._start: dict[str, float] = {}

    def start(self) -> None:
        self._start = {name: group_cpu_seconds(pgid) for name, pgid in self._groups.items()}
        self._start["bench"] = time.process_time()

    def per_email_ms(self, emails: int) -> dict[str, float]:
        used = {name: group_cpu_seconds(pgid) - self._start[name] for name, pgid in self._groups.items()}
        used["bench"] = time.process_time() - self._start["bench"]
        return {name: round(seconds / emails * 1000, 2) for name, seconds in used.items()}


# --- Scenarios --------------------------------------------------------------------------------


async def publish_purchases(broker: RabbitBroker, count: int, *, rate: float | None, tag: str) -> dict[str, int]:
    """Publish ``count`` events, at ``rate`` per second (None: as fast as confirms allow).
    Returns the publish instant (ns) of each purchase id."""
    published: dict[str, int] = {}
    start = time.monotonic()
    now = datetime.now(UTC)
    for index in range(count):
        if rate is not None:
            delay = start + index / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        purchase_id = f"bench-{tag}-{index:06d}-{uuid.uuid4().hex[:6]}"
        body = recorded_event(purchase_id, now)
        published[purchase_id] = time.time_ns()
        # as its owner publishes it (the administrator may claim any identity): an internal
        # event is believed from its owner only
        await publish_upstream(
            broker, RECORDED, body, message_id=f"purchase-recorded:{purchase_id}", user_id=event_owner(RECORDED)
        )
    return published


async def notifier_scenario(
    broker: RabbitBroker,
    maildir: Path,
    *,
    purchases: int,
    rate: float | None,
    tag: str,
    timeout: float = 300.0,
    cpu: CpuMeter | None = None,
) -> dict[str, Any]:
    before = _count(maildir)
    if cpu is not None:
        cpu.start()
    published = await publish_purchases(broker, purchases, rate=rate, tag=tag)
    expected = purchases * RECIPIENTS_PER_PURCHASE
    await wait_for_emails(maildir, before + expected, timeout=timeout)
    cpu_ms = cpu.per_email_ms(expected) if cpu is not None else None
    accepted = acceptances(maildir, set(published))
    first_publish, last_accept = min(published.values()), max(ns for _, ns in accepted)
    first_accept = min(ns for _, ns in accepted)
    result: dict[str, Any] = {
        "purchases": purchases,
        "emails": len(accepted),
        "offered_purchases_per_s": rate,
        "seconds": round((last_accept - first_publish) / 1e9, 3),
        "emails_per_s": round(len(accepted) / ((last_accept - first_publish) / 1e9), 1),
        "emails_per_s_after_first": round((len(accepted) - 1) / max((last_accept - first_accept) / 1e9, 1e-9), 1),
        **latency_summary(published, accepted),
    }
    if cpu_ms is not None:
        result["cpu_ms_per_email"] = cpu_ms
    return result


def sample_message(maildir: Path) -> bytes:
    """One email exactly as the notifier sent it (the sink's envelope headers removed)."""
    path = max(maildir.glob("*.eml"))
    lines = path.read_bytes().split(b"\r\n")
    while lines and lines[0].startswith(b"X-Envelope-"):
        lines.pop(0)
    return b"\r\n".join(lines)


async def direct_blast(
    hostname: str,
    port: int,
    message: bytes,
    *,
    emails: int,
    concurrency: int,
    maildir: Path | None = None,
    cpu: CpuMeter | None = None,
) -> dict[str, Any]:
    """The baseline: ``emails`` messages over ``concurrency`` persistent aiosmtplib connections."""
    before = _count(maildir) if maildir else 0
    if cpu is not None:
        cpu.start()
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(emails):
        queue.put_nowait(index)

    async def worker() -> None:
        client = aiosmtplib.SMTP(hostname=hostname, port=port, local_hostname="bench.local")
        await client.connect()
        try:
            while True:
                try:
                    index = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                await client.sendmail("bench@example.com", [f"blast{index}@example.com"], message)
        finally:
            await client.quit()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    seconds = time.perf_counter() - start
    if maildir is not None:
        await wait_for_emails(maildir, before + emails, timeout=60)
    result: dict[str, Any] = {
        "emails": emails,
        "concurrency": concurrency,
        "message_bytes": len(message),
        "seconds": round(seconds, 3),
        "emails_per_s": round(emails / seconds, 1),
    }
    if cpu is not None:
        result["cpu_ms_per_email"] = cpu.per_email_ms(emails)
    return result


# --- The whole run ----------------------------------------------------------------------------


def _pgid(server: ChildServer | ServiceProcess) -> int:
    assert server.process is not None
    return server.process.pid  # each server is started as the leader of its own process group


def _generate_keys(directory: Path) -> None:
    subprocess.run(  # noqa: S603 - our own module, fixed arguments
        [sys.executable, "-m", "graceperiod.runtime.keys_cli", "generate", "--dir", str(directory), "--kid", "bench"],
        check=True,
        capture_output=True,
    )


async def run(
    servers: Servers,
    amqp_url: str,
    *,
    rate: float = 50.0,
    duration: float = 20.0,
    burst: int = 1000,
    concurrency: int = 8,
) -> dict[str, Any]:
    """Run the notifier as production does (its own broker identity, on a vhost made from the
    deployment's definitions, ``amqp_url``) over ``servers``, and measure it."""
    keys = servers.workdir / f"notifier-link-keys-{uuid.uuid4().hex[:8]}"
    _generate_keys(keys)
    env = {
        "NOTIFIER_LINK_KEYS_DIR": str(keys),
        "NOTIFIER_GLOBAL_NOTIFICATION_EMAIL": "finops@example.com",
        "NOTIFIER_MAX_CONCURRENT_SENDS": str(concurrency),
    }
    with service_processes(servers, amqp_url, ["notifier"], db_prefix=unique("bench"), extra_env=env) as (notifier,):
        processes: dict[str, Any] = {"smtp_sink": servers.smtp, "notifier": notifier}
        fixed, saturated, baseline = await _measure(
            amqp_url, processes, rate=rate, duration=duration, burst=burst, concurrency=concurrency
        )
    return _summary(fixed, saturated, baseline, os.getloadavg()[0])


async def _measure(
    amqp_url: str, processes: dict[str, Any], *, rate: float, duration: float, burst: int, concurrency: int
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The fixed-rate run, the saturation run, and the direct SMTP blast they are compared with."""
    sink = processes["smtp_sink"]
    groups = {name: _pgid(server) for name, server in processes.items()}
    broker = await connect(amqp_url)
    try:
        await notifier_scenario(broker, sink.maildir, purchases=20, rate=None, tag="warmup")
        fixed = await notifier_scenario(
            broker, sink.maildir, purchases=int(rate * duration), rate=rate, tag="fixed", cpu=CpuMeter(groups)
        )
        saturated = await notifier_scenario(
            broker, sink.maildir, purchases=burst, rate=None, tag="burst", cpu=CpuMeter(groups)
        )
    finally:
        await broker.stop()
    baseline = await direct_blast(
        "127.0.0.1",
        sink.port,
        sample_message(sink.maildir),
        emails=burst * RECIPIENTS_PER_PURCHASE,
        concurrency=concurrency,
        maildir=sink.maildir,
        cpu=CpuMeter({"smtp_sink": groups["smtp_sink"]}),
    )
    return fixed, saturated, baseline


def _summary(
    fixed: dict[str, Any], saturated: dict[str, Any], baseline: dict[str, Any], load_1m: float
) -> dict[str, Any]:
    ratio = saturated["emails_per_s"] / baseline["emails_per_s"]
    return {
        "scenario": "notifier: purchase recorded -> emails accepted by SMTP",
        "recipients_per_purchase": RECIPIENTS_PER_PURCHASE,
        "fixed_rate": fixed,
        "saturation": saturated,
        "direct_blast": baseline,
        "saturated_vs_direct": round(ratio, 3),
        "machine": {"cpus": os.cpu_count(), "load_average_1m_at_end": round(load_1m, 2)},
        "targets": {
            "saturated_vs_direct_min": TARGET_SATURATED_RATIO,
            "p99_ms_at_fixed_rate_max": TARGET_P99_MS,
            "saturation_met": ratio >= TARGET_SATURATED_RATIO,
            "latency_met": fixed["p99_ms"] < TARGET_P99_MS,
        },
    }


async def _standalone(args: argparse.Namespace) -> dict[str, Any]:
    """Private servers for this run only (in ``--workdir``, else a temporary directory)."""
    base = args.workdir or Path(tempfile.mkdtemp(prefix="gp-bench-notifier-"))
    try:
        with core.servers(base) as servers, core.vhost(servers) as amqp_url:
            return await run(
                servers,
                amqp_url,
                rate=args.rate,
                duration=args.duration,
                burst=args.burst,
                concurrency=args.concurrency,
            )
    finally:
        if args.workdir is None:
            shutil.rmtree(base, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0, help="offered purchases per second (fixed-rate run)")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of the fixed-rate run")
    parser.add_argument("--burst", type=int, default=1000, help="purchases published at once (saturation run)")
    parser.add_argument("--concurrency", type=int, default=8, help="SMTP connections (notifier pool and baseline)")
    parser.add_argument("--workdir", type=Path, help="where servers keep data (default: a temporary directory)")
    parser.add_argument("--out", type=Path, help="also write the result as JSON here")
    args = parser.parse_args(argv)
    result = asyncio.run(_standalone(args))
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
