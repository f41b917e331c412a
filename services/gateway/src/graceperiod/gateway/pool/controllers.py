"""The sandbox account pool's JSON API (cooldown service): accounts by status with the time
left in Cooldown, early release, the cooldown policy."""

from __future__ import annotations

from typing import Annotated

from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter

from graceperiod.contracts.cooldown import COOLDOWN_HOURS_MAX, COOLDOWN_HOURS_MIN, CooldownPolicy
from graceperiod.contracts.enums import ActionPath, Permission
from graceperiod.contracts.lease_costs import RequestEstimate
from graceperiod.contracts.wait_list import WaitListReply
from graceperiod.gateway.auth.guards import IDENTITY, SignedIn, requires
from graceperiod.gateway.pool.schemas import (
    PolicyUpdate,
    PoolAccount,
    PoolPage,
    ReleaseRequest,
    ReleaseResult,
    StatusFilter,
)
from graceperiod.gateway.pool.service import RELEASE_WARNING, PoolService
from graceperiod.gateway.web.collaborators import provide
from graceperiod.gateway.web.controllers import ApiController
from graceperiod.gateway.web.params import ACTION_KEY, AccountId, ActionKey, Cursor
from graceperiod.gateway.web.problems import ProblemException
from graceperiod.gateway.web.routes import api_get, api_get_one, api_post, api_put

Pool = NamedDependency[PoolService]
Limit = Annotated[int, QueryParameter(ge=1, le=500)]
OlderThanHours = Annotated[float, QueryParameter(gt=0, le=24 * 365)]


class PoolController(ApiController):
    path = "/api/pool"
    tags = ["account pool"]
    dependencies = {"identity": IDENTITY, "key": ACTION_KEY, "pool": provide(PoolService)}

    @api_get(
        "/accounts", "listPoolAccounts", "Sandbox accounts, optionally of one status, with the time left in Cooldown"
    )
    async def list_accounts(
        self, pool: Pool, identity: SignedIn, status: StatusFilter = None, limit: Limit = 100, cursor: Cursor = None
    ) -> PoolPage:
        return await pool.accounts(identity.actor(ActionPath.API), status=status, limit=limit, cursor=cursor)

    @api_get_one("/accounts/{account_id:str}", "getPoolAccount", "One sandbox account with its status history")
    async def get_account(self, pool: Pool, identity: SignedIn, account_id: AccountId) -> PoolAccount:
        return await pool.account(identity.actor(ActionPath.API), account_id)

    @api_post(
        "/accounts/{account_id:str}/release",
        "releaseAccountEarly",
        "Move a Cooldown account to Available now (billing attribution may be inaccurate)",
        description=RELEASE_WARNING,
        guards=[requires(Permission.RELEASE_ANY_ACCOUNTS)],
        problems=(401, 403, 404, 409, 413, 422, 502, 503),
    )
    async def release(
        self, pool: Pool, identity: SignedIn, account_id: AccountId, data: JSONBody[ReleaseRequest], key: ActionKey
    ) -> ReleaseResult:
        return await pool.release(identity, account_id, reason=data.reason, path=ActionPath.API, idempotency_key=key)

    @api_get("/stuck", "listStuckAccounts", "Accounts in CleanUp or Quarantine for longer than the given hours")
    async def stuck(self, pool: Pool, identity: SignedIn, older_than_hours: OlderThanHours = 24) -> PoolPage:
        return await pool.stuck(identity.actor(ActionPath.API), older_than_hours=older_than_hours)

    @api_get("/policy", "getCooldownPolicy", "Whether accounts are held in Cooldown after cleanup, and for how long")
    async def get_policy(self, pool: Pool, identity: SignedIn) -> CooldownPolicy:
        return (await pool.policy(identity.actor(ActionPath.API))).policy or CooldownPolicy()

    @api_put(
        "/policy",
        "setCooldownPolicy",
        f"Turn cooldown enforcement on or off and set its period in hours ({COOLDOWN_HOURS_MIN}-{COOLDOWN_HOURS_MAX})",
        guards=[requires(Permission.UPDATE_CONFIG)],
        problems=(401, 403, 409, 413, 422, 502, 503),
    )
    async def set_policy(
        self, pool: Pool, identity: SignedIn, data: JSONBody[PolicyUpdate], key: ActionKey
    ) -> CooldownPolicy:
        reply = await pool.set_policy(identity, data, path=ActionPath.API, idempotency_key=key)
        return reply.policy or CooldownPolicy()

    @api_get(
        "/policy/cost-estimate",
        "getCostReadEstimate",
        "What the policy's Cost Explorer reads of lease costs are expected to cost a month (about $0.01 a request)",
    )
    async def cost_estimate(self, pool: Pool, identity: SignedIn) -> RequestEstimate:
        estimate = (await pool.policy(identity.actor(ActionPath.API))).request_estimate
        if estimate is None:
            raise ProblemException(502, "The cooldown service answered without a request estimate.")
        return estimate

    @api_get("/wait-list", "listWaitList", "Leases waiting for an account, first in line first, with the expected time")
    async def wait_list(self, pool: Pool, identity: SignedIn, limit: Limit = 100) -> WaitListReply:
        return await pool.wait_list(identity.actor(ActionPath.API), limit=limit)
