"""`make run` with a port it needs already taken says so in one line and starts nothing.

Only ports this test opens itself: never the stack's fixed ones, which other checkouts use."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from graceperiod.devstack.local import stack
from graceperiod.devstack.local.__main__ import main
from graceperiod.devstack.local.preflight import InTheWayError, check


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        yield int(listening.getsockname()[1])


@pytest.fixture
def nothing_starts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    """This checkout's stack is not running; starting or stopping anything is recorded, not done."""
    calls: list[str] = []

    def started(planned: stack.Plan) -> stack.Endpoints:
        calls.append("started")
        pytest.fail("the stack started")

    def down() -> list[str]:
        calls.append("down")
        return []

    monkeypatch.setattr(stack, "STATE_FILE", tmp_path / "stack.json")
    monkeypatch.setattr(stack, "_endpoints", started)
    monkeypatch.setattr(stack, "down", down)
    return calls


def test_a_taken_port_is_named_with_what_holds_it_in_one_line(taken_port: int) -> None:
    with pytest.raises(InTheWayError) as refused:
        check({taken_port: "RabbitMQ management, GP_RABBITMQ_MANAGEMENT_PORT"})
    message = str(refused.value)
    assert "\n" not in message
    assert f"port {taken_port} (RabbitMQ management, GP_RABBITMQ_MANAGEMENT_PORT) is taken by " in message
    assert f"(pid {os.getpid()})" in message  # this test's own process holds it


def test_free_ports_pass(taken_port: int) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = int(probe.getsockname()[1])  # bound, not listening: nothing answers on it
    check({free: "SMTP sink, GP_SMTP_PORT"})


def test_make_run_refuses_in_one_line_exits_non_zero_and_starts_nothing(
    taken_port: int, nothing_starts: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(stack, "plan", lambda: stack.Plan(None, None, None, None, {taken_port: "gateway service"}))
    assert main(["up"]) != 0
    errors = capsys.readouterr().err.splitlines()
    assert errors[-1].startswith(
        f"error: cannot start the local stack: port {taken_port} (gateway service) is taken by "
    )
    assert [line for line in errors if line.startswith("error")] == errors[-1:]
    assert nothing_starts == []


def test_make_run_twice_leaves_the_running_stack_alone(
    nothing_starts: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(stack, "plan", lambda: stack.Plan(None, None, None, None, {}))
    stack.STATE_FILE.write_text('{"processes": [{"name": "gateway", "pid": 1, "port": 8080}]}')
    assert main(["up"]) != 0
    assert capsys.readouterr().err.splitlines()[-1] == (
        "error: the stack is already running (make status); run `make stop` first"
    )
    assert nothing_starts == []  # before, the refusal ran `down` and stopped the running stack
