"""The gateway in front of the real revocation, cooldown and notifier services. Nothing here
is faked."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from faststream.rabbit import RabbitBroker
from litestar import Litestar

from graceperiod.cooldown.app import create_app as cooldown_app
from graceperiod.cooldown.settings import CooldownSettings
from graceperiod.devstack.aws_endpoint.control import EmulatorControl
from graceperiod.devstack.servers.processes import SmtpSinkServer
from graceperiod.devstack.testkit.fixtures import running
from graceperiod.devstack.testkit.samples import purchase_payload
from graceperiod.devstack.testkit.tokens import ApiTokenIssuer, LinkSigner
from graceperiod.devstack.testkit.upstream import publish_upstream
from graceperiod.devstack.testkit.web import serving
from graceperiod.gateway.settings import GatewaySettings
from graceperiod.notifier.app import create_app as notifier_app
from graceperiod.notifier.settings import NotifierSettings
from graceperiod.revocation.app import create_app as revocation_app
from graceperiod.revocation.settings import RevocationSettings
from tests.integration.gateway.conftest import bearer, into_cooldown

T = TypeVar("T")


async def eventually(probe: Callable[[], Awaitable[T | None]], *, timeout: float = 15.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        if (value := await probe()) is not None:
            return value
        if time.monotonic() > deadline:
            msg = f"nothing after {timeout} s"
            raise TimeoutError(msg)
        await asyncio.sleep(0.1)


@pytest.fixture
def gateway_settings(gateway_settings: GatewaySettings) -> GatewaySettings:
    """Real services answer here: allow for a loaded CI machine (the 503 path has its own tests)."""
    return gateway_settings.model_copy(update={"query_timeout_seconds": 5.0, "command_timeout_seconds": 10.0})


@pytest.fixture
async def services(
    amqp_url: str,
    mongodb_url: str,
    db_prefix: str,
    smtp_server: SmtpSinkServer,
    aws_endpoint_url: str,
    link_keys_dir: Path,
    signer: LinkSigner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[None]:
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_endpoint_url)
    common: dict[str, Any] = {"amqp_url": amqp_url, "mongodb_url": mongodb_url, "retry_backoff_base_seconds": 0.05}
    link_jwks = tmp_path / "links.jwks.json"  # the revocation service verifies links as the gateway does
    link_jwks.write_text(json.dumps(signer.jwks()))
    apps = [
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
            )
        ),
    ]
    async with running(*apps):
        yield


@pytest.fixture
async def live(services: None, gateway: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway served for real on loopback, in this event loop.

    Not Litestar's AsyncTestClient: it waits for each request on a blocking portal, which
    freezes this loop, and with it the in-process services that must answer the request.
    """
    async with serving(gateway) as base_url, httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        yield client


async def returnable_purchase(
    live: httpx.AsyncClient, aws: EmulatorControl, idp: ApiTokenIssuer, upstream: RabbitBroker
) -> dict[str, Any]:
    """A customer account with Grace Period's role (onboarded through the gateway) and a
    Savings Plan AWS still lets it return, in the AWS endpoint; alice's purchase of it executed."""
    account_id = f"{secrets.randbelow(10**12):012d}"
    now = datetime.now(UTC)
    await aws.account(account_id, roles={"GracePeriodRevocation": f"ext-{account_id}"}, support_plan="business")
    plan = await aws.savings_plan(account_id, start=now - timedelta(hours=1), returnableUntil=now + timedelta(days=2))
    admin = bearer(idp, "u-admin", "admin@example.com", ["admin"])
    role = await live.put(
        f"/api/accounts/{account_id}/role",
        headers=admin,
        json={"role_name": "GracePeriodRevocation", "external_id": f"ext-{account_id}"},
    )
    assert role.status_code in (200, 202), role.text  # 202: its permission probe is slow under load

    async def onboarded() -> bool | None:
        accounts = (await live.get("/api/accounts/access", headers=admin)).json()["accounts"]
        return True if any(a["account_id"] == account_id and a["role_arn"] for a in accounts) else None

    await eventually(onboarded)
    body = purchase_payload(
        account_id=account_id, commitment_id=plan["savingsPlanId"], requester_email="alice@example.com"
    )
    await publish_upstream(upstream, "purchase.executed", body, message_id=body["purchase_id"])
    return body


async def test_a_recorded_purchase_is_listed_with_phase_and_actions(
    live: httpx.AsyncClient, upstream: RabbitBroker, idp: ApiTokenIssuer, aws_endpoint_url: str
) -> None:
    # Returnable: the phase is self-service, and the revoke action belongs to whoever may act on it.
    async with EmulatorControl(aws_endpoint_url) as aws:
        body = await returnable_purchase(live, aws, idp, upstream)
    alice = bearer(idp, "u-alice", "alice@example.com", ["user"])
    bob = bearer(idp, "u-bob", "bob@example.com", ["user"])

    async def listed() -> dict[str, Any] | None:
        response = await live.get(f"/api/purchases/{body['purchase_id']}", headers=alice)
        return response.json() if response.status_code == 200 else None

    view = await eventually(listed)
    assert view["purchase"]["purchase_id"] == body["purchase_id"]
    assert (view["phase"], view["allowed_actions"]) == ("self-service", ["revoke"])  # alice requested it
    assert view["windows"]["self_service_until"] is not None
    assert view["windows"]["closes_at"] is not None
    others = (await live.get(f"/api/purchases/{body['purchase_id']}", headers=bob)).json()
    assert (others["phase"], others["allowed_actions"]) == ("self-service", [])  # bob may only look
    items = (await live.get("/api/purchases", headers=alice)).json()["items"]
    [item] = [i for i in items if i["purchase"]["purchase_id"] == body["purchase_id"]]
    assert (item["phase"], item["allowed_actions"]) == ("self-service", ["revoke"])
    # An admin's API token: revoke-any, so the revoke action is theirs too (issue 16.10).
    admin = bearer(idp, "u-admin", "admin@example.com", ["admin"])
    as_admin = (await live.get(f"/api/purchases/{body['purchase_id']}", headers=admin)).json()
    assert (as_admin["phase"], as_admin["allowed_actions"]) == ("self-service", ["revoke"])
    admin_items = (await live.get("/api/purchases", headers=admin)).json()["items"]
    [admin_item] = [i for i in admin_items if i["purchase"]["purchase_id"] == body["purchase_id"]]
    assert admin_item["allowed_actions"] == ["revoke"]


