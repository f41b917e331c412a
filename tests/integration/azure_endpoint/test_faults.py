"""Throttling, server errors, injected errors and missing permissions, as the SDK sees them."""

from __future__ import annotations

import time

import pytest
from azure.core.exceptions import HttpResponseError
from azure.core.rest import AsyncHttpResponse

from graceperiod.devstack.azure_endpoint.control import AzureControl, actions, role
from tests.integration.azure_endpoint.conftest import (
    ClientFactory,
    ServicePrincipal,
    new_principal,
    refund_request,
    return_request,
)


async def test_throttling_for_n_calls_is_retried_by_the_sdk(
    reservations: ClientFactory, admin: ServicePrincipal, control: AzureControl
) -> None:
    order = await control.reservation_order(admin.tenant_id)
    await control.fault("ReservationOrder_Get", tenant=admin.tenant_id, count=2, retry_after=0)
    async with reservations(admin, retries=3) as client:
        found = await client.reservation_order.get(order["id"])
    assert found.name == order["id"]
    calls = await control.calls(tenant=admin.tenant_id, operation="ReservationOrder_Get")
    assert [c["status"] for c in calls] == [429, 429, 200]


async def test_the_sdk_waits_as_long_as_retry_after_says(
    reservations: ClientFactory, admin: ServicePrincipal, control: AzureControl
) -> None:
    await control.fault("ReservationOrder_List", tenant=admin.tenant_id, count=1, retry_after=1)
    async with reservations(admin, retries=1) as client:
        started = time.monotonic()
        [order async for order in client.reservation_order.list()]
    assert time.monotonic() - started >= 1.0


async def test_throttling_beyond_the_retries_surfaces_with_arms_headers(
    reservations: ClientFactory, admin: ServicePrincipal, control: AzureControl
) -> None:
    order = await control.reservation_order(admin.tenant_id)
    await control.fault("CalculateRefund_Post", tenant=admin.tenant_id, count=5, retry_after=0)
    async with reservations(admin, retries=1) as client:
        with pytest.raises(HttpResponseError) as caught:
            await client.calculate_refund.post(order["id"], refund_request(order))
    response = caught.value.response
    assert isinstance(response, AsyncHttpResponse)
    assert caught.value.status_code == 429
    assert caught.value.error is not None
    assert caught.value.error.code == "TooManyRequests"
    assert response.headers["Retry-After"] == "0"
    assert response.headers["x-ms-ratelimit-remaining-tenant-writes"] == "0"
    assert response.headers["x-ms-request-id"]
    assert len(await control.calls(tenant=admin.tenant_id, operation="CalculateRefund_Post")) == 2


async def test_a_throttled_return_post_is_retried_and_returns_once(
    reservations: ClientFactory, admin: ServicePrincipal, control: AzureControl
) -> None:
    order = await control.reservation_order(admin.tenant_id)
    await control.fault("Return_Post", tenant=admin.tenant_id, count=1, retry_after=0)
    async with reservations(admin, retries=2) as client:
        quoted = await client.calculate_refund.post(order["id"], refund_request(order))
        assert quoted.properties is not None
        poller = await client.return_operations.begin_post(
            order["id"], return_request(order, quoted.properties.session_id)
        )
        await poller.result()
    state = await control.order(order["id"])
    assert (state["return_posts"], state["returns_accepted"], state["state"]) == (2, 1, "Cancelled")
    assert state["return_posts_faulted"] == 1  # the throttled one never reached the operation


