"""The delivered email, as a person sees it: rendered by Debian's Chromium (headless, Playwright)."""

from __future__ import annotations

import pytest
from faststream.rabbit import RabbitBroker
from playwright.async_api import async_playwright

from graceperiod.contracts.topology import RoutingKey
from graceperiod.devstack.servers.processes import SmtpSinkServer
from graceperiod.devstack.testkit.fixtures import Mailbox, running
from graceperiod.devstack.testkit.web import CHROMIUM, CHROMIUM_ARGS
from tests.integration.notifier.helpers import LINK, NotifierFactory, about, html_of, publish_event, recorded, text_of

pytestmark = pytest.mark.browser

GMAIL_CLIP_BYTES = 102 * 1024


async def test_the_delivered_email_shows_a_real_button_to_the_revocation_link(
    make_notifier: NotifierFactory, smtp_server: SmtpSinkServer, upstream: RabbitBroker, mailbox: Mailbox
) -> None:
    event = recorded(contacts=[])
    pid = event.purchase.purchase_id
    async with running(make_notifier(smtp_url=smtp_server.url)):
        await publish_event(upstream, RoutingKey.PURCHASE_RECORDED, event, message_id=f"purchase-recorded:{pid}")
        (message,) = await mailbox.wait_for(1, where=about(pid))
    html, text = html_of(message), text_of(message)
    (url,) = LINK.findall(text)
    assert len(message.as_bytes()) < GMAIL_CLIP_BYTES  # Gmail clips longer messages, hiding the button

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport={"width": 720, "height": 900}, offline=True)
            page = await context.new_page()
            requests: list[str] = []
            page.on("request", lambda request: requests.append(request.url))
            await page.set_content(html, wait_until="load")
            button = page.get_by_role("link", name="Revoke this purchase")
            await button.wait_for(state="visible")
            box = await button.bounding_box()
            colour = await page.eval_on_selector("td.button-cell", "cell => getComputedStyle(cell).backgroundColor")
            href = await button.get_attribute("href")
            notice = await page.get_by_role("paragraph").filter(has_text="You can revoke this purchase").inner_text()
            preheader_visible = await page.locator(".preheader").is_visible()
        finally:
            await browser.close()

    assert href == url
    assert box is not None
    assert box["height"] >= 40  # padded: a button, not a bare text link
    assert box["width"] >= 150
    assert colour == "rgb(180, 35, 24)"
    assert "after that, it can no longer be undone." in notice
    assert not preheader_visible
    assert [r for r in requests if not r.startswith(("about:", "data:"))] == []  # nothing remote to load
