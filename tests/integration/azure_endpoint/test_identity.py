"""The token endpoint as azure-identity sees it, and ARM checking the bearer token, over HTTPS."""

from __future__ import annotations

import ssl
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError
from azure.identity import ClientSecretCredential as SyncClientSecretCredential
from azure.identity.aio import ClientSecretCredential
from azure.mgmt.reservations.aio import ReservationsMgmtClient

from graceperiod.devstack.azure_endpoint.control import AzureControl, AzureEndpointAddress
from tests.integration.azure_endpoint.conftest import ClientFactory, ServicePrincipal

ARM = "https://management.azure.com/.default"


async def _token_error(address: AzureEndpointAddress, tenant_id: str, client_id: str, secret: str) -> str:
    credential = ClientSecretCredential(
        tenant_id, client_id, secret, authority=address.url, connection_verify=str(address.ca_bundle)
    )
    async with credential:
        with pytest.raises(ClientAuthenticationError) as caught:
            await credential.get_token(ARM)
    return str(caught.value)


async def test_a_registered_principal_gets_a_token_arm_accepts(
    reservations: ClientFactory, admin: ServicePrincipal, control: AzureControl
) -> None:
    async with reservations(admin) as client:
        orders = [order async for order in client.reservation_order.list()]
    assert orders == []
    calls = await control.calls(tenant=admin.tenant_id)
    assert [(c["operation"], c["status"]) for c in calls] == [("Token", 200), ("ReservationOrder_List", 200)]
    assert calls[0]["client_id"] == admin.client_id


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("wrong-secret", "AADSTS7000215: Invalid client secret provided"),
        ("unknown-client", "AADSTS700016: Application with identifier"),
        ("unknown-tenant", "AADSTS90002: Tenant"),
    ],
)
async def test_the_token_endpoint_refuses_as_entra_id_does(
    azure_endpoint: AzureEndpointAddress, admin: ServicePrincipal, case: str, expected: str
) -> None:
    tenant_id, client_id, secret = admin.tenant_id, admin.client_id, admin.secret
    if case == "wrong-secret":
        secret = "not-the-secret"
    elif case == "unknown-client":
        client_id = str(uuid.uuid4())
    else:
        tenant_id = str(uuid.uuid4())
    message = await _token_error(azure_endpoint, tenant_id, client_id, secret)
    assert expected in message


async def test_an_expired_client_secret_is_refused(
    azure_endpoint: AzureEndpointAddress, control: AzureControl, admin: ServicePrincipal
) -> None:
    await control.principal(
        admin.tenant_id, admin.client_id, secret_expires_at=datetime.now(UTC) - timedelta(minutes=1)
    )
    message = await _token_error(azure_endpoint, admin.tenant_id, admin.client_id, admin.secret)
    assert "AADSTS7000222" in message


async def test_the_wrong_secret_answers_401_with_the_entra_id_body(
    azure_endpoint: AzureEndpointAddress, admin: ServicePrincipal
) -> None:
    context = ssl.create_default_context(cafile=str(azure_endpoint.ca_bundle))
    async with httpx.AsyncClient(verify=context) as http:
        reply = await http.post(
            f"{azure_endpoint.url}/{admin.tenant_id}/oauth2/v2.0/token",
            data={"grant_type": "client_credentials", "client_id": admin.client_id, "client_secret": "x", "scope": ARM},
        )
    body = reply.json()
    assert reply.status_code == 401
    assert body["error"] == "invalid_client"
    assert body["error_codes"] == [7000215]
    assert {"trace_id", "correlation_id", "timestamp", "error_uri"} <= body.keys()


async def test_a_token_expired_on_the_emulator_clock_gets_401(
    reservations: ClientFactory, admin: ServicePrincipal, control: AzureControl
) -> None:
    async with reservations(admin) as client:
        [order async for order in client.reservation_order.list()]  # the credential caches its token
        await control.set_clock(now=datetime.now(UTC) + timedelta(hours=2))
        with pytest.raises(ClientAuthenticationError) as caught:
            [order async for order in client.reservation_order.list()]
    assert caught.value.status_code == 401
    assert caught.value.error is not None
    assert caught.value.error.code == "ExpiredAuthenticationToken"


@pytest.mark.parametrize("authorization", [None, "Bearer forged.token.value"], ids=["missing", "forged"])
async def test_arm_refuses_a_missing_or_unknown_token(
    azure_endpoint: AzureEndpointAddress, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    context = ssl.create_default_context(cafile=str(azure_endpoint.ca_bundle))
    async with httpx.AsyncClient(verify=context) as http:
        reply = await http.get(
            f"{azure_endpoint.url}/providers/Microsoft.Capacity/reservationOrders?api-version=2022-11-01",
            headers=headers,
        )
    assert reply.status_code == 401
    assert reply.json()["error"]["code"] in {"AuthenticationFailed", "InvalidAuthenticationToken"}
    assert reply.headers["WWW-Authenticate"].startswith("Bearer ")


async def test_clients_must_trust_the_local_ca(azure_endpoint: AzureEndpointAddress, admin: ServicePrincipal) -> None:
    credential = ClientSecretCredential(admin.tenant_id, admin.client_id, admin.secret, authority=azure_endpoint.url)
    async with credential:
        with pytest.raises(ServiceRequestError, match="CERTIFICATE_VERIFY_FAILED"):
            await credential.get_token(ARM)


async def test_azure_core_sends_no_bearer_token_over_plain_http(admin: ServicePrincipal) -> None:
    """Why the endpoint serves TLS at all."""
    credential = ClientSecretCredential(admin.tenant_id, admin.client_id, admin.secret)
    async with credential, ReservationsMgmtClient(credential, base_url="http://127.0.0.1:9") as client:
        with pytest.raises(ServiceRequestError, match="non-TLS"):
            await client.reservation_order.get(str(uuid.uuid4()))


async def test_the_msal_based_sync_credential_works_too(
    azure_endpoint: AzureEndpointAddress, admin: ServicePrincipal
) -> None:
    credential = SyncClientSecretCredential(
        admin.tenant_id,
        admin.client_id,
        admin.secret,
        authority=azure_endpoint.url,
        connection_verify=str(azure_endpoint.ca_bundle),
        disable_instance_discovery=True,
    )
    token = credential.get_token(ARM)
    assert token.token.count(".") == 2
    assert token.expires_on > datetime.now(UTC).timestamp()
