"""The sandbox account pool as the gateway shows it: the cooldown service's accounts with the
time left in Cooldown (by the gateway's clock) and the last lease's cost, early release, the
cooldown policy (with what its Cost Explorer reads cost), the wait-list."""

from __future__ import annotations

import asyncio
from datetime import datetime

from graceperiod.contracts import cooldown
from graceperiod.contracts.enums import ActionPath
from graceperiod.contracts.rpc import Actor
from graceperiod.contracts.wait_list import ListWaitList, WaitListReply
from graceperiod.gateway.audit import AuditTrail
from graceperiod.gateway.auth.identity import Identity
from graceperiod.gateway.clients import COOLDOWN, ServiceClients
from graceperiod.gateway.pool.schemas import PolicyUpdate, PoolAccount, PoolPage, ReleaseResult
from graceperiod.gateway.web.commands import ensure_accepted
from graceperiod.gateway.web.problems import ProblemException, ensure_ok
from graceperiod.runtime.clock import Clock

#: Shown wherever an account is released before its cooldown ends.
RELEASE_WARNING = (
    "Releasing an account before its cooldown ends means costs of the last lease that AWS has not "
    "reported yet may be attributed to the next tenant: billing attribution may be inaccurate."
)


def pool_account(view: cooldown.AccountView, now: datetime) -> PoolAccount:
    remaining = None
    if view.status is cooldown.AccountStatus.COOLDOWN and view.cooldown_until is not None:
        remaining = max(0, int((view.cooldown_until - now).total_seconds()))
    return PoolAccount(**view.model_dump(), cooldown_remaining_seconds=remaining)


class PoolService:
    def __init__(self, clients: ServiceClients, audit: AuditTrail, clock: Clock) -> None:
        self._clients = clients
        self._audit = audit
        self.clock = clock

    async def accounts(
        self, actor: Actor, *, status: cooldown.AccountStatus | None, limit: int, cursor: str | None = None
    ) -> PoolPage:
        """A page of the pool (Cooldown accounts alone come by the time left, soonest first)."""
        query = cooldown.ListAccounts(actor=actor, status=status, limit=limit, cursor=cursor)
        return self._page(ensure_ok(await self._clients.list_accounts(query), COOLDOWN))

    async def by_status(
        self, actor: Actor, *, statuses: list[cooldown.AccountStatus], limit: int, cursor: str | None = None
    ) -> dict[cooldown.AccountStatus, PoolPage]:
        """A page of each status, each in its own order (``cursor``: of a single status)."""
        pages = await asyncio.gather(*(self.accounts(actor, status=s, limit=limit, cursor=cursor) for s in statuses))
        return dict(zip(statuses, pages, strict=True))

    async def stuck(self, actor: Actor, *, older_than_hours: float) -> PoolPage:
        query = cooldown.ListStuckAccounts(actor=actor, older_than_hours=older_than_hours)
        return self._page(ensure_ok(await self._clients.list_stuck_accounts(query), COOLDOWN))

    async def account(self, actor: Actor, account_id: str) -> PoolAccount:
        reply = ensure_ok(
            await self._clients.get_account(cooldown.GetAccount(actor=actor, account_id=account_id)), COOLDOWN
        )
        if reply.account is None:
            raise ProblemException(404, f"There is no account {account_id} in the pool.", code="not-found")
        return pool_account(reply.account, self.clock.now())

    async def policy(self, actor: Actor) -> cooldown.PolicyReply:
        return ensure_ok(await self._clients.get_cooldown_policy(cooldown.GetCooldownPolicy(actor=actor)), COOLDOWN)

    async def release(
        self, identity: Identity, account_id: str, *, reason: str, path: ActionPath, idempotency_key: str
    ) -> ReleaseResult:
        command = cooldown.ReleaseAccountEarly(
            actor=identity.actor(path), idempotency_key=idempotency_key, account_id=account_id, reason=reason
        )
        reply = await self._clients.release_account_early(command)
        await self._audit.record(command.actor, command.kind, account_id, reply.status, reply.message)
        ensure_accepted(reply, COOLDOWN)
        return ReleaseResult(
            status=reply.status,
            message=reply.message,
            account=pool_account(reply.account, self.clock.now()) if reply.account else None,
            warning=reply.warning or RELEASE_WARNING,
        )

    async def set_policy(
        self, identity: Identity, update: PolicyUpdate, *, path: ActionPath, idempotency_key: str
    ) -> cooldown.PolicyReply:
        changes = update.model_dump(exclude_none=True)
        command = cooldown.SetCooldownPolicy(actor=identity.actor(path), idempotency_key=idempotency_key, **changes)
        reply = ensure_ok(await self._clients.set_cooldown_policy(command), COOLDOWN)
        summary = " ".join(f"{name}={value}" for name, value in changes.items() if name != "settled")
        await self._audit.record(command.actor, command.kind, "cooldown-policy", "done", summary)
        return reply

    async def wait_list(self, actor: Actor, *, limit: int = 100) -> WaitListReply:
        return ensure_ok(await self._clients.list_wait_list(ListWaitList(actor=actor, limit=limit)), COOLDOWN)

    def _page(self, reply: cooldown.AccountListReply) -> PoolPage:
        now = self.clock.now()
        return PoolPage(items=[pool_account(a, now) for a in reply.items], next_cursor=reply.next_cursor, as_of=now)
