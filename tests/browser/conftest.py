"""Debian's Chromium through Playwright (never a downloaded browser), and the gateway served
on a loopback port."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, async_playwright

from graceperiod.devstack.testkit.web import CHROMIUM, CHROMIUM_ARGS


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
