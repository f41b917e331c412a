"""Azure reservations through the revocation service: recorded with Microsoft's refund quote and
cap, returned through calculateRefund + return followed to its end, refused with the reason, and
never posted twice (real RabbitMQ, FerretDB and the SDK against the local Azure endpoint)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

from graceperiod.contracts.revocation import RegisterAzurePrincipal, RevokePurchase
from graceperiod.contracts.revocation_views import AllowedAction, Phase, UnavailableReason
from graceperiod.contracts.rpc import CommandStatus, ErrorCode
from graceperiod.devstack.azure_endpoint.control import role
from tests.integration.azure_endpoint.conftest import new_principal
from tests.integration.revocation.conftest import ADMIN, ALICE, key
from tests.integration.revocation_azure.conftest import AzureWorld


async def test_a_reservation_is_returned_once_through_calculate_refund_and_return(azure_world: AzureWorld) -> None:
    world, harness = azure_world, azure_world.harness
    registered = await world.register()
    assert registered.status is CommandStatus.DONE, registered
    assert registered.account is not None
    assert world.admin.secret not in registered.model_dump_json()
    order = await world.order(total=1200)
    await world.control.return_plan(order_id=order["id"], polls=2)
    await world.control.outside_refund(world.billing_scope, 10000)
    body = await world.purchase(order)

    view = await harness.view(body["purchase_id"])
    assert view.phase is Phase.SELF_SERVICE, view.unavailable
    assert view.allowed_actions == [AllowedAction.REVOKE]
    assert view.aws_state == "Succeeded"
    assert view.refund is not None
    assert (view.refund.cap_consumed, view.refund.cap_limit) == (Decimal("10000.00"), Decimal("50000.00"))
    assert view.refund.fits_cap
    assert Decimal("1100") < view.refund.cancelled_commitment <= Decimal("1200")

    reply = await world.revoke(body["purchase_id"])
    assert reply.status is CommandStatus.DONE, reply
    done = await harness.wait_for(body["purchase_id"], lambda v: v.phase is Phase.REVOKED)
    assert done.aws_state == "Cancelled"
    assert done.audit.azure_request_ids
    await harness.wait_event(body["purchase_id"], "revocation-requested")
    revoked = await harness.wait_event(body["purchase_id"], "revoked")
    assert revoked["refund"]["cap_consumed"] == "10000.00"
    state = await world.control.order(order["id"])
    assert (state["return_posts"], state["returns_accepted"]) == (1, 1)

    again = await world.revoke(body["purchase_id"])
    assert again.status is CommandStatus.DONE
    assert (await world.control.order(order["id"]))["return_posts"] == 1


async def test_a_return_beyond_microsofts_cap_is_refused_before_azure_is_asked(azure_world: AzureWorld) -> None:
    world = azure_world
    await world.register()
    order = await world.order(total=3000)
    await world.control.outside_refund(world.billing_scope, 48500)
    body = await world.purchase(order)

    view = await world.harness.view(body["purchase_id"])
    assert view.phase is Phase.CLOSED
    assert view.unavailable is not None
    assert view.unavailable.reason is UnavailableReason.REFUND_CAP_REACHED
    assert "48,500.00 USD of the 50,000.00 USD" in view.unavailable.message
    assert view.refund is not None
    assert not view.refund.fits_cap

    reply = await world.revoke(body["purchase_id"])
    assert reply.status is CommandStatus.REJECTED
    assert reply.problem is not None
    assert "refund cap" in reply.problem.message
    assert (await world.control.order(order["id"]))["return_posts"] == 0


async def test_a_savings_plan_is_closed_without_asking_azure(azure_world: AzureWorld) -> None:
    world = azure_world
    await world.register()
    body = await world.purchase(kind="savings_plan")
    view = await world.harness.view(body["purchase_id"])
    assert view.phase is Phase.CLOSED
    assert view.unavailable is not None
    assert view.unavailable.reason is UnavailableReason.NOT_REFUNDABLE
    assert "savings plans cannot be cancelled" in view.unavailable.message
    assert await world.control.calls(tenant=world.admin.tenant_id, operation="Reservation_Get") == []


async def test_a_post_whose_answer_is_lost_is_not_posted_again(azure_world: AzureWorld) -> None:
    """Azure acts on the return, then answers 500: the service re-reads the reservation, sees the
    return running, and follows it instead of posting again."""
    world = azure_world
    await world.register()
    order = await world.order()
    await world.control.fault("Return_Post", tenant=world.admin.tenant_id, kind="error-after-effect")
    body = await world.purchase(order)
    reply = await world.revoke(body["purchase_id"])
    assert reply.status is CommandStatus.DONE, reply
    pending = await world.harness.wait_for(body["purchase_id"], lambda v: v.phase is Phase.REVOCATION_PENDING)
    assert pending.aws_state == "Succeeded"  # displayProvisioningState Processing: Azure is returning it
    await world.control.set_clock(offset_seconds=31)  # the emulator finishes an unpolled return in 30 s
    world.harness.clock.advance(timedelta(minutes=2))
    await world.harness.tick()
    await world.harness.wait_for(body["purchase_id"], lambda v: v.phase is Phase.REVOKED)
    assert (await world.control.order(order["id"]))["return_posts"] == 1


async def test_one_key_delivered_twice_at_once_posts_the_return_once(azure_world: AzureWorld) -> None:
    """A double click: one RevokePurchase delivered twice at once. The endpoint holds the first
    run's POST past the service's reply deadline (5 s), so the first delivery is answered "in
    progress" and the second is handled while that POST is in flight: it must wait for the
    first run's answer, not post again (a second return, or a POST Azure refuses with 409)."""
    world = azure_world
    await world.register()
    order = await world.order()
    await world.control.return_plan(order_id=order["id"], polls=2)
    await world.control.fault("Return_Post", tenant=world.admin.tenant_id, kind="delay", delay_seconds=7.0)
    body = await world.purchase(order)
    command = RevokePurchase(actor=ADMIN, idempotency_key=key(), purchase_id=body["purchase_id"])
    replies = await asyncio.gather(*(world.harness.command(command, timeout=40) for _ in range(2)))
    await world.harness.wait_for(body["purchase_id"], lambda v: v.phase is Phase.REVOKED, timeout=30)
    state = await world.control.order(order["id"])
    assert (state["return_posts"], state["returns_accepted"]) == (1, 1)
    statuses = sorted(r.status for r in replies)
    assert statuses == [CommandStatus.DONE, CommandStatus.IN_PROGRESS], replies  # the first was still posting