async def test_another_users_purchase_is_refused_by_gateway_and_service(
    live: httpx.AsyncClient, upstream: RabbitBroker, idp: ApiTokenIssuer
) -> None:
    body = purchase_payload(requester_email="alice@example.com")
    await publish_upstream(upstream, "purchase.executed", body, message_id=body["purchase_id"])
    bob = bearer(idp, "u-bob", "bob@example.com", ["user"])

    async def visible() -> int | None:
        status = (await live.get(f"/api/purchases/{body['purchase_id']}", headers=bob)).status_code
        return status if status == 200 else None

    await eventually(visible)
    refused = await live.post(f"/api/purchases/{body['purchase_id']}/revocation", headers=bob)
    assert refused.status_code == 403


async def test_the_email_link_revokes_once_through_the_real_service(
    live: httpx.AsyncClient, upstream: RabbitBroker, signer: LinkSigner, idp: ApiTokenIssuer, aws_endpoint_url: str
) -> None:
    async with EmulatorControl(aws_endpoint_url) as aws:
        body = await returnable_purchase(live, aws, idp, upstream)
        account_id = body["account"]["id"]
        token = signer.token(
            purchase_id=body["purchase_id"], recipient="alice@example.com", issued_at=datetime.now(UTC)
        )
        url = f"/api/purchases/{body['purchase_id']}/revoke?token={token}"

        async def page() -> str | None:
            response = await live.get(url)  # logged out: the token alone authorises
            return response.text if response.status_code == 200 and "Revoke this purchase?" in response.text else None

        await eventually(page)
        assert (await aws.get_account(account_id))["savings_plans"][0]["state"] == "active"  # GET changed nothing
        csrf = live.cookies.get("gp_csrf")
        first = await live.post(url, data={"action": "revoke", "_csrf_token": csrf})
        assert first.status_code in (200, 202), first.text
        second = await live.post(url, data={"action": "revoke", "_csrf_token": csrf})
        assert second.status_code == 409
        assert "already been used" in second.text

        # AWS was asked exactly once, by the link's recipient, and the plan is on its way back.
        state = (await aws.get_account(account_id))["savings_plans"][0]["state"]
        assert state in ("pending-return", "returned")
        returns = await aws.calls(account=account_id, action="savingsplans:ReturnSavingsPlan")
        assert len(returns) == 1


async def test_an_admin_releases_a_cooldown_account_early_with_the_warning(
    live: httpx.AsyncClient, upstream: RabbitBroker, idp: ApiTokenIssuer
) -> None:
    admin = bearer(idp, "u-admin", "admin@example.com", ["admin"])
    policy = await live.put(
        "/api/pool/policy", headers=admin, json={"enforce_account_cooldown": True, "cooldown_period_hours": 24}
    )
    assert policy.status_code == 200
    assert policy.json()["enforce_account_cooldown"] is True
    account = "999900001111"
    await into_cooldown(upstream, account, "lease-x")

    async def in_cooldown() -> dict[str, Any] | None:
        response = await live.get(f"/api/pool/accounts/{account}", headers=admin)
        return response.json() if response.status_code == 200 and response.json()["status"] == "Cooldown" else None

    view = await eventually(in_cooldown)
    assert view["cooldown_remaining_seconds"] > 23 * 3600
    released = await live.post(f"/api/pool/accounts/{account}/release", headers=admin, json={"reason": "urgent"})
    assert released.status_code == 200
    assert "billing attribution may be inaccurate" in released.json()["warning"].lower()
    assert released.json()["account"]["early_release"]["by"]["email"] == "admin@example.com"
    assert released.json()["account"]["early_release"]["reason"] == "urgent"
    assert released.json()["account"]["status"] == "Available"
    history = (await live.get(f"/api/pool/accounts/{account}", headers=admin)).json()["history"]
    assert [(t["from_status"], t["to_status"]) for t in history] == [
        (None, "Available"),
        ("Available", "Active"),
        ("Active", "CleanUp"),
        ("CleanUp", "Cooldown"),
        ("Cooldown", "Available"),
    ]
    assert history[-1]["actor"]["email"] == "admin@example.com"
    assert history[-1]["reason"] == "urgent"


async def test_the_global_notification_address_is_changed_at_run_time(
    live: httpx.AsyncClient, idp: ApiTokenIssuer
) -> None:
    admin = bearer(idp, "u-admin", "admin@example.com", ["admin"])
    saved = await live.put(
        "/api/settings/notifications", headers=admin, json={"global_notification_email": "ops@example.com"}
    )
    assert saved.status_code == 200
    assert (await live.get("/api/settings/notifications", headers=admin)).json()["global_notification_email"] == (
        "ops@example.com"
    )
