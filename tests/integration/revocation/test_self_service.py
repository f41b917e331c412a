"""Done when: a returnable Savings Plan is returned, a queued one deleted, a queued RI deleted."""

from __future__ import annotations

from datetime import timedelta

from graceperiod.contracts.revocation import RevokePurchase
from graceperiod.contracts.revocation_views import AllowedAction, Phase, RevokedVia, TimelineKind
from graceperiod.contracts.rpc import CommandStatus
from graceperiod.devstack.testkit.samples import purchase_payload
from graceperiod.devstack.testkit.upstream import publish_upstream, seed_demo_account
from tests.integration.revocation.conftest import ADMIN, ALICE, BOB, Harness, key


async def test_a_returnable_savings_plan_is_returned(harness: Harness) -> None:
    account = await harness.account()
    now = harness.clock.now()
    plan = await harness.control.savings_plan(
        account, start=now - timedelta(hours=1), returnableUntil=now + timedelta(days=2)
    )
    body = await harness.purchase(account, commitment_id=plan["savingsPlanId"])
    pid = body["purchase_id"]

    before = await harness.view(pid, ALICE)
    assert before.phase is Phase.SELF_SERVICE
    assert before.allowed_actions == [AllowedAction.REVOKE]
    assert before.windows.self_service_until == now + timedelta(days=2)
    assert before.windows.support_case_until == now + timedelta(days=7)

    reply = await harness.command(RevokePurchase(actor=ALICE, idempotency_key=key(), purchase_id=pid))
    assert reply.status is CommandStatus.DONE, reply
    assert reply.purchase is not None
    assert reply.purchase.phase is Phase.REVOCATION_PENDING
    await harness.wait_event(pid, "revocation-requested")

    harness.clock.advance(timedelta(minutes=2))
    await harness.tick()
    after = await harness.wait_for(pid, lambda v: v.phase is Phase.REVOKED)
    await harness.wait_event(pid, "revoked")

    assert after.aws_state == "returned"
    assert after.audit.revoked_via is RevokedVia.SELF_SERVICE_API
    assert after.audit.actor is not None
    assert after.audit.actor.user_id == "u-alice"
    assert after.audit.revoked_at == now
    assert after.audit.aws_request_ids
    assert after.audit.aws_response == {"savingsPlanId": plan["savingsPlanId"]}
    assert after.audit.revocation_window_closes_at == now + timedelta(days=7)
    kinds = [entry.kind for entry in after.timeline]
    assert kinds[:2] == [TimelineKind.EXECUTED, TimelineKind.RECORDED]
    assert TimelineKind.REVOKE_REQUESTED in kinds
    assert kinds[-1] is TimelineKind.REVOKED
    returns = await harness.control.calls(account=account, action="savingsplans:ReturnSavingsPlan")
    assert len(returns) == 1
    assert returns[0]["params"]["clientToken"] == f"gp-{pid}"
    assert harness.changes(pid) == ["revocation-requested", "revoked"]


async def test_a_queued_savings_plan_is_deleted(harness: Harness) -> None:
    account = await harness.account()
    now = harness.clock.now()
    plan = await harness.control.savings_plan(account, start=now + timedelta(days=10))
    pid = (await harness.purchase(account, commitment_id=plan["savingsPlanId"]))["purchase_id"]
    view = await harness.view(pid)
    assert view.phase is Phase.SELF_SERVICE
    assert view.windows.self_service_until == now + timedelta(days=10)
    assert view.windows.closes_at == now + timedelta(days=10)

    reply = await harness.command(RevokePurchase(actor=ADMIN, idempotency_key=key(), purchase_id=pid))

    assert reply.status is CommandStatus.DONE, reply
    assert reply.purchase is not None
    assert reply.purchase.phase is Phase.REVOKED
    assert reply.purchase.aws_state == "queued-deleted"
    state = await harness.control.get_account(account)
    assert state["savings_plans"][0]["state"] == "queued-deleted"
    event = await harness.wait_event(pid, "revoked")
    assert event["audit"]["revoked_via"] == "self-service-api"


async def test_a_queued_reserved_instance_is_deleted(harness: Harness) -> None:
    account = await harness.account()
    now = harness.clock.now()
    ri = await harness.control.reserved_instance(account, region="eu-west-1", start=now + timedelta(days=3))
    pid = (
        await harness.purchase(
            account,
            kind="reserved_instance",
            service="ec2",
            commitment_id=ri["ReservedInstancesId"],
            region="eu-west-1",
        )
    )["purchase_id"]
    assert (await harness.view(pid)).phase is Phase.SELF_SERVICE

    reply = await harness.command(RevokePurchase(actor=ADMIN, idempotency_key=key(), purchase_id=pid))

    assert reply.status is CommandStatus.DONE, reply
    assert reply.purchase is not None
    assert reply.purchase.phase is Phase.REVOKED
    deletes = await harness.control.calls(account=account, action="ec2:DeleteQueuedReservedInstances")
    assert [c["region"] for c in deletes if c["params"].get("DryRun") != "true"] == ["eu-west-1"]
    await harness.wait_event(pid, "revoked")


async def test_someone_elses_purchase_cannot_be_revoked_with_revoke_own(harness: Harness) -> None:
    account = await harness.account()
    now = harness.clock.now()
    plan = await harness.control.savings_plan(account, start=now, returnableUntil=now + timedelta(days=1))
    pid = (await harness.purchase(account, commitment_id=plan["savingsPlanId"]))["purchase_id"]

    view = await harness.view(pid, BOB)
    reply = await harness.command(RevokePurchase(actor=BOB, idempotency_key=key(), purchase_id=pid))

    assert view.allowed_actions == []
    assert view.unavailable is not None
    assert view.unavailable.reason == "not-permitted"
    assert reply.status is CommandStatus.REJECTED
    assert reply.problem is not None
    assert reply.problem.code == "forbidden"
    assert await harness.control.calls(account=account, action="savingsplans:ReturnSavingsPlan") == []


async def test_the_demo_seed_makes_the_demo_purchase_revocable(harness: Harness, aws_endpoint_url: str) -> None:
    body = purchase_payload(executed_at=harness.clock.now())
    await seed_demo_account(aws_endpoint_url, harness.upstream, body)
    await publish_upstream(harness.upstream, "purchase.executed", body, message_id=body["purchase_id"])
    view = await harness.wait_for(body["purchase_id"], lambda v: True)
    assert view.phase is Phase.SELF_SERVICE
    assert view.allowed_actions == [AllowedAction.REVOKE]
