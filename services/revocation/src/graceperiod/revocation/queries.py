"""ListPurchases, GetPurchase, GetSupportCaseDraft, ListAccountAccess: views for the asking
person (their allowed actions), drafts and account access, read-only.

Identical list pages asked for at once share their database reads (:class:`SharedReads`: each
asker still gets a read that started after it asked); the views are made per asker."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from graceperiod.contracts.revocation import (
    AccountAccessReply,
    GetPurchase,
    GetSupportCaseDraft,
    ListAccountAccess,
    ListPurchases,
    PurchaseListReply,
    PurchaseReply,
    SupportCaseDraftReply,
)
from graceperiod.contracts.rpc import ErrorCode, Problem
from graceperiod.revocation.changes import Changes
from graceperiod.revocation.domain.drafts import category_for, draft_case
from graceperiod.revocation.domain.records import AccountRecord, PurchaseRecord
from graceperiod.revocation.domain.views import view_of
from graceperiod.revocation.store.purchases import decode_cursor, encode_cursor
from graceperiod.runtime.shared_reads import SharedReads

Query = ListPurchases | GetPurchase | GetSupportCaseDraft | ListAccountAccess
Reply = PurchaseListReply | PurchaseReply | SupportCaseDraftReply | AccountAccessReply


def _not_found(purchase_id: str) -> Problem:
    return Problem(code=ErrorCode.NOT_FOUND, message=f"no purchase {purchase_id}")


@dataclass(frozen=True)
class _PageKey:
    account_id: str | None
    phase: str | None
    requested_by_user_id: str | None
    limit: int
    after: tuple[datetime, str] | None


@dataclass(frozen=True)
class _Page:
    records: list[PurchaseRecord]
    accounts: dict[str, AccountRecord]


class Queries:
    def __init__(self, changes: Changes) -> None:
        self.changes = changes
        self._pages: SharedReads[_PageKey, _Page] = SharedReads(self._page)

    async def answer(self, query: Query) -> Reply:
        if isinstance(query, ListPurchases):
            return await self.list_purchases(query)
        if isinstance(query, ListAccountAccess):
            return AccountAccessReply(accounts=[a.view() for a in await self.changes.accounts.all()])
        if isinstance(query, GetPurchase):
            return await self.get_purchase(query)
        return await self.draft(query)

    async def list_purchases(self, query: ListPurchases) -> PurchaseListReply:
        try:
            after = decode_cursor(query.cursor) if query.cursor else None
        except ValueError as exc:
            return PurchaseListReply(problem=Problem(code=ErrorCode.INVALID, message=str(exc)))
        key = _PageKey(query.account_id, query.phase, query.requested_by_user_id, query.limit, after)
        page = await self._pages(key)
        records = page.records[: query.limit]
        more = len(page.records) > query.limit
        cursor = encode_cursor(records[-1].purchase.executed_at, records[-1].purchase_id) if more else None
        now = self.changes.now()
        items = [view_of(r, page.accounts.get(r.account_id), query.actor, now) for r in records]
        return PurchaseListReply(items=items, next_cursor=cursor)

    async def _page(self, key: _PageKey) -> _Page:
        """The page's purchases (one more than asked: is there a next page?) and their accounts."""
        records = await self.changes.purchases.page(
            account_id=key.account_id,
            phase=key.phase,
            requested_by_user_id=key.requested_by_user_id,
            limit=key.limit + 1,
            after=key.after,
        )
        # One read for the page's accounts, not one per purchase.
        accounts = await self.changes.accounts.by_ids({r.account_id for r in records[: key.limit]})
        return _Page(records, accounts)

    async def get_purchase(self, query: GetPurchase) -> PurchaseReply:
        record = await self.changes.purchases.get(query.purchase_id)
        if record is None:
            return PurchaseReply(problem=_not_found(query.purchase_id))
        account = await self.changes.accounts.get(record.account_id)
        return PurchaseReply(purchase=view_of(record, account, query.actor, self.changes.now()))

    async def draft(self, query: GetSupportCaseDraft) -> SupportCaseDraftReply:
        record = await self.changes.purchases.get(query.purchase_id)
        if record is None:
            return SupportCaseDraftReply(problem=_not_found(query.purchase_id))
        account = await self.changes.accounts.get(record.account_id)
        category = category_for(record.purchase.commitment.kind, account.categories if account else None)
        return SupportCaseDraftReply(draft=draft_case(record.purchase, category_code=category))
