"""Test helpers: where the real servers come from, per-test isolation, the mailbox.

Server resolution, for each of RabbitMQ and MongoDB:

1. an explicit URL (``AMQP_URL`` [+ ``RABBITMQ_MANAGEMENT_URL``], ``MONGODB_URL``) wins;
2. else, where a Docker engine answers, testcontainers starts one;
3. else a private local server is started (Debian's rabbitmq-server, FerretDB).

Isolation: each test gets its own RabbitMQ vhost and its own database names, so tests run
in any order. The vhost is a Grace Period vhost as a deployment's broker definitions make it
(:func:`isolated_vhost`).
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import aio_pika
from faststream.asgi import AsgiFastStream

from graceperiod.devstack.azure_endpoint.control import AzureEndpointAddress
from graceperiod.devstack.servers.credentials import BrokerAccounts
from graceperiod.devstack.servers.dex import DexClient, DexServer
from graceperiod.devstack.servers.processes import (
    AwsEndpointServer,
    AzureEndpointServer,
    FerretServer,
    RabbitServer,
    SmtpSinkServer,
    management_request,
)


@dataclass(frozen=True)
class RabbitEndpoint:
    url: str
    management_url: str | None


def docker_available() -> bool:
    if os.environ.get("GP_NO_DOCKER"):
        return False
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if host.startswith("unix://") and not Path(host.removeprefix("unix://")).exists():
        return False  # the usual case here: a docker client but no engine
    import docker  # noqa: PLC0415

    try:
        client = docker.from_env(timeout=3)
    except Exception:
        return False
    try:
        client.ping()
    except Exception:
        return False
    finally:
        client.close()
    return True


@contextlib.contextmanager
def rabbit_endpoint(data_dir: Path) -> Iterator[RabbitEndpoint]:
    if url := os.environ.get("AMQP_URL"):
        yield RabbitEndpoint(url, os.environ.get("RABBITMQ_MANAGEMENT_URL"))
        return
    if docker_available():
        from testcontainers.community.rabbitmq import RabbitMqContainer  # noqa: PLC0415

        with RabbitMqContainer("rabbitmq:3.13-management").with_exposed_ports(15672) as container:
            host = container.get_container_host_ip()
            amqp = f"amqp://guest:guest@{host}:{container.get_exposed_port(5672)}/"
            management = f"http://guest:guest@{host}:{container.get_exposed_port(15672)}/"
            yield RabbitEndpoint(amqp, management)
        return
    server = RabbitServer(data_dir=data_dir)
    server.start(timeout=90)
    try:
        yield RabbitEndpoint(server.url, server.management_url)
    finally:
        server.stop()


@contextlib.contextmanager
def mongodb_endpoint(data_dir: Path) -> Iterator[str]:
    if url := os.environ.get("MONGODB_URL"):
        yield url
        return
    if docker_available():
        from testcontainers.community.mongodb import MongoDbContainer  # noqa: PLC0415

        with MongoDbContainer("mongo:8") as container:
            yield container.get_connection_url()
        return
    server = FerretServer(data_dir=data_dir)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@contextlib.contextmanager
def smtp_sink(data_dir: Path) -> Iterator[SmtpSinkServer]:
    """Always local: tests read the sink's mailbox directly."""
    server = SmtpSinkServer(data_dir=data_dir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def aws_endpoint(data_dir: Path) -> Iterator[str]:
    if url := os.environ.get("AWS_ENDPOINT_URL"):
        yield url
        return
    server = AwsEndpointServer(data_dir=data_dir)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@contextlib.contextmanager
def azure_endpoint(data_dir: Path) -> Iterator[AzureEndpointAddress]:
    server = AzureEndpointServer(data_dir=data_dir)
    server.start()
    try:
        yield AzureEndpointAddress(server.url, server.ca_bundle)
    finally:
        server.stop()


@contextlib.contextmanager
def dex_server(data_dir: Path, *clients: DexClient, issuer_port: int | None = None) -> Iterator[DexServer]:
    """A private Dex (the demo people, ``clients``) on a random loopback port, stopped after.
    Always local: tests sign in through its login form and stop it mid-flow."""
    server = DexServer(data_dir=data_dir, clients=clients, issuer_port=issuer_port)
    server.start(timeout=30)
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def isolated_vhost(endpoint: RabbitEndpoint, accounts: BrokerAccounts) -> Iterator[str]:
    """The administrator's AMQP URL on a fresh Grace Period vhost, deleted afterwards. The
    vhost is what a deployment's broker definitions make: every broker identity with its
    permissions and topic permissions, and the whole topology; each service a test starts
    connects as its own identity (the ``<PREFIX>_AMQP_PASSWORD`` variables of ``accounts``).
    Needs the broker's management API."""
    if not endpoint.management_url:
        msg = "the test broker needs its management API (RABBITMQ_MANAGEMENT_URL) to set up broker identities"
        raise RuntimeError(msg)
    vhost = f"t-{uuid.uuid4().hex[:12]}"
    parts = urlsplit(endpoint.url)
    accounts.prepare_vhost(endpoint.management_url, vhost, admin=(parts.username or "guest", parts.password or "guest"))
    try:
        yield urlunsplit((parts.scheme, parts.netloc, "/" + quote(vhost, safe=""), parts.query, ""))
    finally:
        management_request(endpoint.management_url, "DELETE", f"api/vhosts/{vhost}")


@contextlib.asynccontextmanager
async def running(*apps: AsgiFastStream) -> AsyncIterator[None]:
    """Run worker apps in-process (broker consuming, start-up hooks done) for a test."""
    started: list[AsgiFastStream] = []
    try:
        for app in apps:
            try:
                await app.start()
            except BaseException:
                # A start-up hook failed: release what it opened (broker, database client).
                with contextlib.suppress(Exception):
                    await app.stop()
                raise
            started.append(app)
        yield
    finally:
        for app in reversed(started):
            await app.stop()


class Mailbox:
    """The SMTP sink's maildir, seen from a test: only messages that arrived after it was made."""

    def __init__(self, maildir: Path) -> None:
        self.maildir = maildir
        self._since = time.time_ns()

    def messages(self) -> list[EmailMessage]:
        if not self.maildir.exists():
            return []
        found = []
        for path in sorted(self.maildir.glob("*.eml")):
            if int(path.name.split("-", 1)[0]) >= self._since:
                message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
                assert isinstance(message, EmailMessage)
                found.append(message)
        return found

    async def wait_for(
        self,
        count: int,
        *,
        where: Callable[[EmailMessage], bool] = lambda _: True,
        timeout: float = 15.0,
        settle: float = 0.0,
    ) -> list[EmailMessage]:
        """Wait until at least ``count`` matching messages arrived; then wait ``settle``
        seconds more (to catch duplicates) and return all matching ones."""
        deadline = time.monotonic() + timeout
        while True:
            matching = [m for m in self.messages() if where(m)]
            if len(matching) >= count:
                break
            if time.monotonic() > deadline:
                msg = f"expected {count} emails, got {len(matching)} within {timeout}s"
                raise TimeoutError(msg)
            await asyncio.sleep(0.05)
        if settle:
            await asyncio.sleep(settle)
            matching = [m for m in self.messages() if where(m)]
        return matching


async def dead_letters(amqp_url: str, queue: str, *, expect: int = 1, timeout: float = 15.0) -> list[Any]:
    """Read (and ack) messages from ``<queue>.dlq``, waiting for at least ``expect``."""
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        dlq = await channel.get_queue(f"{queue}.dlq", ensure=True)
        found: list[Any] = []
        deadline = time.monotonic() + timeout
        while len(found) < expect and time.monotonic() < deadline:
            message = await dlq.get(fail=False, timeout=5)
            if message is None:
                await asyncio.sleep(0.1)
                continue
            await message.ack()
            found.append(message)
        return found
    finally:
        await connection.close()


def unique(prefix: str = "t") -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"
