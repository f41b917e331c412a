"""A private three-node RabbitMQ cluster behind HAProxy, each node on a test host of its own.

The nodes (Debian's rabbitmq-server) run in the namespaces of a :class:`TestNetwork`, named
``rabbit@<address>`` (long names), with an Erlang cookie made for the run (a private ``HOME``)
and the standard ports inside their namespaces. They form the cluster by classic config peer
discovery (node 1 first, the others join it; a restarted node rejoins from its data) with
``cluster_partition_handling = pause_minority`` as in production (``deploy/k8s``). Clients use
one address, HAProxy's on the bridge, which sends each connection to a node whose AMQP port
answers (TCP checks every second) and closes the connections of a node it marks down.

:func:`production_definitions` is the one hook for what the cluster loads at boot so it matches
production: the broker identities with their permissions and topic permissions, and the whole
topology (what ``graceperiod-broker-definitions`` imports in production: the Kubernetes Job,
the compose one-shot).
"""

from __future__ import annotations

import contextlib
import csv
import io
import secrets
import shutil
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from graceperiod.devstack.servers.credentials import BrokerAccounts
from graceperiod.devstack.servers.netns import TestNetwork
from graceperiod.devstack.servers.processes import ChildServer, RabbitServer, ServerError, free_port, management_request

AMQP_PORT = 5672
MANAGEMENT_PORT = 15672
DIST_PORT = 25672
#: Erlang's net_ticktime for the test cluster: a peer silent for 7.5-12.5 s is down (default 60 s:
#: 45-75 s), so a partition is detected within a CI-sized run. Production keeps the default.
NET_TICKTIME = 10
#: HAProxy: check each node's AMQP port every second; two failures mark it down, two successes up.
CHECK = "inter 1s fall 2 rise 2 on-marked-down shutdown-sessions"
#: HAProxy's idle timeouts: longer than the AMQP heartbeat (60 s, negotiated by RabbitMQ), which
#: keeps an idle connection busy every 30 s; shorter ones cut idle connections (seen in a run).
IDLE_TIMEOUT = "3m"


def production_definitions(accounts: BrokerAccounts, path: Path) -> Path:
    """The definitions production's broker holds (``graceperiod-broker-definitions``: every
    identity, its permissions and topic permissions, the topology; no policy), with this
    stack's passwords and administrator, written owner-only to ``path`` for every node of the
    test cluster to load at boot."""
    return accounts.boot_definitions(path)


@dataclass(frozen=True)
class RabbitClustering:
    """What makes a :class:`RabbitServer` a member of a cluster."""

    peers: tuple[str, ...]
    home: Path
    """Holds the run's ``.erlang.cookie`` (nodes and CLI tools read it from ``$HOME``)."""
    definitions: Path | None = None

    def config_lines(self) -> list[str]:
        lines = [
            "cluster_formation.peer_discovery_backend = classic_config",
            *(f"cluster_formation.classic_config.nodes.{i} = {peer}" for i, peer in enumerate(self.peers, 1)),
            "cluster_partition_handling = pause_minority",
            # Spread quorum queue leaders over the nodes instead of placing them all on the node
            # of the connection that declared them (3.10's default, client-local).
            "queue_leader_locator = balanced",
        ]
        if self.definitions is not None:
            lines.append(f"load_definitions = {self.definitions}")
        return lines

    def advanced_config(self) -> str:
        return f"[{{kernel, [{{net_ticktime, {NET_TICKTIME}}}]}}].\n"

    def environment(self) -> dict[str, str]:
        return {"RABBITMQ_USE_LONGNAME": "true", "HOME": str(self.home)}


@dataclass(kw_only=True)
class HaproxyServer(ChildServer):
    """Debian's HAProxy in TCP mode in front of the nodes, with a CSV stats page."""

    name: str = "haproxy"
    backends: list[tuple[str, str]] = field(default_factory=list)
    """(server name, address) of each node."""
    stats_port: int = field(default_factory=free_port)

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@{self.host}:{self.port}/"

    def prepare(self) -> None:
        servers = [f"  server {name} {address}:{AMQP_PORT} check" for name, address in self.backends]
        (self.data_dir / "haproxy.cfg").write_text(
            "\n".join(
                [
                    "global",
                    "  maxconn 4096",
                    "defaults",
                    "  mode tcp",
                    "  timeout connect 2s",
                    f"  timeout client {IDLE_TIMEOUT}",
                    f"  timeout server {IDLE_TIMEOUT}",
                    "  timeout check 1s",
                    "frontend amqp",
                    f"  bind {self.host}:{self.port}",
                    "  default_backend rabbitmq",
                    "backend rabbitmq",
                    "  balance leastconn",
                    f"  default-server {CHECK}",
                    *servers,
                    "listen stats",
                    "  mode http",
                    f"  bind {self.host}:{self.stats_port}",
                    "  stats enable",
                    "  stats uri /stats",
                    "",
                ]
            )
        )

    def command(self) -> list[str]:
        binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
        if not Path(binary).exists():
            msg = "haproxy not found: install Debian's haproxy (make bootstrap)"
            raise ServerError(msg)
        return [binary, "-db", "-f", str(self.data_dir / "haproxy.cfg")]

    def server_states(self) -> dict[str, str]:
        """Each node's state as HAProxy's health checks see it (``UP``, ``DOWN``, ...)."""
        url = f"http://{self.host}:{self.stats_port}/stats;csv"
        with urllib.request.urlopen(url, timeout=3) as response:
            rows = csv.DictReader(io.StringIO(response.read().decode().lstrip("# ")))
            names = dict(self.backends)
            return {r["svname"]: r["status"] for r in rows if r["pxname"] == "rabbitmq" and r["svname"] in names}


