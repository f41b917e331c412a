"""The issue's browser journeys against the real services (RabbitMQ, FerretDB, the AWS
endpoint, the SMTP sink; nothing faked).

PENDING THE MERGE: on this branch the revocation and cooldown services answer no RPC yet,
so these tests skip themselves until they do. What each still needs after the merge is
said in its docstring; the page objects (tests/browser/pages.py) and the serving helper
are the same ones the UI tests use.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import pytest
from faststream.rabbit import RabbitBroker
from playwright.async_api import Browser, expect

from graceperiod.contracts.topology import Queues
from graceperiod.cooldown.app import create_app as cooldown_app
from graceperiod.cooldown.settings import CooldownSettings
from graceperiod.devstack.samples import purchase_payload
from graceperiod.devstack.servers import SmtpSinkServer
from graceperiod.devstack.testing import Mailbox, running
from graceperiod.devstack.tokens import LinkSigner
from graceperiod.devstack.upstream import publish_upstream
from graceperiod.devstack.web import serving
from graceperiod.gateway.app import create_app as gateway_app
from graceperiod.gateway.links.tokens import LinkKeys
from graceperiod.gateway.settings import GatewaySettings
from graceperiod.notifier.app import create_app as notifier_app
from graceperiod.notifier.settings import NotifierSettings
from graceperiod.revocation.app import create_app as revocation_app
from graceperiod.revocation.settings import RevocationSettings
from tests.browser.pages import Dashboard, EmailLink
from tests.integration.gateway.conftest import answers

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.skipif(
        not (answers(revocation_app(), Queues.REVOCATION_QUERIES) and answers(cooldown_app(), Queues.COOLDOWN_QUERIES)),
        reason="pending merge: the revocation and cooldown services answer no RPC on this branch",
    ),
]


@pytest.fixture
async def stack(
    amqp_url: str,
    mongodb_url: str,
    db_prefix: str,
    smtp_server: SmtpSinkServer,
    aws_endpoint_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> AsyncIterator[str]:
    """The three services in-process and the gateway on a loopback port; yields its URL."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_endpoint_url)
    common: dict[str, Any] = {"amqp_url": amqp_url, "mongodb_url": mongodb_url, "retry_backoff_base_seconds": 0.05}
    signer = LinkSigner()
    services = [
        revocation_app(RevocationSettings(**common, mongodb_database=f"{db_prefix}_revocation")),
        cooldown_app(CooldownSettings(**common, mongodb_database=f"{db_prefix}_cooldown")),
        notifier_app(NotifierSettings(**common, mongodb_database=f"{db_prefix}_notifier", smtp_url=smtp_server.url)),
    ]
    gateway = gateway_app(
        GatewaySettings(
            **common,
            mongodb_database=f"{db_prefix}_gateway",
            dev_sign_in=True,
            sign_in_rate_per_minute=0,
            public_rate_per_minute=0,
        ),
        link_keys=LinkKeys.from_jwks(signer.jwks()),
    )
    async with running(*services), serving(gateway) as url:
        yield url


