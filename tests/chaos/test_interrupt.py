"""`make chaos` stopped from outside (a CI timeout, `kill`, Ctrl-C) stops what it started.

Its servers and service processes run in sessions of their own, so no signal sent to the
runner reaches them: without the runner's cleanup they would keep their ports and CPU.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(300)]


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append(f"{proc.name}: {cmdline[:160]}")
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc to find leftover processes")
def test_sigterm_stops_the_private_servers_and_services(tmp_path: Path) -> None:
    runner = subprocess.Popen(
        [sys.executable, "-m", "graceperiod.devstack.chaos", "--short", "--only", "replicas", "--out", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "1000"},
    )
    assert runner.stdout is not None
    output: list[str] = []
    for line in runner.stdout:  # the scenario's title is logged once the private servers run
        output.append(line)
        if "replicas: two replicas" in line:
            break
    assert runner.poll() is None, "".join(output)
    time.sleep(15)  # the scenario's service processes are up and the load flows

    runner.send_signal(signal.SIGTERM)
    rest = runner.stdout.read()
    runner.stdout.close()
    assert runner.wait(timeout=120) == 130, "".join(output) + rest

    match = re.search(r"logs kept in (\S+)", rest)
    assert match, rest
    workdir = match.group(1)
    assert _processes_mentioning(workdir) == []
