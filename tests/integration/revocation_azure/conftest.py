"""The revocation service's Azure adapter against the local Azure endpoint over HTTPS, with the
real async SDK (the endpoint's own fixtures: a tenant, a principal, a billing scope)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from graceperiod.devstack.azure_endpoint.control import AzureEndpointAddress
from graceperiod.revocation.adapters.azure.clients import AzureClients, AzureOptions, Principal
from graceperiod.revocation.adapters.azure.reservations import AzureReservations
from tests.integration.azure_endpoint.conftest import ServicePrincipal, admin, billing_scope, control, tenant

__all__ = ["admin", "billing_scope", "control", "tenant"]


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
