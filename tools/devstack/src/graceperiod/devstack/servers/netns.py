"""Test hosts of the project's own: Linux network namespaces on a private bridge.

A :class:`TestNetwork` makes one bridge with a ``/24`` of :data:`ADDRESS_RANGE` (the bridge
itself, this machine's side, is ``.1``) and a *test host* per :meth:`TestNetwork.add_host`: a
network namespace joined to the bridge by a veth pair, with the next address. A process runs
on a host with ``ip netns exec`` (:attr:`ChildServer.namespace`). Faults are made with
iproute2 alone: :meth:`cut` downs a host's link (nothing reaches it, nothing leaves);
:meth:`partition` adds blackhole routes between a host and its peers (they lose each other,
everything else still reaches both).

Every name carries the pid of the process that made it (``gp-<pid>-<host>``, ``gpbr<pid>``,
``gpv<pid>x<n>``), so :func:`sweep_leftovers` (run by :meth:`TestNetwork.create`) removes what a
run killed with ``kill -9`` left behind, processes inside its namespaces included, and never
touches what a live run owns. Needs root (CAP_NET_ADMIN) and iproute2.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import os
import re
import signal
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

#: The private range test networks take their ``/24`` from; used only inside this sandbox.
ADDRESS_RANGE = ipaddress.IPv4Network("10.237.0.0/16")
#: Serialises the choice of a free ``/24`` between concurrent runs.
LOCK_FILE = Path("/run/lock/graceperiod-test-network.lock")
NAMESPACE_PREFIX = "gp-"
BRIDGE_PREFIX = "gpbr"
VETH_PREFIX = "gpv"
_NAMESPACE = re.compile(r"^gp-(\d+)-")
_LINK = re.compile(r"^(?:gpbr|gpv)(\d+)")


class NetworkError(RuntimeError):
    pass


def ip(*args: str, check: bool = True) -> str:
    """Run ``ip ARGS``; its stdout. Raises :class:`NetworkError` with ip's message on failure."""
    try:
        done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)  # noqa: S603, S607
    except FileNotFoundError as exc:
        msg = "iproute2's `ip` is missing (apt-get install iproute2)"
        raise NetworkError(msg) from exc
    if check and done.returncode != 0:
        msg = f"ip {' '.join(args)}: {done.stderr.strip() or done.returncode}"
        raise NetworkError(msg)
    return done.stdout


def can_make_test_networks() -> str | None:
    """None when this process may make namespaces and links, else why not."""
    probe = f"{NAMESPACE_PREFIX}{os.getpid()}-probe"
    try:
        ip("netns", "add", probe)
        ip("netns", "del", probe)
    except NetworkError as exc:
        return f"cannot make network namespaces (needs root / CAP_NET_ADMIN): {exc}"
    return None


@dataclass(frozen=True)
class TestHost:
    name: str
    namespace: str
    address: str
    link: str
    """The host-side end of its veth pair, on the bridge (down = host cut off)."""


