"""The cluster scenarios at the CI-short size: three RabbitMQ nodes behind HAProxy, every node,
worker replica and the gateway on a test host of its own (``servers.rabbit_cluster``).

Each checks what every scenario checks (every effect once, nothing dead-lettered, queues
drained) plus: every queue replicated on three nodes before the fault and online on three
after it. CI must run them (``GP_REQUIRE_CLUSTER``): without HAProxy or CAP_NET_ADMIN they fail.
"""

from __future__ import annotations

import pytest

from graceperiod.devstack.chaos.core import run_scenario
from graceperiod.devstack.chaos.results import Result
from graceperiod.devstack.chaos.scenarios import faults
from graceperiod.devstack.chaos.sizes import Size
from graceperiod.devstack.chaos.stack import ChaosStack

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(600)]

REPLICATED = {"3"}


def _explain(result: Result) -> str:
    return f"{result.scenario}: {result.status}; problems={result.problems}; notes={result.notes}"


async def _run(stack: ChaosStack, name: str, size: Size) -> Result:
    result = await run_scenario(stack, name, size)
    print(_explain(result), result.metrics)
    assert result.effects_expected > 0, _explain(result)
    assert result.lost == 0, _explain(result)
    assert not result.problems, _explain(result)
    assert result.duplicated <= result.tolerated_duplicates, _explain(result)
    assert set(result.metrics["queues_by_members_online_before"]) == REPLICATED, result.metrics
    assert set(result.metrics["queues_by_members_online_after"]) == REPLICATED, result.metrics
    assert result.recover_seconds is not None
    return result


async def test_cluster_node_kill(cluster_stack: ChaosStack, chaos_size: Size) -> None:
    result = await _run(cluster_stack, "cluster-node-kill", chaos_size)
    assert result.duplicated == 0
    # The killed node was the load publisher's: its connection dropped and it published on through
    # another node. Not its retries: a publish waits for the reconnection within its attempt.
    assert result.metrics["publisher_reconnects"] > 0, result.metrics


async def test_cluster_leader_kill(cluster_stack: ChaosStack, chaos_size: Size) -> None:
    result = await _run(cluster_stack, "cluster-leader-kill", chaos_size)
    assert result.duplicated == 0
    assert result.metrics["queues_it_led"] > 0
    assert result.metrics["new_leaders_after_s"] is not None


async def test_cluster_partition(cluster_stack: ChaosStack, chaos_size: Size) -> None:
    result = await _run(cluster_stack, "cluster-partition", chaos_size)
    assert result.duplicated == 0
    # pause_minority: the majority saw the node go, and it closed its ports (HAProxy marked it down).
    assert result.metrics["majority_saw_it_gone_s"] is not None
    assert result.metrics["haproxy_marked_down_s"] is not None


async def test_cluster_host_cut(cluster_stack: ChaosStack, chaos_size: Size) -> None:
    result = await _run(cluster_stack, "cluster-host-cut", chaos_size)
    # Cut between the mail server's 250 and its record, an email may be resent (one Message-ID).
    assert result.duplicated <= faults.NOTIFIER_CONCURRENT_SENDS


async def test_cluster_rolling_restart(cluster_stack: ChaosStack, chaos_size: Size) -> None:
    result = await _run(cluster_stack, "cluster-rolling-restart", chaos_size)
    assert result.duplicated == 0
    assert len(result.metrics["restart_s"]) == 3
