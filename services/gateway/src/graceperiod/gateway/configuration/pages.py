"""The dashboard's Settings page (the global notification address, what reading lease costs
costs a month), an onboarded AWS account's page (its role, probes, support plan and purchases)
and the help page for accounts whose role must be fixed."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated

from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template

from graceperiod.contracts.enums import ActionPath, Permission
from graceperiod.gateway.auth.guards import IDENTITY, SignedIn, requires
from graceperiod.gateway.auth.identity import Identity
from graceperiod.gateway.clients import COOLDOWN, NOTIFIER, REVOCATION
from graceperiod.gateway.configuration.access import AccessRow, access_rows, problems_of
from graceperiod.gateway.configuration.service import SettingsService
from graceperiod.gateway.pool.service import PoolService
from graceperiod.gateway.purchases.history import HistoryQuery
from graceperiod.gateway.purchases.service import PurchaseService
from graceperiod.gateway.web.collaborators import provide
from graceperiod.gateway.web.controllers import DashboardController
from graceperiod.gateway.web.pages import checked_key, form_key, page, section
from graceperiod.gateway.web.params import AccountId
from graceperiod.gateway.web.problems import ProblemException

Configuration = NamedDependency[SettingsService]
#: ``?saved=1`` after a form was saved.
Flag = Annotated[str, QueryParameter(max_length=16)]
#: An AWS account's page lists its latest purchases; History pages through the rest.
ACCOUNT_PURCHASES = 50


@dataclass
class SettingsForm:
    idempotency_key: str
    global_notification_email: str = ""

    def address(self) -> str | None:
        return self.global_notification_email.strip().lower() or None

    def errors(self) -> dict[str, str]:
        email = self.address()
        if email is not None and (email.count("@") != 1 or len(email) > 320 or " " in email):
            return {"global_notification_email": "Give one email address (name@example.com), or leave it empty."}
        return {}


class SettingsPages(DashboardController):
    dependencies = {
        "identity": IDENTITY,
        "configuration": provide(SettingsService),
        "purchases": provide(PurchaseService),
        "pool": provide(PoolService),
    }

    @get("/settings", name="settings")
    async def settings_page(
        self, configuration: Configuration, pool: NamedDependency[PoolService], identity: SignedIn, saved: Flag = ""
    ) -> Template:
        return await self._settings(configuration, pool, identity, notice="Saved." if saved else "")

    async def _settings(
        self,
        configuration: SettingsService,
        pool: PoolService,
        identity: Identity,
        *,
        notice: str = "",
        errors: dict[str, str] | None = None,
        typed: str | None = None,
    ) -> Template:
        actor = identity.actor(ActionPath.DASHBOARD)
        current, policy = await asyncio.gather(
            section(configuration.notification_settings(actor), NOTIFIER), section(pool.policy(actor), COOLDOWN)
        )
        status = (400 if errors else 200) if current.ok else 503
        return page(
            "settings.html",
            identity,
            status=status,
            current=current,
            policy=policy,
            form_key=form_key(),
            saved=notice,
            errors=errors or {},
            typed=typed,
        )

    @post("/settings", guards=[requires(Permission.UPDATE_CONFIG)], status_code=200)
    async def save_settings(
        self,
        configuration: Configuration,
        pool: NamedDependency[PoolService],
        identity: SignedIn,
        data: URLEncodedBody[SettingsForm],
    ) -> Redirect | Template:
        key = checked_key(data.idempotency_key)
        if errors := data.errors():
            return await self._settings(
                configuration, pool, identity, errors=errors, typed=data.global_notification_email
            )
        await configuration.set_notification_address(
            identity, email=data.address(), path=ActionPath.DASHBOARD, idempotency_key=key
        )
        return Redirect("/settings?saved=1", status_code=303)

    @get("/aws-accounts/{account_id:str}", name="aws-account")
    async def aws_account(
        self,
        configuration: Configuration,
        purchases: NamedDependency[PurchaseService],
        identity: SignedIn,
        account_id: AccountId,
    ) -> Template:
        actor = identity.actor(ActionPath.DASHBOARD)
        access, bought = await asyncio.gather(
            configuration.one_account(actor, account_id),
            section(
                purchases.find(actor, HistoryQuery(account_id=account_id), limit=ACCOUNT_PURCHASES, cursor=None),
                REVOCATION,
            ),
        )
        if access is None and bought.ok and bought.value is not None and not bought.value.items:
            raise ProblemException(
                404,
                f"Grace Period knows no AWS account {account_id}: no role is registered for it and none of its "
                "purchases was recorded.",
                code="not-found",
            )
        return page(
            "aws_account.html",
            identity,
            nav="accounts",
            account_id=account_id,
            row=AccessRow(access, problems_of(access)) if access is not None else None,
            purchases=bought,
            now=purchases.clock.now(),
        )

    @get("/organizations/{account_id:str}", name="organization")
    async def organization(self, configuration: Configuration, identity: SignedIn, account_id: AccountId) -> Template:
        view = await configuration.organization_view(identity.actor(ActionPath.DASHBOARD), account_id)
        return page("organization.html", identity, view=view, docs=configuration.reapply_bundle_docs)

    @get("/help/reapply-bundle", name="reapply-bundle")
    async def reapply_bundle(self, configuration: Configuration, identity: SignedIn) -> Template:
        access = await section(configuration.account_access(identity.actor(ActionPath.DASHBOARD)), REVOCATION)
        rows = access_rows(access.value)
        return page(
            "reapply_bundle.html",
            identity,
            access=access,
            blocked=[row for row in rows if row.blocked],
            unchecked=[row for row in rows if not row.checked],
            docs=configuration.reapply_bundle_docs,
        )
