"""Read-only queries of the pool: lists, one account with its history, the policy, stuck accounts."""

from __future__ import annotations

from datetime import timedelta

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
from graceperiod.cooldown.change_protocol import Use
from graceperiod.cooldown.domain.views import account_view


class Queries(Use):
    async def answer(self, query: CooldownQuery) -> AccountListReply | AccountReply | PolicyReply:
        if isinstance(query, ListAccounts):
            return await self.page(query)
        if isinstance(query, GetAccount):
            return await self.account(query)
        if isinstance(query, GetCooldownPolicy):
            return PolicyReply(policy=await self._store.policy())
        return await self.stuck(query)

    async def page(self, query: ListAccounts) -> AccountListReply:
        found = await self._store.page(status=query.status, after_id=query.cursor, limit=query.limit + 1)
        items = found[: query.limit]
        more = len(found) > query.limit
        return AccountListReply(
            items=[account_view(a) for a in items], next_cursor=items[-1].account_id if more else None
        )

    async def account(self, query: GetAccount) -> AccountReply:
        account = await self._store.get(query.account_id)
        if account is None:
            return AccountReply()
        changes = await self._store.recent_changes(
            account.account_id, up_to=account.version, count=self._options.history_limit
        )
        return AccountReply(account=account_view(account, [t for c in changes for t in c.transitions]))

    async def stuck(self, query: ListStuckAccounts) -> AccountListReply:
        before = self._clock.now() - timedelta(hours=query.older_than_hours)
        found = await self._store.stuck(since_before=before, limit=self._options.stuck_limit)
        return AccountListReply(items=[account_view(a) for a in found])
