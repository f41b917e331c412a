"""What a chaos scenario breaks: private servers it can stop, ``kill -9`` and start again on
the same ports and data, and Grace Period's workers as separate OS processes.

The servers are always private (never ``AMQP_URL`` / ``MONGODB_URL``): a scenario must be
able to restart them. Each scenario deploys the workers into its own RabbitMQ vhost with
its own database names, so scenarios share the servers but nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from prometheus_client.parser import text_string_to_metric_families
from pymongo import MongoClient

from graceperiod.devstack.servers.processes import (
    AwsEndpointServer,
    ChildServer,
    FerretServer,
    RabbitServer,
    ServiceProcess,
    SmtpSinkServer,
    free_port,
    management_request,
)
from graceperiod.devstack.testkit.fixtures import unique
from graceperiod.devstack.testkit.samples import GLOBAL_NOTIFICATION_EMAIL

#: The message-driven workers a scenario deploys. The gateway is HTTP only (no queue of
#: its own to consume); add it here once it consumes events.
WORKERS: tuple[str, ...] = ("revocation", "notifier", "cooldown")


@dataclass
class ChaosStack:
    workdir: Path
    rabbit: RabbitServer
    ferret: FerretServer
    smtp: SmtpSinkServer
    aws: AwsEndpointServer
    env: dict[str, str] = field(default_factory=dict)
    """Service settings every deployment gets (the run's size sets them)."""

    @property
    def link_keys_dir(self) -> Path:
        """The notifier's link-signing keys (``<kid>.pem``): it refuses to start without one."""
        return self.workdir / "link-keys"

    def ensure_link_keys(self) -> None:
        if any(self.link_keys_dir.glob("*.pem")):
            return
        subprocess.run(  # noqa: S603 - our own module, fixed arguments
            [sys.executable, "-m", "graceperiod.notifier.cli.keys", "generate", "--dir", str(self.link_keys_dir)],
            check=True,
            capture_output=True,
        )

    @property
    def servers(self) -> list[ChildServer]:
        return [self.rabbit, self.ferret, self.smtp, self.aws]

    @classmethod
    @contextlib.contextmanager
    def running(cls, workdir: Path) -> Iterator[ChaosStack]:
        stack = cls(
            workdir=workdir,
            rabbit=RabbitServer(data_dir=workdir / "rabbitmq"),
            ferret=FerretServer(data_dir=workdir / "ferretdb"),
            smtp=SmtpSinkServer(data_dir=workdir / "smtp"),
            aws=AwsEndpointServer(data_dir=workdir / "aws"),
        )
        try:
            stack.ensure_link_keys()
            stack.ensure_running()
            yield stack
        finally:
            for server in reversed(stack.servers):
                server.stop()

    def ensure_running(self) -> None:
        """Start whatever a previous scenario left stopped (it may have failed mid-outage)."""
        for server in self.servers:
            if not server.running:
                server.start(timeout=120 if server is self.rabbit else 60)

    @contextlib.asynccontextmanager
    async def deploy(
        self,
        label: str,
        *,
        workers: Sequence[str] = WORKERS,
        env: dict[str, str] | None = None,
    ) -> AsyncIterator[Deployment]:
        """The workers, one replica each, in a fresh vhost with fresh databases."""
        await asyncio.to_thread(self.ensure_running)
        vhost = f"chaos-{unique('')}"
        management = self.rabbit.management_url
        user = urlsplit(self.rabbit.url).username or "guest"
        management_request(management, "PUT", f"api/vhosts/{vhost}", {})
        management_request(
            management,
            "PUT",
            f"api/permissions/{vhost}/{quote(user, safe='')}",
            {"configure": ".*", "write": ".*", "read": ".*"},
        )
        parts = urlsplit(self.rabbit.url)
        amqp_url = urlunsplit((parts.scheme, parts.netloc, "/" + quote(vhost, safe=""), "", ""))
        deployment = Deployment(
            stack=self,
            label=label,
            vhost=vhost,
            amqp_url=amqp_url,
            db_prefix=unique("chaos"),
            env={**self.env, **(env or {})},
            logs=self.workdir / "logs" / f"{label}-{vhost[-6:]}",
        )
        try:
            for worker in workers:
                await deployment.start(worker)
            yield deployment
        finally:
            await asyncio.to_thread(deployment.stop_all)
            await asyncio.to_thread(self._ensure_running_quietly)
            management_request(management, "DELETE", f"api/vhosts/{vhost}")
            await asyncio.to_thread(deployment.drop_databases)

    def _ensure_running_quietly(self) -> None:
        with contextlib.suppress(Exception):
            self.ensure_running()


@dataclass
class Deployment:
    """Grace Period's workers for one scenario: start, kill, restart, add replicas, inspect."""

    stack: ChaosStack
    label: str
    vhost: str
    amqp_url: str
    db_prefix: str
    env: dict[str, str]
    logs: Path
    processes: dict[str, list[ServiceProcess]] = field(default_factory=dict)

    def database(self, service: str) -> str:
        return f"{self.db_prefix}_{service}"

    def _environment(self, service: str, port: int) -> dict[str, str]:
        prefix = service.upper()
        return {
            "AMQP_URL": self.amqp_url,
            "MONGODB_URL": self.stack.ferret.url,
            "SMTP_URL": self.stack.smtp.url,
            "AWS_ENDPOINT_URL": self.stack.aws.url,
            "AWS_ACCESS_KEY_ID": "chaos",
            "AWS_SECRET_ACCESS_KEY": "chaos",
            "AWS_DEFAULT_REGION": "us-east-1",
            "LOG_LEVEL": "WARNING",
            "LOG_FORMAT": "json",
            "NOTIFIER_GLOBAL_NOTIFICATION_EMAIL": GLOBAL_NOTIFICATION_EMAIL,
            "NOTIFIER_LINK_KEYS_DIR": str(self.stack.link_keys_dir),
            f"{prefix}_MONGODB_DATABASE": self.database(service),
            f"{prefix}_HTTP_PORT": str(port),
            **self.env,
        }

    async def start(self, service: str) -> ServiceProcess:
        """Start one more replica of ``service`` (the first one, or a second, ...)."""
        replicas = self.processes.setdefault(service, [])
        port = free_port()
        process = ServiceProcess(
            name=f"{service}-{len(replicas) + 1}",
            module=f"graceperiod.{service}",
            data_dir=self.logs,
            port=port,
            env=self._environment(service, port),
        )
        await asyncio.to_thread(process.start, 90)
        replicas.append(process)
        return process

    def replica(self, service: str, index: int = 0) -> ServiceProcess:
        return self.processes[service][index]

    def kill(self, service: str, index: int = 0) -> None:
        """``kill -9``: no shutdown hooks, unacked messages go back to their queues."""
        self.replica(service, index).kill()

    async def restart(self, service: str, index: int = 0) -> None:
        """Start a stopped or killed replica again on the same port."""
        await asyncio.to_thread(self.replica(service, index).start, 90)

    def stop_all(self) -> None:
        for replicas in self.processes.values():
            for process in reversed(replicas):
                process.stop()

    def all_processes(self) -> list[ServiceProcess]:
        return [process for replicas in self.processes.values() for process in replicas]

    def dead(self) -> list[str]:
        """Replicas that exited on their own (the scenario did not kill them)."""
        return [p.name for p in self.all_processes() if p.process is not None and p.process.poll() is not None]

    def rss_mb(self) -> dict[str, float]:
        """Resident memory of each running replica, from /proc (Linux)."""
        found: dict[str, float] = {}
        for process in self.all_processes():
            if process.process is None or process.process.poll() is not None:
                continue
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{process.process.pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        found[process.name] = int(line.split()[1]) / 1024
        return found

    def metric(self, service: str, name: str, *, replica: int | None = None, **labels: str) -> float:
        """Sum of a Prometheus sample over the running replicas of ``service`` (/metrics), or of
        one of them (``replica``: its index)."""
        total = 0.0
        replicas = self.processes.get(service, [])
        for process in replicas if replica is None else replicas[replica : replica + 1]:
            if not process.running:
                continue
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{process.port}/metrics", timeout=5) as response:
                    text = response.read().decode()
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                continue
            for family in text_string_to_metric_families(text):
                for sample in family.samples:
                    if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                        total += sample.value
        return total

    def queues(self) -> dict[str, dict[str, Any]]:
        """Every queue of this deployment's vhost, from the management API."""
        found = management_request(self.stack.rabbit.management_url, "GET", f"api/queues/{quote(self.vhost, safe='')}")
        return {q["name"]: q for q in found or []}

    def drop_databases(self) -> None:
        if os.environ.get("GP_CHAOS_KEEP"):
            return
        client: MongoClient[dict[str, Any]] = MongoClient(self.stack.ferret.url, serverSelectionTimeoutMS=5000)
        try:
            for name in client.list_database_names():
                if name.startswith(self.db_prefix):
                    client.drop_database(name)
        except Exception:  # noqa: S110 - best effort: a private, throw-away server
            pass
        finally:
            client.close()
