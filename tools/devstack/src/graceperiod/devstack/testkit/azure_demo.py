"""The demo Azure tenant of ``make demo``: a tenant in the local Azure endpoint with a service
principal holding Reservations Administrator over its reservations, that principal registered
with the revocation service, and a returnable reservation order for each demo purchase."""

from __future__ import annotations

from typing import Any

from faststream.rabbit import RabbitBroker
from pydantic import SecretStr

from graceperiod.contracts.revocation import RegisterAzurePrincipal
from graceperiod.contracts.upstream import AzureBillingScope
from graceperiod.devstack.azure_endpoint.control import AzureControl, AzureEndpointAddress, role
from graceperiod.devstack.testkit.samples import azure_purchase_payload
from graceperiod.devstack.testkit.upstream import DEVSTACK_ADMIN, register_as_gateway

#: The demo tenant and its principal (local endpoint only; the secret is no secret).
DEMO_TENANT_ID = "3b7c1e9d-2f4a-4d8b-a6e0-5c9f2b7d1e43"
DEMO_CLIENT_ID = "7e2d4c6a-9b1f-4e3d-8a5c-2f6b0d9e1a47"
DEMO_CLIENT_SECRET = "graceperiod-demo-client-secret"  # noqa: S105 - the local endpoint's demo principal
DEMO_BILLING_SCOPE = "/providers/Microsoft.Billing/billingAccounts/local/billingProfiles/demo"


def demo_azure_purchase(**overrides: Any) -> dict[str, Any]:
    """A ``purchase.executed`` of a one-year VM reservation in the demo tenant."""
    spec: dict[str, Any] = {"tenant_id": DEMO_TENANT_ID, "billing_scope": DEMO_BILLING_SCOPE, "total": "2400.00"}
    return azure_purchase_payload(**(spec | overrides))


async def seed_demo_azure_purchase(
    endpoint: AzureEndpointAddress, broker: RabbitBroker, purchase: dict[str, Any]
) -> None:
    """Make the local Azure endpoint hold the purchase's reservation order (returnable, in a tenant
    whose principal may return it) and register that principal (the revocation service must run)."""
    async with AzureControl(endpoint.url, endpoint.ca_bundle) as control:
        await seed_reservation_order(control, purchase)
        await broker.start()
        await onboard_tenant(
            control,
            broker,
            purchase["account"]["id"],
            name=purchase["account"]["name"],
            contact_emails=purchase["account"]["contact_emails"],
            billing_scope=purchase["azure"]["billing_scope"],
        )


async def seed_reservation_order(control: AzureControl, purchase: dict[str, Any]) -> dict[str, Any]:
    """The reservation order an Azure ``purchase.executed`` body describes, in the local endpoint."""
    azure = purchase["azure"]
    return await control.reservation_order(
        purchase["account"]["id"],
        order_id=azure["reservation_order_id"],
        reservation_id=azure["reservation_id"],
        subscription_id=azure["subscription_id"],
        billing_scope=azure["billing_scope"]["id"],
        resource_type=azure["reserved_resource_type"],
        location=azure["location"],
        quantity=azure["quantity"],
        sku=purchase["sku"],
        total=purchase["cost"]["total"],
        purchased_at=purchase["executed_at"],
    )


async def onboard_tenant(
    control: AzureControl,
    broker: RabbitBroker,
    tenant_id: str,
    *,
    name: str,
    contact_emails: list[str],
    billing_scope: dict[str, str],
    client_id: str = DEMO_CLIENT_ID,
    client_secret: str = DEMO_CLIENT_SECRET,
) -> None:
    """A tenant whose service principal holds Reservations Administrator over its reservations in
    the local endpoint, registered with the revocation service as the gateway would."""
    await control.tenant(tenant_id)
    await control.principal(
        tenant_id, client_id, secret=client_secret, role_assignments=[role("Reservations Administrator")]
    )
    command = RegisterAzurePrincipal(
        actor=DEVSTACK_ADMIN,
        idempotency_key=f"onboard-azure-{tenant_id}-{client_id}",
        tenant_id=tenant_id,
        client_id=client_id,
        client_secret=SecretStr(client_secret),
        name=name,
        contact_emails=contact_emails,
        billing_scope=AzureBillingScope.model_validate(billing_scope),
    )
    await register_as_gateway(broker, command, f"the principal of Azure tenant {tenant_id}")
