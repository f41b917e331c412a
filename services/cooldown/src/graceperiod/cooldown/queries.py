"""Read-only queries of the pool: lists, one account with its history, the policy (with what
its Cost Explorer reads cost), stuck accounts, the wait-list."""

from __future__ import annotations

from datetime import timedelta

from graceperiod.contracts.base import identifier_problem
from graceperiod.contracts.cooldown import (
    AccountListReply,
    AccountReply,
    CooldownQuery,
    GetAccount,
    GetCooldownPolicy,
    ListAccounts,
    ListStuckAccounts,
    PolicyReply,
)
from graceperiod.contracts.rpc import ErrorCode, Problem
from graceperiod.contracts.wait_list import GetWaitRequest, ListWaitList, WaitListReply, WaitReply
from graceperiod.cooldown.change_protocol import ChangeProtocol, Use
from graceperiod.cooldown.costs import CostReads
from graceperiod.cooldown.domain.listing import cursor_after, parse_cursor
from graceperiod.cooldown.domain.views import account_view
from graceperiod.cooldown.waits import WaitList

Reply = AccountListReply | AccountReply | PolicyReply | WaitListReply | WaitReply


class Queries(Use):
    def __init__(self, changes: ChangeProtocol, *, costs: CostReads, waits: WaitList) -> None:
        super().__init__(changes)
        self._costs = costs
        self._waits = waits

    async def answer(self, query: CooldownQuery) -> Reply:
        if isinstance(query, ListAccounts):
            return await self.page(query)
        if isinstance(query, GetAccount):
            return await self.account(query)
        if isinstance(query, GetCooldownPolicy):
            policy = await self._store.policy()
            return PolicyReply(policy=policy, request_estimate=await self._costs.estimate(policy))
        if isinstance(query, ListWaitList):
            return await self._waits.views(limit=query.limit)
        if isinstance(query, GetWaitRequest):
            return await self.wait_request(query)
        return await self.stuck(query)

    async def page(self, query: ListAccounts) -> AccountListReply:
        try:
            after = parse_cursor(query.cursor, query.status) if query.cursor else None
        except ValueError as exc:
            return AccountListReply(problem=Problem(code=ErrorCode.INVALID, message=f"cursor: {exc}"))
        found = await self._store.page(status=query.status, after=after, limit=query.limit + 1)
        items = found[: query.limit]
        more = len(found) > query.limit
        now = self._clock.now()
        return AccountListReply(
            items=[account_view(a, now=now) for a in items],
            next_cursor=cursor_after(items[-1], query.status) if more else None,
        )

    async def account(self, query: GetAccount) -> AccountReply:
        account = await self._store.get(query.account_id)
        if account is None:
            return AccountReply()
        changes = await self._store.recent_changes(
            account.account_id, up_to=account.version, count=self._options.history_limit
        )
        history = [t for c in changes for t in c.transitions]
        return AccountReply(account=account_view(account, history, now=self._clock.now()))

    async def stuck(self, query: ListStuckAccounts) -> AccountListReply:
        before = self._clock.now() - timedelta(hours=query.older_than_hours)
        found = await self._store.stuck(since_before=before, limit=self._options.stuck_limit)
        return AccountListReply(items=[account_view(a) for a in found])

    async def wait_request(self, query: GetWaitRequest) -> WaitReply:
        if problem := identifier_problem(query.lease_id, what="lease id"):
            return WaitReply(problem=Problem(code=ErrorCode.INVALID, message=problem))
        request = await self._waits.get(query.lease_id)
        if request is None:
            message = f"lease {query.lease_id} has no wait request"
            return WaitReply(problem=Problem(code=ErrorCode.NOT_FOUND, message=message))
        return await self._waits.view(request)
