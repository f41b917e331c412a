"""Local servers as child processes: RabbitMQ, FerretDB, the SMTP sink, the AWS and Azure endpoints.

Each server gets its own ports and data directory, so the test suite, ``make run`` and a
developer's own servers never collide. A server can be stopped and started again on the
same ports and data (the chaos suite restarts them mid-load).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from graceperiod.devstack.servers.rabbit_cluster import RabbitClustering

RABBITMQ_BIN = Path(os.environ.get("RABBITMQ_BIN_DIR", "/usr/lib/rabbitmq/bin"))


def repo_root() -> Path:
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "uv.lock").exists() or (parent / ".git").exists():
            return parent
    return Path.cwd()


def local_binary(name: str, variable: str) -> Path:
    """``$variable`` if set, else ``.local/bin/<name>`` (built by make bootstrap), else ``name`` on PATH."""
    explicit = os.environ.get(variable)
    if explicit:
        return Path(explicit)
    local = repo_root() / ".local" / "bin" / name
    if local.exists():
        return local
    found = shutil.which(name)
    return Path(found) if found else local


#: FerretDB's garbage collection target (Go's ``GOGC``; a ``GOGC`` in the environment wins).
GOGC = "400"


def ferretdb_binary() -> Path:
    return local_binary("ferretdb", "FERRETDB_BIN")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


class ServerError(RuntimeError):
    pass


@dataclass(kw_only=True)
class ChildServer:
    """A server we start as a child process (own process group) and stop with SIGTERM."""

    name: str
    data_dir: Path
    port: int = field(default_factory=free_port)
    host: str = "127.0.0.1"
    """The address it listens on (a test host's, or the test network's bridge, in a cluster run)."""
    namespace: str | None = None
    """The network namespace (a test host of :mod:`servers.netns`) it runs in; None: this machine's."""
    process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _log: IO[bytes] | None = field(default=None, init=False, repr=False)
    _stopping: threading.Event = field(default_factory=threading.Event, init=False, repr=False)

    @property
    def log_path(self) -> Path:
        return self.data_dir / f"{self.name}.log"

    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    def prepare(self) -> None:
        """Create directories and config files before the process starts."""

    def ready(self) -> bool:
        return port_open(self.port, self.host)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 60.0) -> None:
        """Start the server and wait until it is ready. Whatever goes wrong meanwhile (it exits,
        it is not ready in time, an interrupt, :meth:`stop` called from another thread), the
        process is stopped before this returns: nothing started here outlives a failed start."""
        if self.running:
            return
        self._stopping.clear()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.prepare()
        self._log = self.log_path.open("ab")
        # `ip netns exec` execs the command in place: the pid (and its process group) is the server's.
        inside = ["ip", "netns", "exec", self.namespace] if self.namespace else []
        self.process = subprocess.Popen(  # noqa: S603 - our own fixed command lines
            [*inside, *self.command()],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self.environment(),
            cwd=self.data_dir,
            start_new_session=True,
        )
        try:
            self._wait_ready(self.process, timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, process: subprocess.Popen[bytes], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._stopping.is_set():
                msg = f"{self.name} was stopped while starting"
                raise ServerError(msg)
            if process.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-3000:]
                msg = f"{self.name} exited with code {process.returncode} while starting:\n{tail}"
                raise ServerError(msg)
            if self.ready():
                return
            time.sleep(0.1)
        msg = f"{self.name} did not become ready within {timeout:.0f}s; see {self.log_path}"
        raise ServerError(msg)

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM to its process group, SIGKILL after ``timeout``. Safe to call from another
        thread while :meth:`start` waits: that start gives up and stops the process too."""
        self._stopping.set()
        process = self.process
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def kill(self) -> None:
        """``kill -9`` the whole process group (for fault-injection tests)."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        self.stop()


