"""The events a stored decision announces, with their deterministic message ids.

A message id names what happened (account, version, position), never when it was
published, so publishing a decision's events again after a crash produces the same ids
and consumers drop the repeat.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import model_validator

from graceperiod.contracts.cooldown import (
    AccountSettled,
    AccountStatus,
    AccountStatusChanged,
    Cause,
    CooldownMode,
    Settlement,
    Transition,
)
from graceperiod.cooldown.domain.accounts import Account
from graceperiod.cooldown.domain.billing import late_difference
from graceperiod.cooldown.domain.decisions import Decision
from graceperiod.runtime.mongo import Record


class OutgoingEvent(Record):
    """An event and its message id, kept in the change that announces it (its outbox)."""

    message_id: str
    event: AccountStatusChanged | AccountSettled

    @model_validator(mode="before")
    @classmethod
    def _stored_before_records(cls, data: Any) -> Any:
        # Changes stored by earlier versions keep {message_id, type, body}; they are still read
        # (an account's history, an unfinished change finished after an upgrade).
        if isinstance(data, dict) and "event" not in data and "body" in data:
            return {"message_id": data.get("message_id"), "event": data["body"]}
        return data


def status_changed_id(account_id: str, version: int, index: int) -> str:
    return f"cooldown:status-changed:{account_id}:{version}:{index}"


def settled_id(account_id: str, version: int) -> str:
    return f"cooldown:settled:{account_id}:{version}"


def events_for(decision: Decision, *, now: datetime) -> list[OutgoingEvent]:
    """One AccountStatusChanged per transition, and an AccountSettled when the account
    leaves Cooldown for Available (the lease's costs have had their time to arrive)."""
    after = decision.after
    events = [
        OutgoingEvent(
            message_id=status_changed_id(after.account_id, after.version, index),
            event=AccountStatusChanged(occurred_at=transition.at, account_id=after.account_id, transition=transition),
        )
        for index, transition in enumerate(decision.transitions)
    ]
    before = decision.before
    released = [
        t
        for t in decision.transitions
        if t.from_status is AccountStatus.COOLDOWN and t.to_status is AccountStatus.AVAILABLE
    ]
    if released and before is not None:
        events.append(
            OutgoingEvent(
                message_id=settled_id(after.account_id, after.version),
                event=settled(before, after, released[0], now=now),
            )
        )
    return events


def _settlement(before: Account, transition: Transition) -> Settlement:
    if transition.cause is Cause.RELEASED_EARLY:
        return Settlement.RELEASED_EARLY
    if transition.cause is Cause.COSTS_SETTLED:
        return Settlement.COSTS_SETTLED
    if before.cooldown_mode is CooldownMode.SETTLED:
        return Settlement.MAXIMUM_REACHED
    return Settlement.PERIOD_ELAPSED


def settled(before: Account, after: Account, transition: Transition, *, now: datetime) -> AccountSettled:
    """The lease's settlement: its window and, when its cost is read, the final cost, the cost
    at termination and what arrived in between (or why the final cost is unknown)."""
    billing = after.billing
    final = billing.final_cost if billing else None
    at_termination = billing.at_termination if billing else None
    return AccountSettled(
        occurred_at=now,
        account_id=after.account_id,
        lease_id=before.lease_id,
        cost_window_start=before.lease_started_at,
        cost_window_end=before.last_cleanup_completed_at or before.lease_terminated_at or before.status_since,
        settled_at=now,
        released_early=transition.cause is Cause.RELEASED_EARLY,
        lease_terminated_at=before.lease_terminated_at,
        cooldown_until=before.cooldown_until,
        settlement=_settlement(before, transition),
        billing_window=billing.window.view() if billing else None,
        final_cost=final,
        cost_at_termination=at_termination,
        late_difference=late_difference(final, at_termination),
        cost_unknown_reason=billing.unknown_reason if billing else None,
    )
