"""Scenarios 10-14, on the ``cluster`` stack: three RabbitMQ nodes behind HAProxy, every node,
worker replica and the gateway on a test host of its own (``servers.rabbit_cluster``).

10. ``cluster-node-kill``: ``kill -9`` of one node (the one leading fewest queues), restarted
    after ``outage_seconds``.
11. ``cluster-leader-kill``: ``kill -9`` of the node leading most quorum queues; measures how
    long until every queue has a leader on a live node.
12. ``cluster-partition``: that node cut off from the other two (blackhole routes both ways;
    HAProxy still reaches it) until it pauses itself (``pause_minority``), at least
    ``outage_seconds``; then healed.
13. ``cluster-host-cut``: the link of one of two notifier replicas' host downed while it handles
    messages, restored after ``outage_seconds``.
14. ``cluster-rolling-restart``: each node stopped and started in turn, the next one only once
    every queue has its three members online again.

Each publishes the usual load (purchases, at 20% the fault) and is checked like the others:
every effect once, nothing dead-lettered, every queue drained; plus every queue replicated on
three nodes before the fault and online on three after it, the gateway's ``/ready`` watched
throughout, and the publisher's retries counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable

from graceperiod.devstack.chaos.core import Run, scenario
from graceperiod.devstack.chaos.results import Result, Ui
from graceperiod.devstack.chaos.scenarios.faults import NOTIFIER_CONCURRENT_SENDS, under_load
from graceperiod.devstack.chaos.sizes import Size
from graceperiod.devstack.chaos.stack import WORKERS, ChaosStack, Deployment
from graceperiod.devstack.servers.processes import RabbitServer
from graceperiod.devstack.servers.rabbit_cluster import RabbitCluster

#: The gateway runs too (on its host, through HAProxy): its /ready is watched during the fault.
SERVICES = (*WORKERS, "gateway")
#: How long the cluster may take to settle after a fault (a node's boot, queue members catching up).
SETTLE_TIMEOUT = 180.0
#: How long the gateway's /ready may fail during a broker fault: well under what takes a pod out
#: of its Service with Kubernetes's default probe (3 failures 10 s apart). HAProxy drops a dead
#: node within about 2 s and the gateway reconnects on its next check.
GATEWAY_NOT_READY_BOUND = 15.0
#: How long a partitioned node may take to notice it is in the minority and pause.
PAUSE_TIMEOUT = 60.0
#: How long the management API may take to list the load publisher's new connection.
LOCATE_TIMEOUT = 60.0
TITLES = {
    "cluster-node-kill": "kill -9 of one of three RabbitMQ nodes mid-load, restarted",
    "cluster-leader-kill": "kill -9 of the node leading most quorum queues, restarted",
    "cluster-partition": "a minority node partitioned away (pause_minority), then healed",
    "cluster-host-cut": "a notifier replica's host cut off mid-handler, then restored",
    "cluster-rolling-restart": "rolling restart of all three nodes under load",
}


def _replication(cluster: RabbitCluster, vhost: str) -> dict[str, int]:
    """How many quorum queues of ``vhost`` have how many members online (``"3"`` → queues)."""
    counts: dict[str, int] = {}
    for queue in cluster.queues(vhost):
        if queue.get("type") != "quorum":
            continue
        key = str(len(queue.get("online") or []))
        counts[key] = counts.get(key, 0) + 1
    return counts


async def _wait_replicated(cluster: RabbitCluster, vhost: str, timeout: float) -> dict[str, int]:
    """Until every queue has all members online (or ``timeout``); the last count."""
    deadline = time.monotonic() + timeout
    while True:
        counts = await asyncio.to_thread(_replication, cluster, vhost)
        if (set(counts) == {str(cluster.size)}) or time.monotonic() >= deadline:
            return counts
        await asyncio.sleep(1.0)


def _by_leaders(cluster: RabbitCluster, vhost: str) -> list[RabbitServer]:
    """The nodes, most queue leaders first."""
    leaders = cluster.leaders(vhost)
    return sorted(cluster.nodes, key=lambda node: -leaders.get(node.node_name, 0))


@contextlib.asynccontextmanager
async def _gateway_watch(deployment: Deployment, run: Run) -> AsyncIterator[None]:
    """Poll the gateway's /ready twice a second; record how long it answered anything but 200."""
    gateway = deployment.replica("gateway")
    url = f"http://{gateway.host}:{gateway.port}/ready"
    not_ready = 0.0
    down_since: float | None = None

    def ready() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    async def watch() -> None:
        nonlocal not_ready, down_since
        while True:
            ok = await asyncio.to_thread(ready)
            now = time.monotonic()
            if not ok and down_since is None:
                down_since = now
            elif ok and down_since is not None:
                not_ready += now - down_since
                down_since = None
            await asyncio.sleep(0.5)

    task = asyncio.create_task(watch())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.wait([task])  # unlike awaiting it, never swallows a cancellation of this task
        if down_since is not None:
            not_ready += time.monotonic() - down_since
        run.metrics["gateway_not_ready_s"] = round(not_ready, 1)


