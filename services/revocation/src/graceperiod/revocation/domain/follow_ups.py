"""What a tick does for a purchase that is due: which AWS facts it needs, and the purchase
as those facts (and the time) make it: a pending return confirmed, a case followed, windows
closed."""

from __future__ import annotations

from datetime import datetime

from graceperiod.contracts.revocation import PurchaseChangeKind
from graceperiod.contracts.revocation_views import Phase, TimelineEntry, TimelineKind
from graceperiod.revocation.domain.aws_answers import CaseInfo
from graceperiod.revocation.domain.commitments import PAYMENT_PENDING_STATES, UNDONE_STATES
from graceperiod.revocation.domain.lifecycle import At, announced, refreshed, with_entry
from graceperiod.revocation.domain.outcomes import iso
from graceperiod.revocation.domain.records import OPEN_STATUSES, AwsState, PurchaseRecord, RevocationStatus
from graceperiod.revocation.domain.revoking import revoked
from graceperiod.revocation.domain.support_cases import case_followed


def attempt_to_resume(record: PurchaseRecord, now: datetime) -> bool:
    """An attempt whose lease passed: whoever ran it stopped; it is resumed."""
    return record.attempt is not None and record.attempt.lease_until <= now


def needs_aws_read(record: PurchaseRecord, now: datetime) -> bool:
    """AWS must be read again: a return is pending, AWS was unreadable, a queued commitment's
    start passed, or AWS has not charged it yet (a Savings Plan becomes returnable once active)."""
    aws = record.aws
    started = aws.state == "queued" and aws.start is not None and now >= aws.start
    return record.status is RevocationStatus.PENDING or not aws.known or started or aws.state in PAYMENT_PENDING_STATES


def case_to_poll(record: PurchaseRecord) -> str | None:
    """The open case whose status DescribeCases must tell."""
    if record.status is RevocationStatus.CASE_OPEN and record.audit.support_case_id:
        return record.audit.support_case_id
    return None


def followed(record: PurchaseRecord, aws: AwsState | None, cases: list[CaseInfo] | None, at: At) -> PurchaseRecord:
    """The purchase as what AWS said now (``aws``, ``cases``; None where not read) makes it."""
    if aws is not None:
        record = record.model_copy(update={"aws": aws})
        if record.status is RevocationStatus.PENDING and aws.state in UNDONE_STATES:
            record = revoked(record, record.audit.actor, at)
    if cases:
        record = case_followed(record, cases[0].status, at)
    return windows_closed(refreshed(record, at), at)


def windows_closed(record: PurchaseRecord, at: At) -> PurchaseRecord:
    """Announce each window edge passed, once: the self-service one, then the last one."""
    if record.status not in OPEN_STATUSES:
        return record
    edges = {e.detail.get("edge") for e in record.timeline if e.kind is TimelineKind.WINDOW_CLOSED and e.detail}
    windows, now = record.windows, at.now
    if windows.self_service_until and now >= windows.self_service_until and "self-service" not in edges:
        summary = f"The self-service window (set by AWS) closed at {iso(windows.self_service_until)}"
        record = _edge(record, summary, "self-service", at)
    final = record.phase in (Phase.CLOSED, Phase.FAILED) and windows.closes_at and now >= windows.closes_at
    if final and "final" not in edges:
        record = _edge(record, f"Every revocation window closed at {iso(windows.closes_at)}", "final", at)
    return record


def _edge(record: PurchaseRecord, summary: str, edge: str, at: At) -> PurchaseRecord:
    entry = TimelineEntry(at=at.now, kind=TimelineKind.WINDOW_CLOSED, summary=summary, detail={"edge": edge})
    return announced(with_entry(record, entry), PurchaseChangeKind.WINDOW_CLOSED, summary, key=edge, now=at.now)
