"""Before ``make run`` starts anything: is a port it needs, or its RabbitMQ node name, already
taken (typically by another worktree's stack)? RabbitMQ finding its management port or node name
taken dies with an Erlang crash dump after ~20 s; this says so in one line, up front.

Who holds a port is read from Linux's ``/proc`` (no answer elsewhere, or for another user's
process); which Erlang node names are taken, from epmd, the host's Erlang port mapper.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
from collections.abc import Iterable, Mapping
from pathlib import Path

from graceperiod.devstack.servers.processes import ServerError, port_open

#: epmd's port (Erlang's ERL_EPMD_PORT, 4369 by default).
EPMD_PORT = int(os.environ.get("ERL_EPMD_PORT", "4369"))
_LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp


class InTheWayError(ServerError):
    """Something already holds a port or node name the stack needs; nothing was started."""


def listener(port: int) -> str | None:
    """The process listening on TCP ``port``, as ``name (pid N)``, when ``/proc`` tells."""
    sockets = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    if not sockets:
        return None
    for process in Path("/proc").iterdir():
        if not process.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if any(os.readlink(fd) in sockets for fd in (process / "fd").iterdir()):
                return f"{(process / 'comm').read_text().strip()} (pid {process.name})"
    return None


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == _LISTEN and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(fields[9])
    return inodes


def erlang_nodes(epmd_port: int = EPMD_PORT) -> dict[str, int]:
    """The node names epmd has registered (short name → distribution port); {} without epmd."""
    received = b""
    try:
        with socket.create_connection(("127.0.0.1", epmd_port), timeout=2) as connection:
            connection.sendall(b"\x00\x01n")  # NAMES_REQ: length 1, 'n'
            while chunk := connection.recv(4096):
                received += chunk
    except OSError:
        return {}
    text = received[4:].decode(errors="replace")  # after epmd's own port number
    return {name: int(port) for name, port in re.findall(r"name (\S+) at port (\d+)", text)}


def in_the_way(ports: Mapping[int, str], nodes: Iterable[str] = (), *, epmd_port: int = EPMD_PORT) -> list[str]:
    """What already holds one of ``ports`` (port → what it is for) or one of the Erlang ``nodes``."""
    problems = []
    for port, what in ports.items():
        if port_open(port):
            holder = listener(port)
            problems.append(f"port {port} ({what}) is taken" + (f" by {holder}" if holder else ""))
    registered = erlang_nodes(epmd_port)
    for node in nodes:
        short = node.split("@", 1)[0]
        if short in registered:
            holder = listener(registered[short])
            problems.append(f"RabbitMQ node name {node} is taken" + (f" by {holder}" if holder else ""))
    return problems


def check(ports: Mapping[int, str], nodes: Iterable[str] = (), *, epmd_port: int = EPMD_PORT) -> None:
    """Raise :class:`InTheWayError` with one line naming everything in the way."""
    problems = in_the_way(ports, nodes, epmd_port=epmd_port)
    if problems:
        msg = (
            f"cannot start the local stack: {'; '.join(problems)}. Stop what holds them (another "
            "checkout's stack: `make stop` there), or move this stack with the GP_*_PORT or *_URL variables"
        )
        raise InTheWayError(msg)