def _judge_gateway(run: Run, result: Result) -> None:
    not_ready = run.metrics.get("gateway_not_ready_s")
    result.metrics["gateway_not_ready_s"] = not_ready
    if not_ready is not None and not_ready > GATEWAY_NOT_READY_BOUND:
        result.problems.append(
            f"the gateway's /ready failed for {not_ready} s in all (at most {GATEWAY_NOT_READY_BOUND:.0f} s)"
        )


async def _cluster_run(
    stack: ChaosStack,
    size: Size,
    ui: Ui,
    *,
    name: str,
    title: str,
    inject: Callable[[Run], Awaitable[None]],
    replicas: dict[str, int] | None = None,
    cooldown: bool = False,
    before_load: Callable[[Run], Awaitable[None]] | None = None,
) -> Result:
    cluster = stack.cluster
    watch: contextlib.AsyncExitStack = contextlib.AsyncExitStack()

    async def prepare(run: Run) -> None:
        for service, count in (replicas or {}).items():
            for _ in range(count - 1):
                await run.deployment.start(service)
        before = await _wait_replicated(cluster, run.deployment.vhost, 30)
        run.metrics["queues_by_members_online_before"] = before
        if set(before) != {str(cluster.size)}:
            run.problems.append(f"not every queue is replicated on {cluster.size} nodes before the fault: {before}")
        run.metrics["leaders_before"] = dict(cluster.leaders(run.deployment.vhost))
        if before_load is not None:
            await before_load(run)
        await watch.enter_async_context(_gateway_watch(run.deployment, run))

    async def check(run: Run, result: Result) -> None:
        await watch.aclose()
        await asyncio.to_thread(cluster.wait_clustered, SETTLE_TIMEOUT)
        after = await _wait_replicated(cluster, run.deployment.vhost, SETTLE_TIMEOUT)
        result.metrics["queues_by_members_online_after"] = after
        if set(after) != {str(cluster.size)}:
            result.problems.append(f"queues not back on {cluster.size} online members after the fault: {after}")
        result.metrics["handler_retries"] = {
            service: run.deployment.metric(service, "graceperiod_messages_retried_total") for service in WORKERS
        }
        _judge_gateway(run, result)
        result.metrics["publish_failure_kinds"] = dict(run.publisher.stats.failures)

    try:
        return await under_load(
            stack,
            size,
            ui,
            name=name,
            title=title,
            inject=inject,
            workers=SERVICES,
            prepare=prepare,
            check=check,
            cooldown=cooldown,
        )
    finally:
        await watch.aclose()


async def _restart(run: Run, cluster: RabbitCluster, node: RabbitServer) -> None:
    await asyncio.to_thread(node.start, SETTLE_TIMEOUT)
    await asyncio.to_thread(cluster.wait_clustered, SETTLE_TIMEOUT)
    run.recovered(f"{node.name} back in the cluster")


