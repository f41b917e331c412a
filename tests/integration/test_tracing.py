"""One purchase followed span by span: the real gateway, revocation and notifier services on
the real broker, database, AWS endpoint and SMTP server, each tracing into an in-memory exporter.

A click on the email link's button is one trace from the gateway's HTTP span through the RPC,
the revocation command, its AWS calls and MongoDB commands, the event it publishes, the
notifier's handling of it and the outcome emails' SMTP sends, parent to child all the way.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from faststream.rabbit import RabbitBroker
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from graceperiod.contracts.enums import ActionPath, Permission
from graceperiod.contracts.identities import BrokerIdentity
from graceperiod.contracts.revocation import CommandReply, RegisterAccountRole
from graceperiod.contracts.rpc import Actor, CommandStatus
from graceperiod.contracts.topology import Queues
from graceperiod.devstack.aws_endpoint.control import EmulatorControl
from graceperiod.devstack.servers.processes import SmtpSinkServer
from graceperiod.devstack.testkit.fixtures import Mailbox, running
from graceperiod.devstack.testkit.samples import purchase_payload
from graceperiod.devstack.testkit.tokens import LinkSigner
from graceperiod.devstack.testkit.traces import SpanRecord, Trace, traces
from graceperiod.devstack.testkit.upstream import publish_upstream
from graceperiod.devstack.testkit.web import serving
from graceperiod.gateway.app import create_app as gateway_app
from graceperiod.gateway.settings import GatewaySettings
from graceperiod.notifier.app import create_app as notifier_app
from graceperiod.notifier.settings import NotifierSettings
from graceperiod.revocation.app import create_app as revocation_app
from graceperiod.revocation.settings import RevocationSettings
from graceperiod.runtime.rpc import call
from graceperiod.runtime.signing_keys import PublicKeys
from graceperiod.runtime.tracing import Tracing

ROLE = "GracePeriodRevocation"
ADMIN = Actor(user_id="u-admin", email="admin@example.com", permissions=[Permission.UPDATE_CONFIG], path=ActionPath.API)


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


def _tracing(service: str, exporter: InMemorySpanExporter) -> Tracing:
    return Tracing.with_exporters(service, [exporter], batch=False)


@pytest.fixture
async def gateway_url(
    amqp_url: str,
    mongodb_url: str,
    db_prefix: str,
    smtp_server: SmtpSinkServer,
    aws_endpoint_url: str,
    link_keys_dir: Path,
    exporter: InMemorySpanExporter,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> AsyncIterator[tuple[str, LinkSigner]]:
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_endpoint_url)
    common: dict[str, Any] = {"amqp_url": amqp_url, "mongodb_url": mongodb_url, "retry_backoff_base_seconds": 0.05}
    signer = LinkSigner()  # the gateway and the revocation service both verify its links
    link_jwks = tmp_path / "links.jwks.json"
    link_jwks.write_text(json.dumps(signer.jwks()))
    revocation = revocation_app(
        RevocationSettings(**common, mongodb_database=f"{db_prefix}_revocation", link_jwks_file=link_jwks),
        tracing=_tracing("revocation", exporter),
    )
    notifier = notifier_app(
        NotifierSettings(
            **common, mongodb_database=f"{db_prefix}_notifier", smtp_url=smtp_server.url, link_keys_dir=link_keys_dir
        ),
        tracing=_tracing("notifier", exporter),
    )
    gateway = gateway_app(
        GatewaySettings(
            **common,
            mongodb_database=f"{db_prefix}_gateway",
            query_timeout_seconds=5.0,
            command_timeout_seconds=10.0,
            public_rate_per_minute=0,
        ),
        link_keys=PublicKeys.from_jwks(signer.jwks()),
        tracing=_tracing("gateway", exporter),
    )
    async with running(revocation, notifier), serving(gateway) as base_url:
        yield base_url, signer


async def _recorded_purchase(aws: EmulatorControl, upstream: RabbitBroker) -> dict[str, Any]:
    """alice's queued Savings Plan (deleted at once when revoked) in an onboarded account,
    announced to the revocation service."""
    account_id = f"{secrets.randbelow(10**12):012d}"
    now = datetime.now(UTC)
    await aws.account(account_id, roles={ROLE: f"ext-{account_id}"}, support_plan="business")
    plan = await aws.savings_plan(account_id, start=now + timedelta(days=30))
    register = RegisterAccountRole(
        actor=ADMIN, idempotency_key=f"t-{account_id}", account_id=account_id, external_id=f"ext-{account_id}"
    )
    reply = await call(
        upstream, Queues.REVOCATION_COMMANDS, register, CommandReply, timeout=20, user_id=BrokerIdentity.GATEWAY
    )
    assert reply.status in (CommandStatus.DONE, CommandStatus.IN_PROGRESS), reply  # the role is stored either way
    body = purchase_payload(
        account_id=account_id, commitment_id=plan["savingsPlanId"], requester_email="alice@example.com"
    )
    await publish_upstream(upstream, "purchase.executed", body, message_id=body["purchase_id"])
    return body


def _about(purchase_id: str, *, executed: bool) -> Any:
    return lambda m: m["X-Grace-Period-Purchase"] == purchase_id and executed == ("Purchase executed" in m["Subject"])


def _descends(trace: Trace, span: SpanRecord, ancestor: SpanRecord) -> bool:
    return any(a.span_id == ancestor.span_id for a in trace.ancestors(span))


async def test_a_click_on_the_email_link_is_one_trace_from_the_gateway_to_the_smtp_server(
    gateway_url: tuple[str, LinkSigner],
    upstream: RabbitBroker,
    mailbox: Mailbox,
    aws_endpoint_url: str,
    exporter: InMemorySpanExporter,
) -> None:
    base_url, signer = gateway_url
    async with EmulatorControl(aws_endpoint_url) as aws, httpx.AsyncClient(base_url=base_url, timeout=30) as web:
        body = await _recorded_purchase(aws, upstream)
        purchase_id = body["purchase_id"]
        await mailbox.wait_for(2, where=_about(purchase_id, executed=True), timeout=30)
        token = signer.token(purchase_id=purchase_id, recipient="alice@example.com", issued_at=datetime.now(UTC))
        url = f"/api/purchases/{purchase_id}/revoke?token={token}"
        assert (await web.get(url)).status_code == 200
        clicked = await web.post(url, data={"action": "revoke", "_csrf_token": web.cookies.get("gp_csrf")})
        assert clicked.status_code in (200, 202), clicked.text
        await mailbox.wait_for(2, where=_about(purchase_id, executed=False), timeout=30)
    await asyncio.sleep(0.5)  # the notifier's last spans end just after the SMTP server accepted

    spans = [SpanRecord.of(span) for span in exporter.get_finished_spans()]
    click = next(
        trace
        for trace in traces(spans).values()
        if any(s.name == "POST /api/purchases/{purchase_id}/revoke" for s in trace.roots)
    )
    http = click.one("POST /api/purchases/{purchase_id}/revoke", service="graceperiod-gateway")
    rpc = click.one("rpc revocation.commands RevokePurchase", service="graceperiod-gateway")
    command = click.one("default.revocation.commands process", service="graceperiod-revocation")
    returned = click.one("aws savingsplans:DeleteQueuedSavingsPlan", service="graceperiod-revocation")
    stored = click.one("mongodb update purchases", service="graceperiod-revocation")
    announced = click.one("graceperiod.events.revocation.purchase.changed publish", service="graceperiod-revocation")
    handled = click.one("graceperiod.events.revocation.purchase.changed process", service="graceperiod-notifier")
    sends = click.named("smtp send", service="graceperiod-notifier")

    outline = click.outline()
    assert _descends(click, rpc, http), outline
    assert _descends(click, command, rpc), outline
    for span in (returned, stored, announced):
        assert _descends(click, span, command), outline
    # FastStream parents the consumer's span and the publish span on the message's "create" span.
    assert handled.parent_id == announced.parent_id, outline
    assert _descends(click, handled, command), outline
    assert len(sends) >= 2, outline
    assert all(_descends(click, send, handled) for send in sends), outline
    assert not any(s.name.startswith("db.") or s.name.endswith(".find") for s in click.spans), outline