@dataclass(kw_only=True)
class RabbitServer(ChildServer):
    """A private RabbitMQ node (Debian's rabbitmq-server) with the management API on loopback."""

    name: str = "rabbitmq"
    management_port: int = field(default_factory=free_port)
    dist_port: int = field(default_factory=free_port)
    user: str = "guest"
    password: str = "guest"  # noqa: S105 - loopback-only development broker
    cluster: RabbitClustering | None = None
    """Set for a node of a cluster (:mod:`servers.rabbit_cluster`): long node names, peers, cookie."""
    definitions: Path | None = None
    """A RabbitMQ definitions file loaded at boot (users, permissions, topology)."""

    @property
    def node_name(self) -> str:
        if self.cluster is not None:
            return f"rabbit@{self.host}"
        return f"graceperiod-{self.port}@localhost"

    @property
    def url(self) -> str:
        return f"amqp://{self.user}:{self.password}@{self.host}:{self.port}/"

    @property
    def management_url(self) -> str:
        return f"http://{self.user}:{self.password}@{self.host}:{self.management_port}/"

    def prepare(self) -> None:
        for sub in ("mnesia", "log"):
            (self.data_dir / sub).mkdir(parents=True, exist_ok=True)
        clustering = self.cluster.config_lines() if self.cluster is not None else []
        if self.cluster is not None:
            (self.data_dir / "advanced.config").write_text(self.cluster.advanced_config())
        (self.data_dir / "rabbitmq.conf").write_text(
            "\n".join(
                [
                    f"listeners.tcp.default = {self.host}:{self.port}",
                    f"management.tcp.ip = {self.host}",
                    f"management.tcp.port = {self.management_port}",
                    "loopback_users = none",
                    "log.console = false",
                    "log.file.level = warning",
                    # A small machine: don't refuse publishes at the default 40% memory mark.
                    "vm_memory_high_watermark.relative = 0.6",
                    "disk_free_limit.absolute = 200MB",
                    *clustering,
                    *([f"load_definitions = {self.definitions}"] if self.definitions is not None else []),
                    "",
                ]
            )
        )
        (self.data_dir / "enabled_plugins").write_text("[rabbitmq_management].\n")

    def command(self) -> list[str]:
        binary = RABBITMQ_BIN / "rabbitmq-server"
        if not binary.exists():
            msg = f"{binary} not found: install Debian's rabbitmq-server (make bootstrap)"
            raise ServerError(msg)
        return [str(binary)]

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "RABBITMQ_NODENAME": self.node_name,
                "RABBITMQ_NODE_IP_ADDRESS": self.host,
                "RABBITMQ_NODE_PORT": str(self.port),
                "RABBITMQ_DIST_PORT": str(self.dist_port),
                "RABBITMQ_MNESIA_BASE": str(self.data_dir / "mnesia"),
                "RABBITMQ_LOG_BASE": str(self.data_dir / "log"),
                "RABBITMQ_CONFIG_FILE": str(self.data_dir / "rabbitmq"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.data_dir / "enabled_plugins"),
                "RABBITMQ_PID_FILE": str(self.data_dir / "rabbitmq.pid"),
                "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.data_dir / "advanced.config"),
            }
        )
        if self.cluster is not None:
            env |= self.cluster.environment()
        return env

    def ready(self) -> bool:
        return management_request(self.management_url, "GET", "api/overview") is not None and port_open(
            self.port, self.host
        )


