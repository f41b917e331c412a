"""The issue's browser journeys against the real services (RabbitMQ, FerretDB, the AWS
endpoint, the SMTP sink; nothing faked).

The page objects (tests/browser/pages.py) and the serving helper are the same ones the UI
tests use. The gateway is served by uvicorn on loopback in this event loop (never Litestar's
test client, whose blocking portal would freeze the in-process services that must answer).
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from faststream.rabbit import RabbitBroker
from playwright.async_api import Browser, expect

from graceperiod.cooldown.app import create_app as cooldown_app
from graceperiod.cooldown.settings import CooldownSettings
from graceperiod.devstack.aws_endpoint.control import EmulatorControl
from graceperiod.devstack.servers.processes import SmtpSinkServer
from graceperiod.devstack.testkit.fixtures import Mailbox, running
from graceperiod.devstack.testkit.samples import purchase_payload
from graceperiod.devstack.testkit.upstream import ROLE_NAME as ROLE
from graceperiod.devstack.testkit.upstream import publish_upstream
from graceperiod.devstack.testkit.web import serving
from graceperiod.gateway.app import create_app as gateway_app
from graceperiod.gateway.settings import GatewaySettings
from graceperiod.notifier.app import create_app as notifier_app
from graceperiod.notifier.settings import NotifierSettings
from graceperiod.revocation.app import create_app as revocation_app
from graceperiod.revocation.settings import RevocationSettings
from graceperiod.runtime.signing_keys import KeyRing, PublicKeys
from tests.browser.pages import Dashboard, EmailLink
from tests.integration.gateway.conftest import into_cooldown
from tests.integration.notifier.helpers import about, text_of

pytestmark = [pytest.mark.browser, pytest.mark.integration]


@dataclass(frozen=True)
class Stack:
    """The gateway's URL, and the customer account seeded in the AWS endpoint with Grace
    Period's role registered for it."""

    url: str
    account_id: str
    aws: EmulatorControl


@pytest.fixture
async def stack(
    amqp_url: str,
    mongodb_url: str,
    db_prefix: str,
    smtp_server: SmtpSinkServer,
    aws_endpoint_url: str,
    link_keys_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Stack]:
    """The gateway on a loopback port (real uvicorn), the three services in-process behind it.

    The notifier signs email links with the session's key; the gateway trusts its public half.
    """
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_endpoint_url)
    common: dict[str, Any] = {"amqp_url": amqp_url, "mongodb_url": mongodb_url, "retry_backoff_base_seconds": 0.05}
    gateway = gateway_app(
        GatewaySettings(
            **common,
            mongodb_database=f"{db_prefix}_gateway",
            dev_sign_in=True,
            sign_in_rate_per_minute=0,
            public_rate_per_minute=0,
            query_timeout_seconds=5.0,
            command_timeout_seconds=10.0,
        ),
        link_keys=PublicKeys.from_jwks(KeyRing.load(directory=link_keys_dir).jwks()),
    )
    link_jwks = tmp_path / "links.jwks.json"  # the revocation service verifies links as the gateway does
    link_jwks.write_text(json.dumps(KeyRing.load(directory=link_keys_dir).jwks()))
    async with serving(gateway) as url:
        services = [
            revocation_app(
                RevocationSettings(**common, mongodb_database=f"{db_prefix}_revocation", link_jwks_file=link_jwks)
            ),
            cooldown_app(CooldownSettings(**common, mongodb_database=f"{db_prefix}_cooldown")),
            notifier_app(
                NotifierSettings(
                    **common,
                    mongodb_database=f"{db_prefix}_notifier",
                    smtp_url=smtp_server.url,
                    link_keys_dir=link_keys_dir,
                    public_base_url=url,
                )
            ),
        ]
        async with running(*services), EmulatorControl(aws_endpoint_url) as aws, httpx.AsyncClient(base_url=url) as api:
            account_id = f"{secrets.randbelow(10**12):012d}"
            external_id = f"ext-{account_id}"
            await aws.account(account_id, roles={ROLE: external_id}, support_plan="business")
            admin = await _admin(api)
            role = await api.put(
                f"/api/accounts/{account_id}/role", headers=admin, json={"role_name": ROLE, "external_id": external_id}
            )
            assert role.status_code in (200, 202), role.text  # 202: its permission probe is slow under load
            await _until_onboarded(api, admin, account_id)
            yield Stack(url, account_id, aws)


async def _admin(api: httpx.AsyncClient) -> dict[str, str]:
    """The seeded admin's API token, from the dev sign-in."""
    issued = await api.post("/dev/token/u-admin")
    assert issued.status_code == 200, issued.text
    return {"Authorization": f"Bearer {issued.json()['access_token']}"}


