"""The dashboard's Settings page (the global notification address, what reading lease costs
costs a month) and the help page for accounts whose role lacks actions."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import URLEncodedBody
from litestar.response import Redirect, Template

from graceperiod.contracts.enums import ActionPath, Permission
from graceperiod.gateway.auth.guards import IDENTITY, SignedIn, requires
from graceperiod.gateway.clients import COOLDOWN, NOTIFIER, REVOCATION
from graceperiod.gateway.configuration.service import SettingsService
from graceperiod.gateway.pool.service import PoolService
from graceperiod.gateway.web.collaborators import provide
from graceperiod.gateway.web.controllers import DashboardController
from graceperiod.gateway.web.pages import checked_key, form_key, page, section
from graceperiod.gateway.web.problems import ProblemException

Configuration = NamedDependency[SettingsService]


@dataclass
class SettingsForm:
    idempotency_key: str
    global_notification_email: str = ""


class SettingsPages(DashboardController):
    dependencies = {"identity": IDENTITY, "configuration": provide(SettingsService), "pool": provide(PoolService)}

    @get("/settings", name="settings")
    async def settings_page(
        self, configuration: Configuration, pool: NamedDependency[PoolService], identity: SignedIn
    ) -> Template:
        actor = identity.actor(ActionPath.DASHBOARD)
        current, policy = await asyncio.gather(
            section(configuration.notification_settings(actor), NOTIFIER), section(pool.policy(actor), COOLDOWN)
        )
        return page(
            "settings.html",
            identity,
            status=200 if current.ok else 503,
            current=current,
            policy=policy,
            form_key=form_key(),
        )

    @post("/settings", guards=[requires(Permission.UPDATE_CONFIG)])
    async def save_settings(
        self, configuration: Configuration, identity: SignedIn, data: URLEncodedBody[SettingsForm]
    ) -> Redirect:
        email = data.global_notification_email.strip().lower() or None
        if email is not None and (email.count("@") != 1 or len(email) > 320 or " " in email):
            raise ProblemException(400, f"{email!r} is not an email address.")
        key = checked_key(data.idempotency_key)
        await configuration.set_notification_address(
            identity, email=email, path=ActionPath.DASHBOARD, idempotency_key=key
        )
        return Redirect("/settings?saved=1", status_code=303)

    @get("/help/reapply-bundle", name="reapply-bundle")
    async def reapply_bundle(self, configuration: Configuration, identity: SignedIn) -> Template:
        access = await section(configuration.account_access(identity.actor(ActionPath.DASHBOARD)), REVOCATION)
        return page("reapply_bundle.html", identity, access=access, docs=configuration.reapply_bundle_docs)
