"""Done when: every window edge behaves as the table says, through the running service."""

from __future__ import annotations

from datetime import timedelta

import pytest

from graceperiod.contracts.revocation import RevokePurchase
from graceperiod.contracts.revocation_views import AllowedAction, Phase
from graceperiod.contracts.rpc import CommandStatus, ErrorCode
from tests.integration.revocation.conftest import ADMIN, Harness, key

SECOND = timedelta(seconds=1)


async def _returnable(harness: Harness) -> tuple[str, str]:
    account = await harness.account()
    now = harness.clock.now()
    plan = await harness.control.savings_plan(account, start=now, returnableUntil=now + timedelta(days=2))
    pid = (await harness.purchase(account, commitment_id=plan["savingsPlanId"]))["purchase_id"]
    return account, pid


async def test_savings_plan_edges_and_window_closed_events(harness: Harness) -> None:
    _, pid = await _returnable(harness)
    executed = harness.clock.now()
    returnable_until, support_until = executed + timedelta(days=2), executed + timedelta(days=7)
    expected = [
        (returnable_until - SECOND, Phase.SELF_SERVICE),
        (returnable_until, Phase.SUPPORT_CASE),
        (returnable_until + SECOND, Phase.SUPPORT_CASE),
        (support_until - SECOND, Phase.SUPPORT_CASE),
        (support_until, Phase.CLOSED),
        (support_until + SECOND, Phase.CLOSED),
    ]
    seen = []
    for instant, _ in expected:
        harness.clock.set(instant)
        seen.append((instant, (await harness.view(pid)).phase))
        if instant in (returnable_until + SECOND, support_until + SECOND):
            await harness.tick()
            await harness.wait_event(pid, "window-closed", count=1 if instant < support_until else 2)
    assert seen == expected
    closed = [e for e in harness.events if e.get("change") == "window-closed" and e["purchase"]["purchase_id"] == pid]
    assert sorted(e["_message_id"].rsplit(":", 1)[-1] for e in closed) == ["final", "self-service"]
    assert closed[-1]["phase"] == "closed"
    assert (await harness.view(pid)).allowed_actions == []


@pytest.mark.parametrize(
    ("offset", "phase"),
    [(-SECOND, Phase.SELF_SERVICE), (timedelta(0), Phase.SUPPORT_CASE), (SECOND, Phase.SUPPORT_CASE)],
)
async def test_queued_ri_edge_at_its_start(harness: Harness, offset: timedelta, phase: Phase) -> None:
    account = await harness.account()
    start = harness.clock.now() + timedelta(days=1)
    ri = await harness.control.reserved_instance(account, start=start)
    pid = (
        await harness.purchase(
            account, kind="reserved_instance", service="ec2", commitment_id=ri["ReservedInstancesId"]
        )
    )["purchase_id"]
    harness.clock.set(start + offset)
    await harness.control.set_clock(now=start + offset)
    await harness.tick()
    view = await harness.wait_for(pid, lambda v: v.phase is phase)
    if phase is Phase.SUPPORT_CASE:
        assert view.allowed_actions == [AllowedAction.REQUEST_SUPPORT_CASE]
        await harness.wait_for(pid, lambda v: v.aws_state == "active")
    else:
        assert view.allowed_actions == [AllowedAction.REVOKE]


async def test_the_window_closing_between_click_and_action(harness: Harness) -> None:
    account, pid = await _returnable(harness)
    closes = harness.clock.now() + timedelta(days=2)
    harness.clock.set(closes - SECOND)
    assert (await harness.view(pid)).allowed_actions == [AllowedAction.REVOKE]  # the click
    harness.clock.set(closes)  # the command is handled a second later

    reply = await harness.command(RevokePurchase(actor=ADMIN, idempotency_key=key(), purchase_id=pid))

    assert reply.status is CommandStatus.REJECTED
    assert reply.problem is not None
    assert reply.problem.code is ErrorCode.CONFLICT
    assert "window closed" in reply.problem.message
    assert reply.purchase is not None
    assert reply.purchase.phase is Phase.SUPPORT_CASE
    assert await harness.control.calls(account=account, action="savingsplans:ReturnSavingsPlan") == []


async def test_aws_closing_the_window_first_is_a_clear_refusal(harness: Harness) -> None:
    account, pid = await _returnable(harness)
    closes = harness.clock.now() + timedelta(days=2)
    harness.clock.set(closes - SECOND)
    await harness.control.set_clock(now=closes + SECOND)  # AWS's clock is a little ahead of ours

    reply = await harness.command(RevokePurchase(actor=ADMIN, idempotency_key=key(), purchase_id=pid))

    assert reply.status is CommandStatus.REJECTED
    assert reply.problem is not None
    assert reply.problem.code is ErrorCode.CONFLICT
    assert "ValidationException" in reply.problem.message
    event = await harness.wait_event(pid, "revocation-failed")
    assert "ValidationException" in event["audit"]["failure"]
    assert len(await harness.control.calls(account=account, action="savingsplans:ReturnSavingsPlan")) == 1
