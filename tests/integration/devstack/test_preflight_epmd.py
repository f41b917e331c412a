"""`make run` refuses when its RabbitMQ node name is taken, asking a real (private) epmd."""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
import time
from collections.abc import Iterator

import pytest

from graceperiod.devstack.local.preflight import InTheWayError, check, erlang_nodes
from graceperiod.devstack.servers.processes import free_port, port_open


@pytest.fixture
def epmd_port() -> Iterator[int]:
    """A private epmd on its own port (never the host's 4369, which other stacks use)."""
    binary = shutil.which("epmd") or "/usr/lib/erlang/bin/epmd"
    port = free_port()
    process = subprocess.Popen([binary, "-port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not port_open(port):
            assert time.monotonic() < deadline, "epmd did not start"
            time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(10)


def _register(epmd_port: int, name: str, distribution_port: int) -> socket.socket:
    """ALIVE2_REQ, as an Erlang node does; the name stays registered while the connection is open."""
    body = struct.pack(">BHBBHHH", 120, distribution_port, 77, 0, 6, 5, len(name)) + name.encode()
    body += struct.pack(">H", 0)
    connection = socket.create_connection(("127.0.0.1", epmd_port))
    connection.sendall(struct.pack(">H", len(body)) + body)
    reply = connection.recv(16)
    assert reply[1] == 0, f"epmd refused the registration: {reply!r}"
    return connection


def test_a_taken_node_name_is_named_with_the_node_holding_it(epmd_port: int) -> None:
    with socket.socket() as distribution:
        distribution.bind(("127.0.0.1", 0))
        distribution.listen()
        port = int(distribution.getsockname()[1])
        with _register(epmd_port, f"graceperiod-{port}", port):
            assert erlang_nodes(epmd_port)[f"graceperiod-{port}"] == port
            with pytest.raises(InTheWayError) as refused:
                check({}, [f"graceperiod-{port}@localhost"], epmd_port=epmd_port)
            check({}, [f"graceperiod-{port + 1}@localhost"], epmd_port=epmd_port)  # another name is free
    message = str(refused.value)
    assert "\n" not in message
    assert f"RabbitMQ node name graceperiod-{port}@localhost is taken by " in message
    assert f"(pid {os.getpid()})" in message


def test_no_epmd_means_no_node_is_taken() -> None:
    assert erlang_nodes(free_port()) == {}