@scenario("cluster-node-kill", TITLES["cluster-node-kill"], topology="cluster")
async def cluster_node_kill(stack: ChaosStack, size: Size, ui: Ui) -> Result:
    cluster = stack.cluster
    target: RabbitServer | None = None

    async def locate(run: Run) -> None:
        nonlocal target
        # The node the load publisher is on, so it must fail over (its reconnection is counted).
        # The management API lists a new connection only with its next stats (every 5 s, later on a
        # loaded machine), so it is found before the load starts: found after, the load could be
        # over before the kill. Waiting longer here delays nothing that is timed.
        name = run.publisher.connection_name
        found = await _until(lambda: cluster.node_of_connection(name) is not None, LOCATE_TIMEOUT)
        node = cluster.node_of_connection(name) if found is not None else None
        run.metrics["publisher_listed_after_s"] = found
        if node is None:
            run.problems.append(
                f"the load publisher's connection ({name}) is not listed by the broker after {LOCATE_TIMEOUT:.0f} s"
            )
            node = cluster.nodes[-1]
        target = node

    async def inject(run: Run) -> None:
        node = target
        assert node is not None, "located before the load starts"
        run.fault(f"kill -9 {node.name} ({node.node_name}, the load publisher's) for {size.outage_seconds:g}s")
        await asyncio.to_thread(node.kill)
        await asyncio.sleep(size.outage_seconds)
        await _restart(run, cluster, node)
        run.metrics["killed"] = node.node_name

    return await _cluster_run(
        stack,
        size,
        ui,
        name="cluster-node-kill",
        title=TITLES["cluster-node-kill"],
        inject=inject,
        before_load=locate,
    )


