"""Discovery at scale (issue 14): 500 onboarded accounts x 4 Regions, scanned on ticks by a
revocation service process against the local AWS endpoint, which enforces AWS's per-account
request rates (:mod:`graceperiod.devstack.aws_endpoint.rates`).

The run starts a ticker as in production (every 30 s; ``TICK_INTERVAL_SECONDS``'s default) and
onboards the accounts (each a role in the endpoint, registered with RegisterAccountRole, 32 at a
time): each is first scanned at its first slot, within an interval of registering. Then it buys
Savings Plans and Reserved Instances with plain aioboto3 calls in random accounts at random
moments over the first third of an interval. It reads each account's scans from the service's
database (every second: the slot a scan served is the ``scan_due_at`` seen before it) and the
emails from the SMTP sink, until every purchase is emailed and every account scanned again since
onboarding ended (a whole round), and reports:

* a scan's end after its slot (max, p99): every round fits in the interval when each scan ends
  before its account's next slot. The first scans (while the others register) are reported
  apart;
* throttled calls the endpoint answered (AWS's token buckets), by action;
* the scan cost per account: AWS calls, the service's CPU time and the scan's duration;
* purchase → its email (the "found in your account" email to the global address), p50/p99.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes
from email import policy as email_policy
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient

from graceperiod.contracts.enums import AwsService
from graceperiod.contracts.identities import BrokerIdentity
from graceperiod.contracts.revocation import CommandReply, RegisterAccountRole
from graceperiod.contracts.topology import Queues
from graceperiod.devstack.aws_endpoint.control import EmulatorControl
from graceperiod.devstack.aws_endpoint.wire import THROTTLE, THROTTLE_BY_SERVICE
from graceperiod.devstack.bench.core import Result, Servers, percentiles, service_processes, until_done
from graceperiod.devstack.testkit import buyer
from graceperiod.devstack.testkit.fixtures import unique
from graceperiod.devstack.testkit.samples import GLOBAL_NOTIFICATION_EMAIL
from graceperiod.devstack.testkit.upstream import DEVSTACK_ADMIN, ROLE_NAME
from graceperiod.revocation.domain.discovery import discovered_purchase_id
from graceperiod.revocation.settings import RevocationSettings
from graceperiod.runtime import signing_keys as keys
from graceperiod.runtime import ticker
from graceperiod.runtime.actor_assertions import tool_signer
from graceperiod.runtime.clock import SystemClock
from graceperiod.runtime.rpc import RpcClient
from graceperiod.runtime.ticker import TickerSettings

REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2")
ONBOARDING_AT_ONCE = 32
THROTTLE_CODES = frozenset(code for code, _ in (*THROTTLE.values(), *THROTTLE_BY_SERVICE.values())) | {
    "ThrottlingException"
}

#: The describes a scan makes (IAM action names, as the endpoint counts them).
SCAN_DESCRIBES = (
    "savingsplans:DescribeSavingsPlans",
    "ec2:DescribeReservedInstances",
    "rds:DescribeReservedDBInstances",
    "elasticache:DescribeReservedCacheNodes",
    "es:DescribeReservedInstances",
    "redshift:DescribeReservedNodes",
    "memorydb:DescribeReservedNodes",
)


@dataclass(frozen=True)
class DiscoveryBench:
    accounts: int = 500
    interval: float = 60.0
    tick: float = 30.0
    purchases: int = 60
    concurrency: int = RevocationSettings.model_fields["discovery_concurrency"].default

    @property
    def target_email_p99_s(self) -> float:
        return self.interval + 10.0


#: ``--quick``: a fifth of the accounts, scanned every 20 s with ticks every 10 s.
QUICK = DiscoveryBench(accounts=100, interval=20.0, tick=10.0, purchases=20)


@dataclass
class _Scans:
    """What the service's database showed of the scans, polled every second."""

    due: dict[str, datetime] = field(default_factory=dict)
    last: dict[str, datetime] = field(default_factory=dict)
    count: dict[str, int] = field(default_factory=dict)
    first_round_lag: list[float] = field(default_factory=list)
    """Seconds from an account's slot to its scan's end, for each account's first scan."""
    lag: list[float] = field(default_factory=list)
    """The same for every later scan."""
    durations_ms: list[float] = field(default_factory=list)

    def observe(self, doc: dict[str, Any]) -> None:
        account_id, scan, due = doc["_id"], doc.get("scan"), doc.get("scan_due_at")
        if scan is not None and scan["at"] != self.last.get(account_id):
            slot = self.due.get(account_id)
            self.last[account_id] = scan["at"]
            self.count[account_id] = self.count.get(account_id, 0) + 1
            if slot is not None and scan["at"] >= slot:
                lag = (scan["at"] - slot).total_seconds()
                (self.first_round_lag if self.count[account_id] == 1 else self.lag).append(lag)
            self.durations_ms.append(float(scan.get("duration_ms") or 0))
        if due is not None:
            self.due[account_id] = due


