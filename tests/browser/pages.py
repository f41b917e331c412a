"""Page objects of the dashboard and the email-link pages (Playwright, async API)."""

from __future__ import annotations

from dataclasses import dataclass

from playwright.async_api import Locator, Page, Response


@dataclass
class Dashboard:
    page: Page
    base: str

    async def open(self, path: str = "/") -> Response | None:
        return await self.page.goto(self.base + path)

    async def sign_in_as(self, name: str) -> None:
        await self.open("/")
        assert "/sign-in" in self.page.url
        await self.page.get_by_role("button", name=f"Sign in as {name}").click()
        await self.page.get_by_role("heading", name="Purchases", exact=True).wait_for()

    async def sign_in_with_dex(self, email: str, password: str) -> None:
        """From a signed-out page: "Sign in with Dex", then Dex's own login form."""
        await self.open("/")
        assert "/sign-in" in self.page.url
        await self.page.get_by_role("link", name="Sign in with Dex").click()
        await self.fill_dex_login(email, password)

    async def fill_dex_login(self, email: str, password: str) -> None:
        await self.page.get_by_label("Email Address").fill(email)
        await self.page.get_by_label("Password").fill(password)
        await self.page.get_by_role("button", name="Login").click()

    async def sign_out(self) -> None:
        await self.page.get_by_role("button", name="Sign out").first.click()

    def purchase(self, purchase_id: str) -> Locator:
        return self.page.locator(f'.purchase[data-purchase-id="{purchase_id}"]')

    def account(self, account_id: str) -> Locator:
        return self.page.locator(f'li.account[data-account-id="{account_id}"]')

    async def revoke(self, purchase_id: str) -> str:
        """Click "Revoke purchase", read the confirm dialog, confirm; returns the dialog's text."""
        await self.purchase(purchase_id).get_by_role("link", name="Revoke purchase").click()
        dialog = self.page.get_by_role("dialog")
        text = await dialog.inner_text()
        await dialog.get_by_role("button", name="Yes, revoke it").click()
        return text

    async def file_support_case(self, purchase_id: str, *, subject_suffix: str) -> None:
        await self.purchase(purchase_id).get_by_role("link", name="Request refund via AWS Support").click()
        subject = self.page.get_by_label("Subject")
        await subject.fill((await subject.input_value()) + subject_suffix)
        await self.page.get_by_role("button", name="Submit support case").click()

    async def release_early(self, account_id: str, reason: str) -> str:
        """From Accounts: "Release now", read the warning, give the reason, confirm."""
        await self.open("/accounts?status=Cooldown")
        await self.account(account_id).get_by_role("link", name="Release now").click()
        dialog = self.page.get_by_role("dialog")
        warning = await dialog.inner_text()
        await self.page.get_by_label("Why release it early?").fill(reason)
        await dialog.get_by_role("button", name="Release now").click()
        return warning


@dataclass
class EmailLink:
    page: Page
    url: str

    async def open(self) -> Response | None:
        return await self.page.goto(self.url)

    async def confirm_revoke(self) -> Response | None:
        async with self.page.expect_navigation() as navigation:
            await self.page.get_by_role("button", name="Revoke", exact=True).click()
        return await navigation.value

    async def heading(self) -> str:
        return await self.page.get_by_role("heading", level=1).inner_text()