async def _returnable_plan(stack: Stack, requester: str) -> dict[str, Any]:
    """A Savings Plan bought an hour ago, still returnable: the self-service phase."""
    now = datetime.now(UTC)
    plan = await stack.aws.savings_plan(
        stack.account_id, start=now - timedelta(hours=1), returnableUntil=now + timedelta(days=2)
    )
    return purchase_payload(account_id=stack.account_id, commitment_id=plan["savingsPlanId"], requester_email=requester)


async def _until_onboarded(api: httpx.AsyncClient, admin: dict[str, str], account_id: str, timeout: float = 20) -> None:
    """Until the revocation service stored the account's role (a 202 registration finishes later)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        accounts = (await api.get("/api/accounts/access", headers=admin)).json()["accounts"]
        if any(a["account_id"] == account_id and a["role_arn"] for a in accounts):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"the role of {account_id} was never stored")


async def _until_listed(dashboard: Dashboard, purchase_id: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await dashboard.open("/")
        if await dashboard.purchase(purchase_id).count():
            return
        await asyncio.sleep(0.3)
    raise AssertionError(f"{purchase_id} never appeared in History")


async def test_admin_revokes_a_self_service_purchase_and_files_a_support_case(
    browser: Browser, stack: Stack, upstream: RabbitBroker
) -> None:
    plan = await _returnable_plan(stack, "alice@example.com")
    ri = await stack.aws.reserved_instance(
        stack.account_id, region="us-west-2", start=datetime.now(UTC) - timedelta(minutes=5)
    )
    reserved = purchase_payload(
        account_id=stack.account_id,
        kind="reserved_instance",
        service="ec2",
        commitment_id=ri["ReservedInstancesId"],
        region="us-west-2",
        requester_email="bob@example.com",
    )
    for body in (plan, reserved):
        await publish_upstream(upstream, "purchase.executed", body, message_id=body["purchase_id"])
    context = await browser.new_context()
    dashboard = Dashboard(await context.new_page(), stack.url)
    await dashboard.sign_in_as("Ada Admin")
    await _until_listed(dashboard, plan["purchase_id"])
    dialog = await dashboard.revoke(plan["purchase_id"])
    assert "AWS will" in dialog
    await expect(dashboard.page.get_by_role("heading", level=1)).to_have_text(
        re.compile(r"Revoked: AWS confirmed it|Return requested: AWS is processing it|Revocation: in progress")
    )
    [returned] = (await stack.aws.get_account(stack.account_id))["savings_plans"]
    assert returned["state"] in ("pending-return", "returned")
    assert len(await stack.aws.calls(account=stack.account_id, action="savingsplans:ReturnSavingsPlan")) == 1

    await _until_listed(dashboard, reserved["purchase_id"])
    await dashboard.file_support_case(reserved["purchase_id"], subject_suffix=" (browser test)")
    await expect(dashboard.page.get_by_role("heading", level=1)).to_have_text("Support case filed")
    [case] = (await stack.aws.get_account(stack.account_id))["cases"]
    assert case["subject"].endswith(" (browser test)")
    await context.close()


async def test_a_user_cannot_act_on_another_users_purchase(
    browser: Browser, stack: Stack, upstream: RabbitBroker
) -> None:
    body = await _returnable_plan(stack, "alice@example.com")
    await publish_upstream(upstream, "purchase.executed", body, message_id=body["purchase_id"])
    context = await browser.new_context()
    dashboard = Dashboard(await context.new_page(), stack.url)
    await dashboard.sign_in_as("Bob Example")
    await _until_listed(dashboard, body["purchase_id"])
    await expect(dashboard.purchase(body["purchase_id"])).to_contain_text("Only Alice Example")
    await expect(dashboard.purchase(body["purchase_id"]).get_by_role("link", name="Revoke purchase")).to_have_count(0)
    me = await (await context.request.get(stack.url + "/api/me")).json()
    refused = await context.request.post(
        f"{stack.url}/api/purchases/{body['purchase_id']}/revocation", headers={"X-CSRFToken": me["csrf_token"]}
    )
    assert refused.status == 403
    assert (await stack.aws.get_account(stack.account_id))["savings_plans"][0]["state"] == "active"
    await context.close()


async def test_admin_releases_a_cooldown_account_early(browser: Browser, stack: Stack, upstream: RabbitBroker) -> None:
    account = "999900002222"
    context = await browser.new_context()
    dashboard = Dashboard(await context.new_page(), stack.url)
    await dashboard.sign_in_as("Ada Admin")
    async with httpx.AsyncClient(base_url=stack.url) as api:
        policy = await api.put(
            "/api/pool/policy",
            headers=await _admin(api),
            json={"enforce_account_cooldown": True, "cooldown_period_hours": 24},
        )
    assert policy.status_code == 200, policy.text
    await into_cooldown(upstream, account, "lease-browser")
    deadline = time.monotonic() + 20
    while not await dashboard.account(account).count():
        assert time.monotonic() < deadline, f"{account} never appeared in Cooldown"
        await asyncio.sleep(0.3)
        await dashboard.open("/accounts?status=Cooldown")
    warning = await dashboard.release_early(account, "browser test")
    assert "billing attribution may be inaccurate" in warning
    await expect(dashboard.page.get_by_role("status")).to_contain_text("released early by admin@example.com")
    await context.close()


async def test_the_emailed_link_works_logged_out(
    browser: Browser, stack: Stack, upstream: RabbitBroker, mailbox: Mailbox
) -> None:
    """The notifier signs the link with the session's key; the gateway verifies it with the public half."""
    body = await _returnable_plan(stack, "alice@example.com")
    body["account"]["contact_emails"] = []
    await publish_upstream(upstream, "purchase.executed", body, message_id=body["purchase_id"])
    (email,) = await mailbox.wait_for(1, where=about(body["purchase_id"]))
    assert isinstance(email, EmailMessage)
    url = next(line for line in text_of(email).splitlines() if "/revoke?token=" in line).strip()
    assert url.startswith(stack.url + "/")
    context = await browser.new_context()
    link = EmailLink(await context.new_page(), url)
    await link.open()
    assert await link.heading() == "Revoke this purchase?"
    await link.confirm_revoke()
    assert await link.heading() in ("Done", "Your request is in progress")
    await link.open()
    assert await link.heading() == "This link has already been used"
    assert len(await stack.aws.calls(account=stack.account_id, action="savingsplans:ReturnSavingsPlan")) == 1
    await context.close()