def _account_ids(count: int) -> list[str]:
    rng = random.Random(14)  # noqa: S311 - ids for a benchmark
    return sorted({f"{rng.randrange(10**11, 10**12)}" for _ in range(count * 2)})[:count]


async def _bounded(items: list[str], work: Callable[[str], Any], limit: int) -> None:
    gate = asyncio.Semaphore(limit)

    async def one(item: str) -> None:
        async with gate:
            await work(item)

    await asyncio.gather(*(one(i) for i in items))


async def _onboard(servers: Servers, amqp_url: str, account_ids: list[str]) -> float:
    """Each account: Grace Period's role in the endpoint, registered with RegisterAccountRole,
    ``ONBOARDING_AT_ONCE`` at a time (through the concurrent RPC client: FastStream's
    ``broker.request`` holds a lock for each whole round trip)."""
    started = time.perf_counter()
    # as the gateway (its broker identity and its actor-assertion keys), as the dashboard would
    gateway_url = servers.accounts.url(amqp_url, BrokerIdentity.GATEWAY)
    rpc = RpcClient(gateway_url, app_id="bench-onboarding", signer=tool_signer())
    async with EmulatorControl(servers.aws_endpoint_url, timeout=60) as control:

        async def one(account_id: str) -> None:
            await control.account(account_id, roles={ROLE_NAME: f"bench-{account_id}"}, support_plan="business")
            command = RegisterAccountRole(
                actor=DEVSTACK_ADMIN,
                idempotency_key=f"onboard-{account_id}",
                account_id=account_id,
                external_id=f"bench-{account_id}",
            )
            await until_done(
                lambda: rpc.call(Queues.REVOCATION_COMMANDS, command, CommandReply, timeout=60),
                f"registering account {account_id}",
            )

        try:
            await _bounded(account_ids, one, limit=ONBOARDING_AT_ONCE)
        finally:
            await rpc.close()
    return time.perf_counter() - started


@contextlib.asynccontextmanager
async def _ticking(amqp_url: str, every: float) -> AsyncIterator[None]:
    """The production ticker, publishing as the scheduler at ``amqp_url``, every ``every`` seconds."""
    stop = asyncio.Event()
    settings = TickerSettings(amqp_url=amqp_url, interval_seconds=every)
    task = asyncio.create_task(ticker.run_until(stop, settings, SystemClock()))
    try:
        yield
    finally:
        stop.set()
        await task


class _Buyer:
    """Buys commitments with plain aioboto3 calls, through the account's role, as a person would."""

    def __init__(self, endpoint: str) -> None:
        self._endpoint = endpoint

    async def buy(self, account_id: str, kind: str, region: str) -> tuple[str, float]:
        """The purchase id discovery will give it, and when AWS answered the purchase."""
        clients = await buyer.clients_of(self._endpoint, account_id, external_id=f"bench-{account_id}")
        if kind == "savingsplans":
            plan = await buyer.buy_plan(clients)
            return discovered_purchase_id(account_id, AwsService.SAVINGS_PLANS, plan), time.time()
        reserved = await buyer.buy_ri(clients, region)
        return discovered_purchase_id(account_id, AwsService.EC2, reserved), time.time()


def _emails(maildir: Path, since_ns: int, seen: dict[Path, tuple[str | None, float]]) -> None:
    if not maildir.exists():
        return
    for path in maildir.glob("*.eml"):
        accepted_ns = int(path.name.split("-", 1)[0])
        if path in seen or accepted_ns < since_ns:
            continue
        message = message_from_bytes(path.read_bytes(), policy=email_policy.default)
        seen[path] = (message["X-Grace-Period-Purchase"], accepted_ns / 1e9)


async def _buy_all(buyer: _Buyer, account_ids: list[str], spec: DiscoveryBench, bought: dict[str, float]) -> None:
    """``spec.purchases`` purchases in distinct random accounts, at random moments over a third of
    an interval (the accounts' slots are spread over the interval, so the wait is as random)."""
    rng = random.Random(15)  # noqa: S311
    chosen = rng.sample(account_ids, min(spec.purchases, len(account_ids)))
    began = time.monotonic()

    async def one(n: int, account_id: str) -> None:
        await asyncio.sleep(max(0.0, began + rng.uniform(0, spec.interval / 3) - time.monotonic()))
        kind = "savingsplans" if n % 2 == 0 else "ec2"
        purchase_id, at = await buyer.buy(account_id, kind, REGIONS[n % len(REGIONS)])
        bought[purchase_id] = at

    await asyncio.gather(*(one(n, a) for n, a in enumerate(chosen)))


