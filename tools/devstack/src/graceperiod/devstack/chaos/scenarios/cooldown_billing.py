"""Scenario: the cooldown service's settled mode and wait-list under duplicates, on two replicas.

Sandbox accounts in the settled mode whose lease costs keep arriving in the AWS endpoint for
a while; every lifecycle event published twice, every tick three times, to two replicas of the
cooldown service; leases that ask to wait (each request sent twice) while every account cools.
Expected, each exactly once: every account released, settled once with its whole cost as the
final cost (held until its costs stopped arriving), every waiting lease granted one account
(no account granted twice); and one Cost Explorer request per read the service recorded.
"""

from __future__ import annotations

import random

from graceperiod.devstack.chaos.billing_flow import EARLIEST_RELEASE_SECONDS, BillingFlow, billing_env, twice
from graceperiod.devstack.chaos.core import Run, scenario
from graceperiod.devstack.chaos.results import Result, Ui
from graceperiod.devstack.chaos.sizes import Size
from graceperiod.devstack.chaos.stack import ChaosStack
from graceperiod.devstack.chaos.world import new_account_id


@scenario(
    "cooldown-billing",
    "settled mode and wait-list: events twice, ticks three times, two cooldown replicas",
)
async def cooldown_billing(stack: ChaosStack, size: Size, ui: Ui) -> Result:
    accounts = max(4, size.cooldown_accounts // 3)
    management = new_account_id()
    title = "settled mode and wait-list under duplicates"
    env = billing_env(management)
    async with Run.start(stack, "cooldown-billing", title, ui, workers=("cooldown",), env=env) as run:
        flow = BillingFlow(
            management=management,
            mongodb_url=stack.ferret.url,
            database=run.deployment.database("cooldown"),
            amqp_url=run.deployment.amqp_url,
            aws_url=stack.aws.url,
            vhost_tag=run.deployment.vhost,
        )
        run.flows.append(flow)
        try:
            await flow.prepare()
            await run.deployment.start("cooldown")  # a second replica
            await flow.seed(accounts)
            await flow.seed_costs()
            lifecycle = twice(flow.lifecycle())
            random.shuffle(lifecycle)
            await run.publish(lifecycle, label="lifecycle, every event twice")
            run.start_ticking(copies=3)
            if not await flow.all_cooling(timeout=size.deadline_seconds):
                run.problems.append("not every account reached Cooldown")
            await flow.wait(accounts // 2)
            result = await run.finish(deadline_seconds=size.deadline_seconds, settle_seconds=size.settle_seconds)
            recorded, made = await flow.reads()
        finally:
            await flow.close()
        if recorded != made:
            result.problems.append(f"{made} GetCostAndUsage requests for {recorded} reads the service recorded")
        result.metrics |= {
            "accounts": accounts,
            "waiting_leases": len(flow.leases),
            "wait_replies": dict(flow.wait_replies),
            "waits_placed_s": flow.waits_placed_s,
            "earliest_release_s": EARLIEST_RELEASE_SECONDS,
            "cost_reads": recorded,
            "cost_requests": made,
            "copies_per_lifecycle_event": 2,
            "copies_per_tick": 3,
        }
        return result
