"""AWS Support refund requests: when one may be filed, the attempt that files it, the case
opened, followed and resolved (by AWS Support or by hand)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal

from graceperiod.contracts.revocation import PurchaseChangeKind
from graceperiod.contracts.revocation_views import (
    ActorRef,
    CaseOutcome,
    Phase,
    RevokedVia,
    TimelineEntry,
    TimelineKind,
    case_reference,
    with_case_reference,
)
from graceperiod.contracts.rpc import CommandStatus, ErrorCode
from graceperiod.revocation.domain.aws_answers import ActionResult, CaseInfo
from graceperiod.revocation.domain.drafts import FALLBACK_CATEGORY, draft_case, preferred_category
from graceperiod.revocation.domain.lifecycle import At, announced, assessment, refreshed, with_entry
from graceperiod.revocation.domain.outcomes import Outcome, Rejected, iso
from graceperiod.revocation.domain.records import Attempt, AttemptKind, PurchaseRecord, RevocationStatus

#: The IAM action of filing a case (learnt when used: no side-effect-free probe exists).
CREATE_CASE = "support:CreateCase"


def case_answer(record: PurchaseRecord, at: At) -> Outcome | None:
    """The answer to a support-case request that needs no AWS call (None: go ahead)."""
    if record.status is RevocationStatus.CASE_OPEN:
        return Outcome(CommandStatus.DONE, f"Support case {record.audit.support_case_id} is already open.")
    found = assessment(record, at.account, at.now)
    if found.phase is Phase.SELF_SERVICE:
        raise Rejected(
            ErrorCode.CONFLICT, "AWS allows a self-service undo now: revoke instead", record=record, account=at.account
        )
    if found.phase is Phase.SUPPORT_UNAVAILABLE and found.unavailable is not None:
        raise Rejected(ErrorCode.UNAVAILABLE, found.unavailable.message, record=record, account=at.account)
    if found.phase is not Phase.SUPPORT_CASE:
        raise Rejected(
            ErrorCode.CONFLICT,
            f"a support case can no longer be filed (phase {found.phase}; the support window, our "
            f"policy, closed at {iso(record.windows.support_case_until)})",
            record=record,
            account=at.account,
        )
    return None


def case_text(record: PurchaseRecord, subject: str | None, body: str | None) -> tuple[str, str]:
    """The subject and body to file: the draft's unless edited; the subject always starts with
    the purchase's reference (how a case filed by a dead attempt is found again). The draft
    shows it as fixed; the subject as filed is kept in the audit, so nothing is changed unseen."""
    draft = draft_case(record.purchase)
    return with_case_reference(subject or draft.subject, record.purchase_id), body or draft.body


def case_claimed(
    record: PurchaseRecord, key: str, actor: ActorRef, at: At, *, subject: str, body: str
) -> tuple[PurchaseRecord, bool]:
    """The filing claimed by an attempt; True when this key already held one (resuming it)."""
    lease_until = at.now + at.policy.attempt_lease
    if record.attempt is not None and record.attempt.key == key:
        return record.model_copy(
            update={"attempt": record.attempt.model_copy(update={"lease_until": lease_until})}
        ), True
    attempt = Attempt(
        key=key,
        kind=AttemptKind.SUPPORT_CASE,
        action=CREATE_CASE,
        client_token=case_reference(record.purchase_id),
        started_at=at.now,
        lease_until=lease_until,
        actor=actor,
        subject=subject,
        body=body,
    )
    return record.model_copy(update={"attempt": attempt}), False


def lease_renewed(record: PurchaseRecord, at: At) -> PurchaseRecord:
    if record.attempt is None:
        return record
    return record.model_copy(
        update={"attempt": record.attempt.model_copy(update={"lease_until": at.now + at.policy.attempt_lease})}
    )


def adoptable(cases: list[CaseInfo], purchase_id: str) -> CaseInfo | None:
    """A case an attempt that died after CreateCase filed: its subject carries our reference."""
    reference = case_reference(purchase_id)
    return next((c for c in cases if reference in c.subject), None)


def case_codes(record: PurchaseRecord, categories: Collection[str], levels: list[str]) -> tuple[str, str]:
    """Category and severity, from what the account's Support API offers right now."""
    preferred = preferred_category(record.purchase.aws_product()[1].kind)
    category = preferred if preferred in categories else FALLBACK_CATEGORY
    if category not in categories:
        category = sorted(categories)[0]
    severity = "normal" if "normal" in levels else (levels[0] if levels else "low")
    return category, severity


@dataclass(frozen=True)
class Filing:
    """The case an attempt filed (``result``: CreateCase's answer) or found filed (no result),
    as DescribeCases shows it (``info``)."""

    case_id: str
    info: CaseInfo | None
    result: ActionResult | None