async def _watch(
    servers: Servers,
    database: str,
    *,
    scans: _Scans,
    bought: dict[str, float],
    emailed: dict[str, float],
    until: Callable[[], bool],
) -> None:
    """Polls the scans and the emails every second until ``until()``; ``emailed`` gets the
    first email's time per purchase."""
    seen: dict[Path, tuple[str | None, float]] = {}
    since_ns = time.time_ns()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(servers.mongodb_url, tz_aware=True)
    try:
        accounts = client[database]["accounts"]
        while not until():
            async for doc in accounts.find({}, projection={"scan": 1, "scan_due_at": 1}):
                scans.observe(doc)
            _emails(servers.smtp.maildir, since_ns, seen)
            for purchase_id, at in seen.values():
                if purchase_id in bought:
                    emailed[purchase_id] = min(at, emailed.get(purchase_id, at))
            await asyncio.sleep(1.0)
    finally:
        await client.close()


@dataclass(frozen=True)
class _Cost:
    """What the scans made after onboarding cost: AWS calls, the service's and the endpoint's CPU."""

    scans: int
    cpu_seconds: float
    endpoint_cpu_seconds: float
    stats: dict[str, dict[str, int]]
    whole_run: dict[str, dict[str, int]]
    """Calls by action and outcome from the start (onboarding included)."""


def _endpoint_pid(url: str) -> int | None:
    """The local AWS endpoint's process (the one serving ``url``'s port), to count its CPU time."""
    wanted = ["graceperiod.devstack.aws_endpoint", "--port", url.rsplit(":", 1)[1]]
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            words = cmdline.read_bytes().decode(errors="replace").split("\0")
            if all(w in words for w in wanted):
                return int(cmdline.parent.name)
    return None


def _cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of a process (``/proc/<pid>/stat``); 0 when unknown."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _throttled(stats: dict[str, dict[str, int]]) -> dict[str, int]:
    found: dict[str, int] = {}
    for action, outcomes in stats.items():
        count = sum(n for code, n in outcomes.items() if code in THROTTLE_CODES)
        if count:
            found[action] = count
    return found


def _seconds(values: list[float]) -> dict[str, float]:
    ms = percentiles([v * 1000 for v in values])
    return {k.replace("_ms", "_s"): round(v / 1000, 2) for k, v in ms.items()}


def _environment(servers: Servers, spec: DiscoveryBench, db_prefix: str) -> dict[str, str]:
    keys_dir = servers.workdir / f"link-keys-{db_prefix}"
    keys.generate(keys_dir, "bench")
    return {
        "NOTIFIER_GLOBAL_NOTIFICATION_EMAIL": GLOBAL_NOTIFICATION_EMAIL,
        "NOTIFIER_LINK_KEYS_DIR": str(keys_dir),
        "REVOCATION_DISCOVERY_INTERVAL_SECONDS": str(spec.interval),
        "REVOCATION_DISCOVERY_REGIONS": ",".join(REGIONS),
        "REVOCATION_DISCOVERY_CONCURRENCY": str(spec.concurrency),
    }


