"""The purchase lifecycle, the part every transition shares: what follows from a purchase's
state (its windows, phase and next check), the events a change announces, recording a new
purchase and joining an email delivery to its timeline. Pure: records in, records out; the
instant, the account and the policy come in an :class:`At`.

A transition returns the purchase as it becomes, with the events it announces already in its
``outbox``: the service writes the record (if nobody changed it meanwhile), then publishes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from graceperiod.contracts.enums import Provider
from graceperiod.contracts.notifier import EmailKind, EmailOutcome
from graceperiod.contracts.revocation import PurchaseChanged, PurchaseChangeKind, PurchaseRecorded
from graceperiod.contracts.revocation_views import ActorRef, TimelineEntry, TimelineKind, Windows
from graceperiod.contracts.rpc import Actor
from graceperiod.contracts.upstream import PurchaseExecuted
from graceperiod.revocation.domain.aws_answers import partition_of_region
from graceperiod.revocation.domain.commitments import PAYMENT_PENDING_STATES
from graceperiod.revocation.domain.phase import AccessFacts, Assessment, PurchaseFacts, assess
from graceperiod.revocation.domain.records import (
    OPEN_STATUSES,
    AccountRecord,
    AwsState,
    AzureState,
    OutboxEntry,
    PurchaseRecord,
    RevocationStatus,
)
from graceperiod.revocation.domain.standing import standing_of
from graceperiod.revocation.domain.windows import windows_from


@dataclass(frozen=True)
class LifecyclePolicy:
    support_window: timedelta = timedelta(days=7)
    """Product policy: how long after execution a support case is offered."""
    attempt_lease: timedelta = timedelta(minutes=2)
    """An action under way longer than this is resumed by a tick."""
    pending_poll: timedelta = timedelta(minutes=1)
    case_poll: timedelta = timedelta(minutes=5)
    unknown_retry: timedelta = timedelta(minutes=5)
    azure_return_timeout: timedelta = timedelta(hours=1)
    """An Azure return still running this long after Azure accepted it is reported as timed out
    (Grace Period keeps reading the reservation; it never posts a second return)."""


@dataclass(frozen=True)
class At:
    """What a rule needs besides the purchase: the instant, its account and the policy."""

    now: datetime
    account: AccountRecord | None
    policy: LifecyclePolicy


def actor_ref(actor: Actor) -> ActorRef:
    """Who acts, as the audit trail records them."""
    return ActorRef(user_id=actor.user_id, email=actor.email, name=actor.name, path=actor.path)


def facts_of(record: PurchaseRecord) -> PurchaseFacts:
    aws = record.provider is Provider.AWS
    return PurchaseFacts(
        account_id=record.account_id,
        windows=record.windows,
        status=record.status,
        blocked=record.blocked.action if record.blocked is not None else None,
        partition=partition_of_region(record.purchase.location or "") if aws else "azure",
        provider=record.provider,
    )


def access_of(account: AccountRecord | None) -> AccessFacts:
    if account is None or not account.registered:
        return AccessFacts(role_assumable=False)
    return AccessFacts(
        role_assumable=account.role_assumable,
        support_plan=account.support_plan,
        missing_actions=frozenset(account.missing),
    )


def assessment(record: PurchaseRecord, account: AccountRecord | None, now: datetime) -> Assessment:
    return assess(facts_of(record), standing_of(record, now), access_of(account), now)


def windows_of(record: PurchaseRecord, policy: LifecyclePolicy, now: datetime) -> Windows:
    return windows_from(
        standing=standing_of(record, now),
        executed_at=record.purchase.executed_at,
        support_window=policy.support_window,
    )


def return_running(record: PurchaseRecord) -> bool:
    """An Azure return of ours that has not ended (it may still be running at Azure)."""
    ours = record.azure_return
    return ours is not None and ours.posted_at is not None and ours.status in (None, "InProgress")


def next_check(record: PurchaseRecord, now: datetime, policy: LifecyclePolicy) -> datetime | None:
    """The next instant a tick must look at the purchase: a lease, a poll, a re-read or a window edge."""
    candidates: list[datetime] = []
    if record.attempt is not None:
        candidates.append(record.attempt.lease_until)
    if record.status is RevocationStatus.PENDING:
        candidates.append(now + policy.pending_poll)
    elif return_running(record):
        candidates.append(now + policy.unknown_retry)  # timed out: keep reading until it ends
    if record.status is RevocationStatus.CASE_OPEN:
        candidates.append(now + policy.case_poll)
    if record.status in OPEN_STATUSES:
        windows, standing = record.windows, standing_of(record, now)
        candidates += [t for t in (windows.self_service_until, windows.support_case_until) if t and t > now]
        if not standing.known and windows.closes_at and now < windows.closes_at:
            candidates.append(now + policy.unknown_retry)
        if standing.refresh_at is not None and windows.closes_at and now < windows.closes_at:
            candidates.append(max(standing.refresh_at, now))
        if record.aws.state in PAYMENT_PENDING_STATES:
            candidates.append(now + policy.pending_poll)
    return min(candidates) if candidates else None


def refreshed(record: PurchaseRecord, at: At) -> PurchaseRecord:
    """The purchase with what follows from its state brought up to date."""
    windows = windows_of(record, at.policy, at.now) if record.status in OPEN_STATUSES else record.windows
    record = record.model_copy(
        update={
            "windows": windows,
            "audit": record.audit.model_copy(update={"revocation_window_closes_at": windows.closes_at}),
            "updated_at": at.now,
        }
    )
    record = record.model_copy(update={"phase": assessment(record, at.account, at.now).phase})
    return record.model_copy(update={"next_check_at": next_check(record, at.now, at.policy)})


def with_entry(record: PurchaseRecord, entry: TimelineEntry) -> PurchaseRecord:
    return record.model_copy(update={"timeline": [*record.timeline, entry]})


def announced(
    record: PurchaseRecord,
    change: PurchaseChangeKind,
    summary: str,
    *,
    key: str,
    now: datetime,
    actor: ActorRef | None = None,
) -> PurchaseRecord:
    """The purchase with a ``PurchaseChanged`` in its outbox (once per message id)."""
    message_id = f"purchase-changed:{record.purchase_id}:{change}:{key}"
    if any(o.message_id == message_id for o in record.outbox):
        return record
    event = PurchaseChanged(
        occurred_at=now,
        change=change,
        purchase=record.purchase,
        windows=record.windows,
        phase=record.phase,
        audit=record.audit,
        actor=actor,
        summary=summary,
        aws_state=record.aws.state,
        refund=record.refund,
    )
    return record.model_copy(update={"outbox": [*record.outbox, OutboxEntry(message_id=message_id, event=event)]})


def with_state(record: PurchaseRecord, state: AwsState | AzureState) -> PurchaseRecord:
    """The purchase with what its provider said about it just now."""
    field = "azure" if isinstance(state, AzureState) else "aws"
    return record.model_copy(update={field: state})


def recorded(purchase: PurchaseExecuted, state: AwsState | AzureState, at: At) -> PurchaseRecord:
    """A newly executed purchase, with its windows from what its provider said (or could not say)."""
    provider = "Azure" if isinstance(state, AzureState) else "AWS"
    summary = (
        f"Recorded; {provider} state {state.state}"
        if state.known
        else f"Recorded; {provider} could not be read ({state.error}), self-service window unknown"
    )
    record = PurchaseRecord(
        purchase=purchase,
        windows=Windows(),
        recorded_at=at.now,
        updated_at=at.now,
        timeline=[
            TimelineEntry(at=purchase.executed_at, kind=TimelineKind.EXECUTED, summary="Purchase executed"),
            TimelineEntry(at=at.now, kind=TimelineKind.RECORDED, summary=summary),
        ],
    )
    return refreshed(with_state(record, state), at)


def recorded_event(record: PurchaseRecord, now: datetime) -> tuple[PurchaseRecorded, str]:
    """The announcement of a recorded purchase and its message id (the same on every repeat)."""
    event = PurchaseRecorded(
        occurred_at=record.recorded_at or now,
        purchase=record.purchase,
        windows=record.windows,
        phase=record.phase,
        refund=record.refund,
    )
    return event, f"purchase-recorded:{record.purchase_id}"


def has_delivery(record: PurchaseRecord, message_id: str) -> bool:
    return any(e.detail and e.detail.get("message_id") == message_id for e in record.timeline)


def with_delivery(record: PurchaseRecord, kind: EmailKind, email: EmailOutcome) -> PurchaseRecord:
    """An email delivery joins the timeline once: the entry, keyed by the delivery id, is the
    dedupe record."""
    if has_delivery(record, email.delivery_id):
        return record
    return with_entry(
        record,
        TimelineEntry(
            at=email.at,
            kind=TimelineKind.EMAILED,
            summary=f"Email ({kind}) to {email.recipient}: {email.status}",
            detail={"message_id": email.delivery_id, "recipient": email.recipient, "status": email.status},
        ),
    )
