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

from graceperiod.devstack.servers.netns import sweep_leftovers
from tests.chaos.conftest import require_cluster

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


def _test_network_leftovers(owner: int) -> list[str]:
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    return [
        *(line.split()[0] for line in namespaces.splitlines() if line.startswith(f"gp-{owner}-")),
        *re.findall(rf"^\d+: ((?:gpbr|gpv){owner}\w*)", links, flags=re.MULTILINE),
    ]


def test_sigterm_removes_the_cluster_test_network(tmp_path: Path) -> None:
    """Stopped while the cluster is up: its nodes, HAProxy, the hosts' processes, the namespaces,
    veths and bridge are all gone."""
    require_cluster()
    runner = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "graceperiod.devstack.chaos",
            "--short",
            "--only",
            "cluster-host-cut",
            "--out",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "1000"},
    )
    assert runner.stdout is not None
    output: list[str] = []
    for line in runner.stdout:  # logged once the cluster and the scenario's hosts run
        output.append(line)
        if "cluster-host-cut: a notifier" in line:
            break
    assert runner.poll() is None, "".join(output)
    assert _test_network_leftovers(runner.pid), "the run made no test network"
    time.sleep(10)

    runner.send_signal(signal.SIGTERM)
    rest = runner.stdout.read()
    runner.stdout.close()
    assert runner.wait(timeout=180) == 130, "".join(output) + rest
    match = re.search(r"logs kept in (\S+)", rest)
    assert match, rest
    assert _processes_mentioning(match.group(1)) == []
    assert _test_network_leftovers(runner.pid) == []


def test_a_killed_runs_test_network_is_swept(tmp_path: Path) -> None:
    """``kill -9`` leaves no chance to clean up: the next run's sweep removes the namespaces,
    links and the processes still running inside them."""
    require_cluster()
    marker = tmp_path / "inside"
    owner = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys, time\n"
            "from graceperiod.devstack.servers.netns import TestNetwork\n"
            "network = TestNetwork()\n"
            "network.create()\n"
            "host = network.add_host('orphan')\n"
            "subprocess.Popen(['ip', 'netns', 'exec', host.namespace, sys.executable, '-c',"
            f" 'import time; time.sleep(600)', {str(marker)!r}], start_new_session=True)\n"
            "print('ready', flush=True)\n"
            "time.sleep(600)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert owner.stdout is not None
    assert owner.stdout.readline().strip() == "ready"
    assert _test_network_leftovers(owner.pid) != []
    owner.kill()
    owner.wait(10)
    owner.stdout.close()
    assert _test_network_leftovers(owner.pid) != []  # nothing cleaned up by itself
    assert _processes_mentioning(str(marker)) != []

    removed = sweep_leftovers()
    assert any(name.startswith(f"gp-{owner.pid}-") for name in removed), removed
    assert _test_network_leftovers(owner.pid) == []
    deadline = time.monotonic() + 10
    while _processes_mentioning(str(marker)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _processes_mentioning(str(marker)) == []
