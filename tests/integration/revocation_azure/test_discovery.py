"""Discovery of Azure reservations against the local Azure endpoint (the real async SDK over
HTTPS, real RabbitMQ and FerretDB): a reservation bought outside Grace Period becomes one
purchase, whether an executor announces it before or after the scan finds it, however many
replicas and ticks there are; a principal that may read no order shows on the tenant's access."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import SecretStr

from graceperiod.contracts.revocation import ListPurchases, PurchaseListReply, RegisterAzurePrincipal
from graceperiod.contracts.revocation_views import PurchaseSource, ScanResult
from graceperiod.contracts.upstream import Tick
from graceperiod.devstack.azure_endpoint.control import role
from graceperiod.devstack.testkit.fixtures import Mailbox, running
from graceperiod.devstack.testkit.samples import GLOBAL_NOTIFICATION_EMAIL
from graceperiod.revocation.app import create_app
from graceperiod.revocation.domain.azure import READ_ORDERS
from graceperiod.revocation.domain.azure_discovery import PRODUCT_KEY
from graceperiod.revocation.domain.discovery import discovered_purchase_id
from graceperiod.runtime.messaging import publish_tick
from tests.integration.azure_endpoint.conftest import new_principal
from tests.integration.revocation.conftest import ADMIN, key, service_settings
from tests.integration.revocation.test_discovery import access, recorded_events, scan_of, scanned
from tests.integration.revocation.test_discovery_emails import about, notifier
from tests.integration.revocation_azure.conftest import AzureWorld

pytestmark = pytest.mark.integration
__all__ = ["notifier"]


def found_id(tenant_id: str, order: dict[str, Any]) -> str:
    """The purchase id discovery gives the order's (first) reservation."""
    return discovered_purchase_id(tenant_id, PRODUCT_KEY, order["reservations"][0]["id"])


