"""ListPurchases, ExportPurchases, SummarizePurchases, GetPurchase, GetSupportCaseDraft,
ListAccountAccess, GetOrganizationView: views for the asking person (their allowed actions),
export rows, the money at a glance, drafts, account access and discovery, and an organisation's
view, read-only. A purchase is found by its id or by an alias of it.

Identical list pages asked for at once share their database reads (:class:`SharedReads`: each
asker still gets a read that started after it asked); the views are made per asker."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from graceperiod.contracts.enums import Provider
from graceperiod.contracts.links import LinkClaims
from graceperiod.contracts.revocation import (
    AccountAccessReply,
    ExportPurchases,
    GetOrganizationView,
    GetPurchase,
    GetSupportCaseDraft,
    ListAccountAccess,
    ListPurchases,
    OrganizationViewReply,
    PurchaseFilters,
    PurchaseListReply,
    PurchaseReply,
    PurchaseRow,
    PurchaseRowsReply,
    PurchaseSummaryReply,
    SummarizePurchases,
    SupportCaseDraftReply,
)
from graceperiod.contracts.rpc import ErrorCode, Problem
from graceperiod.revocation.changes import Changes
from graceperiod.revocation.domain.authorization import Asker
from graceperiod.revocation.domain.drafts import NO_SUPPORT_CASES, category_for, draft_case
from graceperiod.revocation.domain.lifecycle import assessment
from graceperiod.revocation.domain.listing import Position, sort_keys
from graceperiod.revocation.domain.records import AccountRecord, PurchaseRecord
from graceperiod.revocation.domain.returns import allowance, is_savings_plan, tally_key
from graceperiod.revocation.domain.views import view_of
from graceperiod.revocation.organizations import OrganizationReads
from graceperiod.revocation.store.listing import PurchaseListing
from graceperiod.runtime.shared_reads import SharedReads

Query = (
    ListPurchases
    | ExportPurchases
    | SummarizePurchases
    | GetPurchase
    | GetSupportCaseDraft
    | ListAccountAccess
    | GetOrganizationView
)
Reply = (
    PurchaseListReply
    | PurchaseRowsReply
    | PurchaseSummaryReply
    | PurchaseReply
    | SupportCaseDraftReply
    | AccountAccessReply
    | OrganizationViewReply
)


def _not_found(purchase_id: str) -> Problem:
    return Problem(code=ErrorCode.NOT_FOUND, message=f"no purchase {purchase_id}")


def _invalid(exc: ValueError) -> Problem:
    return Problem(code=ErrorCode.INVALID, message=str(exc))


def _next(records: Sequence[PurchaseRecord | PurchaseRow], query: ListPurchases | ExportPurchases) -> str | None:
    """The cursor after the last of ``records`` (read one more than the page: there is more)."""
    if len(records) <= query.limit:
        return None
    last = records[query.limit - 1]
    return Position(
        query.sort, query.descending, sort_keys(last.purchase, last.phase, last.windows)[query.sort]
    ).encode()


def _row(record: PurchaseRecord, account: AccountRecord | None, now: datetime) -> PurchaseRow:
    """A row with the phase worked out now, as a view shows it."""
    phase = assessment(record, account, now).phase
    return PurchaseRow(purchase=record.purchase, phase=phase, windows=record.windows, aws_state=record.aws.state)


@dataclass(frozen=True)
class _PageKey:
    filters: str
    """The page's :class:`PurchaseFilters`, as JSON (hashable, equal when the filters are)."""
    limit: int
    after: Position | None


@dataclass(frozen=True)
class _Page:
    records: list[PurchaseRecord]
    accounts: dict[str, AccountRecord]


