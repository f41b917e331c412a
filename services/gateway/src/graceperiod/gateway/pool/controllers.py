"""The sandbox account pool (cooldown service): accounts by status with the time left in
Cooldown, early release, the cooldown policy."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar import Controller, get, post, put
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter

from graceperiod.contracts.cooldown import (
    COOLDOWN_HOURS_MAX,
    COOLDOWN_HOURS_MIN,
    AccountStatus,
    AccountView,
    CooldownPolicy,
    GetAccount,
    GetCooldownPolicy,
    ListAccounts,
    ListStuckAccounts,
)
from graceperiod.contracts.enums import ActionPath, Permission
from graceperiod.gateway.auth.guards import requires
from graceperiod.gateway.auth.identity import Identity
from graceperiod.gateway.purchases.service import COOLDOWN, Actions
from graceperiod.gateway.web.params import AccountId, Cursor, IdempotencyKey, idempotency, optional_choice
from graceperiod.gateway.web.problems import ProblemException, ensure_ok, problem_responses
from graceperiod.gateway.web.schemas import PolicyUpdate, PoolAccount, PoolPage, ReleaseRequest, ReleaseResult

#: Shown wherever an account is released before its cooldown ends.
RELEASE_WARNING = (
    "Releasing an account before its cooldown ends means costs of the last lease that AWS has not "
    "reported yet may be attributed to the next tenant: billing attribution may be inaccurate."
)


def pool_account(view: AccountView, now: datetime) -> PoolAccount:
    remaining = None
    if view.status is AccountStatus.COOLDOWN and view.cooldown_until is not None:
        remaining = max(0, int((view.cooldown_until - now).total_seconds()))
    return PoolAccount(**view.model_dump(), cooldown_remaining_seconds=remaining)


class PoolController(Controller):
    path = "/api/pool"
    tags = ["account pool"]  # noqa: RUF012 - Litestar reads a class attribute

    @get(
        "/accounts",
        operation_id="listPoolAccounts",
        summary="Sandbox accounts, optionally of one status, with the time left in Cooldown",
        responses=problem_responses(401, 429, 502, 503),
    )
    async def list_accounts(
        self,
        *,
        actions: NamedDependency[Actions],
        identity: NamedDependency[Identity],
        status: Annotated[AccountStatus | None, QueryParameter(schema_extra=optional_choice(AccountStatus))] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
        cursor: Cursor = None,
    ) -> PoolPage:
        reply = ensure_ok(
            await actions.clients.list_accounts(
                ListAccounts(actor=identity.actor(ActionPath.API), status=status, limit=limit, cursor=cursor)
            ),
            COOLDOWN,
        )
        now = actions.clock.now()
        return PoolPage(items=[pool_account(a, now) for a in reply.items], next_cursor=reply.next_cursor, as_of=now)

    @get(
        "/accounts/{account_id:str}",
        operation_id="getPoolAccount",
        summary="One sandbox account with its status history",
        responses=problem_responses(401, 404, 429, 502, 503),
    )
    async def get_account(
        self,
        *,
        actions: NamedDependency[Actions],
        identity: NamedDependency[Identity],
        account_id: AccountId,
    ) -> PoolAccount:
        reply = ensure_ok(
            await actions.clients.get_account(GetAccount(actor=identity.actor(ActionPath.API), account_id=account_id)),
            COOLDOWN,
        )
        if reply.account is None:
            raise ProblemException(404, f"There is no account {account_id} in the pool.", code="not-found")
        return pool_account(reply.account, actions.clock.now())

    @post(
        "/accounts/{account_id:str}/release",
        operation_id="releaseAccountEarly",
        summary="Move a Cooldown account to Available now (billing attribution may be inaccurate)",
        description=RELEASE_WARNING,
        guards=[requires(Permission.RELEASE_ANY_ACCOUNTS)],
        status_code=200,
        responses=problem_responses(401, 403, 404, 409, 413, 422, 502, 503),
    )
    async def release(
        self,
        *,
        actions: NamedDependency[Actions],
        identity: NamedDependency[Identity],
        account_id: AccountId,
        data: JSONBody[ReleaseRequest],
        idempotency_key: IdempotencyKey = None,
    ) -> ReleaseResult:
        reply = await actions.release_account(
            identity, account_id, reason=data.reason, path=ActionPath.API, idempotency_key=idempotency(idempotency_key)
        )
        return ReleaseResult(
            status=reply.status,
            message=reply.message,
            account=pool_account(reply.account, actions.clock.now()) if reply.account else None,
            warning=reply.warning or RELEASE_WARNING,
        )

    @get(
        "/stuck",
        operation_id="listStuckAccounts",
        summary="Accounts in CleanUp or Quarantine for longer than the given hours",
        responses=problem_responses(401, 429, 502, 503),
    )
    async def stuck(
        self,
        *,
        actions: NamedDependency[Actions],
        identity: NamedDependency[Identity],
        older_than_hours: Annotated[float, QueryParameter(gt=0, le=24 * 365)] = 24,
    ) -> PoolPage:
        reply = ensure_ok(
            await actions.clients.list_stuck_accounts(
                ListStuckAccounts(actor=identity.actor(ActionPath.API), older_than_hours=older_than_hours)
            ),
            COOLDOWN,
        )
        now = actions.clock.now()
        return PoolPage(items=[pool_account(a, now) for a in reply.items], next_cursor=reply.next_cursor, as_of=now)

    @get(
        "/policy",
        operation_id="getCooldownPolicy",
        summary="Whether accounts are held in Cooldown after cleanup, and for how long",
        responses=problem_responses(401, 429, 502, 503),
    )
    async def get_policy(
        self, actions: NamedDependency[Actions], identity: NamedDependency[Identity]
    ) -> CooldownPolicy:
        reply = ensure_ok(
            await actions.clients.get_cooldown_policy(GetCooldownPolicy(actor=identity.actor(ActionPath.API))), COOLDOWN
        )
        return reply.policy or CooldownPolicy()

    @put(
        "/policy",
        operation_id="setCooldownPolicy",
        summary=(
            "Turn cooldown enforcement on or off and set its period in hours "
            f"({COOLDOWN_HOURS_MIN}-{COOLDOWN_HOURS_MAX})"
        ),
        guards=[requires(Permission.UPDATE_CONFIG)],
        responses=problem_responses(401, 403, 413, 422, 502, 503),
    )
    async def set_policy(
        self,
        *,
        actions: NamedDependency[Actions],
        identity: NamedDependency[Identity],
        data: JSONBody[PolicyUpdate],
        idempotency_key: IdempotencyKey = None,
    ) -> CooldownPolicy:
        reply = await actions.set_policy(
            identity,
            enforce=data.enforce_account_cooldown,
            hours=data.cooldown_period_hours,
            path=ActionPath.API,
            idempotency_key=idempotency(idempotency_key),
        )
        return reply.policy or CooldownPolicy(
            enforce_account_cooldown=data.enforce_account_cooldown, cooldown_period_hours=data.cooldown_period_hours
        )