async def until_scanned(world: AzureWorld, tenant: str, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while scan_of(await access(world.harness, tenant)).last_scan_at is None:
        assert asyncio.get_running_loop().time() < deadline, "no scan"
        await asyncio.sleep(0.2)


async def purchases_of(world: AzureWorld) -> list[str]:
    reply = await world.harness.query(ListPurchases(actor=ADMIN, account_id=world.admin.tenant_id), PurchaseListReply)
    return [item.purchase.purchase_id for item in reply.items]


async def test_a_reservation_bought_outside_grace_period_is_recorded_and_announced_once(
    azure_world: AzureWorld,
) -> None:
    world, tenant = azure_world, azure_world.admin.tenant_id
    await world.register()
    order = await world.order(total=1200, quantity=2, location="northeurope")
    [status] = await scanned(world.harness, tenant)
    purchase_id = found_id(tenant, order)
    view = await world.harness.wait_for(purchase_id, lambda v: True)
    assert view.source is PurchaseSource.DISCOVERED
    assert view.purchase.requested_by is None
    assert view.purchase.execution.via.value == "discovered"
    product = view.purchase.azure_product()
    assert (product.reservation_order_id, product.reservation_id) == (order["id"], order["reservations"][0]["id"])
    assert (product.location, product.quantity, view.purchase.term_months) == ("northeurope", 2, 12)
    assert view.purchase.cost.total == 1200
    assert scan_of(status).result is ScanResult.OK, scan_of(status).message
    assert scan_of(status).commitments == 1
    await asyncio.sleep(0.5)
    assert len(recorded_events(world.harness, purchase_id)) == 1
    # The next scan finds nothing new.
    world.harness.clock.set(scan_of(status).next_scan_at or world.harness.clock.now())
    await scanned(world.harness, tenant)
    await asyncio.sleep(0.5)
    assert len(recorded_events(world.harness, purchase_id)) == 1
    assert await purchases_of(world) == [purchase_id]


async def test_a_reservation_an_executor_announced_first_is_not_discovered_again(azure_world: AzureWorld) -> None:
    world, tenant = azure_world, azure_world.admin.tenant_id
    await world.register()
    order = await world.order()
    body = await world.purchase(order)
    [status] = await scanned(world.harness, tenant)
    assert scan_of(status).commitments == 1
    await asyncio.sleep(0.5)
    assert await purchases_of(world) == [body["purchase_id"]]
    assert recorded_events(world.harness, found_id(tenant, order)) == []


async def test_an_executor_announcing_a_discovered_reservation_merges_into_it(azure_world: AzureWorld) -> None:
    world, tenant = azure_world, azure_world.admin.tenant_id
    await world.register()
    order = await world.order()
    await scanned(world.harness, tenant)
    canonical = found_id(tenant, order)
    await world.harness.wait_for(canonical, lambda v: True)
    body = await world.purchase(order)  # the executor's own purchase id, found as an alias
    merged = await world.harness.wait_for(body["purchase_id"], lambda v: v.purchase.requested_by is not None)
    assert merged.purchase.purchase_id == canonical
    assert merged.aliases == [body["purchase_id"]]
    billing_scope = merged.purchase.azure_product().billing_scope
    assert billing_scope is not None  # only the executor knows it: the refund cap is counted there
    assert billing_scope.id == world.billing_scope
    assert await purchases_of(world) == [canonical]


async def test_two_replicas_and_duplicated_ticks_discover_a_reservation_once(
    azure_world: AzureWorld, amqp_url: str, mongodb_url: str
) -> None:
    world, tenant = azure_world, azure_world.admin.tenant_id
    await world.register()
    order = await world.order()
    slot = scan_of(await access(world.harness, tenant)).next_scan_at
    assert slot is not None
    world.harness.clock.set(slot)
    second = create_app(
        service_settings(amqp_url, mongodb_url, world.harness.database, **world.settings), clock=world.harness.clock
    )
    async with running(second):
        ticks = [Tick(tick_id=f"tick-{n}-{slot.isoformat()}", at=slot, occurred_at=slot) for n in range(3)]
        for tick in [*ticks, ticks[0]]:  # one of them delivered twice
            await publish_tick(world.harness.client, tick, message_id=tick.tick_id)
        await until_scanned(world, tenant)
        await asyncio.sleep(1.0)
    purchase_id = found_id(tenant, order)
    assert len(recorded_events(world.harness, purchase_id)) == 1
    assert await purchases_of(world) == [purchase_id]
    assert len(await world.control.calls(tenant=tenant, operation="ReservationOrder_List")) == 2  # probe + one scan


async def test_a_principal_that_may_read_no_order_shows_on_the_tenants_access(azure_world: AzureWorld) -> None:
    world, tenant = azure_world, azure_world.admin.tenant_id
    outsider = await new_principal(world.control, tenant, [role("Owner", scope="/subscriptions/" + tenant)])
    await world.register(outsider)
    await world.order()
    # Its access is learnt at registration; forget it, so the scan alone must show it.
    await world.control.principal(tenant, outsider.client_id, role_assignments=[role("Reader")])
    await world.register(outsider)
    await world.control.principal(
        tenant, outsider.client_id, role_assignments=[role("Owner", scope="/subscriptions/" + tenant)]
    )
    [status] = await scanned(world.harness, tenant)
    assert scan_of(status).result is ScanResult.ACCESS_DENIED
    assert (
        scan_of(status).message == f"the service principal lacks {READ_ORDERS}: re-apply the Azure onboarding template"
    )
    assert status.missing_actions == [READ_ORDERS]
    assert status.reapply_bundle
    assert await purchases_of(world) == []


@pytest.mark.usefixtures("notifier")
async def test_a_discovered_reservation_is_emailed_once_and_an_executor_adds_only_its_requester(
    azure_world: AzureWorld, mailbox: Mailbox
) -> None:
    world, tenant = azure_world, azure_world.admin.tenant_id
    registered = RegisterAzurePrincipal(
        actor=ADMIN,
        idempotency_key=key(),
        tenant_id=tenant,
        client_id=world.admin.client_id,
        client_secret=SecretStr(world.admin.secret),
        name="Contoso",
        contact_emails=["owner@example.com"],
    )
    await world.harness.command(registered)
    order = await world.order()
    await scanned(world.harness, tenant)
    canonical = found_id(tenant, order)
    owners = sorted([GLOBAL_NOTIFICATION_EMAIL, "owner@example.com"])
    found = await mailbox.wait_for(2, where=about(canonical), timeout=30, settle=1.0)
    assert sorted(m["To"] for m in found) == owners
    assert all("Purchase found in your account" in m["Subject"] for m in found)
    await world.purchase(order, contacts=["owner@example.com"], requester_email="bob@example.com")
    emails = await mailbox.wait_for(3, where=about(canonical), timeout=30, settle=2.0)
    assert sorted(m["To"] for m in emails) == sorted([*owners, "bob@example.com"])


async def test_a_tenant_azure_keeps_throttling_is_marked_throttled_and_read_at_its_next_slot(
    azure_world: AzureWorld,
) -> None:
    world, tenant = azure_world, azure_world.admin.tenant_id
    await world.register()
    order = await world.order()
    await world.control.fault("ReservationOrder_List", count=1000, tenant=tenant, retry_after=0)
    [status] = await scanned(world.harness, tenant)
    assert scan_of(status).result is ScanResult.THROTTLED, scan_of(status).message
    assert status.missing_actions == []  # throttling teaches nothing about the principal
    assert await purchases_of(world) == []
    await world.control.clear_faults()
    world.harness.clock.set(scan_of(status).next_scan_at or world.harness.clock.now())
    [status] = await scanned(world.harness, tenant)
    assert scan_of(status).result is ScanResult.OK, scan_of(status).message
    assert await purchases_of(world) == [found_id(tenant, order)]
