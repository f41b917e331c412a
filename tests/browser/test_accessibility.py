"""Accessibility in Debian's Chromium (issue 16, item 9): axe-core on every page finds no
serious or critical violation; focus moves into the confirm dialogs; the focus ring is thick
and contrasts with what is behind it, red buttons included; a card has at most two tab stops;
no page scrolls sideways at 375 px. The gateway is real, its service port the demo fake."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from playwright.async_api import Browser, BrowserContext, expect

from graceperiod.devstack.testkit.tokens import LinkSigner
from tests.browser.accessibility import (
    axe_violations,
    contrast,
    describe,
    focus_in,
    focus_ring,
    sideways_overflow,
    tab_stops,
)
from tests.browser.pages import Dashboard

pytestmark = pytest.mark.browser

#: Every dashboard page an admin can open (each state of the demo data), errors included.
ADMIN_PAGES = (
    "/",
    "/?phase=bogus",
    "/purchases/pur-alice-sp",
    "/purchases/pur-alice-ri",
    "/purchases/pur-bob-ri",
    "/purchases/pur-alice-case",
    "/purchases/pur-bob-revoked",
    "/purchases/pur-alice-closed",
    "/purchases/pur-bob-sp/revoke",
    "/purchases/pur-alice-ri/support-case",
    "/accounts",
    "/accounts?status=Cooldown",
    "/accounts/444444444444",
    "/accounts/555555555555",
    "/accounts/111111111111",
    "/accounts/444444444444/release",
    "/aws-accounts/123456789012",
    "/aws-accounts/210987654321",
    "/aws-accounts/345678901234",
    "/settings",
    "/help/reapply-bundle",
    "/purchases/bad%20id",
    "/accounts/123",
    "/purchases/pur-nobody",
)


async def admin(browser: Browser, base_url: str, **options: object) -> tuple[BrowserContext, Dashboard]:
    context = await browser.new_context(**options)  # type: ignore[arg-type]
    dashboard = Dashboard(await context.new_page(), base_url)
    await dashboard.sign_in_as("Ada Admin")
    return context, dashboard


async def test_the_axe_check_finds_a_violation_when_there_is_one(browser: Browser) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    await page.set_content('<html lang="en"><body><main><input type="text"><button></button></main></body></html>')
    found = {v["id"] for v in await axe_violations(page)}
    assert {"label", "button-name"} <= found, found
    await context.close()


async def test_axe_finds_no_serious_or_critical_violation_on_any_page(browser: Browser, base_url: str) -> None:
    context, dashboard = await admin(browser, base_url)
    found: dict[str, str] = {}
    for path in ADMIN_PAGES:
        await dashboard.open(path)
        if violations := await axe_violations(dashboard.page):
            found[path] = describe(violations)
    await dashboard.open("/purchases/pur-bob-sp/revoke")
    await dashboard.page.get_by_role("button", name="Yes, revoke it").click()
    await expect(dashboard.page.get_by_role("heading", level=1)).to_contain_text(re.compile("Revo"))
    if violations := await axe_violations(dashboard.page):
        found["revoke outcome"] = describe(violations)
    await dashboard.sign_out()
    await dashboard.page.wait_for_url("**/sign-in**")
    if violations := await axe_violations(dashboard.page):
        found["/sign-in"] = describe(violations)
    assert not found, found
    await context.close()


async def test_axe_finds_nothing_serious_on_the_email_link_pages(
    browser: Browser, base_url: str, signer: LinkSigner
) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    token = signer.token(purchase_id="pur-alice-sp", recipient="alice@example.com", issued_at=datetime.now(UTC))
    found: dict[str, str] = {}
    for name, url in (
        ("confirm", f"{base_url}/api/purchases/pur-alice-sp/revoke?token={token}"),
        ("invalid", f"{base_url}/api/purchases/pur-alice-sp/revoke?token=not-a-token"),
    ):
        await page.goto(url)
        if violations := await axe_violations(page):
            found[name] = describe(violations)
    assert not found, found
    await context.close()


async def test_focus_moves_into_the_confirm_dialogs(browser: Browser, base_url: str) -> None:
    context, dashboard = await admin(browser, base_url)
    await dashboard.open("/purchases/pur-bob-sp/revoke")
    assert await focus_in(dashboard.page, '[role="dialog"]')
    await dashboard.open("/accounts/444444444444/release")
    assert await focus_in(dashboard.page, '[role="dialog"] #reason')
    # a reason of spaces: the form comes back with the message, focus on the field
    await dashboard.page.get_by_label("Why release it early?").fill("   ")
    await dashboard.page.get_by_role("dialog").get_by_role("button", name="Release now").click()
    await expect(dashboard.page.locator("#reason-error")).to_contain_text("Say why the account is released early")
    assert await focus_in(dashboard.page, "#reason")
    await context.close()


async def test_the_focus_ring_is_thick_and_contrasts_also_on_red_buttons(browser: Browser, base_url: str) -> None:
    context, dashboard = await admin(browser, base_url)
    await dashboard.open("/purchases/pur-bob-sp/revoke")
    page = dashboard.page
    rings = []
    for _ in range(40):  # tab through the page until the red button has the focus
        await page.keyboard.press("Tab")
        ring = await focus_ring(page)
        rings.append(ring)
        if "danger" in ring["cls"]:
            break
    red = rings[-1]
    assert "danger" in red["cls"], rings
    for ring in rings:
        assert ring["style"] != "none", ring
        assert ring["width"] >= 3, ring
        assert ring["offset"] >= 2, ring  # drawn outside the element, on what is behind it
        assert contrast(ring["color"], ring["background"]) >= 3, ring
    # On a red button the ring is drawn off it, on the page: the gap keeps dark from touching red.
    assert red["offset"] >= 2, red
    await context.close()


async def test_a_card_has_at_most_two_tab_stops(browser: Browser, base_url: str) -> None:
    context, dashboard = await admin(browser, base_url)
    await dashboard.open("/")
    purchases = await tab_stops(dashboard.page, "tr.purchase")  # History's rows
    await dashboard.open("/accounts")
    accounts = await tab_stops(dashboard.page, "li.account")
    assert purchases
    assert accounts
    assert max(purchases) <= 2, purchases
    assert max(accounts) <= 2, accounts
    await context.close()


async def test_no_page_scrolls_sideways_at_375_px(browser: Browser, base_url: str) -> None:
    context, dashboard = await admin(browser, base_url, viewport={"width": 375, "height": 812}, is_mobile=True)
    wide = {}
    for path in ADMIN_PAGES:
        await dashboard.open(path)
        if (overflow := await sideways_overflow(dashboard.page)) > 0:
            wide[path] = overflow
    assert not wide, wide
    await context.close()
