"""The chaos stack: private RabbitMQ, FerretDB, SMTP sink and AWS endpoint that scenarios
may stop, kill and restart (never the servers the rest of the suite shares)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from graceperiod.devstack.chaos import scenarios  # noqa: F401 - registers the scenarios
from graceperiod.devstack.chaos.sizes import CI, LONG, Size
from graceperiod.devstack.chaos.stack import ChaosStack
from graceperiod.devstack.servers.netns import can_make_test_networks


@pytest.fixture(scope="session")
def chaos_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChaosStack]:
    with ChaosStack.running(tmp_path_factory.mktemp("chaos")) as stack:
        yield stack


@pytest.fixture(scope="session")
def chaos_size() -> Size:
    """CI-short sizes unless GP_CHAOS_SIZE=long (what `make chaos` runs)."""
    return {"ci": CI, "long": LONG}[os.environ.get("GP_CHAOS_SIZE", "ci")]


def cluster_unavailable() -> str | None:
    """Why the cluster stack cannot run here (None when it can): it needs HAProxy and the right
    to make network namespaces (root / CAP_NET_ADMIN)."""
    if not (shutil.which("haproxy") or Path("/usr/sbin/haproxy").exists()):
        return "haproxy is not installed (make bootstrap installs Debian's)"
    return can_make_test_networks()


def require_cluster() -> None:
    """Skip when the cluster stack cannot run here; in CI (GP_REQUIRE_CLUSTER=1, set by .ci/run)
    fail instead, so a machine without HAProxy or CAP_NET_ADMIN never passes by skipping."""
    if (reason := cluster_unavailable()) is not None:
        if os.environ.get("GP_REQUIRE_CLUSTER"):
            pytest.fail(f"the cluster chaos tests must run here: {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="module")
def cluster_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChaosStack]:
    """Three RabbitMQ nodes behind HAProxy on test hosts (module scope: removed after the
    cluster tests, so the rest of the suite does not share the machine with it)."""
    require_cluster()
    with ChaosStack.running(tmp_path_factory.mktemp("chaos-cluster"), "cluster") as stack:
        yield stack