@dataclass
class RabbitCluster:
    """Three nodes and the load balancer; behaves like one :class:`RabbitServer` to its users
    (``url``, ``management_url``, ``start``, ``stop``, ``running``)."""

    network: TestNetwork
    data_dir: Path
    size: int = 3
    definitions: Path | None = None
    """What every node loads at boot (:func:`production_definitions`)."""
    nodes: list[RabbitServer] = field(init=False)
    balancer: HaproxyServer = field(init=False)

    def __post_init__(self) -> None:
        home = self.data_dir / "home"
        home.mkdir(parents=True, exist_ok=True)
        cookie = home / ".erlang.cookie"
        if not cookie.exists():
            cookie.write_text(secrets.token_hex(20))
            cookie.chmod(0o400)
        hosts = [self.network.add_host(f"rabbit{i}") for i in range(1, self.size + 1)]
        clustering = RabbitClustering(
            peers=tuple(f"rabbit@{h.address}" for h in hosts), home=home, definitions=self.definitions
        )
        self.nodes = [
            RabbitServer(
                name=f"rabbit{i}",
                data_dir=self.data_dir / f"rabbit{i}",
                host=host.address,
                namespace=host.namespace,
                port=AMQP_PORT,
                management_port=MANAGEMENT_PORT,
                dist_port=DIST_PORT,
                cluster=clustering,
            )
            for i, host in enumerate(hosts, 1)
        ]
        self.balancer = HaproxyServer(
            data_dir=self.data_dir / "haproxy",
            host=self.network.gateway,
            backends=[(node.name, node.host) for node in self.nodes],
        )

    @property
    def url(self) -> str:
        return self.balancer.url

    @property
    def management_url(self) -> str:
        """A node that answers (one may be down, paused or cut off)."""
        for node in self.nodes:
            if node.running and management_request(node.management_url, "GET", "api/overview") is not None:
                return node.management_url
        return self.nodes[0].management_url

    @property
    def running(self) -> bool:
        return self.balancer.running and all(node.running for node in self.nodes)

    def node(self, name: str) -> RabbitServer:
        return next(node for node in self.nodes if node.name == name)

    def start(self, timeout: float = 120.0) -> None:
        """Start whatever is stopped; node 1 first on a fresh cluster (the others join it), all
        at once otherwise (a node with data waits for its peers before it opens its ports)."""
        fresh = not (self.nodes[0].data_dir / "mnesia").exists()
        pending = [n for n in self.nodes if not n.running]
        if fresh and self.nodes[0] in pending:
            self.nodes[0].start(timeout)
            pending.remove(self.nodes[0])
        start_together(pending, timeout)
        self.wait_clustered(timeout)
        if not self.balancer.running:
            self.balancer.start(30)

    def stop(self, timeout: float = 30.0) -> None:
        self.balancer.stop()
        stop_together(self.nodes, timeout)

    def running_nodes(self, via: RabbitServer) -> set[str]:
        """The cluster's running members as ``via`` sees them (empty when it does not answer)."""
        found = management_request(via.management_url, "GET", "api/nodes?columns=name,running")
        return {n["name"] for n in found or [] if n.get("running")}

    def wait_clustered(self, timeout: float = 120.0) -> None:
        """Until every node answers and sees all of them running."""
        everyone = {node.node_name for node in self.nodes}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self.running_nodes(node) == everyone for node in self.nodes):
                return
            time.sleep(0.5)
        seen = {node.name: sorted(self.running_nodes(node)) for node in self.nodes}
        msg = f"the cluster did not form within {timeout:.0f}s: {seen}"
        raise ServerError(msg)

    def queues(self, vhost: str) -> list[dict[str, Any]]:
        return management_request(self.management_url, "GET", f"api/queues/{quote(vhost, safe='')}") or []

    def leaders(self, vhost: str) -> Counter[str]:
        """Quorum queue leaders per node (node name → queues it leads) in ``vhost``."""
        return Counter(q["leader"] for q in self.queues(vhost) if q.get("leader"))

    def node_of(self, node_name: str) -> RabbitServer:
        return next(node for node in self.nodes if node.node_name == node_name)

    def node_of_connection(self, connection_name: str) -> RabbitServer | None:
        """The node a named client connection (``connection_name`` client property) is on."""
        found = management_request(self.management_url, "GET", "api/connections?columns=node,client_properties")
        for connection in found or []:
            if (connection.get("client_properties") or {}).get("connection_name") == connection_name:
                return self.node_of(connection["node"])
        return None


def start_together(servers: list[RabbitServer], timeout: float) -> None:
    errors: list[BaseException] = []

    def start(server: RabbitServer) -> None:
        try:
            server.start(timeout)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(s,), daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def stop_together(servers: list[RabbitServer], timeout: float) -> None:
    threads = [threading.Thread(target=s.stop, args=(timeout,), daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        with contextlib.suppress(RuntimeError):
            thread.join()
