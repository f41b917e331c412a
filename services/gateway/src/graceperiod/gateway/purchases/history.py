"""What a History view asks for: search, filters, sort and order, the same for the dashboard's
table, its CSV export and ``GET /api/purchases``. The revocation service applies them over all
purchases; this module only reads them from a request and writes them back into links.

The JSON API reads them strictly (a bad value is a 400 naming the parameter); the dashboard
reads them leniently: a value it cannot use is left out, and the page says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, Final
from urllib.parse import urlencode

from graceperiod.contracts.revocation import PurchaseFilters, PurchaseSort
from graceperiod.contracts.revocation_views import Phase, PurchaseSource
from graceperiod.contracts.rpc import Actor

#: The History's columns: the sort each one stands for, and its heading.
COLUMNS: Final[tuple[tuple[PurchaseSort, str], ...]] = (
    (PurchaseSort.PURCHASE_ID, "Purchase"),
    (PurchaseSort.COMMITMENT_ID, "Commitment id"),
    (PurchaseSort.ACCOUNT, "Account"),
    (PurchaseSort.PRODUCT, "Product"),
    (PurchaseSort.COMMITMENT, "Commitment"),
    (PurchaseSort.UPFRONT, "Upfront"),
    (PurchaseSort.EXECUTED, "Executed"),
    (PurchaseSort.DEADLINE, "Deadline"),
    (PurchaseSort.STATE, "State"),
    (PurchaseSort.ACTION, "Action"),
)
#: Columns first sorted largest or newest first; the others A→Z, soonest first.
DESCENDING_FIRST: Final = frozenset({PurchaseSort.EXECUTED, PurchaseSort.UPFRONT})
MAX_EXPIRING_HOURS: Final = 24 * 366


class SortOrder(StrEnum):
    ASC = "asc"
    DESC = "desc"


@dataclass(frozen=True)
class HistoryQuery:
    search: str | None = None
    account_id: str | None = None
    phase: Phase | None = None
    source: PurchaseSource | None = None
    executed_from: date | None = None
    """Executed on this day (UTC) or later."""
    executed_to: date | None = None
    """Executed on this day (UTC) or earlier."""
    expiring_within_hours: int | None = None
    mine: bool = False
    sort: PurchaseSort = PurchaseSort.EXECUTED
    descending: bool = True
    ignored: tuple[str, ...] = field(default=(), compare=False)
    """What the dashboard left out, in words (values it could not use)."""

    @property
    def filtered(self) -> bool:
        return any(
            (self.search, self.account_id, self.phase, self.source, self.executed_from, self.executed_to)
        ) or bool(self.expiring_within_hours or self.mine)

    def filters(self, actor: Actor) -> dict[str, Any]:
        """The contract's :class:`PurchaseFilters` fields for ``actor``."""
        chosen = PurchaseFilters(
            account_id=self.account_id,
            phase=self.phase,
            requested_by_user_id=actor.user_id if self.mine else None,
            search=self.search,
            source=self.source,
            executed_from=_start(self.executed_from),
            executed_before=_start(self.executed_to + timedelta(days=1)) if self.executed_to else None,
            expiring_within_hours=self.expiring_within_hours,
            sort=self.sort,
            descending=self.descending,
        )
        return chosen.model_dump(exclude_defaults=True)

    def params(self, **changes: Any) -> dict[str, str]:
        """The query-string parameters that ask for this view again (with ``changes``)."""
        query = replace(self, **changes)
        values: dict[str, object] = {
            "search": query.search,
            "account_id": query.account_id,
            "phase": query.phase,
            "source": query.source,
            "executed_from": query.executed_from,
            "executed_to": query.executed_to,
            "expiring_within_hours": query.expiring_within_hours,
            "mine": "true" if query.mine else None,
            "sort": query.sort if query.sort is not PurchaseSort.EXECUTED else None,
            "order": _order(query),
        }
        return {name: str(value) for name, value in values.items() if value is not None}

    def query_string(self, **changes: Any) -> str:
        return urlencode(self.params(**changes))

    def sorted_by(self, column: PurchaseSort) -> HistoryQuery:
        """The view sorted by ``column``: the other way round when it is sorted so already."""
        if column is self.sort:
            return replace(self, descending=not self.descending)
        return replace(self, sort=column, descending=column in DESCENDING_FIRST)

    def aria_sort(self, column: PurchaseSort) -> str:
        if column is not self.sort:
            return "none"
        return "descending" if self.descending else "ascending"


def _start(day: date | None) -> datetime | None:
    return datetime.combine(day, time.min, tzinfo=UTC) if day else None


def _order(query: HistoryQuery) -> SortOrder | None:
    if query.descending == (query.sort in DESCENDING_FIRST):
        return None
    return SortOrder.DESC if query.descending else SortOrder.ASC


def descending(sort: PurchaseSort, order: SortOrder | None) -> bool:
    """``order``, or the column's natural direction."""
    return sort in DESCENDING_FIRST if order is None else order is SortOrder.DESC


class _Lenient:
    """Reads the dashboard's parameters, keeping what is usable and noting the rest."""

    def __init__(self, params: Mapping[str, str]) -> None:
        self.params = params
        self.ignored: list[str] = []

    def text(self, name: str, limit: int = 128) -> str | None:
        value = self.params.get(name, "").strip()
        if len(value) > limit:
            self.ignored.append(f"{name} (longer than {limit} characters)")
            return None
        return value or None

    def choice(self, name: str, kind: Any, what: str) -> Any:
        value = self.text(name)
        if value is None:
            return None
        try:
            return kind(value)
        except ValueError:
            self.ignored.append(f"{what} {value!r} (not one of the choices)")
            return None

    def day(self, name: str, what: str) -> date | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            self.ignored.append(f"{what} {value!r} (not a date such as 2026-05-31)")
            return None

    def hours(self, name: str) -> int | None:
        value = self.text(name)
        if value is None:
            return None
        if not value.isdigit() or not 1 <= int(value) <= MAX_EXPIRING_HOURS:
            self.ignored.append(
                f"expiring within {value!r} hours (not a number of hours from 1 to {MAX_EXPIRING_HOURS})"
            )
            return None
        return int(value)


def from_page(params: Mapping[str, str]) -> HistoryQuery:
    """The History the dashboard's query string asks for; unusable values are left out and
    named in ``ignored``."""
    read = _Lenient(params)
    account = read.text("account_id")
    if account is not None and not (account.isdigit() and len(account) == 12):
        read.ignored.append(f"account {account!r} (not a 12-digit AWS account id)")
        account = None
    sort = read.choice("sort", PurchaseSort, "sort") or PurchaseSort.EXECUTED
    order = read.choice("order", SortOrder, "order")
    query = HistoryQuery(
        search=read.text("search"),
        account_id=account,
        phase=read.choice("phase", Phase, "state"),
        source=read.choice("source", PurchaseSource, "source"),
        executed_from=read.day("executed_from", "from"),
        executed_to=read.day("executed_to", "to"),
        expiring_within_hours=read.hours("expiring_within_hours"),
        mine=read.params.get("mine", "").lower() in {"true", "on", "1"},
        sort=sort,
        descending=descending(sort, order),
    )
    return replace(query, ignored=tuple(read.ignored))
