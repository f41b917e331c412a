"""Debian's Chromium through Playwright (never a downloaded browser), and the gateway served
on a loopback port over the in-memory fakes of its services (``clients``: the demo data; a
module overrides it to show other purchases)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from playwright.async_api import Browser, async_playwright

from graceperiod.devstack.testkit.gateway_demo import demo_clients, demo_gateway
from graceperiod.devstack.testkit.gateway_fakes import FakeServiceClients
from graceperiod.devstack.testkit.tokens import LinkSigner
from graceperiod.devstack.testkit.web import CHROMIUM, CHROMIUM_ARGS, serving


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        missing = f"{CHROMIUM} is not installed (make bootstrap installs it)"
        if os.environ.get("GP_REQUIRE_BROWSER"):  # CI: a browser test that does not run is a failure
            pytest.fail(missing)
        pytest.skip(missing)
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
def clients() -> FakeServiceClients:
    return demo_clients(datetime.now(UTC))


@pytest.fixture
def signer() -> LinkSigner:
    return LinkSigner()


@pytest.fixture
async def base_url(clients: FakeServiceClients, signer: LinkSigner) -> AsyncIterator[str]:
    async with serving(demo_gateway(signer, clients=clients)) as url:
        yield url
