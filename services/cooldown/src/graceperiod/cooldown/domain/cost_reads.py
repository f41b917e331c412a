"""What a Cost Explorer read of a lease's cost changes on its account (``billing`` says when
reads are due and what settled means): the figures, when the next read is due, and — in
Cooldown — whether the account is released by it.

Reads are numbered: the service claims read ``reads + 1`` before making it, so of any number
of workers (replicas, duplicated ticks) one makes each read, and a result for any other number
changes nothing. A failed read (throttled, denied, budget used up) never holds an account past
its latest release: at or after it, the account is released with its cost unknown and why.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from graceperiod.contracts.cooldown import AccountStatus, Cause
from graceperiod.contracts.lease_costs import LeaseCost
from graceperiod.cooldown.domain.accounts import Account
from graceperiod.cooldown.domain.billing import (
    FailedRead,
    LeaseBilling,
    ReadFailure,
    ReadOutcome,
    SettleTerms,
    next_budget_day,
    same_figures,
)
from graceperiod.cooldown.domain.decisions import Decision, Verdict, bump, unchanged
from graceperiod.cooldown.domain.release import release

S = AccountStatus

#: A failed read outside settled mode's schedule is tried again after this long.
FAILED_READ_RETRY = timedelta(hours=2)


def read_due(account: Account, now: datetime) -> bool:
    billing = account.billing
    return billing is not None and billing.next_read_at is not None and billing.next_read_at <= now


def apply_read(account: Account, *, number: int, outcome: ReadOutcome, now: datetime) -> Decision:
    """Store read ``number`` of the account's lease cost (and release the account if it settles it)."""
    billing = account.billing
    if billing is None:
        return unchanged(Verdict.IGNORED, account, "the account records no lease cost to read")
    if number != billing.reads + 1:
        verdict = Verdict.DUPLICATE if number <= billing.reads else Verdict.STALE
        return unchanged(verdict, account, f"cost read {number} does not follow read {billing.reads}")
    if billing.next_read_at is None:
        return unchanged(Verdict.IGNORED, account, "no cost read is due")
    updated = _with_outcome(billing, outcome, number, before_cooldown=account.status is not S.COOLDOWN, now=now)
    if account.status is S.COOLDOWN:
        return _cooling_read(account, updated, outcome, now)
    retry = None
    if isinstance(outcome, FailedRead) and account.status in (S.CLEANUP, S.QUARANTINE):
        retry = _retry_at(outcome, now, FAILED_READ_RETRY)
    after = bump(account, billing=updated.model_copy(update={"next_read_at": retry}))
    return Decision(Verdict.RECORDED, account, after, (), _read_note(outcome, "cost at termination"))


def _with_outcome(
    billing: LeaseBilling, outcome: ReadOutcome, number: int, *, before_cooldown: bool, now: datetime
) -> LeaseBilling:
    if isinstance(outcome, FailedRead):
        return billing.model_copy(update={"reads": number, "last_problem": outcome.reason})
    previous = billing.latest
    moved = previous is not None and not same_figures(previous, outcome)
    changes: dict[str, object] = {
        "reads": number,
        "latest": outcome,
        "last_problem": None,
        "still_moving": None if previous is None else moved,
        "changed_at": outcome.read_at if previous is None or moved else billing.changed_at,
    }
    if billing.at_termination is None and before_cooldown:
        changes["at_termination"] = outcome
    return billing.model_copy(update=changes)


def _settled(billing: LeaseBilling, terms: SettleTerms, now: datetime) -> bool:
    changed = billing.changed_at
    return changed is not None and now >= terms.earliest and now - changed >= terms.quiet


def _next_read(terms: SettleTerms | None, until: datetime, now: datetime) -> datetime:
    if terms is None:
        return until  # fixed mode: the final read at the deadline
    return min(max(now + terms.interval, terms.first_useful_read()), until)


def _retry_at(failed: FailedRead, now: datetime, interval: timedelta) -> datetime:
    return next_budget_day(now) if failed.failure is ReadFailure.BUDGET else now + interval


def _cooling_read(account: Account, billing: LeaseBilling, outcome: ReadOutcome, now: datetime) -> Decision:
    until = account.cooldown_until
    assert until is not None
    terms = account.settle_terms
    cooled = account.model_copy(update={"billing": billing})
    decision = _release_by_read(cooled, billing, outcome, now)
    if decision is not None:
        return replace(decision, before=account)  # the read and the release are one change of ``account``
    if isinstance(outcome, LeaseCost):
        next_at = _next_read(terms, until, now)
    else:
        retry = _retry_at(outcome, now, terms.interval if terms is not None else FAILED_READ_RETRY)
        next_at = min(max(retry, terms.first_useful_read()) if terms is not None else retry, until)
    after = bump(account, billing=billing.model_copy(update={"next_read_at": next_at}))
    return Decision(Verdict.RECORDED, account, after, (), _read_note(outcome, f"next read {next_at.isoformat()}"))


def _release_by_read(cooled: Account, billing: LeaseBilling, outcome: ReadOutcome, now: datetime) -> Decision | None:
    """The release the read stored in ``cooled`` brings about (settled, or the latest release
    time reached), if any."""
    until = cooled.cooldown_until
    assert until is not None
    terms = cooled.settle_terms
    if isinstance(outcome, LeaseCost):
        if terms is not None and _settled(billing, terms, now):
            quiet = terms.quiet_hours
            note = f"the lease's cost has not changed for {quiet:g} hours: costs settled, Available"
            return release(cooled, cause=Cause.COSTS_SETTLED, now=now, final=outcome, unknown_reason=None, note=note)
        if now >= until:
            return release(
                cooled, cause=Cause.COOLDOWN_ELAPSED, now=now, final=outcome, unknown_reason=None, note=_elapsed(terms)
            )
        return None
    if now >= until:
        reason = f"the final cost read failed: {outcome.reason}"
        note = f"{_elapsed(terms)}; cost unknown: {reason}"
        return release(cooled, cause=Cause.COOLDOWN_ELAPSED, now=now, final=None, unknown_reason=reason, note=note)
    return None


def _elapsed(terms: SettleTerms | None) -> str:
    if terms is None:
        return "cooldown elapsed: Available"
    return "the latest release time was reached: Available"


def _read_note(outcome: ReadOutcome, what: str) -> str:
    if isinstance(outcome, FailedRead):
        return f"cost read failed ({outcome.reason}); {what}"
    return f"cost read: {outcome.unblended} {outcome.currency} unblended; {what}"