async def _leaders_elsewhere(cluster: RabbitCluster, vhost: str, dead: str, timeout: float) -> float | None:
    """Seconds until no queue of ``vhost`` names ``dead`` as its leader (None: not within ``timeout``)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        queues = await asyncio.to_thread(cluster.queues, vhost)
        if queues and all(q.get("leader") and q.get("leader") != dead for q in queues):
            return round(time.monotonic() - started, 1)
        await asyncio.sleep(0.5)
    return None


@scenario("cluster-leader-kill", TITLES["cluster-leader-kill"], topology="cluster")
async def cluster_leader_kill(stack: ChaosStack, size: Size, ui: Ui) -> Result:
    cluster = stack.cluster

    async def inject(run: Run) -> None:
        vhost = run.deployment.vhost
        node = _by_leaders(cluster, vhost)[0]
        led = cluster.leaders(vhost).get(node.node_name, 0)
        run.fault(f"kill -9 {node.name}, leader of {led} queues")
        await asyncio.to_thread(node.kill)
        run.metrics |= {"killed": node.node_name, "queues_it_led": led}
        run.metrics["new_leaders_after_s"] = await _leaders_elsewhere(cluster, vhost, node.node_name, 60)
        if run.metrics["new_leaders_after_s"] is None:
            run.problems.append(f"queues still led by the dead {node.node_name} after 60 s")
        await asyncio.sleep(max(0.0, size.outage_seconds - float(run.metrics["new_leaders_after_s"] or 0)))
        await _restart(run, cluster, node)

    return await _cluster_run(
        stack, size, ui, name="cluster-leader-kill", title=TITLES["cluster-leader-kill"], inject=inject
    )


async def _until(predicate: Callable[[], bool], timeout: float) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if await asyncio.to_thread(predicate):
            return round(time.monotonic() - started, 1)
        await asyncio.sleep(0.5)
    return None


@scenario("cluster-partition", TITLES["cluster-partition"], topology="cluster")
async def cluster_partition(stack: ChaosStack, size: Size, ui: Ui) -> Result:
    cluster = stack.cluster
    network = stack.network
    assert network is not None

    async def inject(run: Run) -> None:
        node = _by_leaders(cluster, run.deployment.vhost)[0]
        majority = [n for n in cluster.nodes if n is not node]
        run.fault(f"{node.name} partitioned from {', '.join(n.name for n in majority)}")
        started = time.monotonic()
        network.partition(node.name, [n.name for n in majority])
        try:
            # The majority sees it gone (net_ticktime); it pauses (closes its ports); HAProxy marks it down.
            gone = await _until(lambda: node.node_name not in cluster.running_nodes(majority[0]), PAUSE_TIMEOUT)
            down = await _until(lambda: cluster.balancer.server_states().get(node.name) == "DOWN", PAUSE_TIMEOUT)
            run.metrics |= {"minority": node.node_name, "majority_saw_it_gone_s": gone, "haproxy_marked_down_s": down}
            if gone is None or down is None:
                run.problems.append(f"the minority {node.name} did not pause within {PAUSE_TIMEOUT:.0f}s")
            await asyncio.sleep(max(0.0, size.outage_seconds - (time.monotonic() - started)))
        finally:
            network.heal()
        run.metrics["partitioned_s"] = round(time.monotonic() - started, 1)
        await asyncio.to_thread(cluster.wait_clustered, SETTLE_TIMEOUT)
        run.recovered(f"partition healed; {node.name} back in the cluster")

    return await _cluster_run(
        stack, size, ui, name="cluster-partition", title=TITLES["cluster-partition"], inject=inject
    )


@scenario("cluster-host-cut", TITLES["cluster-host-cut"], topology="cluster")
async def cluster_host_cut(stack: ChaosStack, size: Size, ui: Ui) -> Result:
    network = stack.network
    assert network is not None

    async def inject(run: Run) -> None:
        # Cut between the mail server's 250 and the record of it, an email is resent once by the
        # other replica (same Message-ID), as after a crash: the crash-window bound applies.
        run.tolerate_crash_window(NOTIFIER_CONCURRENT_SENDS)
        host = run.deployment.host_name("notifier-1")
        queue = next(
            (q for q in run.deployment.queues().values() if q["name"] == "notifier.revocation.purchase.recorded"), {}
        )
        run.metrics["notifier_unacked_at_cut"] = queue.get("messages_unacknowledged")
        run.fault(f"host of notifier-1 cut off for {size.outage_seconds:g}s")
        network.cut(host)
        await asyncio.sleep(size.outage_seconds)
        network.restore(host)
        run.recovered("host of notifier-1 restored")

    return await _cluster_run(
        stack,
        size,
        ui,
        name="cluster-host-cut",
        title=TITLES["cluster-host-cut"],
        inject=inject,
        replicas={"notifier": 2},
    )


@scenario("cluster-rolling-restart", TITLES["cluster-rolling-restart"], topology="cluster")
async def cluster_rolling_restart(stack: ChaosStack, size: Size, ui: Ui) -> Result:
    cluster = stack.cluster

    async def inject(run: Run) -> None:
        vhost = run.deployment.vhost
        run.fault("rolling restart of rabbit1, rabbit2, rabbit3")
        took: dict[str, float] = {}
        for node in cluster.nodes:
            started = time.monotonic()
            await asyncio.to_thread(node.stop)
            await asyncio.to_thread(node.start, SETTLE_TIMEOUT)
            await asyncio.to_thread(cluster.wait_clustered, SETTLE_TIMEOUT)
            members = await _wait_replicated(cluster, vhost, SETTLE_TIMEOUT)
            if set(members) != {str(cluster.size)}:
                run.problems.append(f"after restarting {node.name}: queues by members online {members}")
            took[node.name] = round(time.monotonic() - started, 1)
        run.metrics["restart_s"] = took
        run.recovered("every node restarted")

    return await _cluster_run(
        stack,
        size,
        ui,
        name="cluster-rolling-restart",
        title=TITLES["cluster-rolling-restart"],
        inject=inject,
        cooldown=True,
    )
