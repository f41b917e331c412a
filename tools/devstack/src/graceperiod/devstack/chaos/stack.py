"""What a chaos scenario breaks: private servers it can stop, ``kill -9`` and start again on
the same ports and data, and Grace Period's workers as separate OS processes.

The servers are always private (never ``AMQP_URL`` / ``MONGODB_URL``): a scenario must be
able to restart them. Each scenario deploys the workers into its own RabbitMQ vhost with
its own database names, so scenarios share the servers but nothing else.

Two topologies: ``single`` (one RabbitMQ node, everything on loopback) and ``cluster`` (a
:class:`RabbitCluster` of three nodes behind HAProxy, each node, each worker replica and the
gateway on a test host of its own; FerretDB, the SMTP sink and the AWS endpoint on this
machine's side of the test network).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import quote, urlsplit, urlunsplit

from prometheus_client.parser import text_string_to_metric_families
from pymongo import MongoClient

from graceperiod.devstack.servers.credentials import ActorKeys, BrokerAccounts
from graceperiod.devstack.servers.netns import TestNetwork
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
from graceperiod.devstack.servers.rabbit_cluster import RabbitCluster, production_definitions
from graceperiod.devstack.testkit.fixtures import unique
from graceperiod.devstack.testkit.samples import GLOBAL_NOTIFICATION_EMAIL
from graceperiod.runtime.actor_assertions import SIGNING_KEYS_VARIABLE

#: The message-driven workers a scenario deploys. The gateway is HTTP only (no queue of
#: its own to consume); add it here once it consumes events.
WORKERS: tuple[str, ...] = ("revocation", "notifier", "cooldown")
Topology = Literal["single", "cluster"]


class Broker(Protocol):
    """One RabbitMQ node, or a cluster behind one address."""

    @property
    def url(self) -> str: ...
    @property
    def management_url(self) -> str: ...
    @property
    def running(self) -> bool: ...
    def start(self, timeout: float = ...) -> None: ...
    def stop(self) -> None: ...


class Database(Protocol):
    """The private FerretDB, or a MongoDB given by ``MONGODB_URL`` (cluster stack only)."""

    @property
    def url(self) -> str: ...
    @property
    def running(self) -> bool: ...
    def start(self, timeout: float = ...) -> None: ...
    def stop(self) -> None: ...


@dataclass(frozen=True)
class ExternalMongo:
    """A MongoDB (a replica set) this run neither starts nor stops. Its hosts must listen on an
    address of this machine the test hosts reach: a loopback host in the URL is replaced by the
    test network's bridge address for the services (``service_url``)."""

    url: str
    bridge: str

    @property
    def service_url(self) -> str:
        return re.sub(r"(?<=[/,@])(?:127\.0\.0\.1|localhost)(?=[:/,?]|$)", self.bridge, self.url)

    @property
    def running(self) -> bool:
        return True

    def start(self, timeout: float = 0) -> None:
        return None

    def stop(self) -> None:
        return None


