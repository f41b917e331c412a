"""The dashboard's Accounts pages: the pool by status (Cooldown by time left), one account
with its history, early release (confirm page and outcome), the cooldown policy form, the AWS
account access list. A form with a mistake comes back with the message beside the field."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template
from pydantic import ValidationError

from graceperiod.contracts.cooldown import (
    COOLDOWN_HOURS_MAX,
    COOLDOWN_HOURS_MIN,
    DEFAULT_COOLDOWN_HOURS,
    AccountStatus,
)
from graceperiod.contracts.enums import ActionPath, Permission
from graceperiod.gateway.auth.guards import IDENTITY, SignedIn, requires
from graceperiod.gateway.auth.identity import Identity
from graceperiod.gateway.clients import COOLDOWN, REVOCATION
from graceperiod.gateway.configuration.access import access_rows, needing_bundle
from graceperiod.gateway.configuration.service import SettingsService
from graceperiod.gateway.pool import words
from graceperiod.gateway.pool.forms import HOURS_RULE, PolicyForm, ReleaseForm
from graceperiod.gateway.pool.schemas import PolicyUpdate, PoolAccount
from graceperiod.gateway.pool.service import RELEASE_WARNING, PoolService
from graceperiod.gateway.web.collaborators import provide
from graceperiod.gateway.web.commands import accepted_status
from graceperiod.gateway.web.controllers import DashboardController
from graceperiod.gateway.web.pages import checked_key, choice, form_key, page, section
from graceperiod.gateway.web.params import AccountId, Cursor
from graceperiod.gateway.web.problems import ProblemException

Pool = NamedDependency[PoolService]
Configuration = NamedDependency[SettingsService]
#: The status tabs submit a status; anything else is ignored with a notice.
StatusChoice = Annotated[str, QueryParameter(max_length=64)]
#: Accounts of each status on the overview; the status's own tab pages through the rest.
OVERVIEW_LIMIT = 50
PAGE_LIMIT = 100


def pool_page(name: str, me: Identity, status: int = 200, **context: Any) -> Template:
    """A page of the Accounts section, with the pool's words."""
    return page(name, me, status, nav="accounts", words=words, **context)