async def test_server_errors_and_injected_errors(
    reservations: ClientFactory, admin: ServicePrincipal, control: AzureControl
) -> None:
    order = await control.reservation_order(admin.tenant_id)
    await control.fault("ReservationOrder_Get", tenant=admin.tenant_id, kind="server-error")
    await control.fault("Reservation_List", tenant=admin.tenant_id, kind="error", status=400, code="BadRequest")
    async with reservations(admin) as client:
        with pytest.raises(HttpResponseError) as server_error:
            await client.reservation_order.get(order["id"])
        with pytest.raises(HttpResponseError) as injected:
            [r async for r in client.reservation.list(order["id"])]
        assert (await client.reservation_order.get(order["id"])).name == order["id"]
    assert server_error.value.status_code == 500
    assert server_error.value.error is not None
    assert server_error.value.error.code == "InternalServerError"
    assert injected.value.error is not None
    assert (injected.value.status_code, injected.value.error.code) == (400, "BadRequest")


@pytest.mark.parametrize(("retries", "status", "posts"), [(0, 500, 1), (3, 409, 2)], ids=["no-retry", "sdk-retries"])
async def test_a_return_whose_answer_is_lost_still_happened(
    reservations: ClientFactory, admin: ServicePrincipal, control: AzureControl, retries: int, status: int, posts: int
) -> None:
    """The return took effect but the answer is a 500. azure-core's RetryPolicy re-sends a POST
    answered 500/503/504, so with retries on the SDK itself posts again, which Azure refuses
    (409) while the first return runs: re-reading the order is what tells the truth."""
    order = await control.reservation_order(admin.tenant_id)
    await control.return_plan(order_id=order["id"], never=True)
    await control.fault("Return_Post", tenant=admin.tenant_id, kind="error-after-effect")
    async with reservations(admin, retries=retries) as client:
        quoted = await client.calculate_refund.post(order["id"], refund_request(order))
        assert quoted.properties is not None
        with pytest.raises(HttpResponseError) as caught:
            await client.return_operations.begin_post(order["id"], return_request(order, quoted.properties.session_id))
        reservation = await client.reservation.get(order["id"], order["reservations"][0]["id"])
    assert caught.value.status_code == status
    assert reservation.properties is not None
    assert reservation.properties.display_provisioning_state == "Processing"
    state = await control.order(order["id"])
    assert (state["return_posts"], state["returns_accepted"]) == (posts, 1)
    assert state["return_posts_faulted"] == 0  # the 500 came after the effect: it reached the operation


async def test_a_principal_without_the_return_action_gets_403(
    reservations: ClientFactory, control: AzureControl, tenant: str
) -> None:
    order = await control.reservation_order(tenant)
    reader = await new_principal(control, tenant, [role("Reservations Reader")])
    async with reservations(reader) as client:
        assert (await client.reservation_order.get(order["id"])).name == order["id"]
        with pytest.raises(HttpResponseError) as caught:
            await client.calculate_refund.post(order["id"], refund_request(order))
    assert caught.value.status_code == 403
    assert caught.value.error is not None
    assert caught.value.error.code == "AuthorizationFailed"
    assert caught.value.error.message is not None
    assert "Microsoft.Capacity/reservationOrders/calculateRefund/action" in caught.value.error.message


async def test_a_custom_role_grants_exactly_its_actions(
    reservations: ClientFactory, control: AzureControl, tenant: str
) -> None:
    order = await control.reservation_order(tenant)
    refunder = await new_principal(
        control, tenant, [actions("Microsoft.Capacity/reservationOrders/calculateRefund/action")]
    )
    nobody = await new_principal(control, tenant, [])
    async with reservations(refunder) as client:
        quoted = await client.calculate_refund.post(order["id"], refund_request(order))
        with pytest.raises(HttpResponseError) as cannot_read:
            await client.reservation_order.get(order["id"])
    async with reservations(nobody) as client:
        # ARM refuses the list to a caller who may read no order at all (MicrosoftDocs/azure-docs#61495)
        with pytest.raises(HttpResponseError) as cannot_list:
            _ = [o async for o in client.reservation_order.list()]
    assert quoted.properties is not None
    assert quoted.properties.session_id
    assert cannot_read.value.status_code == 403
    assert cannot_list.value.status_code == 403
    assert "over scope '/providers/Microsoft.Capacity'" in str(cannot_list.value.message)
