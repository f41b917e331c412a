"""What limits a Savings Plan return beyond its own window, for people to see before they
return one (AWS's rules: sp-quotas.html, return-sp.html). Pure.

* At most :data:`SAVINGS_PLAN_RETURNS_PER_YEAR` returns per calendar year per management
  account (consolidated billing family, or single account). AWS reports no count of returns
  used, so Grace Period counts the returns it made or found (plans in ``pending-return`` or
  ``returned``) in the accounts it knows of that management account: at least that many are used.
* A plan can be returned only in the calendar month (UTC) it was bought in. A return happens in
  the purchase's month, so the purchase's year is the year the return counts against.
"""

from __future__ import annotations

from datetime import UTC, datetime

from graceperiod.contracts.enums import CommitmentKind
from graceperiod.contracts.revocation_views import ReturnAllowance
from graceperiod.revocation.domain.commitments import PENDING_STATES
from graceperiod.revocation.domain.records import AccountRecord, PurchaseRecord

#: Savings Plan states that mean "returned" (a deleted queued plan was never a return).
RETURNED_STATES = PENDING_STATES | {"returned"}


def month_cutoff(executed_at: datetime) -> datetime:
    """The first instant of the next calendar month (UTC): no return from then on."""
    at = executed_at.astimezone(UTC)
    year, month = (at.year + 1, 1) if at.month == 12 else (at.year, at.month + 1)
    return datetime(year, month, 1, tzinfo=UTC)


def year_of(record: PurchaseRecord) -> tuple[datetime, datetime]:
    """The calendar year (UTC) a return of this purchase would count against: [start, end)."""
    year = record.purchase.executed_at.astimezone(UTC).year
    return datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)


def is_savings_plan(record: PurchaseRecord) -> bool:
    commitment = record.purchase.commitment
    return commitment is not None and commitment.kind is CommitmentKind.SAVINGS_PLAN


def family_of(record: PurchaseRecord, account: AccountRecord | None) -> str | None:
    """The management account whose limit a return of this purchase counts against (None:
    not known yet; then only the purchase's own account is counted)."""
    return account.management_account_id if account is not None else None


def allowance(record: PurchaseRecord, account: AccountRecord | None, counted: int) -> ReturnAllowance | None:
    """The limits shown with a Savings Plan (None for other products)."""
    if not is_savings_plan(record):
        return None
    return ReturnAllowance(
        management_account_id=family_of(record, account),
        year=year_of(record)[0].year,
        counted=counted,
        month_cutoff_at=month_cutoff(record.purchase.executed_at),
    )
