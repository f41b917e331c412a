"""The dashboard's Accounts page: the pool by status, early release (confirm page and outcome),
the cooldown policy form, the AWS account access probes."""

from __future__ import annotations

import asyncio

from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import URLEncodedBody
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
from graceperiod.gateway.clients import COOLDOWN, REVOCATION
from graceperiod.gateway.configuration.service import SettingsService, needing_bundle
from graceperiod.gateway.pool.forms import PolicyForm, ReleaseForm
from graceperiod.gateway.pool.schemas import PolicyUpdate, StatusFilter
from graceperiod.gateway.pool.service import RELEASE_WARNING, PoolService
from graceperiod.gateway.web.collaborators import provide
from graceperiod.gateway.web.commands import accepted_status
from graceperiod.gateway.web.controllers import DashboardController
from graceperiod.gateway.web.pages import checked_key, form_key, page, section
from graceperiod.gateway.web.params import AccountId
from graceperiod.gateway.web.problems import ProblemException

Pool = NamedDependency[PoolService]


class PoolPages(DashboardController):
    dependencies = {"identity": IDENTITY, "pool": provide(PoolService), "configuration": provide(SettingsService)}

    @get("/accounts", name="accounts")
    async def accounts(
        self,
        pool: Pool,
        configuration: NamedDependency[SettingsService],
        identity: SignedIn,
        status: StatusFilter = None,
    ) -> Template:
        actor = identity.actor(ActionPath.DASHBOARD)
        listed, policy, access, waits = await asyncio.gather(
            section(pool.accounts(actor, status=status, limit=500), COOLDOWN),
            section(pool.policy(actor), COOLDOWN),
            section(configuration.account_access(actor), REVOCATION),
            section(pool.wait_list(actor), COOLDOWN),
        )
        accounts = listed.value.items if listed.value is not None else []
        groups = [(s, [a for a in accounts if a.status is s]) for s in AccountStatus]
        return page(
            "accounts.html",
            identity,
            status=200 if listed.ok else 503,
            pool=listed,
            groups=[(s, items) for s, items in groups if items or status is s],
            counts={s.value: len(items) for s, items in groups},
            statuses=list(AccountStatus),
            selected=status.value if status else "",
            policy=policy,
            access=access,
            waits=waits,
            bundle_accounts=needing_bundle(access.value),
            hours=(COOLDOWN_HOURS_MIN, COOLDOWN_HOURS_MAX, DEFAULT_COOLDOWN_HOURS),
            now=pool.clock.now(),
            form_key=form_key(),
        )

    @get("/accounts/{account_id:str}", name="account")
    async def account(self, pool: Pool, identity: SignedIn, account_id: AccountId) -> Template:
        found = await section(pool.account(identity.actor(ActionPath.DASHBOARD), account_id), COOLDOWN)
        now = pool.clock.now()
        return page("account.html", identity, status=found.status, account=found, account_id=account_id, now=now)

    @get(
        "/accounts/{account_id:str}/release", name="release-confirm", guards=[requires(Permission.RELEASE_ANY_ACCOUNTS)]
    )
    async def release_confirm(self, identity: SignedIn, account_id: AccountId) -> Template:
        return page(
            "release_confirm.html", identity, account_id=account_id, warning=RELEASE_WARNING, form_key=form_key()
        )

    @post("/accounts/{account_id:str}/release", guards=[requires(Permission.RELEASE_ANY_ACCOUNTS)], status_code=200)
    async def release(
        self, pool: Pool, identity: SignedIn, account_id: AccountId, data: URLEncodedBody[ReleaseForm]
    ) -> Template:
        reason = data.reason.strip()
        if not 0 < len(reason) <= 500:
            raise ProblemException(400, "Say why the account is released early (up to 500 characters).")
        key = checked_key(data.idempotency_key)
        result = await pool.release(identity, account_id, reason=reason, path=ActionPath.DASHBOARD, idempotency_key=key)
        return page(
            "release_outcome.html",
            identity,
            status=accepted_status(result.status),
            reply=result,
            account=result.account,
            warning=result.warning,
            account_id=account_id,
        )

    @post("/accounts/policy", guards=[requires(Permission.UPDATE_CONFIG)])
    async def set_policy(self, pool: Pool, identity: SignedIn, data: URLEncodedBody[PolicyForm]) -> Redirect:
        if not COOLDOWN_HOURS_MIN <= data.cooldown_period_hours <= COOLDOWN_HOURS_MAX:
            raise ProblemException(
                400, f"The cooldown period must be between {COOLDOWN_HOURS_MIN} and {COOLDOWN_HOURS_MAX} hours."
            )
        await pool.set_policy(
            identity, policy_update(data), path=ActionPath.DASHBOARD, idempotency_key=checked_key(data.idempotency_key)
        )
        return Redirect("/accounts?saved=policy", status_code=303)


def policy_update(form: PolicyForm) -> PolicyUpdate:
    """The form as the policy to set (what it leaves out takes its default), or a 400 saying
    which value is out of bounds."""
    given = {
        "mode": form.mode,
        "settled": form.settled(),
        "cost_requests_per_day": form.cost_requests_per_day,
        "wait_expiry_hours": form.wait_expiry_hours,
        "low_pool_threshold": form.low_pool_threshold,
        "low_pool_alert_hours": form.low_pool_alert_hours,
    }
    try:
        return PolicyUpdate.model_validate(
            {
                "enforce_account_cooldown": form.enforce_account_cooldown == "on",
                "cooldown_period_hours": form.cooldown_period_hours,
                **{name: value for name, value in given.items() if value is not None},
            },
            strict=False,
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ProblemException(400, f"The policy was not saved: {problems}.") from exc
