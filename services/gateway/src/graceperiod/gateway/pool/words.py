"""The pool's words for people: what each status means and why an account changed status."""

from __future__ import annotations

from typing import Final

from graceperiod.contracts.cooldown import AccountStatus, Cause, Transition

S = AccountStatus

STATUS_MEANINGS: Final[dict[AccountStatus, str]] = {
    S.AVAILABLE: "Ready to be handed to the next lease.",
    S.ACTIVE: "In use by a lease.",
    S.CLEANUP: "Its lease ended; the cleanup has not reported yet.",
    S.COOLDOWN: "Cleaned, and held back until the last lease's costs have reached the bill.",
    S.QUARANTINE: "Its cleanup failed, so it is not handed out until a cleanup succeeds.",
}

CAUSES: Final[dict[Cause, str]] = {
    Cause.REGISTERED: "joined the pool",
    Cause.ACQUIRED: "acquired for a lease",
    Cause.LEASE_TERMINATED: "the lease ended",
    Cause.CLEANUP_SUCCEEDED: "the cleanup succeeded",
    Cause.CLEANUP_FAILED: "the cleanup failed",
    Cause.COOLDOWN_ELAPSED: "the cooldown period passed",
    Cause.RELEASED_EARLY: "released early",
    Cause.POLICY_CHANGED: "the cooldown policy changed",
    Cause.ACQUISITION_ABANDONED: "another acquisition for the same lease won",
}

#: Shown on an empty pool: how accounts get in.
HOW_ACCOUNTS_JOIN: Final = (
    "The pool is empty. Sandbox accounts join it when your lease manager announces each one with an "
    "account.registered event (once per account); from then on its leases and cleanups move it between "
    "statuses. docs/cooldown.md, “Integrating an upstream lease manager”, shows the event and the calls."
)


def cause_words(cause: Cause) -> str:
    return CAUSES.get(cause) or str(cause).replace("-", " ")


def quarantine_reason(error: str | None, history: list[Transition]) -> str | None:
    """Why an account is in Quarantine: the error its failed cleanup sent (from the account, or
    from the transition into Quarantine when the service did not say)."""
    if error:
        return error
    into = [t for t in history if t.to_status is S.QUARANTINE and t.reason]
    return into[-1].reason if into else None