async def _until_listed(dashboard: Dashboard, purchase_id: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await dashboard.open("/")
        if await dashboard.purchase(purchase_id).count():
            return
        await asyncio.sleep(0.3)
    raise AssertionError(f"{purchase_id} never appeared in History")


async def test_admin_revokes_a_self_service_purchase_and_files_a_support_case(
    browser: Browser, stack: str, upstream: RabbitBroker
) -> None:
    """After the merge this needs the AWS endpoint to hold the purchased Savings Plan (queued
    or active with returnableUntil ahead) and an EC2 RI past its self-service window, seeded
    the way the revocation branch's integration tests seed them."""
    plan = purchase_payload(requester_email="alice@example.com")
    reserved = purchase_payload(kind="reserved_instance", service="ec2", requester_email="bob@example.com")
    for body in (plan, reserved):
        await publish_upstream(upstream, "purchase.executed", body, message_id=body["purchase_id"])
    context = await browser.new_context()
    dashboard = Dashboard(await context.new_page(), stack)
    await dashboard.sign_in_as("Ada Admin")
    await _until_listed(dashboard, plan["purchase_id"])
    dialog = await dashboard.revoke(plan["purchase_id"])
    assert "AWS will" in dialog
    await expect(dashboard.page.get_by_role("heading", level=1)).to_have_text(
        re.compile(r"Revocation: (done|in progress)")
    )
    await _until_listed(dashboard, reserved["purchase_id"])
    await dashboard.file_support_case(reserved["purchase_id"], subject_suffix=" (browser test)")
    await expect(dashboard.page.get_by_role("heading", level=1)).to_have_text("Support case: done")
    await context.close()


async def test_a_user_cannot_act_on_another_users_purchase(
    browser: Browser, stack: str, upstream: RabbitBroker
) -> None:
    body = purchase_payload(requester_email="alice@example.com")
    await publish_upstream(upstream, "purchase.executed", body, message_id=body["purchase_id"])
    context = await browser.new_context()
    dashboard = Dashboard(await context.new_page(), stack)
    await dashboard.sign_in_as("Bob Example")
    await _until_listed(dashboard, body["purchase_id"])
    await expect(dashboard.purchase(body["purchase_id"]).get_by_role("link", name="Revoke purchase")).to_have_count(0)
    me = await (await context.request.get(stack + "/api/me")).json()
    refused = await context.request.post(
        f"{stack}/api/purchases/{body['purchase_id']}/revocation", headers={"X-CSRFToken": me["csrf_token"]}
    )
    assert refused.status == 403
    await context.close()


async def test_admin_releases_a_cooldown_account_early(browser: Browser, stack: str, upstream: RabbitBroker) -> None:
    now = datetime.now(UTC).isoformat()
    account = "999900002222"
    context = await browser.new_context()
    dashboard = Dashboard(await context.new_page(), stack)
    await dashboard.sign_in_as("Ada Admin")
    token = (await (await context.request.post(stack + "/dev/token/u-admin")).json())["access_token"]
    await context.request.put(
        stack + "/api/pool/policy",
        headers={"Authorization": f"Bearer {token}"},
        data={"enforce_account_cooldown": True, "cooldown_period_hours": 24},
    )
    for key, event in (
        ("account.registered", {"account_id": account, "name": "Sandbox Browser"}),
        ("lease.terminated", {"lease_id": "lease-b", "account_id": account, "terminated_at": now, "reason": "done"}),
        ("account.cleanup.succeeded", {"account_id": account, "completed_at": now}),
    ):
        await publish_upstream(
            upstream, key, {"schema_version": 1, "occurred_at": now, **event}, message_id=f"{key}:{account}"
        )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        await dashboard.open("/accounts?status=Cooldown")
        if await dashboard.account(account).count():
            break
        await asyncio.sleep(0.3)
    warning = await dashboard.release_early(account, "browser test")
    assert "billing attribution may be inaccurate" in warning
    await expect(dashboard.page.get_by_role("status")).to_contain_text("released early by admin@example.com")
    await context.close()


async def test_the_emailed_link_works_logged_out(
    browser: Browser, stack: str, upstream: RabbitBroker, mailbox: Mailbox
) -> None:
    """After the merge this needs the notifier to sign links with a key the gateway trusts:
    give both the same key pair (notifier: private key; gateway: GATEWAY_LINK_JWKS_FILE or
    GATEWAY_LINK_PUBLIC_KEYS_DIR) in the ``stack`` fixture, and NOTIFIER_PUBLIC_BASE_URL = the
    served URL."""
    body = purchase_payload(contacts=[], requester_email="alice@example.com")
    await publish_upstream(upstream, "purchase.executed", body, message_id=body["purchase_id"])
    (email,) = await mailbox.wait_for(1, where=lambda m: body["purchase_id"] in m.get_content())
    assert isinstance(email, EmailMessage)
    url = next(line for line in email.get_content().splitlines() if "/revoke?token=" in line).strip()
    context = await browser.new_context()
    link = EmailLink(await context.new_page(), url)
    await link.open()
    assert await link.heading() == "Revoke this purchase?"
    await link.confirm_revoke()
    assert await link.heading() in ("Done", "Your request is in progress")
    await link.open()
    assert await link.heading() == "This link has already been used"
    await context.close()