#: What the dashboard's History row offers, by the JSON API's name for it.
OFFERED_BY_LINK = {"revoke": "Revoke purchase", "request-support-case": "Request refund via AWS Support"}


async def test_the_api_tells_each_caller_the_actions_the_dashboard_offers_them(
    browser: Browser, stack: Stack, upstream: RabbitBroker
) -> None:
    """Issue 16, item 10: for an admin's API token and for someone who may only look, the JSON
    API's ``allowed_actions`` are what the dashboard offers the same person."""
    plan = await _returnable_plan(stack, "alice@example.com")  # self-service, Alice's
    ri = await stack.aws.reserved_instance(
        stack.account_id, region="us-west-2", start=datetime.now(UTC) - timedelta(minutes=5)
    )
    reserved = purchase_payload(  # support case, Bob's
        account_id=stack.account_id,
        kind="reserved_instance",
        service="ec2",
        commitment_id=ri["ReservedInstancesId"],
        region="us-west-2",
        requester_email="bob@example.com",
    )
    for body in (plan, reserved):
        await publish_upstream(upstream, "purchase.executed", body, message_id=body["purchase_id"])
    ids = (plan["purchase_id"], reserved["purchase_id"])
    expected = {
        # Ada may act on both; Bob may only look at Alice's plan, and file his own case.
        ("u-admin", "Ada Admin"): {ids[0]: {"revoke"}, ids[1]: {"request-support-case"}},
        ("u-bob", "Bob Example"): {ids[0]: set(), ids[1]: {"request-support-case"}},
    }
    async with httpx.AsyncClient(base_url=stack.url) as api:
        for (user_id, name), wanted in expected.items():
            context = await browser.new_context()
            dashboard = Dashboard(await context.new_page(), stack.url)
            await dashboard.sign_in_as(name)
            for purchase_id in ids:
                await _until_listed(dashboard, purchase_id)
            token = (await api.post(f"/dev/token/{user_id}")).json()["access_token"]
            bearer = {"Authorization": f"Bearer {token}"}
            listed = await api.get("/api/purchases", params={"limit": 200}, headers=bearer)
            assert listed.status_code == 200, listed.text
            allowed = {i["purchase"]["purchase_id"]: set(i["allowed_actions"]) for i in listed.json()["items"]}
            offered: dict[str, set[str]] = {pid: set() for pid in ids}
            for purchase_id in ids:
                for action, link in OFFERED_BY_LINK.items():
                    if await dashboard.purchase(purchase_id).get_by_role("link", name=link).count():
                        offered[purchase_id].add(action)
            await context.close()
            assert {pid: allowed[pid] for pid in ids} == offered == wanted, name
