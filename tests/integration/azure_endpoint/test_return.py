"""``return``: 202 with the headers the SDK's poller follows, then the order as Azure leaves it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError
from azure.core.pipeline import PipelineResponse
from azure.mgmt.reservations.aio import ReservationsMgmtClient

from graceperiod.devstack.azure_endpoint.control import AzureControl
from tests.integration.azure_endpoint.conftest import (
    ClientFactory,
    ServicePrincipal,
    refund_request,
    return_request,
)


async def _session(client: ReservationsMgmtClient, order: dict[str, Any], quantity: int = 1) -> str:
    quoted = await client.calculate_refund.post(order["id"], refund_request(order, quantity))
    assert quoted.properties is not None
    assert quoted.properties.session_id is not None
    return quoted.properties.session_id


async def test_return_runs_to_the_cancelled_order(
    reservations: ClientFactory, admin: ServicePrincipal, control: AzureControl, billing_scope: str
) -> None:
    order = await control.reservation_order(admin.tenant_id, billing_scope=billing_scope, total=1200)
    seen: list[tuple[str, int, dict[str, str]]] = []

    def hook(response: PipelineResponse[Any, Any]) -> None:
        http = response.http_response
        seen.append((http.request.method, http.status_code, dict(http.headers)))

    async with reservations(admin) as client:
        session = await _session(client, order)
        poller = await client.return_operations.begin_post(
            order["id"], return_request(order, session), raw_response_hook=hook
        )
        returned = await poller.result()
        reservation = await client.reservation.get(order["id"], order["reservations"][0]["id"])

    method, status, headers = seen[0]
    assert (method, status) == ("POST", 202)
    assert headers["Location"].endswith(f"/reservationOrders/{order['id']}?api-version=2022-11-01")
    assert "/operationStatuses/" in headers["Azure-AsyncOperation"]
    assert headers["Retry-After"] == "0"
    assert returned.name == order["id"]
    assert returned.properties is not None
    assert returned.properties.provisioning_state == "Cancelled"
    assert reservation.properties is not None
    assert (reservation.properties.provisioning_state, reservation.properties.quantity) == ("Cancelled", 0)
    state = await control.order(order["id"])
    assert (state["return_posts"], state["returns_accepted"]) == (1, 1)
    assert state["operations"][0]["status"] == "Succeeded"
    assert (await control.get_billing_scope(billing_scope))["consumed_refunds_total"] == "1200.00"


async def test_a_partial_return_leaves_the_rest_active(
    reservations: ClientFactory, admin: ServicePrincipal, control: AzureControl
) -> None:
    order = await control.reservation_order(admin.tenant_id, quantity=3)
    async with reservations(admin) as client:
        session = await _session(client, order, quantity=2)
        poller = await client.return_operations.begin_post(order["id"], return_request(order, session, quantity=2))
        returned = await poller.result()
        reservation = await client.reservation.get(order["id"], order["reservations"][0]["id"])
    assert returned.properties is not None
    assert returned.properties.provisioning_state == "Succeeded"
    assert reservation.properties is not None
    assert (reservation.properties.provisioning_state, reservation.properties.quantity) == ("Succeeded", 1)


async def test_a_poller_resumed_from_its_continuation_token_posts_nothing_again(
    reservations: ClientFactory, admin: ServicePrincipal, control: AzureControl
) -> None:
    """What a restarted revocation service does with the token it persisted."""
    order = await control.reservation_order(admin.tenant_id)
    await control.return_plan(order_id=order["id"], polls=3)
    async with reservations(admin) as client:
        session = await _session(client, order)
        poller = await client.return_operations.begin_post(order["id"], return_request(order, session))
        token = poller.continuation_token()
    async with reservations(admin) as restarted:
        resumed = await restarted.return_operations.begin_post(order["id"], None, continuation_token=token)  # type: ignore[call-overload]
        returned = await resumed.result()
    assert returned.properties is not None
    assert returned.properties.provisioning_state == "Cancelled"
    state = await control.order(order["id"])
    assert (state["return_posts"], state["returns_accepted"]) == (1, 1)


async def test_a_return_takes_as_many_polls_as_planned(
    reservations: ClientFactory, admin: ServicePrincipal, control: AzureControl
) -> None:
    order = await control.reservation_order(admin.tenant_id)
    await control.return_plan(order_id=order["id"], polls=4)
    async with reservations(admin) as client:
        session = await _session(client, order)
        poller = await client.return_operations.begin_post(order["id"], return_request(order, session))
        await poller.result()
    polls = await control.calls(order=order["id"], operation="OperationStatus_Get")
    assert len(polls) == 4
    assert (await control.order(order["id"]))["operations"][0]["polls"] == 4


async def test_a_return_that_never_finishes_blocks_a_second_one(
    reservations: ClientFactory, admin: ServicePrincipal, control: AzureControl
) -> None:
    order = await control.reservation_order(admin.tenant_id)
    await control.return_plan(order_id=order["id"], never=True)
    async with reservations(admin) as client:
        session = await _session(client, order)
        poller = await client.return_operations.begin_post(order["id"], return_request(order, session))
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(poller.result(), 1.0)
        reservation = await client.reservation.get(order["id"], order["reservations"][0]["id"])
        with pytest.raises(ResourceExistsError) as again:  # azure-core's class for 409
            await client.return_operations.begin_post(order["id"], return_request(order, session))
    assert poller.status() == "InProgress"
    assert reservation.properties is not None
    assert reservation.properties.display_provisioning_state == "Processing"
    assert again.value.status_code == 409
    assert again.value.error is not None
    assert again.value.error.code == "OperationCannotBePerformedInCurrentState"
    state = await control.order(order["id"])
    assert (state["return_posts"], state["returns_accepted"], state["state"]) == (2, 1, "Succeeded")
    assert state["return_posts_faulted"] == 0  # the refused second POST counts as posted


async def test_a_failed_return_leaves_the_order_and_the_pool_as_they_were(
    reservations: ClientFactory, admin: ServicePrincipal, control: AzureControl, billing_scope: str
) -> None:
    order = await control.reservation_order(admin.tenant_id, billing_scope=billing_scope)
    await control.return_plan(order_id=order["id"], polls=2, fail_code="BillingTransientError")
    async with reservations(admin) as client:
        session = await _session(client, order)
        poller = await client.return_operations.begin_post(order["id"], return_request(order, session))
        with pytest.raises(HttpResponseError) as caught:
            await poller.result()
        after = await client.reservation_order.get(order["id"])
    assert caught.value.error is not None
    assert caught.value.error.code == "BillingTransientError"
    assert after.properties is not None
    assert after.properties.provisioning_state == "Succeeded"
    assert (await control.get_billing_scope(billing_scope))["consumed_refunds_total"] == "0"


async def test_a_return_nobody_polls_completes_on_the_emulator_clock(
    reservations: ClientFactory, admin: ServicePrincipal, control: AzureControl
) -> None:
    """A revocation service killed mid-operation finds it finished when it re-reads the order."""
    order = await control.reservation_order(admin.tenant_id)
    await control.configure(return_polls=1000, return_seconds=60)
    async with reservations(admin) as client:
        session = await _session(client, order)
        await client.return_operations.begin_post(order["id"], return_request(order, session), polling=False)
        during = await client.reservation_order.get(order["id"])
        await control.set_clock(offset_seconds=61)
        after = await client.reservation_order.get(order["id"])
    assert during.properties is not None
    assert during.properties.provisioning_state == "Succeeded"
    assert after.properties is not None
    assert after.properties.provisioning_state == "Cancelled"


async def test_a_returned_order_cannot_be_returned_again(
    reservations: ClientFactory, admin: ServicePrincipal, control: AzureControl
) -> None:
    order = await control.reservation_order(admin.tenant_id)
    async with reservations(admin) as client:
        session = await _session(client, order)
        await (await client.return_operations.begin_post(order["id"], return_request(order, session))).result()
        with pytest.raises(HttpResponseError) as caught:
            await client.return_operations.begin_post(order["id"], return_request(order, session))
    assert caught.value.status_code == 400
    assert caught.value.error is not None
    assert caught.value.error.code == "OperationCannotBePerformedInCurrentState"


async def test_return_needs_a_calculate_refund_session(
    reservations: ClientFactory, admin: ServicePrincipal, control: AzureControl
) -> None:
    order = await control.reservation_order(admin.tenant_id, quantity=2)
    async with reservations(admin) as client:
        session = await _session(client, order, quantity=1)
        with pytest.raises(HttpResponseError) as caught:
            await client.return_operations.begin_post(order["id"], return_request(order, session, quantity=2))
    assert caught.value.status_code == 400
    assert caught.value.error is not None
    assert caught.value.error.code == "InvalidRequestContent"
    assert (await control.order(order["id"]))["returns_accepted"] == 0