@dataclass(kw_only=True)
class FerretServer(ChildServer):
    """FerretDB 1.x on SQLite: a MongoDB wire-protocol server (no mongod can be installed here)."""

    name: str = "ferretdb"

    @property
    def url(self) -> str:
        return f"mongodb://{self.host}:{self.port}/"

    def command(self) -> list[str]:
        binary = ferretdb_binary()
        if not binary.exists():
            msg = f"FerretDB not found at {binary}: run `make bootstrap` (builds it into .local/bin)"
            raise ServerError(msg)
        (self.data_dir / "sqlite").mkdir(parents=True, exist_ok=True)
        return [
            str(binary),
            "--handler=sqlite",
            # WAL with synchronous=NORMAL: a commit survives a crash of FerretDB or of any
            # client, not of the OS (like MongoDB's default of a journal flushed every
            # 100 ms). SQLite's default (FULL) fsyncs every commit; measured side by side
            # here: 1,424 → 1,753 sequential inserts/s, 2,115 → 2,462 with 32 at once.
            f"--sqlite-url=file:{self.data_dir / 'sqlite'}/?_pragma=synchronous(normal)",
            f"--listen-addr={self.host}:{self.port}",
            f"--debug-addr=127.0.0.1:{free_port()}",
            f"--state-dir={self.data_dir}",
            "--telemetry=disable",
            "--log-level=warn",
        ]

    def environment(self) -> dict[str, str]:
        # Go's garbage collector took ~12% of FerretDB's CPU per command (pprof); collecting
        # at 5x the live heap instead of 2x (tens of MB more) cut its CPU per read or write
        # of a purchase by about a quarter (README, "MongoDB, FerretDB and the subset both support").
        return {"GOGC": GOGC, **super().environment()}


@dataclass(kw_only=True)
class SmtpSinkServer(ChildServer):
    """The SMTP sink (:mod:`graceperiod.devstack.servers.smtp_sink`): a real SMTP server process that
    keeps every message it accepts as an ``.eml`` file in ``maildir``."""

    name: str = "smtp"

    @property
    def maildir(self) -> Path:
        return self.data_dir / "mail"

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    @property
    def refusals(self) -> Path:
        """Every refused recipient (550 ``reject…@``, 451 ``defer…@``), one JSON line each."""
        return self.data_dir / "refused.jsonl"

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "graceperiod.devstack.servers.smtp_sink",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--maildir",
            str(self.maildir),
            "--refusals",
            str(self.refusals),
        ]


@dataclass(kw_only=True)
class AwsEndpointServer(ChildServer):
    """The local AWS endpoint (:mod:`graceperiod.devstack.aws_endpoint`)."""

    name: str = "aws"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "graceperiod.devstack.aws_endpoint",
            "--host",
            self.host,
            "--port",
            str(self.port),
        ]


@dataclass(kw_only=True)
class AzureEndpointServer(ChildServer):
    """The local Azure endpoint (:mod:`graceperiod.devstack.azure_endpoint`): HTTPS with its own CA."""

    name: str = "azure"

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def ca_bundle(self) -> Path:
        return self.data_dir / "tls" / "ca.pem"

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "graceperiod.devstack.azure_endpoint",
            "--port",
            str(self.port),
            "--tls-dir",
            str(self.data_dir / "tls"),
        ]


@dataclass(kw_only=True)
class ServiceProcess(ChildServer):
    """One of Grace Period's own services (``python -m <module>``), ready when ``/ready`` says so."""

    module: str
    env: dict[str, str] = field(default_factory=dict)

    def command(self) -> list[str]:
        return [sys.executable, "-m", self.module]

    def environment(self) -> dict[str, str]:
        return {**os.environ, **self.env}

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{self.host}:{self.port}/ready", timeout=2) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False


def management_request(base_url: str, method: str, path: str, body: Any = None) -> Any:
    """Call the RabbitMQ management API; None when it is not reachable."""
    from urllib.parse import urlsplit  # noqa: PLC0415

    parts = urlsplit(base_url)
    url = f"{parts.scheme}://{parts.hostname}:{parts.port}/{path}"
    request = urllib.request.Request(url, method=method)  # noqa: S310 - loopback http only
    token = base64.b64encode(f"{parts.username or 'guest'}:{parts.password or 'guest'}".encode()).decode()
    request.add_header("Authorization", f"Basic {token}")
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        request.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(request, data=data, timeout=5) as response:  # noqa: S310
            text = response.read()
            return json.loads(text) if text else {}
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None
