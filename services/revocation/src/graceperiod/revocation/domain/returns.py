"""What limits a Savings Plan return beyond its own window, for people to see before they
return one (AWS's rules: sp-quotas.html, return-sp.html). Pure.

* At most :data:`SAVINGS_PLAN_RETURNS_PER_YEAR` returns per calendar year per management
  account (consolidated billing family, or single account). AWS reports no count of returns
  used, so Grace Period counts the returns it made or found (plans in ``pending-return`` or
  ``returned``) in the accounts it knows of that management account: at least that many are used.
  The count is kept as a :class:`ReturnTally` per management account and year, so a view reads
  one document instead of counting.
* A plan can be returned only in the calendar month (UTC) it was bought in. A return happens in
  the purchase's month, so the purchase's year is the year the return counts against.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import Field

from graceperiod.contracts.enums import CommitmentKind
from graceperiod.contracts.revocation_views import ReturnAllowance
from graceperiod.revocation.domain.commitments import PENDING_STATES
from graceperiod.revocation.domain.records import AccountRecord, PurchaseRecord
from graceperiod.runtime.mongo import KeyedRecord

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


def uses_a_return(record: PurchaseRecord) -> bool:
    """A Savings Plan AWS shows as returned or returning: it uses one of its year's returns."""
    return is_savings_plan(record) and record.aws.state in RETURNED_STATES


def tally_key(record: PurchaseRecord, account: AccountRecord | None) -> str:
    """The tally a return of this purchase counts in: its management account's for its year
    (its own account's while the management account is not known)."""
    owner = family_of(record, account) or record.account_id
    return f"{owner}:{year_of(record)[0].year}"


class ReturnTally(KeyedRecord):
    """The Savings Plan returns counted against one management account's limit in one
    calendar year (:func:`tally_key`), as the set of the purchases counted: counting one again
    changes nothing, so a redelivered change cannot count twice."""

    key: str = Field(alias="_id")
    purchase_ids: list[str] = Field(default_factory=list)


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