async def run(servers: Servers, amqp_url: str, spec: DiscoveryBench) -> Result:
    db_prefix = unique("bench")
    env = _environment(servers, spec, db_prefix)
    account_ids = _account_ids(spec.accounts)
    scans, bought, emailed = _Scans(), dict[str, float](), dict[str, float]()
    with service_processes(servers, amqp_url, ["revocation", "notifier"], db_prefix=db_prefix, extra_env=env) as (
        revocation,
        _,
    ):
        assert revocation.process is not None
        pid = revocation.process.pid
        scheduler_url = servers.accounts.url(amqp_url, BrokerIdentity.SCHEDULER)
        async with EmulatorControl(servers.aws_endpoint_url) as control, _ticking(scheduler_url, spec.tick):
            await control.reset_rate_limits()  # AWS's figures, every bucket full
            endpoint = _endpoint_pid(servers.aws_endpoint_url)
            at_start = await control.stats()
            onboarding = asyncio.create_task(_onboard(servers, amqp_url, account_ids))
            buying: asyncio.Task[None] | None = None
            onboarded: dict[str, int] = {}
            deadline = time.monotonic() + 600.0

            def done() -> bool:
                if time.monotonic() > deadline:
                    return True
                if buying is None or not buying.done() or len(emailed) < len(bought):
                    return False
                # a whole round after onboarding: every account scanned again since
                return len(scans.count) >= spec.accounts and all(
                    n > onboarded.get(a, 0) for a, n in scans.count.items()
                )

            database = f"{db_prefix}_revocation"
            watching = asyncio.create_task(
                _watch(servers, database, scans=scans, bought=bought, emailed=emailed, until=done)
            )
            onboard_seconds = await onboarding
            # The cost per scan counts from here: registering (its probes) costs too.
            calls_before, scans_before = await control.stats(), sum(scans.count.values())
            onboarded.update(scans.count)
            cpu_before, endpoint_cpu_before = _cpu_seconds(pid), _cpu_seconds(endpoint)
            started = time.monotonic()
            deadline = started + spec.interval * 2.5 + 30
            buying = asyncio.create_task(_buy_all(_Buyer(servers.aws_endpoint_url), account_ids, spec, bought))
            await watching
            await buying
            seconds = time.monotonic() - started
            at_end = await control.stats()
            cost = _Cost(
                scans=sum(scans.count.values()) - scans_before,
                cpu_seconds=_cpu_seconds(pid) - cpu_before,
                endpoint_cpu_seconds=_cpu_seconds(endpoint) - endpoint_cpu_before,
                stats=_minus(at_end, calls_before),
                whole_run=_minus(at_end, at_start),
            )
    return _result(spec, scans, cost, bought=bought, emailed=emailed, onboard_seconds=onboard_seconds, seconds=seconds)


def _minus(after: dict[str, dict[str, int]], before: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    return {
        action: {code: n - before.get(action, {}).get(code, 0) for code, n in outcomes.items()}
        for action, outcomes in after.items()
    }


def _result(
    spec: DiscoveryBench,
    scans: _Scans,
    cost: _Cost,
    *,
    bought: dict[str, float],
    emailed: dict[str, float],
    onboard_seconds: float,
    seconds: float,
) -> Result:
    stats, scan_count = cost.stats, cost.scans
    describe_calls = sum(sum(stats.get(action, {}).values()) for action in SCAN_DESCRIBES)
    latencies = [emailed[p] - bought[p] for p in bought if p in emailed]
    throttled = _throttled(cost.whole_run)
    steady = _seconds(scans.lag)
    first = _seconds(scans.first_round_lag)
    result = Result(
        name="discovery_scale",
        description=(
            f"{spec.accounts} onboarded accounts x {len(REGIONS)} Regions scanned every {spec.interval:g} s "
            f"(ticks every {spec.tick:g} s, {spec.concurrency} scans at once) against AWS's request rates; "
            f"{len(bought)} commitments bought with boto3 → their emails"
        ),
        metrics={
            "accounts": spec.accounts,
            "regions": len(REGIONS),
            "interval_s": spec.interval,
            "onboard_seconds": round(onboard_seconds, 1),
            "seconds_after_onboarding": round(seconds, 1),
            "scans": sum(scans.count.values()),
            "accounts_scanned": len(scans.count),
            "rounds_fit_interval": bool(scans.lag) and max(scans.lag) <= spec.interval,
            **{f"scan_end_after_slot_{k}": v for k, v in steady.items()},
            **{f"first_round_end_after_slot_{k}": v for k, v in first.items()},
            "throttled_calls": sum(throttled.values()),
            "throttled_by_action": throttled,
            "describe_calls_per_scan": round(describe_calls / scan_count, 1) if scan_count else None,
            "cpu_ms_per_scan": round(cost.cpu_seconds * 1000 / scan_count, 1) if scan_count else None,
            "endpoint_cpu_ms_per_scan": round(cost.endpoint_cpu_seconds * 1000 / scan_count, 1) if scan_count else None,
            "load_average_1m": round(os.getloadavg()[0], 2),
            **{f"scan_duration_{k}": v for k, v in percentiles(scans.durations_ms).items()},
            "purchases": len(bought),
            "purchases_emailed": len(latencies),
            **{f"purchase_to_email_{k}": v for k, v in _seconds(latencies).items()},
            "target_purchase_to_email_p99_s_max": spec.target_email_p99_s,
        },
    )
    if len(latencies) < len(bought):
        result.notes.append(f"{len(bought) - len(latencies)} of {len(bought)} purchases were not emailed in time")
    if len(scans.count) < spec.accounts:
        result.notes.append(f"only {len(scans.count)} of {spec.accounts} accounts were scanned")
    return result
