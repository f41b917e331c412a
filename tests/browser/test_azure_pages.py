"""An Azure reservation in Debian's Chromium: its purchase page (the refund estimate, the cap
used and left, no support-case route), the confirm dialog (focus inside, Microsoft's quote) and
the outcome after confirming, the capped and the email-link pages, each without a serious or
critical axe violation. The gateway is real; its service port is the demo fake with Azure
purchases added."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from playwright.async_api import Browser, expect

from graceperiod.contracts.revocation_views import Phase
from graceperiod.devstack.testkit.azure_views import azure_purchase_view, cap_reached, sample_refund
from graceperiod.devstack.testkit.gateway_demo import demo_clients
from graceperiod.devstack.testkit.gateway_fakes import FakeServiceClients
from graceperiod.devstack.testkit.tokens import LinkSigner
from tests.browser.accessibility import axe_violations, describe, focus_in, sideways_overflow
from tests.browser.pages import Dashboard

pytestmark = pytest.mark.browser

OPEN, CAPPED = "pur-az-open", "pur-az-capped"


@pytest.fixture
def clients() -> FakeServiceClients:
    now = datetime.now(UTC)
    fake = demo_clients(now)
    refund = sample_refund(now)
    over = sample_refund(now, consumed="49500.00")
    fake.purchases[OPEN] = azure_purchase_view(now, phase=Phase.SELF_SERVICE, purchase_id=OPEN, refund=refund)
    fake.purchases[CAPPED] = azure_purchase_view(
        now, phase=Phase.CLOSED, purchase_id=CAPPED, refund=over, unavailable=cap_reached(over)
    )
    return fake


async def test_an_azure_purchase_page_and_its_confirm_dialog_in_azures_words(browser: Browser, base_url: str) -> None:
    context = await browser.new_context()
    dashboard = Dashboard(await context.new_page(), base_url)
    await dashboard.sign_in_as("Ada Admin")
    page = dashboard.page
    found: dict[str, str] = {}

    await dashboard.open(f"/purchases/{OPEN}")
    await expect(page.locator(".refund")).to_contain_text("Expected refund: $950.00, Microsoft's estimate")
    await expect(page.locator(".refund-cap")).to_contain_text("$12,000.00 of $50,000.00 used in the last 12 months")
    await expect(page.locator(".refund-cap")).to_contain_text("leaving $37,000.00")
    await expect(page.locator(".no-case")).to_contain_text("The support-case phase does not apply.")
    await expect(page.get_by_role("link", name="Request refund via AWS Support")).to_have_count(0)
    if violations := await axe_violations(page):
        found["purchase"] = describe(violations)

    await page.get_by_role("link", name="Revoke purchase").click()
    dialog = page.get_by_role("dialog")
    await expect(dialog).to_contain_text("Azure will return the reservation")
    await expect(dialog).to_contain_text("Microsoft's refund cap: $12,000.00 of $50,000.00 used")
    await expect(dialog).to_contain_text("Azure allows this until")
    assert await focus_in(page, '[role="dialog"]')
    if violations := await axe_violations(page):
        found["confirm dialog"] = describe(violations)

    await dialog.get_by_role("button", name="Yes, revoke it").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Revoked: Azure confirmed the return")
    await expect(page.locator(".refund")).to_contain_text("Microsoft's estimate")
    if violations := await axe_violations(page):
        found["outcome"] = describe(violations)

    await dashboard.open(f"/purchases/{CAPPED}")
    closed = page.get_by_role("button", name="Revoke purchase")
    await expect(closed).to_be_disabled()
    await expect(closed).to_have_attribute("title", re.compile("does not fit|would be exceeded"))
    await expect(page.locator(".refund-cap")).to_contain_text("it does not fit")
    if violations := await axe_violations(page):
        found["capped"] = describe(violations)
    assert not found, found
    await context.close()


async def test_the_azure_email_link_page_has_no_serious_violation_and_fits_a_phone(
    browser: Browser, base_url: str, signer: LinkSigner
) -> None:
    context = await browser.new_context(viewport={"width": 375, "height": 812}, is_mobile=True)
    page = await context.new_page()
    token = signer.token(purchase_id=OPEN, recipient="alice@example.com", issued_at=datetime.now(UTC))
    await page.goto(f"{base_url}/api/purchases/{OPEN}/revoke?token={token}")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Revoke this purchase?")
    await expect(page.locator(".refund-cap")).to_contain_text("leaving $37,000.00")
    violations = await axe_violations(page)
    assert not violations, describe(violations)
    assert await sideways_overflow(page) == 0
    await context.close()
