"""The Azure half of ``make run`` / ``make demo``: the revocation service configured the way the local
stack configures it (``stack.service_environment`` and its secret key) reaches the local Azure endpoint
over HTTPS, trusting its CA; the demo's seeding registers the tenant's principal, and the demo purchase
is returned through the endpoint once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from faststream.rabbit import RabbitBroker

from graceperiod.contracts.revocation import RevokePurchase
from graceperiod.contracts.revocation_views import Phase
from graceperiod.contracts.rpc import CommandStatus
from graceperiod.devstack.azure_endpoint.control import AzureControl, AzureEndpointAddress
from graceperiod.devstack.local import stack
from graceperiod.devstack.testkit.azure_demo import demo_azure_purchase, seed_demo_azure_purchase
from graceperiod.devstack.testkit.upstream import publish_upstream
from tests.integration.revocation.conftest import ADMIN, Harness, _harness, key


@pytest.fixture
async def local_harness(
    amqp_url: str,
    mongodb_url: str,
    db_prefix: str,
    aws_endpoint_url: str,
    upstream: RabbitBroker,
    azure_endpoint: AzureEndpointAddress,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Harness]:
    endpoints = stack.Endpoints(
        amqp_url=amqp_url,
        management_url=None,
        mongodb_url=mongodb_url,
        smtp_url="smtp://127.0.0.1:1",
        maildir=None,
        aws_endpoint_url=aws_endpoint_url,
        azure_endpoint_url=azure_endpoint.url,
        azure_ca_bundle=str(azure_endpoint.ca_bundle),
    )
    monkeypatch.setattr(stack, "AZURE_SECRET_KEY_FILE", tmp_path / "keys" / "azure-secret.key")
    monkeypatch.delenv("REVOCATION_SECRET_KEYS", raising=False)
    env = stack.service_environment(endpoints) | stack.own_environment(stack.plan(), "revocation")
    for name, value in env.items():
        if name.startswith(("REVOCATION_AZURE_", "REVOCATION_SECRET_")):
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_endpoint_url)
    settings = {"azure_polling_seconds": 0.05, "azure_follow_seconds": 10.0}
    database = f"{db_prefix}_revocation"
    async with _harness(
        amqp_url, mongodb_url, database, aws_endpoint_url, upstream, in_process=True, settings=settings
    ) as harness:
        yield harness


async def test_the_demo_azure_purchase_is_returned_through_the_local_endpoint_once(
    local_harness: Harness, azure_endpoint: AzureEndpointAddress, control: AzureControl
) -> None:
    harness = local_harness
    body = demo_azure_purchase(executed_at=harness.clock.now())
    await seed_demo_azure_purchase(azure_endpoint, harness.upstream, body)
    pid = body["purchase_id"]
    await publish_upstream(harness.upstream, "purchase.executed", body, message_id=pid)
    view = await harness.wait_for(pid, lambda v: v.phase is Phase.SELF_SERVICE)
    assert view.refund is not None  # calculateRefund answered through the local endpoint

    reply = await harness.command(RevokePurchase(actor=ADMIN, idempotency_key=key(), purchase_id=pid), timeout=20)
    assert reply.status is CommandStatus.DONE, reply
    view = await harness.wait_for(pid, lambda v: v.phase is Phase.REVOKED)
    order = await control.order(body["azure"]["reservation_order_id"])
    assert (order["state"], order["returns_accepted"]) == ("Cancelled", 1)