class Queries:
    def __init__(
        self, changes: Changes, listing: PurchaseListing, organizations: OrganizationReads | None = None
    ) -> None:
        self.changes = changes
        self.listing = listing
        self.organizations = organizations
        self._pages: SharedReads[_PageKey, _Page] = SharedReads(self._page)

    async def answer(self, query: Query, link: LinkClaims | None = None) -> Reply:  # noqa: PLR0911 - one answer per query
        """Answer ``query`` (its actor verified, ``link`` the verified email link it acts on)."""
        if isinstance(query, ListPurchases):
            return await self.list_purchases(query)
        if isinstance(query, ExportPurchases):
            return await self.export(query)
        if isinstance(query, SummarizePurchases):
            return await self.summary()
        if isinstance(query, GetOrganizationView):
            return await self.organization_view(query)
        if isinstance(query, ListAccountAccess):
            return AccountAccessReply(accounts=[a.view() for a in await self.changes.accounts.all()])
        if isinstance(query, GetPurchase):
            return await self.get_purchase(query, Asker(query.actor, link))
        return await self.draft(query)

    async def organization_view(self, query: GetOrganizationView) -> OrganizationViewReply:
        if self.organizations is None:  # a reader of purchases only (tests)
            return OrganizationViewReply(problem=Problem(code=ErrorCode.UNAVAILABLE, message="no organisation views"))
        return await self.organizations.view(query)

    async def list_purchases(self, query: ListPurchases) -> PurchaseListReply:
        """One page of the History: the filters and the sort applied over all purchases."""
        try:
            after = Position.decode(query.cursor, query) if query.cursor else None
        except ValueError as exc:
            return PurchaseListReply(problem=_invalid(exc))
        filters = PurchaseFilters.model_validate(query.model_dump(include=set(PurchaseFilters.model_fields)))
        page = await self._pages(_PageKey(filters.model_dump_json(), query.limit, after))
        cursor, records = _next(page.records, query), page.records[: query.limit]
        now = self.changes.now()
        asker = Asker(query.actor)
        items = [view_of(r, page.accounts.get(r.account_id), asker, now) for r in records]
        return PurchaseListReply(items=items, next_cursor=cursor)

    async def _page(self, key: _PageKey) -> _Page:
        """The page's purchases (one more than asked: is there a next page?) and their accounts."""
        filters = PurchaseFilters.model_validate_json(key.filters)
        records = await self.listing.page(filters, after=key.after, limit=key.limit + 1, now=self.changes.now())
        # One read for the page's accounts, not one per purchase.
        accounts = await self.changes.accounts.by_ids({r.account_id for r in records[: key.limit]})
        return _Page(records, accounts)

    async def export(self, query: ExportPurchases) -> PurchaseRowsReply:
        """Rows of the same selection, without timelines and audits, for a CSV export: as
        stored (``store.listing.stored_row``), one read a page; asked for ``csv_lines``, each
        row's CSV line as listed instead."""
        try:
            after = Position.decode(query.cursor, query) if query.cursor else None
        except ValueError as exc:
            return PurchaseRowsReply(problem=_invalid(exc))
        if query.csv_lines:
            lines = await self.listing.lines(query, after=after, limit=query.limit + 1, now=self.changes.now())
            more = len(lines) > query.limit
            cursor = Position(query.sort, query.descending, lines[query.limit - 1][1]).encode() if more else None
            return PurchaseRowsReply(lines=[line for line, _ in lines[: query.limit]], next_cursor=cursor)
        rows = await self.listing.rows(query, after=after, limit=query.limit + 1, now=self.changes.now())
        return PurchaseRowsReply(items=rows[: query.limit], next_cursor=_next(rows, query))

    async def summary(self) -> PurchaseSummaryReply:
        """What is refundable now, and the next deadline, over all purchases."""
        now = self.changes.now()
        refundable = await self.listing.refundable(now)
        nearest = await self.listing.next_deadline(now)
        account = await self.changes.accounts.get(nearest.account_id) if nearest else None
        return PurchaseSummaryReply(
            refundable=refundable, next_deadline=_row(nearest, account, now) if nearest else None
        )

    async def get_purchase(self, query: GetPurchase, asker: Asker) -> PurchaseReply:
        record = await self.changes.find(query.purchase_id)
        if record is None:
            return PurchaseReply(problem=_not_found(query.purchase_id))
        account = await self.changes.accounts.get(record.account_id)
        view = view_of(record, account, asker, self.changes.now())
        returns = allowance(record, account, await self._returns_counted(record, account))
        return PurchaseReply(purchase=view.model_copy(update={"returns": returns}))

    async def _returns_counted(self, record: PurchaseRecord, account: AccountRecord | None) -> int:
        """The Savings Plan returns made or found this year against the purchase's management
        account (only its own account's while that is unknown): one read of its tally."""
        if not is_savings_plan(record):
            return 0
        return await self.changes.purchases.returns.counted(tally_key(record, account))

    async def draft(self, query: GetSupportCaseDraft) -> SupportCaseDraftReply:
        record = await self.changes.find(query.purchase_id)
        if record is None:
            return SupportCaseDraftReply(problem=_not_found(query.purchase_id))
        if record.provider is not Provider.AWS:
            problem = Problem(code=ErrorCode.CONFLICT, message=NO_SUPPORT_CASES)
            return SupportCaseDraftReply(problem=problem)
        account = await self.changes.accounts.get(record.account_id)
        kind = record.purchase.aws_product()[1].kind
        category = category_for(kind, account.categories if account else None)
        return SupportCaseDraftReply(draft=draft_case(record.purchase, category_code=category))
