"""Issue 16, items 3 and 4, as Debian's Chromium shows them (the gateway over the in-memory
fakes of its services, on a frozen clock so a countdown reads the same in the page and in the
email rendered for the same instant).

* One way to show a time: absolute UTC plus a countdown, red under 24 hours, the same in the
  History, on the purchase's page and in the email about the purchase.
* Plain words: no internal name reaches a page; a pending return says "AWS is processing the
  return" and nothing says revoked until AWS confirms it.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from playwright.async_api import Browser, Locator, Page, expect

from graceperiod.contracts.enums import ActionPath, CommitmentKind, ExecutionVia
from graceperiod.contracts.revocation_views import RevokedVia
from graceperiod.devstack.testkit.gateway_demo import demo_clients, demo_gateway
from graceperiod.devstack.testkit.gateway_fakes import FakeServiceClients
from graceperiod.devstack.testkit.tokens import LinkSigner
from graceperiod.devstack.testkit.web import serving
from graceperiod.notifier.domain.emails import ExecutedEmail, PurchaseFacts, executed_subject
from graceperiod.notifier.domain.windows import window_notice
from graceperiod.notifier.rendering import EmailRenderer
from graceperiod.runtime.clock import FrozenClock
from tests.browser.pages import Dashboard

pytestmark = pytest.mark.browser

NOW = datetime.now(UTC).replace(second=30, microsecond=0)
#: "2026-12-04 13:24 UTC (4 days 23 hours left)": the one way a deadline reads.
ONE_WAY = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC \((\d+ (day|hour|minute)s?( \d+ (hour|minute)s?)?) left\)$")


def reddish(color: str) -> bool:
    """A computed colour that reads as red (the page's --danger, the email's #b42318)."""
    r, g, b = (int(x) for x in re.findall(r"\d+", color)[:3])
    return r > 150 and g < 90 and b < 90


@pytest.fixture
def clients() -> FakeServiceClients:
    return demo_clients(NOW)


@pytest.fixture
async def base_url(clients: FakeServiceClients, signer: LinkSigner) -> AsyncIterator[str]:
    async with serving(demo_gateway(signer, clients=clients, clock=FrozenClock(NOW))) as url:
        yield url


async def _deadline(cell: Locator) -> tuple[str, str]:
    """What a deadline reads, whitespace as shown, and its colour."""
    text = " ".join((await cell.inner_text()).split())
    return text, await cell.evaluate("e => getComputedStyle(e).color")


async def _in_the_email(page: Page, clients: FakeServiceClients, purchase_id: str) -> tuple[str, str]:
    """The deadline of the email the notifier sends about the purchase, rendered for ``NOW``."""
    view = clients.purchases[purchase_id]
    email = EmailRenderer().executed(
        ExecutedEmail(
            brand="Grace Period",
            subject=executed_subject(view.purchase, "Grace Period"),
            facts=PurchaseFacts.of(view.purchase),
            notice=window_notice(view.windows, view.phase, NOW),
            revoke_url=None,
            dashboard_url="https://gp.example.com/",
            recipient="owner@example.com",
            now=NOW,
        )
    )
    assert email.html is not None
    await page.set_content(email.html)
    return await _deadline(page.locator("td.deadline"))


@pytest.mark.parametrize(("purchase_id", "urgent"), [("pur-alice-soon", True), ("pur-alice-sp", False)])
async def test_a_deadline_reads_one_way_in_the_history_the_purchase_and_the_email(
    browser: Browser, base_url: str, clients: FakeServiceClients, purchase_id: str, urgent: bool
) -> None:
    context = await browser.new_context()
    dashboard = Dashboard(await context.new_page(), base_url)
    await dashboard.sign_in_as("Ada Admin")
    in_history = await _deadline(dashboard.purchase(purchase_id).locator('td[data-label="Deadline"] .deadline'))
    await dashboard.open(f"/purchases/{purchase_id}")
    on_its_page = await _deadline(dashboard.page.locator(".deadline").first)
    in_the_email = await _in_the_email(await context.new_page(), clients, purchase_id)
    await context.close()

    assert ONE_WAY.match(in_history[0]), in_history
    assert in_history[0] == on_its_page[0] == in_the_email[0]
    assert ("day" not in in_history[0]) is urgent  # under 24 hours: hours and minutes left
    assert [reddish(color) for _, color in (in_history, on_its_page, in_the_email)] == [urgent] * 3


#: Names the wire and the code use that a person should never read.
INTERNAL_NAMES = sorted(
    {
        *(v.value for v in ExecutionVia if v is not ExecutionVia.DISCOVERED),  # that one is a word
        *(v.value for v in RevokedVia),
        *(v.value for v in CommitmentKind),
        ActionPath.EMAIL_LINK.value,
        "support-case-api",
        "self-service-api",
    }
)


#: "Revoked", but not in "not revoked until AWS confirms it".
SAYS_REVOKED = re.compile(r"(?<!not )\brevoked\b", re.IGNORECASE)


async def _visible_words(page: Page) -> str:
    return await page.locator("body").inner_text()


async def test_no_internal_name_reaches_a_page(browser: Browser, base_url: str, clients: FakeServiceClients) -> None:
    context = await browser.new_context()
    dashboard = Dashboard(await context.new_page(), base_url)
    await dashboard.sign_in_as("Ada Admin")
    paths = ["/", "/accounts", "/settings", *(f"/purchases/{pid}" for pid in clients.purchases)]
    seen = 0
    for path in paths:
        response = await dashboard.open(path)
        assert response is not None
        assert response.ok, (path, response.status)
        words = await _visible_words(dashboard.page)
        found = [name for name in INTERNAL_NAMES if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", words)]
        assert not found, (path, found)
        seen += 1
    await context.close()
    assert seen >= 10  # every demo purchase's page was looked at, not just the History


async def test_a_pending_return_says_aws_is_processing_it_and_nothing_says_revoked_until_aws_confirms(
    browser: Browser, base_url: str
) -> None:
    context = await browser.new_context()
    dashboard = Dashboard(await context.new_page(), base_url)
    await dashboard.sign_in_as("Bob Example")
    pending_row = dashboard.purchase("pur-bob-pending")
    await expect(pending_row).to_contain_text("Return in progress")
    await expect(pending_row).not_to_contain_text(re.compile("revoked", re.IGNORECASE))
    await expect(dashboard.purchase("pur-bob-revoked")).to_contain_text("Revoked")  # once AWS confirmed it

    await dashboard.open("/purchases/pur-bob-pending")
    words = await _visible_words(dashboard.page)
    assert "AWS is processing the return" in words
    assert not SAYS_REVOKED.search(words), words
    await dashboard.open("/purchases/pur-bob-revoked")
    assert SAYS_REVOKED.search(await _visible_words(dashboard.page))
    await context.close()