def opened(record: PurchaseRecord, filing: Filing, attempt: Attempt, at: At) -> PurchaseRecord:
    """AWS Support opened the case ``attempt`` filed (or one it filed before dying)."""
    if record.status is RevocationStatus.CASE_OPEN:
        return record.model_copy(update={"attempt": None})
    who = record.attempt.actor if record.attempt else attempt.actor
    case_id, info, result = filing.case_id, filing.info, filing.result
    request_id = result.request_id if result else None
    audit = record.audit.model_copy(
        update={
            "revoked_via": RevokedVia.SUPPORT_CASE_API,
            "support_case_id": case_id,
            "support_case_status": info.status if info else "opened",
            "support_case_display_id": info.display_id if info else None,
            "support_case_opened_at": at.now,
            "support_case_subject": attempt.subject,
            "support_case_body": attempt.body,
            "actor": who,
            "aws_request_ids": [*record.audit.aws_request_ids, *([request_id] if request_id else [])],
            "aws_response": (result.response if result else None) or record.audit.aws_response,
            "failure": None,
        }
    )
    entry = TimelineEntry(
        at=at.now,
        kind=TimelineKind.CASE_OPENED,
        summary=f"AWS Support case {case_id} opened" + (f" (#{info.display_id})" if info and info.display_id else ""),
        actor=who,
        detail={"case_id": case_id, "subject": attempt.subject},
    )
    record = with_entry(
        record.model_copy(update={"status": RevocationStatus.CASE_OPEN, "attempt": None, "audit": audit}), entry
    )
    record = refreshed(record, at)
    summary = f"AWS Support refund request {case_id} filed; AWS decides at its discretion"
    return announced(record, PurchaseChangeKind.SUPPORT_CASE_OPENED, summary, key=case_id, actor=who, now=at.now)


def resolve_answer(record: PurchaseRecord, at: At) -> Outcome | None:
    """The answer to "mark resolved" that changes nothing (None: go ahead)."""
    if record.status is RevocationStatus.CASE_RESOLVED:
        return Outcome(CommandStatus.DONE, "The case was already resolved.")
    if record.status is not RevocationStatus.CASE_OPEN:
        raise Rejected(
            ErrorCode.CONFLICT, "no support case is open for this purchase", record=record, account=at.account
        )
    return None


@dataclass(frozen=True)
class Resolution:
    """What the person resolving a case recorded (all optional)."""

    note: str = ""
    outcome: CaseOutcome | None = None
    refund: Decimal | None = None

    def summary(self, currency: str) -> str:
        parts = [f"outcome: {self.outcome}"] if self.outcome else []
        if self.refund is not None:
            parts.append(f"refund {currency} {self.refund}")
        return f" ({', '.join(parts)})" if parts else ""


def resolved(
    record: PurchaseRecord, by: ActorRef | None, at: At, resolution: Resolution | None = None
) -> PurchaseRecord:
    """The case is resolved: by AWS Support (``by`` None) or marked by hand, with what AWS
    decided when the person recorded it."""
    if record.status is not RevocationStatus.CASE_OPEN:
        return record
    resolution = resolution or Resolution()
    case_id = record.audit.support_case_id or "?"
    audit = record.audit.model_copy(
        update={
            "support_case_status": "resolved",
            "support_case_resolved_at": at.now,
            "support_case_resolved_by": by,
            "support_case_resolution_note": resolution.note or None,
            "support_case_outcome": resolution.outcome,
            "support_case_refund": resolution.refund,
        }
    )
    how = " (marked by hand)" if by else " (AWS Support)"
    summary = f"Support case {case_id} resolved{how}{resolution.summary(record.purchase.cost.currency)}"
    detail = {"note": resolution.note} if resolution.note else None
    entry = TimelineEntry(at=at.now, kind=TimelineKind.CASE_RESOLVED, summary=summary, actor=by, detail=detail)
    record = with_entry(record.model_copy(update={"status": RevocationStatus.CASE_RESOLVED, "audit": audit}), entry)
    record = refreshed(record, at)
    return announced(record, PurchaseChangeKind.SUPPORT_CASE_RESOLVED, summary, key=case_id, actor=by, now=at.now)


def case_followed(record: PurchaseRecord, status: str, at: At) -> PurchaseRecord:
    """What DescribeCases says about the open case now."""
    if record.status is not RevocationStatus.CASE_OPEN:
        return record
    if status == "resolved":
        return resolved(record, None, at)
    if status == record.audit.support_case_status:
        return record
    record = record.model_copy(update={"audit": record.audit.model_copy(update={"support_case_status": status})})
    summary = f"Support case {record.audit.support_case_id} is now {status}"
    record = with_entry(record, TimelineEntry(at=at.now, kind=TimelineKind.CASE_UPDATED, summary=summary))
    return announced(
        record, PurchaseChangeKind.SUPPORT_CASE_UPDATED, summary, key=f"{status}:{at.now.isoformat()}", now=at.now
    )
