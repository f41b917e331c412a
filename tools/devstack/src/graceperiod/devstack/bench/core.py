"""What every benchmark shares: the servers, progress display, statistics and results."""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from graceperiod.contracts.revocation import CommandReply
from graceperiod.contracts.rpc import CommandStatus
from graceperiod.devstack.servers.credentials import ActorKeys, BrokerAccounts
from graceperiod.devstack.servers.processes import ServiceProcess, SmtpSinkServer, free_port
from graceperiod.devstack.testkit import fixtures
from graceperiod.runtime.actor_assertions import SIGNING_KEYS_VARIABLE


@dataclass(frozen=True)
class Servers:
    amqp_url: str
    management_url: str | None
    mongodb_url: str
    smtp: SmtpSinkServer
    aws_endpoint_url: str
    workdir: Path
    accounts: BrokerAccounts = field(default_factory=BrokerAccounts.generated)
    """Each service runs as its own broker identity, as in production."""


async def until_done(ask: Callable[[], Awaitable[CommandReply]], what: str, *, tries: int = 60) -> None:
    """Send a command until it is no longer in progress (the service's work, e.g. an account's
    probes, outlasting its reply deadline on a loaded machine: ``ask`` sends it again with the
    same idempotency key); raises unless it ended done."""
    for _ in range(tries):
        reply = await ask()
        if reply.status is not CommandStatus.IN_PROGRESS:
            break
        await asyncio.sleep(1.0)
    if reply.status is not CommandStatus.DONE:
        msg = f"{what} failed: {reply.message}"
        raise RuntimeError(msg)


@contextlib.contextmanager
def servers(workdir: Path) -> Iterator[Servers]:
    """Private servers for the run (or the ones named by AMQP_URL / MONGODB_URL / AWS_ENDPOINT_URL)."""
    actor_keys_environment(workdir)
    with (
        fixtures.rabbit_endpoint(workdir / "rabbitmq") as rabbit,
        fixtures.mongodb_endpoint(workdir / "ferretdb") as mongodb_url,
        fixtures.smtp_sink(workdir / "smtp") as smtp,
        fixtures.aws_endpoint(workdir / "aws") as aws_url,
    ):
        yield Servers(rabbit.url, rabbit.management_url, mongodb_url, smtp, aws_url, workdir)


def actor_keys_environment(workdir: Path) -> dict[str, str]:
    """The gateway's actor-assertion keys (a test session's, else made and exported here: the
    benchmarks act as the gateway)."""
    names = (SIGNING_KEYS_VARIABLE, "ASSERTION_PUBLIC_KEYS_DIR")
    if all(os.environ.get(name) for name in names):
        return {name: os.environ[name] for name in names}
    environment = ActorKeys(workdir / "actor-keys").ensure().environment()
    os.environ.update(environment)
    return environment


@contextlib.contextmanager
def vhost(servers: Servers) -> Iterator[str]:
    """A fresh vhost so each benchmark starts from empty queues."""
    endpoint = fixtures.RabbitEndpoint(servers.amqp_url, servers.management_url)
    with fixtures.isolated_vhost(endpoint, servers.accounts) as url:
        yield url


@contextlib.contextmanager
def service_processes(
    servers: Servers, amqp_url: str, names: Sequence[str], *, db_prefix: str, extra_env: dict[str, str] | None = None
) -> Iterator[list[ServiceProcess]]:
    """Run Grace Period services as separate processes, as in production."""
    env = {
        "AMQP_URL": amqp_url,
        "MONGODB_URL": servers.mongodb_url,
        "SMTP_URL": servers.smtp.url,
        "AWS_ENDPOINT_URL": servers.aws_endpoint_url,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "LOG_LEVEL": "WARNING",
        **servers.accounts.environment(),
        **actor_keys_environment(servers.workdir),
        **(extra_env or {}),
    }
    started: list[ServiceProcess] = []
    try:
        for name in names:
            prefix = name.upper()
            process = ServiceProcess(
                name=name,
                module=f"graceperiod.{name}",
                data_dir=servers.workdir / "logs",
                port=free_port(),
                env={**env, f"{prefix}_MONGODB_DATABASE": f"{db_prefix}_{name}"},
            )
            process.env[f"{prefix}_HTTP_PORT"] = str(process.port)
            process.start(timeout=60)
            started.append(process)
        yield started
    finally:
        for process in reversed(started):
            process.stop()


def progress() -> Progress:
    return Progress(
        TextColumn("[bold blue]{task.description:<34}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=False,
    )


def percentiles(samples_ms: Sequence[float]) -> dict[str, float]:
    if not samples_ms:
        return {"p50_ms": float("nan"), "p99_ms": float("nan"), "max_ms": float("nan")}
    ordered = sorted(samples_ms)
    cut = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else [ordered[0]] * 99
    return {"p50_ms": round(cut[49], 2), "p99_ms": round(cut[98], 2), "max_ms": round(ordered[-1], 2)}


@dataclass
class Result:
    name: str
    description: str
    metrics: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def cpu_count() -> int:
    return os.cpu_count() or 1


def _busy_seconds() -> float:
    """CPU seconds the whole machine spent busy since boot (every process, the kernel's
    interrupts included; idle, I/O wait and time stolen by the hypervisor not)."""
    with Path("/proc/stat").open() as stat:
        fields = [int(x) for x in stat.readline().split()[1:8]]
    user, nice, system, _idle, _iowait, irq, softirq = fields
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


@dataclass
class MachineCpu:
    """The machine's busy CPU over a timed phase: every process counted (services, servers,
    emulators and the bench itself), so the figure says how many of the machine's cores a rate
    takes, whatever else changes. Without ``/proc/stat`` (not Linux) it reports nothing."""

    busy_seconds: float = 0.0
    seconds: float = 0.0
    _started: tuple[float, float] | None = None

    def __enter__(self) -> MachineCpu:
        with contextlib.suppress(OSError):
            self._started = (_busy_seconds(), time.perf_counter())
        return self

    def __exit__(self, *_: object) -> None:
        if self._started is not None:
            busy, at = self._started
            self.busy_seconds, self.seconds = _busy_seconds() - busy, time.perf_counter() - at

    def figures(self, operations: int, unit: str) -> dict[str, float]:
        """Cores busy on average, and CPU milliseconds per ``unit`` (``operations`` of them)."""
        if not self.seconds or not operations:
            return {}
        return {
            "machine_busy_cores": round(self.busy_seconds / self.seconds, 2),
            f"machine_cpu_ms_per_{unit}": round(self.busy_seconds / operations * 1000, 1),
        }
