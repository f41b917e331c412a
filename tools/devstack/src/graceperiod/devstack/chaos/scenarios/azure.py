"""Scenario azure-return: Azure reservations returned while the endpoint throttles and the
revocation service is killed (``kill -9``) during the long-running returns.

1. A local Azure endpoint of the scenario's own (HTTPS, its CA trusted by the revocation service
   through ``REVOCATION_AZURE_CA_BUNDLE``), with tenants of ten reservations each, every tenant's
   service principal registered (``RegisterAzurePrincipal``) and billed to a billing profile of
   its own (Microsoft's 50,000 USD refund cap is per billing profile).
2. One ``purchase.executed`` per reservation: recorded and announced.
3. Every tenant's next two ``calculateRefund`` and two ``return`` POSTs throttled (429); every
   purchase revoked with ``RevokePurchase`` sent twice at once with one key. A return runs
   ``RETURN_SECONDS`` on the endpoint whatever the polls; the revocation service follows it for
   ``REVOCATION_AZURE_FOLLOW_SECONDS`` (1 s) and leaves the rest to ticks.
4. Once half the returns are accepted, the revocation service is killed; some returns are then
   running (their continuation tokens stored), others claimed with their POST in flight or not yet
   sent. Restarted after ``down_seconds``, on ticks.

Effects (:class:`AzureReturnFlow`): ``recorded:<purchase>``, the executed email per recipient,
``revoked:<purchase>`` (stored status ``revoked``), ``returned:<order>`` (the endpoint's count of
*accepted* return POSTs of the order: a second would be a second return), ``posted:<order>`` (the
return POSTs of the order that reached Azure's operation, accepted or refused alike: every POST
but those an injected throttle answered; a second is a second POST, even one Azure refused with
409) and the ``revoked`` outcome email per recipient, each exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from pymongo import AsyncMongoClient

from graceperiod.contracts.identities import BrokerIdentity
from graceperiod.contracts.revocation import CommandReply, RevokePurchase
from graceperiod.contracts.topology import Queues
from graceperiod.devstack.azure_endpoint.control import AzureControl
from graceperiod.devstack.chaos.core import Run, scenario
from graceperiod.devstack.chaos.effects import EXECUTED, Mailbox, expected_recipients
from graceperiod.devstack.chaos.load import Outgoing
from graceperiod.devstack.chaos.results import Result, Ui
from graceperiod.devstack.chaos.sizes import Size
from graceperiod.devstack.chaos.stack import ChaosStack
from graceperiod.devstack.chaos.world import ADMIN, key, rpc_client
from graceperiod.devstack.servers.processes import AzureEndpointServer
from graceperiod.devstack.testkit.azure_demo import onboard_tenant, seed_reservation_order
from graceperiod.devstack.testkit.samples import GLOBAL_NOTIFICATION_EMAIL, azure_purchase_payload
from graceperiod.runtime.rpc import call

REVOKED = "revocation-outcome:revoked"
PER_TENANT = 10
#: How long a return runs on the endpoint (its clock) before it completes, however often it is polled.
RETURN_SECONDS = 6.0
#: Throttles per tenant and operation: under the service's three rounds, so each return gets through.
THROTTLES = 2
RECORD_POLL_SECONDS = 2.0


class AzureReturnFlow:
    """Azure purchases recorded, announced, returned once each and their outcome emailed once."""

    name = "azure-return"

    def __init__(self, *, control: AzureControl, maildir: Path, mongodb_url: str, database: str) -> None:
        self._control = control
        self._mailbox = Mailbox(maildir)
        self._mongodb_url = mongodb_url
        self._database = database
        self._expected: dict[str, int] = {}
        self.payloads: dict[str, dict[str, Any]] = {}
        self._recorded: set[str] = set()
        self._revoked: set[str] = set()
        self._last_query = 0.0

    def purchase(self, tenant_id: str, billing_scope: str) -> Outgoing:
        payload = azure_purchase_payload(
            tenant_id=tenant_id,
            billing_scope=billing_scope,
            total="100.00",
            executed_at=datetime.now(UTC),
            contacts=["FinOps@example.com ", "ALICE@example.com"],
        )
        purchase_id = payload["purchase_id"]
        self.payloads[purchase_id] = payload
        self._expected[f"recorded:{purchase_id}"] = 1
        for recipient in expected_recipients(payload, GLOBAL_NOTIFICATION_EMAIL):
            self._expected[f"email:{EXECUTED}:{purchase_id}:{recipient}"] = 1
        return Outgoing(message_id=purchase_id, body=json.dumps(payload).encode(), routing_key="purchase.executed")

    def expect_returns(self) -> None:
        for purchase_id, payload in self.payloads.items():
            self._expected[f"revoked:{purchase_id}"] = 1
            self._expected[f"returned:{payload['azure']['reservation_order_id']}"] = 1
            self._expected[f"posted:{payload['azure']['reservation_order_id']}"] = 1
            for recipient in expected_recipients(payload, GLOBAL_NOTIFICATION_EMAIL):
                self._expected[f"email:{REVOKED}:{purchase_id}:{recipient}"] = 1

    def expected(self) -> Mapping[str, int]:
        return self._expected

    async def observe(self) -> Counter[str]:
        seen: Counter[str] = Counter()
        for mail in self._mailbox.scan():
            if mail.purchase_id in self.payloads:
                seen[f"email:{mail.kind}:{mail.purchase_id}:{mail.recipient}"] += 1
        await self._read_records()
        seen.update(f"recorded:{p}" for p in self._recorded)
        seen.update(f"revoked:{p}" for p in self._revoked)
        seen.update(await self.accepted_returns())
        return seen

    async def accepted_returns(self) -> Counter[str]:
        """``returned:<order>`` → the return POSTs the endpoint accepted for it, ``posted:<order>`` →
        those that reached the operation, refused ones included (any order it holds)."""
        seen: Counter[str] = Counter()
        for order in (await self._control.state())["reservation_orders"]:
            seen[f"returned:{order['id']}"] = int(order["returns_accepted"])
            seen[f"posted:{order['id']}"] = int(order["return_posts"]) - int(order["return_posts_faulted"])
        return +seen  # only the positive counts

    async def _read_records(self) -> None:
        """Records and their status, at most every few seconds (FerretDB's CPU is shared)."""
        if time.monotonic() - self._last_query < RECORD_POLL_SECONDS:
            return
        self._last_query = time.monotonic()
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(self._mongodb_url, serverSelectionTimeoutMS=1000)
        try:
            wanted = {"_id": {"$in": list(self.payloads)}}
            async for doc in client[self._database]["purchases"].find(wanted, projection={"status": 1}):
                self._recorded.add(str(doc["_id"]))
                if doc.get("status") == "revoked":
                    self._revoked.add(str(doc["_id"]))
        except Exception:  # noqa: S110 - unreachable now: asked again on the next look
            pass
        finally:
            await client.close()


@contextlib.contextmanager
def azure_endpoint(workdir: Path) -> Iterator[AzureEndpointServer]:
    server = AzureEndpointServer(data_dir=workdir / f"azure-{uuid.uuid4().hex[:6]}")
    server.start(timeout=60)
    try:
        yield server
    finally:
        server.stop()


def revocation_environment(endpoint: AzureEndpointServer) -> dict[str, str]:
    return {
        "REVOCATION_AZURE_ARM_URL": endpoint.url,
        "REVOCATION_AZURE_AUTHORITY": endpoint.url,
        "REVOCATION_AZURE_CA_BUNDLE": str(endpoint.ca_bundle),
        "REVOCATION_SECRET_KEYS": json.dumps([Fernet.generate_key().decode()]),
        "REVOCATION_AZURE_POLLING_SECONDS": "0.5",
        "REVOCATION_AZURE_FOLLOW_SECONDS": "1",
        "REVOCATION_PENDING_POLL_SECONDS": "2",
        "REVOCATION_ATTEMPT_LEASE_SECONDS": "5",
        "REVOCATION_AWS_BACKOFF_BASE_SECONDS": "0.2",
    }


@scenario("azure-return", "Azure returns through throttling and a kill -9 of revocation mid-return")
async def azure_return(stack: ChaosStack, size: Size, ui: Ui) -> Result:
    title = "Azure throttling; revocation killed during the long-running returns"
    with azure_endpoint(stack.workdir) as endpoint:
        env = revocation_environment(endpoint)
        async with (
            Run.start(stack, "azure-return", title, ui, env=env) as run,
            AzureControl(endpoint.url, endpoint.ca_bundle) as control,
        ):
            await control.configure(return_polls=10**9, return_seconds=RETURN_SECONDS, retry_after_seconds=1)
            flow = AzureReturnFlow(
                control=control,
                maildir=stack.smtp.maildir,
                mongodb_url=stack.ferret.url,
                database=run.deployment.database("revocation"),
            )
            run.flows.append(flow)
            scopes = await _onboard(control, run.deployment.amqp_url, max(1, size.azure_reservations // PER_TENANT))
            tenants = list(scopes)
            owners = [tenants[i % len(tenants)] for i in range(size.azure_reservations)]
            messages = [flow.purchase(tenant, scopes[tenant]) for tenant in owners]
            for payload in flow.payloads.values():
                await seed_reservation_order(control, payload)
            await run.publish(messages, rate=size.rate, label="azure purchases")
            await run.wait_for_effects(deadline_seconds=size.deadline_seconds, settle_seconds=0)

            flow.expect_returns()
            for tenant in tenants:
                for operation in ("CalculateRefund_Post", "Return_Post"):
                    await control.fault(operation, tenant=tenant, kind="throttle", count=THROTTLES, retry_after=0)
            run.fault(f"throttling {THROTTLES} calculateRefund and {THROTTLES} return POSTs per tenant")
            revoking = asyncio.create_task(_revoke_all(run.deployment.amqp_url, list(flow.payloads)))
            accepted = await _until_accepted(flow, len(flow.payloads) // 2, timeout=size.deadline_seconds)
            run.deployment.kill("revocation")
            run.fault(f"kill -9 of revocation with {accepted} of {len(flow.payloads)} returns accepted")
            await asyncio.sleep(size.down_seconds)
            await run.deployment.restart("revocation")
            run.start_ticking()
            run.recovered("revocation restarted")
            result = await run.finish(deadline_seconds=size.deadline_seconds, settle_seconds=size.settle_seconds)
            replies = await revoking
            posts = await control.calls(operation="Return_Post")  # the last 5,000 calls' log
            orders = (await control.state())["reservation_orders"]
        result.metrics |= {
            "azure_reservations": len(flow.payloads),
            "tenants": len(tenants),
            "accepted_at_kill": accepted,
            "return_posts": sum(int(o["return_posts"]) for o in orders),
            "throttled_return_posts": sum(int(o["return_posts_faulted"]) for o in orders),
            "return_post_answers": dict(Counter(f"{c.get('status')} {c.get('code') or ''}".strip() for c in posts)),
            "revoke_reply_statuses": dict(Counter(r if isinstance(r, str) else r.status.value for r in replies)),
        }
        result.notes.append(
            "each reservation posted and returned once (the endpoint's return POSTs past its injected throttles, and "
            "the accepted ones) through throttling and a "
            f"kill -9 of revocation at {accepted} of {len(flow.payloads)} returns accepted"
        )
        return result


async def _onboard(control: AzureControl, amqp_url: str, tenants: int) -> dict[str, str]:
    """``tenants`` tenants with a registered principal, each → a billing profile of its own."""
    scopes: dict[str, str] = {}
    async with rpc_client(amqp_url) as client:
        for _ in range(tenants):
            tenant = str(uuid.uuid4())
            scope = f"/providers/Microsoft.Billing/billingAccounts/{uuid.uuid4()}/billingProfiles/{uuid.uuid4()}"
            billing = {"kind": "billing_profile", "id": scope}
            await onboard_tenant(
                control, client, tenant, name=f"Tenant {tenant[:8]}", contact_emails=[], billing_scope=billing
            )
            scopes[tenant] = scope
    return scopes


async def _until_accepted(flow: AzureReturnFlow, wanted: int, *, timeout: float) -> int:
    """Wait until the endpoint has accepted ``wanted`` returns (or ``timeout``); how many it has."""
    deadline = time.monotonic() + timeout
    accepted = 0
    while time.monotonic() < deadline:
        returns = await flow.accepted_returns()
        accepted = sum(n for effect, n in returns.items() if effect.startswith("returned:"))
        if accepted >= wanted:
            break
        await asyncio.sleep(0.1)
    return accepted


async def _revoke_all(amqp_url: str, purchase_ids: list[str]) -> list[CommandReply | str]:
    """Every purchase revoked by ``RevokePurchase`` sent twice at once with one key (a double
    click); replies cut off by the kill are counted by their error's name, not awaited again."""
    window = asyncio.Semaphore(8)
    async with rpc_client(amqp_url) as client:

        async def revoke(purchase_id: str) -> list[CommandReply | str]:
            command = RevokePurchase(actor=ADMIN, idempotency_key=key(), purchase_id=purchase_id)
            async with window:
                answers = await asyncio.gather(
                    *(
                        call(client, Queues.REVOCATION_COMMANDS, command, CommandReply, timeout=60, user_id=GATEWAY)
                        for _ in range(2)
                    ),
                    return_exceptions=True,
                )
            return [a if isinstance(a, CommandReply) else type(a).__name__ for a in answers]

        answered = await asyncio.gather(*(revoke(p) for p in purchase_ids))
    return [reply for pair in answered for reply in pair]


GATEWAY = BrokerIdentity.GATEWAY
