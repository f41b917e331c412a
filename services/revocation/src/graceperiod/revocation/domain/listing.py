"""How the History lists purchases: which ones a filter selects, in which order, and where a
page ends. Pure: the store turns these rules into an indexed MongoDB query, the in-memory
test double applies them as they are, and a test checks both agree.

Order. Every sortable column has a *sort key*: one string per purchase, unique (the purchase
id ends it), whose plain string order is the column's order. Stored at the top level of the
purchase's document with an index of its own, it lets the database read any sort in index
order and stop after one page, and makes a cursor one value: where the last page ended. (A
compound index would do on MongoDB; the local FerretDB reads index order only on a sort's
first field, so a low-variety column such as the state would otherwise be read whole.)

The state, the action and the deadline come from the phase as of the purchase's last change:
the revocation service writes a purchase at each window edge (on the next tick), so they
follow the clock within a tick. Views still work the phase out live.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Final

from graceperiod.contracts.refunds import RefundEstimate
from graceperiod.contracts.revocation import PurchaseFilters, PurchaseSort
from graceperiod.contracts.revocation_views import Phase, PurchaseSource, Windows
from graceperiod.contracts.upstream import PurchaseExecuted

#: Between the parts of a sort key: below every printable character, so ``"ab"`` sorts
#: after ``"a"`` whatever follows each.
SEP: Final = "\x1f"
#: Stands for "no deadline": after every instant.
NEVER: Final = "~"

#: The state column's order: what can still be done first, finished purchases last.
STATE_ORDER: Final[tuple[Phase, ...]] = (
    Phase.SELF_SERVICE,
    Phase.SUPPORT_CASE,
    Phase.SUPPORT_UNAVAILABLE,
    Phase.REVOCATION_PENDING,
    Phase.CASE_OPEN,
    Phase.FAILED,
    Phase.CASE_RESOLVED,
    Phase.REVOKED,
    Phase.CLOSED,
)
#: The action column's order: revoke, file a support case, mark a case resolved, nothing.
ACTION_ORDER: Final[dict[Phase, int]] = {Phase.SELF_SERVICE: 0, Phase.SUPPORT_CASE: 1, Phase.CASE_OPEN: 2}

#: The top-level field holding each sort's key.
SORT_FIELDS: Final[dict[PurchaseSort, str]] = {
    sort: "purchase_id" if sort is PurchaseSort.PURCHASE_ID else f"sort_{sort.value.replace('-', '_')}"
    for sort in PurchaseSort
}


def instant_key(at: datetime | None) -> str:
    """``2026-05-01T12:00:00.000Z`` (fixed width, so string order is time order), or :data:`NEVER`."""
    if at is None:
        return NEVER
    utc = at.astimezone(UTC)  # the year padded too: strftime leaves years before 1000 short
    return f"{utc.year:04d}-" + utc.strftime("%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def amount_key(amount: Decimal) -> str:
    """A non-negative amount as fixed-width digits (18 before the point, 8 after)."""
    whole, _, fraction = f"{amount.quantize(Decimal('1e-8')):f}".partition(".")
    return f"{int(whole):018d}.{fraction:0<8}"


def _key(*parts: str) -> str:
    return SEP.join(parts)


def sort_keys(purchase: PurchaseExecuted, phase: Phase, windows: Windows) -> dict[PurchaseSort, str]:
    """Every column's sort key for one purchase."""
    pid = purchase.purchase_id
    deadline = instant_key(windows.deadline(phase))
    return {
        PurchaseSort.PURCHASE_ID: pid,
        PurchaseSort.COMMITMENT_ID: _key(purchase.commitment_id.casefold(), pid),
        PurchaseSort.ACCOUNT: _key(purchase.account.name.casefold(), purchase.account.id, pid),
        PurchaseSort.PRODUCT: _key(purchase.provider, purchase.product, purchase.sku.casefold(), pid),
        PurchaseSort.COMMITMENT: _key(
            _kind(purchase), f"{purchase.term_months:04d}", purchase.payment_option.casefold(), pid
        ),
        PurchaseSort.UPFRONT: _key(amount_key(purchase.cost.upfront), purchase.cost.currency, pid),
        PurchaseSort.EXECUTED: _key(instant_key(purchase.executed_at), pid),
        PurchaseSort.DEADLINE: _key(deadline, pid),
        PurchaseSort.STATE: _key(f"{STATE_ORDER.index(phase):02d}", deadline, pid),
        PurchaseSort.ACTION: _key(f"{ACTION_ORDER.get(phase, 9):02d}", deadline, pid),
    }