@dataclass
class TestNetwork:
    owner: int = field(default_factory=os.getpid)
    subnet: ipaddress.IPv4Network | None = None
    hosts: dict[str, TestHost] = field(default_factory=dict)
    _cuts: set[tuple[str, str]] = field(default_factory=set)

    @property
    def bridge(self) -> str:
        return f"{BRIDGE_PREFIX}{self.owner}"

    @property
    def gateway(self) -> str:
        """This machine's address on the test network (where the host-side servers listen)."""
        assert self.subnet is not None, "create() first"
        return str(self.subnet.network_address + 1)

    @classmethod
    @contextlib.contextmanager
    def made(cls) -> Iterator[TestNetwork]:
        network = cls()
        try:
            network.create()
            yield network
        finally:
            network.destroy()

    def create(self) -> None:
        sweep_leftovers()
        LOCK_FILE.parent.mkdir(parents=True, exist_ok=True)
        with LOCK_FILE.open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self.subnet = _free_subnet()
            ip("link", "add", self.bridge, "type", "bridge")
            ip("addr", "add", f"{self.gateway}/{self.subnet.prefixlen}", "dev", self.bridge)
            ip("link", "set", self.bridge, "up")

    def add_host(self, name: str) -> TestHost:
        assert self.subnet is not None, "create() first"
        if name in self.hosts:
            return self.hosts[name]
        index = len(self.hosts) + 10
        host = TestHost(
            name=name,
            namespace=f"{NAMESPACE_PREFIX}{self.owner}-{name}",
            address=str(self.subnet.network_address + index),
            link=f"{VETH_PREFIX}{self.owner}x{index}",
        )
        peer = f"{VETH_PREFIX}{self.owner}y{index}"
        self.hosts[name] = host  # before the first step, so destroy() removes a half-made host
        ip("netns", "add", host.namespace)
        ip("link", "add", host.link, "type", "veth", "peer", "name", peer)
        ip("link", "set", peer, "netns", host.namespace)
        ip("-n", host.namespace, "link", "set", peer, "name", "eth0")
        ip("-n", host.namespace, "addr", "add", f"{host.address}/{self.subnet.prefixlen}", "dev", "eth0")
        ip("-n", host.namespace, "link", "set", "eth0", "up")
        ip("-n", host.namespace, "link", "set", "lo", "up")
        ip("link", "set", host.link, "master", self.bridge)
        ip("link", "set", host.link, "up")
        # This machine's own addresses are reachable through the bridge (delivered locally, no
        # forwarding): a server listening on all of them (a mongod) serves the test hosts too.
        for address in machine_addresses():
            if ipaddress.ip_address(address) not in self.subnet:
                ip("-n", host.namespace, "route", "add", f"{address}/32", "via", self.gateway, check=False)
        return host

    def cut(self, name: str) -> None:
        """Down the host's link: it reaches nothing and nothing reaches it (no RST, no FIN)."""
        ip("link", "set", self.hosts[name].link, "down")

    def restore(self, name: str) -> None:
        ip("link", "set", self.hosts[name].link, "up")

    def partition(self, name: str, peers: list[str]) -> None:
        """Drop every packet between ``name`` and each of ``peers``, both ways (blackhole routes on
        both sides); the bridge (this machine) still reaches all of them."""
        for peer in peers:
            for here, there in ((name, peer), (peer, name)):
                ip("-n", self.hosts[here].namespace, "route", "add", "blackhole", f"{self.hosts[there].address}/32")
                self._cuts.add((here, there))

    def heal(self) -> None:
        for here, there in sorted(self._cuts):
            ip(
                "-n",
                self.hosts[here].namespace,
                "route",
                "del",
                "blackhole",
                f"{self.hosts[there].address}/32",
                check=False,
            )
        self._cuts.clear()

    def remove_host(self, name: str) -> None:
        host = self.hosts.pop(name)
        _remove_namespace(host.namespace)
        ip("link", "del", host.link, check=False)  # gone with its namespace's end, unless half-made

    def destroy(self) -> None:
        for name in list(self.hosts):
            self.remove_host(name)
        ip("link", "del", self.bridge, check=False)


def machine_addresses() -> list[str]:
    """This machine's IPv4 addresses, loopback excepted."""
    return [a for a in re.findall(r"inet ([\d.]+)/\d+ .*scope global", ip("-o", "-4", "addr")) if a]


def _free_subnet() -> ipaddress.IPv4Network:
    used = {ipaddress.ip_interface(a).network for a in re.findall(r"inet (\S+)", ip("-o", "-4", "addr"))}
    for subnet in ADDRESS_RANGE.subnets(new_prefix=24):
        if not any(subnet.overlaps(u) for u in used):
            return subnet
    msg = f"no free /24 left in {ADDRESS_RANGE}"
    raise NetworkError(msg)


def _kill_inside(namespace: str) -> None:
    for pid in ip("netns", "pids", namespace, check=False).split():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)


def _remove_namespace(namespace: str) -> None:
    _kill_inside(namespace)  # epmd daemonises out of the node's process group; nothing may outlive its host
    ip("netns", "del", namespace, check=False)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_leftovers() -> list[str]:
    """Remove the namespaces and links of test networks whose owner process is gone (a run
    killed with ``kill -9``, or a crash), processes inside them included. Returns what it removed."""
    return _remove_where(lambda owner: not _alive(owner))


def remove_owned(owner: int) -> list[str]:
    """Remove every namespace and link ``owner`` made, processes inside them included (the last
    resort of an interrupted run). Returns what it removed."""
    return _remove_where(lambda pid: pid == owner)


def _remove_where(doomed: Callable[[int], bool]) -> list[str]:
    removed: list[str] = []
    for line in ip("netns", "list", check=False).splitlines():
        namespace = line.split()[0] if line.strip() else ""
        match = _NAMESPACE.match(namespace)
        if match and doomed(int(match.group(1))):
            _remove_namespace(namespace)
            removed.append(namespace)
    for name in re.findall(r"^\d+: ([^:@\s]+)", ip("-o", "link", check=False), flags=re.MULTILINE):
        match = _LINK.match(name)
        if match and doomed(int(match.group(1))):
            ip("link", "del", name, check=False)
            removed.append(name)
    return removed