async def test_throttling_then_a_failed_return_end_in_a_recorded_outcome(azure_world: AzureWorld) -> None:
    world = azure_world
    await world.register()
    order = await world.order()
    await world.control.fault("Return_Post", tenant=world.admin.tenant_id, kind="throttle", count=1, retry_after=0)
    await world.control.return_plan(order_id=order["id"], polls=1, fail_code="BillingTransientError")
    body = await world.purchase(order)
    reply = await world.revoke(body["purchase_id"])
    assert reply.status is CommandStatus.DONE, reply
    failed = await world.harness.wait_event(body["purchase_id"], "revocation-failed")
    assert "BillingTransientError" in failed["summary"]
    view = await world.harness.view(body["purchase_id"])
    assert view.audit.failure is not None
    assert "BillingTransientError" in view.audit.failure
    state = await world.control.order(order["id"])
    assert (state["return_posts"], state["returns_accepted"]) == (2, 1)  # the 429, then the one accepted


async def test_a_return_azure_keeps_refusing_ends_with_azures_reason(azure_world: AzureWorld) -> None:
    world = azure_world
    await world.register()
    order = await world.order()
    await world.control.fault("Return_Post", tenant=world.admin.tenant_id, kind="throttle", count=10, retry_after=0)
    body = await world.purchase(order)
    reply = await world.revoke(body["purchase_id"])
    assert reply.status is CommandStatus.REJECTED, reply
    assert reply.problem is not None
    assert "throttling" in reply.problem.message
    await world.harness.wait_event(body["purchase_id"], "revocation-failed")
    state = await world.control.order(order["id"])
    assert (state["return_posts"], state["returns_accepted"]) == (3, 0)  # our three rounds, no SDK retries


async def test_an_unknown_reservation_and_a_denied_return_are_clear(azure_world: AzureWorld) -> None:
    world = azure_world
    await world.register()
    unknown = await world.purchase()  # names an order the tenant does not have
    view = await world.harness.view(unknown["purchase_id"])
    assert view.aws_state is None
    reply = await world.revoke(unknown["purchase_id"])
    assert reply.status is CommandStatus.REJECTED
    assert reply.problem is not None
    assert reply.problem.code is ErrorCode.NOT_FOUND
    await world.harness.wait_event(unknown["purchase_id"], "revocation-failed")

    reader = await new_principal(world.control, world.admin.tenant_id, [role("Reservations Reader")])
    assert (await world.register(reader)).status is CommandStatus.DONE
    order = await world.order()
    denied = await world.purchase(order)
    reply = await world.revoke(denied["purchase_id"])
    assert reply.status is CommandStatus.REJECTED
    assert reply.problem is not None
    assert "re-apply the Azure onboarding template" in reply.problem.message
    assert (await world.control.order(order["id"]))["returns_accepted"] == 0


async def test_registering_needs_update_config_and_a_sealing_key(azure_world: AzureWorld) -> None:
    world = azure_world
    reply = await world.harness.command(
        RegisterAzurePrincipal(
            actor=ALICE,
            idempotency_key=key(),
            tenant_id=world.admin.tenant_id,
            client_id=world.admin.client_id,
            client_secret=world.admin.secret,  # type: ignore[arg-type]
        )
    )
    assert reply.status is CommandStatus.REJECTED
    assert reply.problem is not None
    assert reply.problem.code is ErrorCode.FORBIDDEN