def _kind(purchase: PurchaseExecuted) -> str:
    """The commitment's kind as the wire names it (an AWS kind, or an Azure benefit)."""
    return purchase.commitment.kind if purchase.commitment is not None else purchase.azure_product().kind


def found_by(purchase: PurchaseExecuted, term: str) -> bool:
    """Whether a search for ``term`` finds this purchase: its purchase id or account id, or
    (ignoring case) its commitment id or account name."""
    term = term.strip()
    folded = term.casefold()
    return term in (purchase.purchase_id, purchase.account.id) or folded in (
        purchase.commitment_id.casefold(),
        purchase.account.name.casefold(),
    )


def expiring_range(filters: PurchaseFilters, now: datetime) -> tuple[datetime, datetime] | None:
    """(after, until): the deadlines "expiring within N hours" selects, or None."""
    if filters.expiring_within_hours is None:
        return None
    return now, now + timedelta(hours=filters.expiring_within_hours)


def matches(
    purchase: PurchaseExecuted, phase: Phase, windows: Windows, filters: PurchaseFilters, now: datetime
) -> bool:
    """Whether ``filters`` select this purchase (the rule the store's query states)."""
    return (
        _same_fields(purchase, phase, filters)
        and _in_time(purchase, phase, windows, filters, now)
        and (filters.search is None or found_by(purchase, filters.search))
    )


def _same_fields(purchase: PurchaseExecuted, phase: Phase, filters: PurchaseFilters) -> bool:
    wanted: tuple[tuple[object, object], ...] = (
        (filters.account_id, purchase.account.id),
        (filters.phase, phase),
        (filters.requested_by_user_id, purchase.requested_by.user_id if purchase.requested_by else None),
        (filters.source, PurchaseSource.of(purchase.execution.via)),
    )
    return all(want is None or want == have for want, have in wanted)


def _in_time(
    purchase: PurchaseExecuted, phase: Phase, windows: Windows, filters: PurchaseFilters, now: datetime
) -> bool:
    if filters.executed_from is not None and purchase.executed_at < filters.executed_from:
        return False
    if filters.executed_before is not None and purchase.executed_at >= filters.executed_before:
        return False
    expiring = expiring_range(filters, now)
    if expiring is None:
        return True
    deadline = windows.deadline(phase)
    return deadline is not None and expiring[0] < deadline <= expiring[1]


def refundable(purchase: PurchaseExecuted, refund: RefundEstimate | None) -> tuple[str, Decimal]:
    """What undoing the purchase now gives back, for the History's "refundable now" (currency,
    amount): AWS refunds the upfront payment in full; Azure what calculateRefund last quoted (the
    upfront payment until Microsoft has quoted it)."""
    if refund is not None:
        return refund.currency, refund.amount
    return purchase.cost.currency, purchase.cost.upfront


@dataclass(frozen=True)
class Position:
    """Where a page ended: the last row's key in a sort and direction."""

    sort: PurchaseSort
    descending: bool
    key: str

    def encode(self) -> str:
        raw = json.dumps([1, self.sort.value, self.descending, self.key]).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, cursor: str, filters: PurchaseFilters) -> Position:
        """Raises ValueError on anything that is not a cursor of this sort and direction."""
        try:
            padded = cursor + "=" * (-len(cursor) % 4)
            version, sort, descending, key = json.loads(base64.urlsafe_b64decode(padded.encode()))
            position = cls(PurchaseSort(sort), bool(descending), str(key))
        except (ValueError, TypeError) as exc:
            msg = "the cursor is not one this service returned"
            raise ValueError(msg) from exc
        if version != 1 or (position.sort, position.descending) != (filters.sort, filters.descending):
            msg = "the cursor belongs to another sort or order; start again from the first page"
            raise ValueError(msg)
        return position

    def after(self, key: str) -> bool:
        """Whether ``key`` comes after this position in its order."""
        return key < self.key if self.descending else key > self.key