class PoolPages(DashboardController):
    dependencies = {"identity": IDENTITY, "pool": provide(PoolService), "configuration": provide(SettingsService)}

    @get("/accounts", name="accounts")
    async def accounts(
        self,
        *,
        pool: Pool,
        configuration: Configuration,
        identity: SignedIn,
        status: StatusChoice = "",
        cursor: Cursor = None,
        saved: StatusChoice = "",
    ) -> Template:
        chosen = choice(status, AccountStatus, what="status")
        notice = chosen.notice or ("Policy saved." if saved == "policy" else "")
        return await self._accounts_page(
            pool, configuration, identity, status=chosen.value, cursor=cursor, notice=notice
        )

    async def _accounts_page(
        self,
        pool: PoolService,
        configuration: SettingsService,
        identity: Identity,
        *,
        status: AccountStatus | None,
        cursor: str | None = None,
        notice: str = "",
        policy_errors: dict[str, str] | None = None,
        hours_typed: str | None = None,
    ) -> Template:
        actor = identity.actor(ActionPath.DASHBOARD)
        listing = (
            pool.by_status(actor, statuses=[status], limit=PAGE_LIMIT, cursor=cursor)
            if status is not None
            else pool.by_status(actor, statuses=list(AccountStatus), limit=OVERVIEW_LIMIT)
        )
        listed, policy, access, waits = await asyncio.gather(
            section(listing, COOLDOWN),
            section(pool.policy(actor), COOLDOWN),
            section(configuration.account_access(actor), REVOCATION),
            section(pool.wait_list(actor), COOLDOWN),
        )
        groups = list((listed.value or {}).items())
        return pool_page(
            "accounts.html",
            identity,
            status=(400 if policy_errors else 200) if listed.ok else 503,
            pool=listed,
            groups=[(s, found) for s, found in groups if found.items or status is s],
            empty=listed.ok and not any(found.items for _, found in groups),
            statuses=list(AccountStatus),
            selected=status.value if status else "",
            policy=policy,
            policy_errors=policy_errors or {},
            hours_typed=hours_typed,
            access=access,
            waits=waits,
            access_rows=access_rows(access.value),
            bundle_accounts=needing_bundle(access.value),
            hours=(COOLDOWN_HOURS_MIN, COOLDOWN_HOURS_MAX, DEFAULT_COOLDOWN_HOURS),
            now=pool.clock.now(),
            form_key=form_key(),
            notice=notice,
        )

    @get("/accounts/{account_id:str}", name="account")
    async def account(self, pool: Pool, identity: SignedIn, account_id: AccountId) -> Template:
        account = await pool.account(identity.actor(ActionPath.DASHBOARD), account_id)
        return pool_page(
            "pool_account.html",
            identity,
            account=account,
            history=list(reversed(account.history)),
            quarantine_reason=words.quarantine_reason(account.last_cleanup_error, account.history),
            now=pool.clock.now(),
        )

    @get(
        "/accounts/{account_id:str}/release", name="release-confirm", guards=[requires(Permission.RELEASE_ANY_ACCOUNTS)]
    )
    async def release_confirm(self, pool: Pool, identity: SignedIn, account_id: AccountId) -> Template:
        account = await self._cooling(pool, identity, account_id)
        return self._release_form(pool, identity, account, key=form_key())

    @post("/accounts/{account_id:str}/release", guards=[requires(Permission.RELEASE_ANY_ACCOUNTS)], status_code=200)
    async def release(
        self, pool: Pool, identity: SignedIn, account_id: AccountId, data: URLEncodedBody[ReleaseForm]
    ) -> Template:
        key = checked_key(data.idempotency_key)
        if errors := data.errors():
            account = await self._cooling(pool, identity, account_id)
            return self._release_form(pool, identity, account, key=key, reason=data.reason, errors=errors)
        reason = data.reason.strip()
        result = await pool.release(identity, account_id, reason=reason, path=ActionPath.DASHBOARD, idempotency_key=key)
        return pool_page(
            "release_outcome.html",
            identity,
            status=accepted_status(result.status),
            reply=result,
            account=result.account,
            warning=result.warning,
            account_id=account_id,
        )

    @staticmethod
    async def _cooling(pool: PoolService, identity: Identity, account_id: str) -> PoolAccount:
        account = await pool.account(identity.actor(ActionPath.DASHBOARD), account_id)
        if account.status is not AccountStatus.COOLDOWN:
            raise ProblemException(
                409,
                f"{account.name} ({account_id}) is {account.status.value}, not in Cooldown: nothing to release.",
            )
        return account

    @staticmethod
    def _release_form(
        pool: PoolService,
        identity: Identity,
        account: PoolAccount,
        *,
        key: str,
        reason: str = "",
        errors: dict[str, str] | None = None,
    ) -> Template:
        return pool_page(
            "release_confirm.html",
            identity,
            status=400 if errors else 200,
            account=account,
            account_id=account.account_id,
            warning=RELEASE_WARNING,
            form_key=key,
            reason=reason,
            errors=errors or {},
            now=pool.clock.now(),
        )

    @post("/accounts/policy", guards=[requires(Permission.UPDATE_CONFIG)], status_code=200)
    async def set_policy(
        self, pool: Pool, configuration: Configuration, identity: SignedIn, data: URLEncodedBody[PolicyForm]
    ) -> Redirect | Template:
        key = checked_key(data.idempotency_key)
        update, errors = policy_update(data)
        if update is None:
            return await self._accounts_page(
                pool,
                configuration,
                identity,
                status=None,
                policy_errors=errors,
                hours_typed=data.cooldown_period_hours,
            )
        await pool.set_policy(identity, update, path=ActionPath.DASHBOARD, idempotency_key=key)
        return Redirect("/accounts?saved=policy", status_code=303)


def policy_update(form: PolicyForm) -> tuple[PolicyUpdate | None, dict[str, str]]:
    """The form as the policy to set (what it leaves out takes its default), or the messages
    to show beside the form."""
    hours = form.hours()
    if hours is None:
        return None, {"hours": HOURS_RULE}
    given = {
        "mode": form.mode,
        "settled": form.settled(),
        "cost_requests_per_day": form.cost_requests_per_day,
        "wait_expiry_hours": form.wait_expiry_hours,
        "low_pool_threshold": form.low_pool_threshold,
        "low_pool_alert_hours": form.low_pool_alert_hours,
    }
    try:
        update = PolicyUpdate.model_validate(
            {
                "enforce_account_cooldown": form.enforce_account_cooldown == "on",
                "cooldown_period_hours": hours,
                **{name: value for name, value in given.items() if value is not None},
            },
            strict=False,
        )
    except ValidationError as exc:
        fields = [(" ".join(str(p) for p in e["loc"]).replace("_", " "), e["msg"]) for e in exc.errors()]
        problems = "; ".join(f"{name}: {message}" for name, message in fields)
        return None, {"policy": f"The policy was not saved: {problems}."}
    return update, {}
