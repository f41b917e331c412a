"""A service process ends on SIGTERM even when what it waits for is gone: a broker address that
accepts connections and never answers (a dead node behind a listener, a half-open link) during
start-up, or a shutdown that hangs. Kubernetes sends SIGKILL after the grace period anyway; the
dev kit's runs and tests used to leave such processes behind for good."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from graceperiod.devstack.servers.processes import free_port, port_open


@pytest.fixture
def silent_broker() -> Iterator[socket.socket]:
    """A TCP listener that accepts AMQP connections and never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener


def _stopped_within(process: subprocess.Popen[bytes], seconds: float) -> float | None:
    started = time.monotonic()
    os.kill(process.pid, signal.SIGTERM)
    try:
        process.wait(seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)
        return None
    return time.monotonic() - started


def test_a_service_starting_against_a_silent_broker_exits_on_sigterm(
    silent_broker: socket.socket, tmp_path: Path
) -> None:
    port = silent_broker.getsockname()[1]
    log = (tmp_path / "revocation.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "graceperiod.revocation"],
        env={
            **os.environ,
            "AMQP_URL": f"amqp://guest:guest@127.0.0.1:{port}/",
            "MONGODB_URL": f"mongodb://127.0.0.1:{free_port()}/",
            "REVOCATION_HTTP_PORT": str(free_port()),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        },
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        silent_broker.settimeout(60)
        connection, _ = silent_broker.accept()  # start-up is waiting for the broker now
        time.sleep(0.5)
        assert process.poll() is None, (tmp_path / "revocation.log").read_text()
        took = _stopped_within(process, 10)
        connection.close()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        log.close()
    assert took is not None, "still running 10 s after SIGTERM: " + (tmp_path / "revocation.log").read_text()[-2000:]


HANGING_SHUTDOWN = textwrap.dedent(
    """
    import asyncio, sys
    from graceperiod.runtime.settings import ServiceSettings
    from graceperiod.runtime.worker import serve

    async def app(scope, receive, send):
        assert scope["type"] == "lifespan"
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await asyncio.sleep(3600)  # a shutdown hook waiting for a broker that is gone

    serve(app, ServiceSettings(http_port=int(sys.argv[1])), name="hanging", stop_deadline=2)
    """
)


def test_a_hanging_shutdown_ends_at_the_stop_deadline() -> None:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", HANGING_SHUTDOWN, str(port)])
    try:
        deadline = time.monotonic() + 60
        while not port_open(port) and time.monotonic() < deadline:
            assert process.poll() is None
            time.sleep(0.1)
        took = _stopped_within(process, 15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    assert took is not None, "still running 15 s after SIGTERM (stop deadline 2 s)"
    assert took >= 1.5  # it did wait for the shutdown, up to the deadline
    assert process.returncode == 128 + signal.SIGTERM