@dataclass
class ChaosStack:
    workdir: Path
    rabbit: Broker
    ferret: Database
    smtp: SmtpSinkServer
    aws: AwsEndpointServer
    env: dict[str, str] = field(default_factory=dict)
    """Service settings every deployment gets (the run's size sets them)."""
    network: TestNetwork | None = None
    """The test network of a ``cluster`` stack (every service replica gets a host on it)."""
    accounts: BrokerAccounts = field(default_factory=BrokerAccounts.generated)
    """Each worker runs as its own broker identity; each deployment's vhost gets the definitions."""

    @property
    def cluster(self) -> RabbitCluster:
        assert isinstance(self.rabbit, RabbitCluster), "a cluster scenario needs the cluster stack"
        return self.rabbit

    @property
    def topology(self) -> Topology:
        return "cluster" if isinstance(self.rabbit, RabbitCluster) else "single"

    @property
    def link_keys_dir(self) -> Path:
        """The notifier's link-signing keys (``<kid>.pem``): it refuses to start without one."""
        return self.workdir / "link-keys"

    def actor_keys_environment(self) -> dict[str, str]:
        """The gateway's actor-assertion keys: the ones this process already acts with (a test
        session's), else a pair made for the stack and exported to this process too (its
        seeding acts as the gateway)."""
        names = (SIGNING_KEYS_VARIABLE, "ASSERTION_PUBLIC_KEYS_DIR")
        if all(os.environ.get(name) for name in names):
            return {name: os.environ[name] for name in names}
        environment = ActorKeys(self.workdir / "actor-keys").ensure().environment()
        os.environ.update(environment)
        return environment

    def ensure_link_keys(self) -> None:
        if any(self.link_keys_dir.glob("*.pem")):
            return
        subprocess.run(  # noqa: S603 - our own module, fixed arguments
            [
                sys.executable,
                "-m",
                "graceperiod.runtime.keys_cli",
                "generate",
                "--dir",
                str(self.link_keys_dir),
                "--jwks-out",
                str(self.link_jwks_file),
            ],
            check=True,
            capture_output=True,
        )

    @property
    def link_jwks_file(self) -> Path:
        """The public half of the link keys, for the gateway."""
        return self.workdir / "links.jwks.json"

    @property
    def service_mongodb_url(self) -> str:
        """The database as the services reach it (from their test hosts, in a cluster stack)."""
        return self.ferret.service_url if isinstance(self.ferret, ExternalMongo) else self.ferret.url

    @property
    def servers(self) -> list[Broker | Database | ChildServer]:
        return [self.rabbit, self.ferret, self.smtp, self.aws]

    @classmethod
    @contextlib.contextmanager
    def running(cls, workdir: Path, topology: Topology = "single") -> Iterator[ChaosStack]:
        with contextlib.ExitStack() as cleanup:
            network = cleanup.enter_context(TestNetwork.made()) if topology == "cluster" else None
            host = network.gateway if network is not None else "127.0.0.1"
            accounts = BrokerAccounts.generated()
            rabbit: Broker = (
                RabbitCluster(
                    network=network,
                    data_dir=workdir / "rabbitmq",
                    definitions=production_definitions(accounts, workdir / "rabbitmq-definitions.json"),
                )
                if network is not None
                else RabbitServer(data_dir=workdir / "rabbitmq")
            )
            external = os.environ.get("MONGODB_URL") if network is not None else None
            stack = cls(
                workdir=workdir,
                rabbit=rabbit,
                ferret=ExternalMongo(external, host)
                if external
                else FerretServer(data_dir=workdir / "ferretdb", host=host),
                smtp=SmtpSinkServer(data_dir=workdir / "smtp", host=host),
                aws=AwsEndpointServer(data_dir=workdir / "aws", host=host),
                network=network,
                accounts=accounts,
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
        parts = urlsplit(self.rabbit.url)
        admin = (parts.username or "guest", parts.password or "guest")
        await asyncio.to_thread(self.accounts.prepare_vhost, management, vhost, admin=admin)
        amqp_url = urlunsplit((parts.scheme, parts.netloc, "/" + quote(vhost, safe=""), "", ""))
        deployment = Deployment(
            stack=self,
            label=label,
            vhost=vhost,
            amqp_url=amqp_url,
            db_prefix=unique("chaos"),
            env={**self.accounts.environment(), **self.actor_keys_environment(), **self.env, **(env or {})},
            logs=self.workdir / "logs" / f"{label}-{vhost[-6:]}",
        )
        try:
            for worker in workers:
                await deployment.start(worker)
            yield deployment
        finally:
            await asyncio.to_thread(deployment.stop_all)
            await asyncio.to_thread(self._ensure_running_quietly)
            management_request(self.rabbit.management_url, "DELETE", f"api/vhosts/{vhost}")
            await asyncio.to_thread(deployment.drop_databases)

    def _ensure_running_quietly(self) -> None:
        with contextlib.suppress(Exception):
            self.ensure_running()


#: Reads of a running replica's /metrics before giving up (a busy machine may answer one late).
SCRAPE_ATTEMPTS = 3


def _scrape(process: ServiceProcess) -> str:
    """A running replica's /metrics. One that cannot be read is an error, not zero: a count of 0
    would fail a check (or pass one) for a reason that is not the service's."""
    problem: Exception | None = None
    for attempt in range(SCRAPE_ATTEMPTS):
        if attempt:
            time.sleep(1.0)
        try:
            with urllib.request.urlopen(f"http://{process.host}:{process.port}/metrics", timeout=10) as response:
                return str(response.read().decode())
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            problem = exc
    msg = f"{process.name}'s /metrics did not answer {SCRAPE_ATTEMPTS} times: {problem}"
    raise RuntimeError(msg)


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

    def _environment(self, service: str, host: str, port: int) -> dict[str, str]:
        prefix = service.upper()
        return {
            "AMQP_URL": self.amqp_url,
            "MONGODB_URL": self.stack.service_mongodb_url,
            "SMTP_URL": self.stack.smtp.url,
            "AWS_ENDPOINT_URL": self.stack.aws.url,
            "AWS_ACCESS_KEY_ID": "chaos",
            "AWS_SECRET_ACCESS_KEY": "chaos",
            "AWS_DEFAULT_REGION": "us-east-1",
            "LOG_LEVEL": "WARNING",
            "LOG_FORMAT": "json",
            "NOTIFIER_GLOBAL_NOTIFICATION_EMAIL": GLOBAL_NOTIFICATION_EMAIL,
            "NOTIFIER_LINK_KEYS_DIR": str(self.stack.link_keys_dir),
            "GATEWAY_LINK_JWKS_FILE": str(self.stack.link_jwks_file),
            "REVOCATION_LINK_JWKS_FILE": str(self.stack.link_jwks_file),
            # The scenarios count the effects of executors' purchase.executed; a scan finding the
            # seeded commitments first would turn them into discovered purchases (its own tests).
            "REVOCATION_DISCOVERY_ENABLED": "false",
            f"{prefix}_MONGODB_DATABASE": self.database(service),
            f"{prefix}_HTTP_HOST": host,
            f"{prefix}_HTTP_PORT": str(port),
            **self.env,
        }

    async def start(self, service: str) -> ServiceProcess:
        """Start one more replica of ``service`` (the first one, or a second, ...); in a cluster
        stack, on a test host of its own."""
        replicas = self.processes.setdefault(service, [])
        name = f"{service}-{len(replicas) + 1}"
        port = free_port()
        host, namespace = "127.0.0.1", None
        if (network := self.stack.network) is not None:
            test_host = await asyncio.to_thread(network.add_host, self.host_name(name))
            host, namespace = test_host.address, test_host.namespace
        process = ServiceProcess(
            name=name,
            module=f"graceperiod.{service}",
            data_dir=self.logs,
            port=port,
            host=host,
            namespace=namespace,
            env=self._environment(service, host, port),
        )
        # Listed before it starts: stop_all stops a replica whose start was interrupted (the
        # start goes on in its thread after a cancellation, and gives up once stop_all stops it).
        replicas.append(process)
        await asyncio.to_thread(process.start, 90)
        return process

    def host_name(self, replica: str) -> str:
        """The test host of a replica (``notifier-2``) of this deployment."""
        return f"{self.vhost[-6:]}-{replica}"

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
        if (network := self.stack.network) is not None:
            for process in self.all_processes():
                if (host := self.host_name(process.name)) in network.hosts:
                    network.remove_host(host)

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
            for family in text_string_to_metric_families(_scrape(process)):
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
