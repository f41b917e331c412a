"""The revocation service's Azure adapter against the local Azure endpoint over HTTPS, with the
real async SDK (the endpoint's own fixtures: a tenant, a principal, a billing scope)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from cryptography.fernet import Fernet
from faststream.rabbit import RabbitBroker
from pydantic import SecretStr

from graceperiod.contracts.revocation import CommandReply, RegisterAzurePrincipal, RevokePurchase
from graceperiod.devstack.azure_endpoint.control import AzureControl, AzureEndpointAddress
from graceperiod.devstack.testkit.samples import azure_purchase_payload
from graceperiod.devstack.testkit.upstream import publish_upstream
from graceperiod.revocation.adapters.azure.clients import AzureClients, AzureOptions, Principal
from graceperiod.revocation.adapters.azure.reservations import AzureReservations
from tests.integration.azure_endpoint.conftest import ServicePrincipal, admin, billing_scope, control, tenant
from tests.integration.revocation.conftest import ADMIN, Harness, _harness, bare_harness, key

__all__ = ["admin", "bare_harness", "billing_scope", "control", "tenant"]


def principal_of(who: ServicePrincipal) -> Principal:
    return Principal(who.tenant_id, who.client_id, who.secret)


@pytest.fixture
async def azure_reservations(azure_endpoint: AzureEndpointAddress) -> AsyncIterator[AzureReservations]:
    options = AzureOptions(
        arm_url=azure_endpoint.url,
        authority=azure_endpoint.url,
        ca_bundle=str(azure_endpoint.ca_bundle),
        retry_total=3,  # the production default: the return POST must turn it off itself
        retry_backoff=0.01,
        polling_interval=0.05,
    )
    clients = AzureClients(options)
    yield AzureReservations(clients)
    await clients.close()


@dataclass
class AzureWorld:
    """The revocation service (in process, real broker and FerretDB) signing in to the local Azure
    endpoint over HTTPS, with a tenant whose principal is registered through the command."""

    harness: Harness
    control: AzureControl
    admin: ServicePrincipal
    billing_scope: str
    settings: dict[str, Any] = field(default_factory=dict)
    """The service's settings overrides (a second replica runs with the same: the same secret keys)."""

    async def register(self, who: ServicePrincipal | None = None) -> CommandReply:
        who = who or self.admin
        command = RegisterAzurePrincipal(
            actor=ADMIN,
            idempotency_key=key(),
            tenant_id=who.tenant_id,
            client_id=who.client_id,
            client_secret=SecretStr(who.secret),
            name="Contoso",
        )
        return await self.harness.command(command)

    async def order(self, **spec: Any) -> dict[str, Any]:
        spec.setdefault("billing_scope", self.billing_scope)
        return await self.control.reservation_order(self.admin.tenant_id, **spec)

    async def purchase(self, order: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        ids: dict[str, Any] = {}
        if order is not None:
            ids = {"order_id": order["id"], "reservation_id": order["reservations"][0]["id"]}
        body = azure_purchase_payload(
            tenant_id=self.admin.tenant_id,
            executed_at=self.harness.clock.now(),
            billing_scope=self.billing_scope,
            **(ids | kwargs),
        )
        await publish_upstream(self.harness.upstream, "purchase.executed", body, message_id=body["purchase_id"])
        await self.harness.wait_for(body["purchase_id"], lambda view: True)
        return body

    async def revoke(self, purchase_id: str) -> CommandReply:
        return await self.harness.command(RevokePurchase(actor=ADMIN, idempotency_key=key(), purchase_id=purchase_id))


@pytest.fixture
async def azure_world(
    amqp_url: str,
    mongodb_url: str,
    db_prefix: str,
    aws_endpoint_url: str,
    upstream: RabbitBroker,
    azure_endpoint: AzureEndpointAddress,
    control: AzureControl,
    admin: ServicePrincipal,
    billing_scope: str,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[AzureWorld]:
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_endpoint_url)
    settings = {
        "azure_arm_url": azure_endpoint.url,
        "azure_authority": azure_endpoint.url,
        "azure_ca_bundle": str(azure_endpoint.ca_bundle),
        "azure_polling_seconds": 0.05,
        "azure_follow_seconds": 10.0,
        "secret_keys": [Fernet.generate_key().decode()],
        "attempt_lease_seconds": 30,
    }
    database = f"{db_prefix}_revocation"
    async with _harness(
        amqp_url, mongodb_url, database, aws_endpoint_url, upstream, in_process=True, settings=settings
    ) as harness:
        yield AzureWorld(harness, control, admin, billing_scope, settings)
