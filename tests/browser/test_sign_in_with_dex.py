"""Signing in through the real identity provider's own login form (Dex) in Debian's Chromium.

The gateway is real and served over HTTP, Dex is the real process; behind the gateway the
service port is the in-memory fake (as in test_dashboard_ui.py), so the purchases each person
may act on are known.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
from playwright.async_api import Browser, Route, expect
from pydantic import SecretStr

from graceperiod.devstack.servers.dex import DEMO_PASSWORD, DEX_ROLE_MAPPING, DexClient, DexServer
from graceperiod.devstack.servers.processes import free_port
from graceperiod.devstack.testkit.gateway_demo import demo_gateway
from graceperiod.devstack.testkit.gateway_stores import InMemorySessionStore
from graceperiod.devstack.testkit.tokens import LinkSigner
from graceperiod.devstack.testkit.web import serving
from graceperiod.gateway.settings import GatewaySettings
from tests.browser.pages import Dashboard

pytestmark = pytest.mark.browser


@dataclass
class Stack:
    base: str
    dex: DexServer
    sessions: InMemorySessionStore


@pytest.fixture
async def stack(dex: Callable[..., DexServer]) -> AsyncIterator[Stack]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    client = DexClient("graceperiod-dashboard", "Grace Period", redirect_uris=(f"{base}/sign-in/callback",))
    server = dex(client)
    settings = GatewaySettings(
        public_base_url=base,
        dev_sign_in=True,  # the demo buttons stay beside "Sign in with Dex"
        sign_in_rate_per_minute=0,
        public_rate_per_minute=0,
        oidc_issuer=server.issuer,
        oidc_provider_name="Dex",
        oidc_client_id=client.client_id,
        oidc_client_secret=SecretStr(client.secret),
        oidc_scopes=["openid", "email", "profile", "groups"],
        oidc_role_mapping=json.loads(json.dumps(DEX_ROLE_MAPPING)),
    )
    sessions = InMemorySessionStore()
    async with serving(demo_gateway(LinkSigner(), settings, sessions=sessions), port=port) as url:
        yield Stack(url, server, sessions)


REVOKE = "Revoke purchase"
SEEN = {
    # who signs in at Dex: their name, role, and what the Revoke-capable purchases show them
    "admin@example.com": ("Ada Admin", "admin", {"pur-alice-sp": REVOKE, "pur-bob-sp": REVOKE}),
    "alice@example.com": ("Alice Example", "user", {"pur-alice-sp": REVOKE, "pur-bob-sp": "Only Bob Example"}),
}


@pytest.mark.parametrize("email", list(SEEN))
async def test_an_admin_and_a_user_sign_in_at_dex_and_see_their_controls(
    browser: Browser, stack: Stack, email: str
) -> None:
    name, role, shown = SEEN[email]
    context = await browser.new_context()
    dashboard = Dashboard(await context.new_page(), stack.base)
    await dashboard.open("/")
    await expect(dashboard.page.get_by_role("button", name="Sign in as Ada Admin")).to_be_visible()  # beside it
    await dashboard.sign_in_with_dex(email, DEMO_PASSWORD)
    await dashboard.page.get_by_role("heading", name="Purchases", exact=True).wait_for()
    await expect(dashboard.page.locator("header")).to_contain_text(name)
    await expect(dashboard.page.locator("header")).to_contain_text(role)
    for purchase_id, text in shown.items():
        await expect(dashboard.purchase(purchase_id)).to_contain_text(text)
        revoke = dashboard.purchase(purchase_id).get_by_role("link", name="Revoke purchase")
        await expect(revoke).to_have_count(1 if text == REVOKE else 0)
    settings_page = await dashboard.open("/settings")
    assert settings_page is not None
    save = dashboard.page.get_by_role("button", name="Save")
    await expect(save).to_have_count(1 if role == "admin" else 0)
    await context.close()


async def test_sign_out_ends_the_session_and_the_old_cookie_is_refused(browser: Browser, stack: Stack) -> None:
    context = await browser.new_context()
    dashboard = Dashboard(await context.new_page(), stack.base)
    await dashboard.sign_in_with_dex("alice@example.com", DEMO_PASSWORD)
    await dashboard.page.get_by_role("heading", name="Purchases", exact=True).wait_for()
    cookies = await context.cookies()
    assert len(stack.sessions.sessions) == 1
    await dashboard.sign_out()
    await expect(dashboard.page.get_by_role("heading", level=1)).to_have_text("Sign in")
    assert stack.sessions.sessions == {}
    await context.close()

    replay = await browser.new_context()
    await replay.add_cookies(cookies)  # type: ignore[arg-type]
    page = await replay.new_page()
    await page.goto(stack.base + "/")
    assert "/sign-in" in page.url
    await expect(page.get_by_role("link", name="Sign in with Dex")).to_be_visible()
    await replay.close()


async def test_a_person_without_a_role_is_refused_kindly(browser: Browser, stack: Stack) -> None:
    context = await browser.new_context()
    dashboard = Dashboard(await context.new_page(), stack.base)
    await dashboard.sign_in_with_dex("nora@example.com", DEMO_PASSWORD)
    await expect(dashboard.page.get_by_role("heading", level=1)).to_have_text("You are not signed in")
    await expect(dashboard.page.locator("main")).to_contain_text("none of your groups gives you a role")
    await expect(dashboard.page.get_by_role("link", name="Try again")).to_be_visible()
    assert stack.sessions.sessions == {}
    await context.close()


async def test_the_provider_stopped_mid_flow_gives_a_retry_page_and_retrying_works_once_it_is_back(
    browser: Browser, stack: Stack
) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    dashboard = Dashboard(page, stack.base)

    async def provider_goes_down(route: Route) -> None:
        # Dex accepts the password and answers with the redirect to the gateway's callback;
        # then it stops, before the gateway can redeem the code. (A redirect's next request
        # cannot be routed, so the login POST is.)
        if route.request.method != "POST":
            await route.continue_()
            return
        answer = await route.fetch(max_redirects=0)
        stack.dex.stop()
        await route.fulfill(response=answer)

    login = "**/dex/auth/local/login*"
    await page.route(login, provider_goes_down)
    await dashboard.sign_in_with_dex("admin@example.com", DEMO_PASSWORD)
    await expect(page.get_by_role("heading", level=1)).to_have_text("You are not signed in")
    await expect(page.locator("main")).to_contain_text("Dex is not answering right now")
    await page.unroute(login)

    stack.dex.start(timeout=30)  # back, on the same address
    await page.get_by_role("link", name="Try again").click()
    await page.get_by_role("link", name="Sign in with Dex").click()
    await dashboard.fill_dex_login("admin@example.com", DEMO_PASSWORD)
    await page.get_by_role("heading", name="Purchases", exact=True).wait_for()
    await expect(page.locator("header")).to_contain_text("Ada Admin")
    await context.close()
