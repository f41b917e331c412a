"""Fixtures for the Azure endpoint's own tests: the real async SDK (azure-mgmt-reservations with
azure-identity's ClientSecretCredential) over HTTPS against the endpoint."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from azure.identity.aio import ClientSecretCredential
from azure.mgmt.reservations.aio import ReservationsMgmtClient
from azure.mgmt.reservations.models import (
    CalculateRefundRequest,
    CalculateRefundRequestProperties,
    RefundRequest,
    RefundRequestProperties,
    ReservationToReturn,
)

from graceperiod.devstack.azure_endpoint.control import AzureControl, AzureEndpointAddress, role


@dataclass(frozen=True)
class ServicePrincipal:
    tenant_id: str
    client_id: str
    secret: str


ClientFactory = Callable[..., AbstractAsyncContextManager[ReservationsMgmtClient]]


@pytest.fixture
async def control(azure_endpoint: AzureEndpointAddress) -> AsyncIterator[AzureControl]:
    async with AzureControl(azure_endpoint.url, azure_endpoint.ca_bundle) as ctl:
        saved = await ctl.configure()
        await ctl.configure(retry_after_seconds=0)  # the SDK then polls at the client's polling_interval
        yield ctl
        await ctl.clear_faults()
        await ctl.clear_return_plans()
        await ctl.set_clock(real=True)
        await ctl.configure(**saved)


@pytest.fixture
async def tenant(control: AzureControl) -> str:
    tenant_id = str(uuid.uuid4())
    await control.tenant(tenant_id)
    return tenant_id


async def new_principal(
    control: AzureControl, tenant_id: str, role_assignments: list[dict[str, Any]]
) -> ServicePrincipal:
    principal = ServicePrincipal(tenant_id, str(uuid.uuid4()), f"secret-{uuid.uuid4().hex}")
    await control.principal(tenant_id, principal.client_id, secret=principal.secret, role_assignments=role_assignments)
    return principal


@pytest.fixture
async def admin(control: AzureControl, tenant: str) -> ServicePrincipal:
    """A principal holding Reservations Administrator over every reservation of the tenant."""
    return await new_principal(control, tenant, [role("Reservations Administrator")])


@pytest.fixture
def billing_scope() -> str:
    return f"/providers/Microsoft.Billing/billingAccounts/{uuid.uuid4()}/billingProfiles/{uuid.uuid4()}"


@pytest.fixture
def reservations(azure_endpoint: AzureEndpointAddress) -> ClientFactory:
    """``async with reservations(principal, retries=0) as client``: the real async SDK, trusting the local CA."""

    @asynccontextmanager
    async def make(principal: ServicePrincipal, *, retries: int = 0) -> AsyncIterator[ReservationsMgmtClient]:
        ca = str(azure_endpoint.ca_bundle)
        credential = ClientSecretCredential(
            principal.tenant_id,
            principal.client_id,
            principal.secret,
            authority=azure_endpoint.url,
            connection_verify=ca,
        )
        client = ReservationsMgmtClient(
            credential,
            base_url=azure_endpoint.url,
            connection_verify=ca,
            polling_interval=0.05,
            retry_total=retries,
            retry_backoff_factor=0.01,
        )
        async with credential, client:
            yield client

    return make


def _to_return(order: dict[str, Any], quantity: int, reservation: int) -> ReservationToReturn:
    return ReservationToReturn(reservation_id=order["reservations"][reservation]["resource_id"], quantity=quantity)


def refund_request(order: dict[str, Any], quantity: int = 1, reservation: int = 0) -> CalculateRefundRequest:
    """A calculateRefund body for a seeded order (as the control API returned it)."""
    return CalculateRefundRequest(
        id=order["arm"]["id"],
        properties=CalculateRefundRequestProperties(
            scope="Reservation", reservation_to_return=_to_return(order, quantity, reservation)
        ),
    )


def return_request(
    order: dict[str, Any], session_id: str | None, quantity: int = 1, reservation: int = 0
) -> RefundRequest:
    return RefundRequest(
        properties=RefundRequestProperties(
            session_id=session_id,
            scope="Reservation",
            reservation_to_return=_to_return(order, quantity, reservation),
            return_reason="Grace Period revocation",
        )
    )
