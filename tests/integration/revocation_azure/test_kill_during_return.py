"""Throttling, then the revocation service killed (SIGKILL) while Azure's long-running return
runs: the restarted service follows the return from the continuation token it stored and never
posts it again (the endpoint's control API counts the return POSTs)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from graceperiod.contracts.revocation import RegisterAzurePrincipal, RevokePurchase
from graceperiod.contracts.revocation_views import Phase
from graceperiod.contracts.rpc import CommandStatus
from graceperiod.devstack.azure_endpoint.control import AzureControl, AzureEndpointAddress
from graceperiod.devstack.testkit.samples import azure_purchase_payload
from graceperiod.devstack.testkit.upstream import publish_upstream
from tests.integration.azure_endpoint.conftest import ServicePrincipal
from tests.integration.revocation.conftest import ADMIN, Harness, key
from tests.integration.revocation.restarts import RevocationProcesses, ticking

SECRET_KEY = Fernet.generate_key().decode()


@pytest.fixture
def processes(
    bare_harness: Harness, tmp_path: Path, mongodb_url: str, azure_endpoint: AzureEndpointAddress
) -> Iterator[RevocationProcesses]:
    azure = {
        "REVOCATION_AWS_BACKOFF_BASE_SECONDS": "0.05",
        "REVOCATION_AZURE_ARM_URL": azure_endpoint.url,
        "REVOCATION_AZURE_AUTHORITY": azure_endpoint.url,
        "REVOCATION_AZURE_CA_BUNDLE": str(azure_endpoint.ca_bundle),
        "REVOCATION_AZURE_POLLING_SECONDS": "0.1",
        "REVOCATION_AZURE_FOLLOW_SECONDS": "30",
        "REVOCATION_SECRET_KEYS": json.dumps([SECRET_KEY]),
    }
    with RevocationProcesses(bare_harness, tmp_path, mongodb_url, azure) as started:
        yield started


async def test_a_return_survives_throttling_and_a_killed_service_and_is_posted_once(
    bare_harness: Harness,
    control: AzureControl,
    admin: ServicePrincipal,
    billing_scope: str,
    processes: RevocationProcesses,
) -> None:
    harness = bare_harness
    doomed = processes.start()
    registered = await harness.command(
        RegisterAzurePrincipal(
            actor=ADMIN,
            idempotency_key=key(),
            tenant_id=admin.tenant_id,
            client_id=admin.client_id,
            client_secret=SecretStr(admin.secret),
        )
    )
    assert registered.status is CommandStatus.DONE, registered
    order = await control.reservation_order(admin.tenant_id, billing_scope=billing_scope, total=2400)
    body = azure_purchase_payload(
        tenant_id=admin.tenant_id,
        order_id=order["id"],
        reservation_id=order["reservations"][0]["id"],
        billing_scope=billing_scope,
        executed_at=harness.clock.now(),
    )
    pid = body["purchase_id"]
    await publish_upstream(harness.upstream, "purchase.executed", body, message_id=pid)
    await harness.wait_for(pid, lambda v: v.phase is Phase.SELF_SERVICE)
    # The first return POST is throttled; the accepted one runs for 60 s (emulator clock), whatever the polls.
    await control.fault("Return_Post", tenant=admin.tenant_id, kind="throttle", count=1, retry_after=0)
    await control.configure(return_polls=1_000_000, return_seconds=60)

    reply = await harness.command(RevokePurchase(actor=ADMIN, idempotency_key=key(), purchase_id=pid), timeout=15)
    assert reply.status is CommandStatus.IN_PROGRESS, reply  # still following Azure's operation
    await harness.wait_for(pid, lambda v: v.phase is Phase.REVOCATION_PENDING)
    doomed.kill()

    await control.set_clock(offset_seconds=61)  # Azure finishes the return while the service is down
    processes.start()
    async with ticking(harness):
        view = await harness.wait_for(pid, lambda v: v.phase is Phase.REVOKED, timeout=60)
        await harness.wait_event(pid, "revoked", timeout=20)

    state = await control.order(order["id"])
    assert (state["return_posts"], state["returns_accepted"]) == (2, 1)  # the 429, then the one return
    assert view.aws_state == "Cancelled"
    revoked = {e["_message_id"] for e in harness.events if e.get("change") == "revoked"}
    assert revoked == {f"purchase-changed:{pid}:revoked:final"}
