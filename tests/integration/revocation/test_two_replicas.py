"""Ticks are safe with two replicas: each due purchase is claimed by one of them only."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from graceperiod.contracts.revocation import RevokePurchase
from graceperiod.contracts.revocation_views import Phase
from graceperiod.contracts.rpc import CommandStatus
from graceperiod.devstack.testkit.fixtures import running
from graceperiod.revocation.app import create_app
from tests.integration.revocation.conftest import ADMIN, Harness, key, service_settings


async def test_two_replicas_follow_each_pending_return_once(
    harness: Harness, amqp_url: str, mongodb_url: str, aws_endpoint_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = await harness.account()
    now = harness.clock.now()
    purchases: dict[str, str] = {}
    for _ in range(4):
        plan = await harness.control.savings_plan(account, start=now, returnableUntil=now + timedelta(days=2))
        pid = (await harness.purchase(account, commitment_id=plan["savingsPlanId"]))["purchase_id"]
        reply = await harness.command(RevokePurchase(actor=ADMIN, idempotency_key=key(), purchase_id=pid))
        assert reply.status is CommandStatus.DONE
        purchases[pid] = plan["savingsPlanId"]
    before = len(await harness.control.calls(account=account, action="savingsplans:DescribeSavingsPlans"))

    # A second replica on the same broker and database, sharing the (frozen) clock.
    second = create_app(service_settings(amqp_url, mongodb_url, harness.database), clock=harness.clock)
    async with running(second):
        harness.clock.advance(timedelta(minutes=2))
        await asyncio.gather(*(harness.tick() for _ in range(4)))
        for pid in purchases:
            await harness.wait_for(pid, lambda v: v.phase is Phase.REVOKED)
        await asyncio.sleep(1.0)

    follows = (await harness.control.calls(account=account, action="savingsplans:DescribeSavingsPlans"))[before:]
    read = [tuple(c["params"]["savingsPlanIds"]) for c in follows if c["params"].get("savingsPlanIds")]
    assert sorted(read) == sorted((plan,) for plan in purchases.values())  # one read per purchase, not two
    for pid in purchases:
        revoked = {
            e["_message_id"]
            for e in harness.events
            if e.get("change") == "revoked" and e["purchase"]["purchase_id"] == pid
        }
        assert revoked == {f"purchase-changed:{pid}:revoked:final"}
