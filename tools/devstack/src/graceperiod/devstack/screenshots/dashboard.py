"""Screenshots of every gateway page for docs/screenshots/, taken with Debian's Chromium.

The gateway is the real app, served on loopback; its service port is the in-memory demo
fake (sample purchases in every phase, a pool with every status), so the pictures do not
depend on AWS or on the services' state.

    python -m graceperiod.devstack.screenshots.dashboard [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.async_api import Page, ViewportSize, async_playwright
from pydantic import SecretStr

from graceperiod.devstack.local.stack import DASHBOARD_CLIENT_ID
from graceperiod.devstack.servers.processes import repo_root
from graceperiod.devstack.testkit.gateway_fakes import InMemoryLinkStore, InMemorySessionStore, demo_clients
from graceperiod.devstack.testkit.tokens import LinkSigner
from graceperiod.devstack.testkit.web import CHROMIUM, CHROMIUM_ARGS, serving
from graceperiod.gateway.app import create_app
from graceperiod.gateway.settings import GatewaySettings
from graceperiod.runtime.signing_keys import PublicKeys

DESKTOP: ViewportSize = {"width": 1100, "height": 800}
#: The History's ten columns as a desktop window shows them (narrower windows scroll the table).
HISTORY_DESKTOP: ViewportSize = {"width": 1440, "height": 900}


async def _shot(page: Page, url: str, target: Path) -> None:
    await page.goto(url)
    await page.screenshot(path=str(target), full_page=True)


async def take(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    signer = LinkSigner()
    app = create_app(
        GatewaySettings(
            dev_sign_in=True,
            sign_in_rate_per_minute=0,
            public_rate_per_minute=0,
            # The sign-in page as make run shows it: "Sign in with Dex" beside the demo people
            # (the provider is asked for its discovery document only when someone clicks).
            oidc_issuer="http://127.0.0.1:5556/dex",
            oidc_provider_name="Dex",
            oidc_client_id=DASHBOARD_CLIENT_ID,
            oidc_client_secret=SecretStr("screenshots"),
        ),
        clients=demo_clients(now),
        store=InMemoryLinkStore(),
        sessions=InMemorySessionStore(),
        link_keys=PublicKeys.from_jwks(signer.jwks()),
    )

    def link(purchase_id: str, recipient: str = "alice@example.com", *, expired: bool = False) -> str:
        issued = now - timedelta(days=8) if expired else now
        token = signer.token(purchase_id=purchase_id, recipient=recipient, issued_at=issued)
        return f"/api/purchases/{purchase_id}/revoke?token={token}"

    taken: list[Path] = []
    async with serving(app) as base, async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport=DESKTOP)
            page = await context.new_page()

            async def shot(name: str, path: str) -> None:
                target = out / f"{name}.png"
                await _shot(page, base + path, target)
                taken.append(target)

            # Logged out: sign-in and the email-link pages.
            await shot("sign-in", "/sign-in")
            await shot("link-revoke", link("pur-alice-sp"))
            await shot("link-support-case", link("pur-alice-ri"))
            await shot("link-support-unavailable", link("pur-bob-ri", "bob@example.com"))
            await shot("link-closed", link("pur-alice-closed", expired=True))
            await shot("link-already-done", link("pur-bob-revoked", "bob@example.com"))
            await shot("link-invalid", "/api/purchases/pur-alice-sp/revoke?token=not-a-token")

            # Alice (a user): what someone with revoke-own sees.
            await page.goto(base + "/sign-in")
            await page.get_by_role("button", name="Sign in as Alice Example").click()
            await page.set_viewport_size(HISTORY_DESKTOP)
            await shot("history-user", "/")
            await page.set_viewport_size(DESKTOP)
            await page.get_by_role("button", name="Sign out").click()

            # Ada (an admin): every page.
            await page.goto(base + "/sign-in")
            await page.get_by_role("button", name="Sign in as Ada Admin").click()
            await page.set_viewport_size(HISTORY_DESKTOP)
            await shot("history-admin", "/")
            await page.locator("section.glance").screenshot(path=str(out / "history-headline.png"))
            taken.append(out / "history-headline.png")
            await page.set_viewport_size(DESKTOP)
            await shot("purchase-detail", "/purchases/pur-alice-case")
            await shot("revoke-confirm", "/purchases/pur-bob-sp/revoke")
            await shot("support-case-draft", "/purchases/pur-alice-ri/support-case")
            await shot("accounts", "/accounts")
            await shot("account", "/accounts/444444444444")
            await shot("account-quarantine", "/accounts/555555555555")
            await shot("aws-account", "/aws-accounts/345678901234")
            await shot("error-in-layout", "/purchases/bad%20id")
            await shot("release-confirm", "/accounts/444444444444/release")
            await shot("settings", "/settings")
            await shot("reapply-bundle", "/help/reapply-bundle")
            await page.goto(base + "/purchases/pur-bob-sp/revoke")
            await page.get_by_role("button", name="Yes, revoke it").click()
            await page.screenshot(path=str(out / "revoke-outcome.png"), full_page=True)
            taken.append(out / "revoke-outcome.png")

            # The open case marked resolved with what AWS decided.
            await page.goto(base + "/purchases/pur-alice-case")
            await page.get_by_label("Resolution note (optional)").fill("AWS refunded the upfront fee in full")
            await page.get_by_label("What AWS decided").select_option("granted")
            await page.get_by_label("Refund granted (USD, optional)").fill("2400.00")
            await page.get_by_role("button", name="Mark case resolved").click()
            await shot("purchase-case-resolved", "/purchases/pur-alice-case")

            await page.get_by_role("button", name="Sign out").click()

            # Logged out again: the email link acts once, then shows the outcome.
            revoke_link = link("pur-alice-sp")
            await page.goto(base + revoke_link)
            await page.get_by_role("button", name="Revoke", exact=True).click()
            await page.screenshot(path=str(out / "link-outcome.png"), full_page=True)
            taken.append(out / "link-outcome.png")
            await shot("link-used", revoke_link)

            phone = await browser.new_context(viewport={"width": 375, "height": 812}, is_mobile=True)
            small = await phone.new_page()
            await small.goto(base + "/sign-in")
            await small.get_by_role("button", name="Sign in as Bob Example").click()
            await _shot(small, base + "/", out / "history-phone.png")
            taken.append(out / "history-phone.png")
        finally:
            await browser.close()
    return taken


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=repo_root() / "docs" / "screenshots")
    args = parser.parse_args(argv)
    for path in asyncio.run(take(args.out)):
        print(path)


if __name__ == "__main__":
    main()
