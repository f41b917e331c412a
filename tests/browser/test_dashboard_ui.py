"""The dashboard and the email-link pages in Debian's Chromium.

The gateway is real and served over HTTP; behind it, its service port is the in-memory fake,
so every page state can be set up directly. These tests check what the browser shows and
refuses; test_dashboard_flows.py runs the same journeys against the real services.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Browser, expect

from graceperiod.contracts.enums import AwsService, CommitmentKind
from graceperiod.contracts.revocation import OrganizationCommitment, OrganizationMember, OrganizationView
from graceperiod.contracts.revocation_views import DiscoveryStatus, ScanResult
from graceperiod.devstack.testkit.gateway_fakes import FakeServiceClients
from graceperiod.devstack.testkit.tokens import LinkSigner
from graceperiod.gateway.explain import CLOSED_TOOLTIP
from tests.browser.accessibility import sideways_overflow
from tests.browser.pages import Dashboard, EmailLink

pytestmark = pytest.mark.browser


SEEN = {
    # who: what the Revoke-capable purchases show them
    "Ada Admin": {"pur-alice-sp": "Revoke purchase", "pur-bob-sp": "Revoke purchase"},
    "Alice Example": {"pur-alice-sp": "Revoke purchase", "pur-bob-sp": "Only Bob Example"},
    "Bob Example": {"pur-alice-sp": "Only Alice Example", "pur-bob-sp": "Revoke purchase"},
}


@pytest.mark.parametrize("who", list(SEEN))
async def test_each_seeded_user_signs_in_and_sees_exactly_their_actions(
    browser: Browser, base_url: str, who: str
) -> None:
    context = await browser.new_context()
    dashboard = Dashboard(await context.new_page(), base_url)
    await dashboard.sign_in_as(who)
    await expect(dashboard.page.locator("header")).to_contain_text(who)
    for purchase_id, shown in SEEN[who].items():
        await expect(dashboard.purchase(purchase_id)).to_contain_text(shown)
        revoke_links = dashboard.purchase(purchase_id).get_by_role("link", name="Revoke purchase")
        await expect(revoke_links).to_have_count(1 if shown == "Revoke purchase" else 0)
    closed = dashboard.purchase("pur-alice-closed").get_by_role("button", name="Revoke purchase")
    await expect(closed).to_be_disabled()
    await expect(closed).to_have_attribute("title", CLOSED_TOOLTIP)
    await expect(dashboard.purchase("pur-bob-ri")).to_contain_text("Support unavailable.")
    await expect(dashboard.page.get_by_role("alert")).to_contain_text("re-apply the onboarding bundle")
    await context.close()


async def test_a_user_cannot_act_on_anothers_purchase_in_the_ui_or_the_api(
    browser: Browser, base_url: str, clients: FakeServiceClients
) -> None:
    context = await browser.new_context()
    dashboard = Dashboard(await context.new_page(), base_url)
    await dashboard.sign_in_as("Alice Example")
    await expect(dashboard.purchase("pur-bob-sp").get_by_role("link", name="Revoke purchase")).to_have_count(0)

    refused_page = await dashboard.open("/purchases/pur-bob-sp/revoke")
    assert refused_page is not None
    assert refused_page.status == 403
    await expect(dashboard.page.get_by_role("heading", level=1)).to_have_text("Forbidden")

    me = await (await context.request.get(base_url + "/api/me")).json()
    with_session = await context.request.post(
        base_url + "/api/purchases/pur-bob-sp/revocation", headers={"X-CSRFToken": me["csrf_token"]}
    )
    assert with_session.status == 403
    assert (await with_session.json())["detail"].startswith("You may only act on purchases you requested")

    token = (await (await context.request.post(base_url + "/dev/token/u-alice")).json())["access_token"]
    with_token = await context.request.post(
        base_url + "/api/purchases/pur-bob-sp/revocation", headers={"Authorization": f"Bearer {token}"}
    )
    assert with_token.status == 403
    assert clients.commands == []
    await context.close()


async def test_admin_revokes_through_the_confirm_dialog_and_files_an_edited_support_case(
    browser: Browser, base_url: str, clients: FakeServiceClients
) -> None:
    context = await browser.new_context()
    dashboard = Dashboard(await context.new_page(), base_url)
    await dashboard.sign_in_as("Ada Admin")
    dialog_text = await dashboard.revoke("pur-bob-sp")
    assert "AWS will return the Savings Plan (ReturnSavingsPlan)" in dialog_text
    assert "This cannot be undone" in dialog_text
    await expect(dashboard.page.get_by_role("heading", level=1)).to_have_text("Revoked: AWS confirmed it")

    await dashboard.open("/")
    await dashboard.file_support_case("pur-alice-ri", subject_suffix=" (filed by Ada)")
    await expect(dashboard.page.get_by_role("heading", level=1)).to_have_text("Support case filed")
    assert clients.commands[-1].subject.endswith("(filed by Ada)")
    await dashboard.page.get_by_role("link", name="See the purchase").click()
    await expect(dashboard.page.locator("#timeline + ol")).to_contain_text("Support case case-")
    await context.close()


async def test_a_support_case_is_followed_to_the_end_with_the_return_limits_beside_a_return(
    browser: Browser, base_url: str, clients: FakeServiceClients
) -> None:
    """Issue 16, items 5 and 7: the reference is fixed in the draft, the case shows as filed with
    its Support Center link, the outcome is recorded and shown; a Savings Plan's return is
    offered with the yearly limit and the month cut-off."""
    context = await browser.new_context()
    dashboard = Dashboard(await context.new_page(), base_url)
    await dashboard.sign_in_as("Ada Admin")
    await dashboard.open("/purchases/pur-bob-sp/revoke")
    limits = dashboard.page.locator(".return-limits")
    await expect(limits).to_contain_text(re.compile(r"At least 3 of 10 Savings Plan returns used in \d{4}"))
    await expect(limits).to_contain_text("AWS reports no such number")

    await dashboard.open("/purchases/pur-alice-ri/support-case")
    await expect(dashboard.page.locator(".prefixed .subject-prefix")).to_have_text("[GP-pur-alice-ri]")
    subject = dashboard.page.get_by_label("Subject")
    await subject.fill("Bought by mistake")
    await dashboard.page.get_by_role("button", name="Submit support case").click()
    await dashboard.page.get_by_role("link", name="See the purchase").click()
    case = dashboard.page.locator(".case-record")
    await expect(case.locator(".filed-subject")).to_have_text("[GP-pur-alice-ri] Bought by mistake")
    link = case.get_by_role("link", name=re.compile("in the AWS Support Center"))
    assert (await link.get_attribute("href") or "").startswith("https://console.aws.amazon.com/support/home#/case/")

    await dashboard.page.get_by_label("Resolution note (optional)").fill("AWS refunded the upfront fee")
    await dashboard.page.get_by_label("What AWS decided").select_option("granted")
    await dashboard.page.get_by_label(re.compile("Refund granted")).fill("1200.50")
    await dashboard.page.get_by_role("button", name="Mark case resolved").click()
    await dashboard.page.get_by_role("link", name="See the purchase").click()
    await expect(case.locator(".case-outcome")).to_have_text("Refund granted")
    await expect(case.locator(".case-refund")).to_have_text("$1,200.50")
    await expect(case.locator(".case-note")).to_have_text("AWS refunded the upfront fee")
    await context.close()


async def test_admin_releases_a_cooldown_account_and_sees_warning_and_record(browser: Browser, base_url: str) -> None:
    context = await browser.new_context()
    dashboard = Dashboard(await context.new_page(), base_url)
    await dashboard.sign_in_as("Ada Admin")
    await dashboard.open("/accounts")
    await expect(dashboard.account("444444444444")).to_contain_text(re.compile(r"\d+ hours? \d+ minutes?"))
    warning = await dashboard.release_early("444444444444", "Customer demo tomorrow")
    assert "billing attribution may be inaccurate" in warning
    await expect(dashboard.page.get_by_role("status")).to_contain_text("released early by admin@example.com")
    await expect(dashboard.page.get_by_role("status")).to_contain_text("Customer demo tomorrow")
    await context.close()


async def test_email_link_logged_out_revokes_once_and_expired_link_is_closed(
    browser: Browser, base_url: str, signer: LinkSigner, clients: FakeServiceClients
) -> None:
    context = await browser.new_context()  # no session at all
    now = datetime.now(UTC)
    token = signer.token(purchase_id="pur-alice-sp", recipient="alice@example.com", issued_at=now)
    link = EmailLink(await context.new_page(), f"{base_url}/api/purchases/pur-alice-sp/revoke?token={token}")
    opened = await link.open()
    assert opened is not None
    assert opened.status == 200
    assert await link.heading() == "Revoke this purchase?"
    done = await link.confirm_revoke()
    assert done is not None
    assert done.status == 200
    assert await link.heading() == "Done"
    again = await link.open()
    assert again is not None
    assert again.status == 200
    assert await link.heading() == "This link has already been used"
    assert len(clients.commands) == 1

    expired = signer.token(
        purchase_id="pur-alice-sp",
        recipient="alice@example.com",
        issued_at=now - timedelta(days=8),
        valid_for=timedelta(days=7),
    )
    closed = EmailLink(link.page, f"{base_url}/api/purchases/pur-alice-sp/revoke?token={expired}")
    response = await closed.open()
    assert response is not None
    assert response.status == 410
    assert await closed.heading() == "The revocation window has closed"
    await context.close()


async def test_pages_fit_a_phone_screen(browser: Browser, base_url: str) -> None:
    context = await browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True)
    dashboard = Dashboard(await context.new_page(), base_url)
    await dashboard.sign_in_as("Ada Admin")
    for path in ("/", "/purchases/pur-alice-case", "/accounts", "/settings", "/purchases/pur-bob-sp/revoke"):
        await dashboard.open(path)
        overflow = await sideways_overflow(dashboard.page)
        assert overflow <= 0, (path, overflow)
    await context.close()


async def test_history_is_a_table_sorted_and_filtered_by_the_service_with_money_at_a_glance(
    browser: Browser, base_url: str
) -> None:
    context = await browser.new_context(viewport={"width": 1100, "height": 800})
    dashboard = Dashboard(await context.new_page(), base_url)
    page = dashboard.page
    await dashboard.sign_in_as("Ada Admin")
    glance = page.locator("section.glance")
    await expect(glance).to_contain_text("$26,280.00")  # two open USD windows, with separators
    await expect(glance).to_contain_text("€5,000.00")
    await expect(glance.locator(".deadline.urgent")).to_contain_text("hours")  # under 24 h: red
    assert await sideways_overflow(page) <= 0  # a narrow desktop window scrolls the table, not the page

    upfront = page.get_by_role("columnheader", name=re.compile("^Upfront"))
    await upfront.get_by_role("link").click()
    await expect(upfront).to_have_attribute("aria-sort", "descending")
    await upfront.get_by_role("link").click()
    await expect(upfront).to_have_attribute("aria-sort", "ascending")
    first = page.locator("tr.purchase").first
    await expect(first).to_have_attribute("data-purchase-id", "pur-alice-soon")  # €5,000 is the least upfront
    await expect(first.locator('td[data-label="Upfront"]')).to_have_text(re.compile(r"^€5,000\.00 \+ €210\.00/mo"))

    await page.get_by_label(re.compile("Expiring soon")).check()
    await page.get_by_role("button", name="Apply").click()
    ids = await page.locator("tr.purchase").evaluate_all("rows => rows.map(r => r.dataset.purchaseId)")
    assert ids == ["pur-alice-soon"]  # the only window closing within 48 hours
    export = page.get_by_role("link", name="Download CSV")
    await expect(export).to_have_attribute("href", re.compile(r"expiring_within_hours=48.*sort=upfront"))
    await context.close()


async def test_from_accounts_to_the_organisation_view_of_a_management_account(
    browser: Browser, base_url: str, clients: FakeServiceClients
) -> None:
    """Issue 14: a management account's Accounts row links to its organisation view, where a
    commitment in a member Grace Period has not onboarded says it cannot be undone from here."""
    management = clients.access[0]
    clients.access[0] = management.model_copy(
        update={
            "discovery": DiscoveryStatus(
                last_scan_at=datetime.now(UTC), result=ScanResult.OK, commitments=1, management_account=True
            )
        }
    )
    clients.organizations[management.account_id] = OrganizationView(
        management_account_id=management.account_id,
        organization_id="o-exampleorg",
        members=[OrganizationMember(account_id="210987654321", name="Data Science")],
        commitments=[
            OrganizationCommitment(
                account_id="210987654321",
                account_name="Data Science",
                service=AwsService.EC2,
                kind=CommitmentKind.RESERVED_INSTANCE,
                commitment_id="ri-in-member",
                region="eu-west-1",
            )
        ],
    )
    context = await browser.new_context()
    dashboard = Dashboard(await context.new_page(), base_url)
    await dashboard.sign_in_as("Ada Admin")
    await dashboard.open("/accounts")
    await dashboard.page.get_by_role("link", name="Organisation view").click()
    await expect(dashboard.page.get_by_role("heading", name="Organisation o-exampleorg")).to_be_visible()
    row = dashboard.page.locator('tr[data-commitment-id="ri-in-member"]')
    await expect(row).to_contain_text("not onboarded: cannot be undone from here")
    await expect(row).to_contain_text("Data Science")
    await context.close()
