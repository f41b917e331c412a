"""Screenshots of every gateway page for docs/screenshots/, taken with Debian's Chromium.

The gateway is the real app, served on loopback; its service port is the in-memory demo
fake (sample purchases in every phase, a pool with every status), so the pictures do not
depend on AWS or on the services' state.

    python -m graceperiod.devstack.screenshots.dashboard [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from litestar import Litestar
from playwright.async_api import Browser, Page, ViewportSize, async_playwright
from pydantic import SecretStr

from graceperiod.devstack.local.stack import DASHBOARD_CLIENT_ID
from graceperiod.devstack.servers.processes import repo_root
from graceperiod.devstack.testkit.gateway_demo import demo_clients, demo_gateway
from graceperiod.devstack.testkit.tokens import LinkSigner
from graceperiod.devstack.testkit.web import CHROMIUM, CHROMIUM_ARGS, serving
from graceperiod.gateway.settings import GatewaySettings

DESKTOP: ViewportSize = {"width": 1100, "height": 800}
#: The History's ten columns as a desktop window shows them (narrower windows scroll the table).
HISTORY_DESKTOP: ViewportSize = {"width": 1440, "height": 900}
#: What an admin's pages look like, each as it first opens (name of the picture, path).
ADMIN_PAGES = (
    ("purchase-detail", "/purchases/pur-alice-case"),
    ("revoke-confirm", "/purchases/pur-bob-sp/revoke"),
    ("support-case-draft", "/purchases/pur-alice-ri/support-case"),
    ("accounts", "/accounts"),
    ("account", "/accounts/444444444444"),
    ("account-quarantine", "/accounts/555555555555"),
    ("aws-account", "/aws-accounts/345678901234"),
    ("error-in-layout", "/purchases/bad%20id"),
    ("release-confirm", "/accounts/444444444444/release"),
    ("settings", "/settings"),
    ("reapply-bundle", "/help/reapply-bundle"),
)


async def _shot(page: Page, url: str, target: Path) -> None:
    await page.goto(url)
    await page.screenshot(path=str(target), full_page=True)


@dataclass
class _Camera:
    """One browser page on the served gateway, and the pictures taken so far."""

    page: Page
    base: str
    out: Path
    taken: list[Path] = field(default_factory=list)

    async def shot(self, name: str, path: str) -> None:
        target = self.out / f"{name}.png"
        await _shot(self.page, self.base + path, target)
        self.taken.append(target)

    async def as_is(self, name: str) -> None:
        """The page as the last click left it."""
        target = self.out / f"{name}.png"
        await self.page.screenshot(path=str(target), full_page=True)
        self.taken.append(target)

    async def sign_in(self, who: str) -> None:
        await self.page.goto(self.base + "/sign-in")
        await self.page.get_by_role("button", name=f"Sign in as {who}").click()


@dataclass
class _Links:
    signer: LinkSigner
    now: datetime

    def __call__(self, purchase_id: str, recipient: str = "alice@example.com", *, expired: bool = False) -> str:
        issued = self.now - timedelta(days=8) if expired else self.now
        token = self.signer.token(purchase_id=purchase_id, recipient=recipient, issued_at=issued)
        return f"/api/purchases/{purchase_id}/revoke?token={token}"


def _app(signer: LinkSigner, now: datetime) -> Litestar:
    settings = GatewaySettings(
        dev_sign_in=True,
        sign_in_rate_per_minute=0,
        public_rate_per_minute=0,
        # The sign-in page as make run shows it: "Sign in with Dex" beside the demo people
        # (the provider is asked for its discovery document only when someone clicks).
        oidc_issuer="http://127.0.0.1:5556/dex",
        oidc_provider_name="Dex",
        oidc_client_id=DASHBOARD_CLIENT_ID,
        oidc_client_secret=SecretStr("screenshots"),
    )
    return demo_gateway(signer, settings, clients=demo_clients(now))


async def take(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    signer = LinkSigner()
    link = _Links(signer, now)
    async with serving(_app(signer, now)) as base, async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport=DESKTOP)
            camera = _Camera(await context.new_page(), base, out)
            await _logged_out(camera, link)
            await _user(camera)
            await _admin(camera)
            await _email_link_used(camera, link)
            await _phone(browser, camera)
        finally:
            await browser.close()
    return camera.taken


async def _logged_out(camera: _Camera, link: _Links) -> None:
    """The sign-in and the email-link pages."""
    await camera.shot("sign-in", "/sign-in")
    await camera.shot("link-revoke", link("pur-alice-sp"))
    await camera.shot("link-support-case", link("pur-alice-ri"))
    await camera.shot("link-support-unavailable", link("pur-bob-ri", "bob@example.com"))
    await camera.shot("link-closed", link("pur-alice-closed", expired=True))
    await camera.shot("link-already-done", link("pur-bob-revoked", "bob@example.com"))
    await camera.shot("link-invalid", "/api/purchases/pur-alice-sp/revoke?token=not-a-token")


async def _user(camera: _Camera) -> None:
    """Alice (a user): what someone with revoke-own sees."""
    await camera.sign_in("Alice Example")
    await camera.page.set_viewport_size(HISTORY_DESKTOP)
    await camera.shot("history-user", "/")
    await camera.page.set_viewport_size(DESKTOP)
    await camera.page.get_by_role("button", name="Sign out").click()


async def _admin(camera: _Camera) -> None:
    """Ada (an admin): every page, a revocation, and the open case marked resolved."""
    page = camera.page
    await camera.sign_in("Ada Admin")
    await page.set_viewport_size(HISTORY_DESKTOP)
    await camera.shot("history-admin", "/")
    await page.locator("section.glance").screenshot(path=str(camera.out / "history-headline.png"))
    camera.taken.append(camera.out / "history-headline.png")
    await page.set_viewport_size(DESKTOP)
    for name, path in ADMIN_PAGES:
        await camera.shot(name, path)
    await page.goto(camera.base + "/purchases/pur-bob-sp/revoke")
    await page.get_by_role("button", name="Yes, revoke it").click()
    await camera.as_is("revoke-outcome")
    # The open case marked resolved with what AWS decided.
    await page.goto(camera.base + "/purchases/pur-alice-case")
    await page.get_by_label("Resolution note (optional)").fill("AWS refunded the upfront fee in full")
    await page.get_by_label("What AWS decided").select_option("granted")
    await page.get_by_label("Refund granted (USD, optional)").fill("2400.00")
    await page.get_by_role("button", name="Mark case resolved").click()
    await camera.shot("purchase-case-resolved", "/purchases/pur-alice-case")
    await page.get_by_role("button", name="Sign out").click()


async def _email_link_used(camera: _Camera, link: _Links) -> None:
    """Logged out again: the email link acts once, then shows the outcome."""
    revoke_link = link("pur-alice-sp")
    await camera.page.goto(camera.base + revoke_link)
    await camera.page.get_by_role("button", name="Revoke", exact=True).click()
    await camera.as_is("link-outcome")
    await camera.shot("link-used", revoke_link)


async def _phone(browser: Browser, camera: _Camera) -> None:
    phone = await browser.new_context(viewport={"width": 375, "height": 812}, is_mobile=True)
    small = await phone.new_page()
    await small.goto(camera.base + "/sign-in")
    await small.get_by_role("button", name="Sign in as Bob Example").click()
    await _shot(small, camera.base + "/", camera.out / "history-phone.png")
    camera.taken.append(camera.out / "history-phone.png")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=repo_root() / "docs" / "screenshots")
    args = parser.parse_args(argv)
    for path in asyncio.run(take(args.out)):
        print(path)


if __name__ == "__main__":
    main()
