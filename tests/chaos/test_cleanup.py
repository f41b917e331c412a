"""A scenario stopped midway (a failure, a timeout, Ctrl-C) stops every service process it
started, also one still starting: the start goes on in a thread after the scenario's task is
cancelled, and such a process used to be left running after the run."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from pathlib import Path

import pytest

from graceperiod.devstack.chaos.stack import ChaosStack

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(300)]


def _running_in(directory: Path) -> list[int]:
    """Processes whose working directory is ``directory`` (a deployment's service processes)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                if os.readlink(proc / "cwd") == str(directory):
                    found.append(int(proc.name))
    return found


async def _until(predicate: object, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return True
        await asyncio.sleep(0.05)
    return False


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc to find leftover processes")
async def test_a_replica_cancelled_while_starting_is_stopped(chaos_stack: ChaosStack) -> None:
    logs = None
    try:
        async with chaos_stack.deploy("cancelled-start", workers=()) as deployment:
            logs = deployment.logs
            starting = asyncio.create_task(deployment.start("revocation"))
            assert await _until(lambda: _running_in(deployment.logs), 60), "the replica never started"
            assert not starting.done()
            starting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await starting
        # The thread that started it could still make it ready: give it the time to.
        await asyncio.sleep(3)
        assert _running_in(logs) == [], "a replica whose start was cancelled is still running"
    finally:
        for pid in _running_in(logs) if logs is not None else []:  # never leak, even when failing
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
