"""Reservation orders and reservations: GET and list, as the SDK deserialises them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from graceperiod.devstack.azure_endpoint.control import AzureControl
from tests.integration.azure_endpoint.conftest import ClientFactory, ServicePrincipal, new_principal


async def test_get_an_order_and_its_reservations(
    reservations: ClientFactory, admin: ServicePrincipal, control: AzureControl, billing_scope: str
) -> None:
    bought = datetime(2026, 3, 1, 12, tzinfo=UTC)
    seeded = await control.reservation_order(
        admin.tenant_id,
        billing_scope=billing_scope,
        term="P3Y",
        billing_plan="Monthly",
        total=3600,
        purchased_at=bought,
        resource_type="SqlDatabases",
        sku="SQLDB_GP_Compute_Gen5",
        location="northeurope",
        quantity=4,
        subscription_id="00000000-0000-0000-0000-00000000abcd",
    )
    reservation_id = seeded["reservations"][0]["id"]
    async with reservations(admin) as client:
        order = await client.reservation_order.get(seeded["id"], expand="planInformation")
        listed = [r async for r in client.reservation.list(seeded["id"])]
        reservation = await client.reservation.get(seeded["id"], reservation_id)
    assert order.name == seeded["id"]
    assert order.type == "Microsoft.Capacity/reservationOrders"
    assert order.properties is not None
    assert order.properties.term == "P3Y"
    assert order.properties.billing_plan == "Monthly"
    assert order.properties.provisioning_state == "Succeeded"
    assert order.properties.original_quantity == 4
    assert order.properties.created_date_time == bought
    assert order.properties.expiry_date_time == bought + timedelta(days=3 * 365)
    assert order.properties.plan_information is not None
    assert order.properties.plan_information.pricing_currency_total is not None
    assert order.properties.plan_information.pricing_currency_total.amount == 3600
    assert [r.id for r in order.properties.reservations or []] == [reservation.id]
    assert [r.id for r in listed] == [reservation.id]
    assert reservation.name == f"{seeded['id']}/{reservation_id}"
    assert reservation.location == "northeurope"
    assert reservation.sku is not None
    assert reservation.sku.name == "SQLDB_GP_Compute_Gen5"
    assert reservation.properties is not None
    assert reservation.properties.reserved_resource_type == "SqlDatabases"
    assert reservation.properties.quantity == 4
    assert reservation.properties.billing_scope_id == "/subscriptions/00000000-0000-0000-0000-00000000abcd"
    assert reservation.properties.provisioning_state == "Succeeded"


async def test_list_shows_the_tenants_orders_page_by_page(
    reservations: ClientFactory, admin: ServicePrincipal, control: AzureControl, tenant: str
) -> None:
    await control.configure(page_size=2)
    mine = {(await control.reservation_order(tenant))["id"] for _ in range(5)}
    await control.reservation_order(str(uuid.uuid4()))  # another tenant's
    async with reservations(admin) as client:
        listed = {order.name async for order in client.reservation_order.list()}
    assert listed == mine
    pages = [c for c in await control.calls(tenant=tenant) if c["operation"] == "ReservationOrder_List"]
    assert len(pages) == 3


async def test_an_unknown_order_is_404(reservations: ClientFactory, admin: ServicePrincipal) -> None:
    async with reservations(admin) as client:
        with pytest.raises(ResourceNotFoundError) as caught:
            await client.reservation_order.get(str(uuid.uuid4()))
    assert caught.value.status_code == 404
    assert caught.value.error is not None
    assert caught.value.error.code == "ReservationOrderNotFound"


async def test_an_unknown_reservation_in_a_known_order_is_404(
    reservations: ClientFactory, admin: ServicePrincipal, control: AzureControl
) -> None:
    order = await control.reservation_order(admin.tenant_id)
    async with reservations(admin) as client:
        with pytest.raises(ResourceNotFoundError):
            await client.reservation.get(order["id"], str(uuid.uuid4()))


async def test_an_order_expires_on_the_emulator_clock(
    reservations: ClientFactory, admin: ServicePrincipal, control: AzureControl
) -> None:
    seeded = await control.reservation_order(admin.tenant_id, term="P1Y")
    await control.set_clock(now=datetime.now(UTC) + timedelta(days=366))
    async with reservations(admin) as client:
        order = await client.reservation_order.get(seeded["id"])
        reservation = await client.reservation.get(seeded["id"], seeded["reservations"][0]["id"])
    assert order.properties is not None
    assert order.properties.provisioning_state == "Expired"
    assert reservation.properties is not None
    assert reservation.properties.provisioning_state == "Expired"
    assert reservation.properties.display_provisioning_state == "Expired"


async def test_a_reader_role_at_one_order_sees_only_that_order(
    reservations: ClientFactory, control: AzureControl, tenant: str
) -> None:
    visible = await control.reservation_order(tenant)
    hidden = await control.reservation_order(tenant)
    reader = await new_principal(
        control,
        tenant,
        [{"role": "Reservations Reader", "scope": f"/providers/Microsoft.Capacity/reservationOrders/{visible['id']}"}],
    )
    async with reservations(reader) as client:
        listed = [order.name async for order in client.reservation_order.list()]
        with pytest.raises(HttpResponseError) as caught:
            await client.reservation_order.get(hidden["id"])
    assert listed == [visible["id"]]
    assert caught.value.status_code == 403
    assert caught.value.error is not None
    assert caught.value.error.code == "AuthorizationFailed"


async def test_an_api_version_the_provider_does_not_serve_is_refused(
    reservations: ClientFactory, admin: ServicePrincipal, control: AzureControl
) -> None:
    order = await control.reservation_order(admin.tenant_id)
    async with reservations(admin) as client:
        with pytest.raises(HttpResponseError) as caught:
            await client.reservation_order.get(order["id"], api_version="2099-01-01")
    assert caught.value.status_code == 400
    assert caught.value.error is not None
    assert caught.value.error.code == "NoRegisteredProviderFound"
