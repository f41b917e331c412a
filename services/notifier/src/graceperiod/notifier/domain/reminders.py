"""The reminder before the self-service window closes: when one is due, when a change of the
purchase cancels or moves it, and what it says. Pure: the instant is passed in.

One reminder per purchase, stored as a :class:`ReminderRecord` (``reminders``, ``_id`` = the
purchase id) when the purchase is recorded; each recipient's email is claimed like any other
(kind ``window-reminder``, no occurrence), so it goes out once however many replicas see the
same tick and however often an event is redelivered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from graceperiod.contracts.formatting import duration, utc
from graceperiod.contracts.notifier import EmailKind
from graceperiod.contracts.revocation import PurchaseChanged, PurchaseRecorded
from graceperiod.contracts.revocation_views import Phase, Windows
from graceperiod.contracts.upstream import PurchaseExecuted
from graceperiod.notifier.domain.emails import PurchaseFacts, one_line, purchase_label
from graceperiod.notifier.domain.windows import WindowNotice
from graceperiod.runtime.mongo import Record


class ReminderState(StrEnum):
    SCHEDULED = "scheduled"
    SENT = "sent"
    CANCELLED = "cancelled"
    """The purchase left its self-service phase (revoked, case filed, window closed) first."""
    MISSED = "missed"
    """Its due time came only after the window had closed (the notifier was down)."""


class ReminderRecord(Record):
    purchase_id: str
    purchase: PurchaseExecuted
    windows: Windows
    hours_before: int
    due_at: datetime
    state: ReminderState = ReminderState.SCHEDULED
    updated_at: datetime
    note: str = ""

    @property
    def deadline(self) -> datetime:
        assert self.windows.self_service_until is not None
        return self.windows.self_service_until


def _due(windows: Windows, hours_before: int) -> datetime | None:
    until = windows.self_service_until
    return until - timedelta(hours=hours_before) if until is not None else None


def reminder_for(event: PurchaseRecorded, *, hours_before: int, now: datetime) -> ReminderRecord | None:
    """The reminder a newly recorded purchase gets: only when reminders are on, the purchase can
    be undone through the AWS API now, and the reminder falls after now (otherwise the
    executed-purchase email, sent now, already names the deadline)."""
    due = _due(event.windows, hours_before)
    if hours_before <= 0 or event.phase is not Phase.SELF_SERVICE or due is None or due <= now:
        return None
    return ReminderRecord(
        purchase_id=event.purchase.purchase_id,
        purchase=event.purchase,
        windows=event.windows,
        hours_before=hours_before,
        due_at=due,
        updated_at=now,
    )


def after_change(record: ReminderRecord, event: PurchaseChanged, now: datetime) -> ReminderRecord | None:
    """What a change of the purchase does to its scheduled reminder (None: nothing). Leaving
    the self-service phase cancels it; a self-service window AWS moved moves it."""
    if record.state is not ReminderState.SCHEDULED:
        return None
    due = _due(event.windows, record.hours_before)
    if event.phase is not Phase.SELF_SERVICE or due is None:
        note = f"cancelled: {event.change} (now {event.phase})"
        return record.model_copy(update={"state": ReminderState.CANCELLED, "updated_at": now, "note": note})
    if event.windows.self_service_until == record.windows.self_service_until:
        return None
    return record.model_copy(update={"windows": event.windows, "due_at": due, "updated_at": now})


def at_due_time(record: ReminderRecord, now: datetime) -> ReminderRecord | None:
    """A due reminder whose window has already closed is missed (None: send it now)."""
    if now < record.deadline:
        return None
    note = f"the window closed at {utc(record.deadline)} before the reminder could go out"
    return record.model_copy(update={"state": ReminderState.MISSED, "updated_at": now, "note": note})


def finished(record: ReminderRecord, state: ReminderState, now: datetime, note: str = "") -> ReminderRecord:
    return record.model_copy(update={"state": state, "updated_at": now, "note": note})


@dataclass(frozen=True, slots=True)
class ReminderEmail:
    """Everything the reminder templates show to one recipient."""

    brand: str
    subject: str
    headline: str
    facts: PurchaseFacts
    notice: WindowNotice
    revoke_url: str | None
    dashboard_url: str
    recipient: str
    kind: EmailKind = EmailKind.WINDOW_REMINDER

    @property
    def preheader(self) -> str:
        return self.notice.line


def reminder_headline(record: ReminderRecord, now: datetime) -> str:
    return f"The revocation window closes in {duration(record.deadline - now)}"


def reminder_subject(purchase: PurchaseExecuted, brand: str) -> str:
    return one_line(f"[{brand}] Revocation window closing soon: {purchase_label(purchase)}")
