"""Self-service revocation: Return / DeleteQueued through AWS's API.

The walk: :func:`revoke_answer` (is there anything to do?), AWS re-read, :func:`claimed`
(the attempt, with its client token, is written before AWS is called), the call, then
:func:`accepted` or :func:`failed`. A pending return becomes :func:`revoked` on a later tick.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from graceperiod.contracts.enums import Provider
from graceperiod.contracts.revocation import PurchaseChangeKind
from graceperiod.contracts.revocation_views import ActorRef, RevokedVia, TimelineEntry, TimelineKind
from graceperiod.contracts.rpc import CommandStatus, ErrorCode
from graceperiod.revocation.domain.aws_answers import ActionResult, AwsCallError
from graceperiod.revocation.domain.azure_answers import ReturnStarted
from graceperiod.revocation.domain.commitments import (
    PENDING_STATES,
    UNDONE_STATES,
    SelfServiceAction,
    self_service,
    undone_or_pending,
)
from graceperiod.revocation.domain.lifecycle import At, announced, refreshed, with_entry, with_state
from graceperiod.revocation.domain.outcomes import Outcome, Rejected, done_message, failure_message, iso
from graceperiod.revocation.domain.records import (
    Attempt,
    AttemptKind,
    AwsState,
    AzureState,
    Blocked,
    PurchaseRecord,
    RevocationStatus,
)

_ACCEPTED_RETURN = (
    "AWS accepted the return of the Savings Plan (pending-return): irreversible; the upfront "
    "charge is refunded on the bill within 24 hours"
)


def revoke_answer(record: PurchaseRecord, key: str, at: At) -> Outcome | None:
    """The answer to a revoke that needs no AWS call (None: go ahead)."""
    if record.status is RevocationStatus.REVOKED:
        return Outcome(CommandStatus.DONE, "Already revoked.")
    if record.status is RevocationStatus.PENDING:
        return Outcome(CommandStatus.DONE, "AWS is already processing the return.")
    if record.status in (RevocationStatus.CASE_OPEN, RevocationStatus.CASE_RESOLVED):
        raise Rejected(
            ErrorCode.CONFLICT, "a support case was filed for this purchase", record=record, account=at.account
        )
    attempt = record.attempt
    if attempt is not None and attempt.key != key and attempt.lease_until > at.now:
        return Outcome(
            CommandStatus.IN_PROGRESS, "Another action on this purchase is under way; its outcome follows as an event."
        )
    return None


def claimed(
    record: PurchaseRecord, aws: AwsState, key: str, actor: ActorRef, at: At
) -> tuple[PurchaseRecord, SelfServiceAction | None]:
    """With AWS just re-read: the undo AWS allows now, claimed by an attempt (renewed if this
    key already holds it). No action when AWS undid it already or no longer allows one."""
    record = record.model_copy(update={"aws": aws})
    if undone_or_pending(aws):
        return record, None  # done already (by an attempt that died before writing, or outside)
    service, commitment = record.purchase.aws_product()
    offer = self_service(commitment.kind, service, aws)
    if offer is None or at.now >= offer.until:
        return record, None
    lease_until = at.now + at.policy.attempt_lease
    if record.attempt is not None and record.attempt.key == key:
        return record.model_copy(update={"attempt": record.attempt.model_copy(update={"lease_until": lease_until})}), (
            offer.action
        )
    attempt = Attempt(
        key=key,
        kind=AttemptKind.REVOKE,
        action=offer.action,
        client_token=f"gp-{record.purchase_id}"[:64],
        started_at=at.now,
        lease_until=lease_until,
        actor=actor,
    )
    requested = TimelineEntry(
        at=at.now, kind=TimelineKind.REVOKE_REQUESTED, summary=f"Revocation requested ({offer.action})", actor=actor
    )
    return with_entry(record.model_copy(update={"attempt": attempt}), requested), offer.action


def too_late(record: PurchaseRecord, at: At) -> Rejected:
    """AWS allows no self-service undo any more."""
    closed = record.windows.self_service_until
    return Rejected(
        ErrorCode.CONFLICT,
        "AWS no longer allows a self-service undo"
        + (f": the window closed at {iso(closed)}" if closed else f" (state {record.aws.state})"),
        record=record,
        account=at.account,
    )


def accepted(
    record: PurchaseRecord, result: ActionResult | None, actor: ActorRef, at: At, *, aws: AwsState | None = None
) -> PurchaseRecord:
    """AWS accepted the undo (``result``), or was found to have done it (``aws``, no result):
    revoked, or pending while a Savings Plan is being returned."""
    if aws is not None:
        record = record.model_copy(update={"aws": aws})
    if record.status in (RevocationStatus.REVOKED, RevocationStatus.PENDING):
        return record.model_copy(update={"attempt": None})
    action = record.attempt.action if record.attempt else None
    who = record.attempt.actor if record.attempt else actor
    returning = action == SelfServiceAction.RETURN_SAVINGS_PLAN
    if result is not None and not returning:  # AWS said 200: the queued purchase is deleted
        record = record.model_copy(
            update={"aws": record.aws.model_copy(update={"state": "queued-deleted", "read_at": at.now})}
        )
    pending = (returning or record.aws.state in PENDING_STATES) and record.aws.state not in UNDONE_STATES
    record = audited_acceptance(
        record,
        result,
        who,
        at,
        summary=f"AWS accepted {action or 'the undo'}",
        detail={"request_id": result.request_id if result else None, "response": result.response if result else None},
    )
    if not pending:
        return revoked(record, who, at)
    record = record.model_copy(
        update={"status": RevocationStatus.PENDING, "aws": record.aws.model_copy(update={"state": "pending-return"})}
    )
    record = refreshed(record, at)
    return announced(
        record, PurchaseChangeKind.REVOCATION_REQUESTED, _ACCEPTED_RETURN, key="return", actor=who, now=at.now
    )


#: Per provider: the audit's request-id and response fields, and the timeline kind of its answer.
_ANSWER_FIELDS: Final[Mapping[Provider, tuple[str, str, TimelineKind]]] = {
    Provider.AWS: ("aws_request_ids", "aws_response", TimelineKind.AWS_RESPONSE),
    Provider.AZURE: ("azure_request_ids", "azure_response", TimelineKind.AZURE_RESPONSE),
}


def audited_acceptance(
    record: PurchaseRecord,
    reply: ActionResult | ReturnStarted | None,
    who: ActorRef,
    at: At,
    *,
    summary: str,
    detail: dict[str, Any],
) -> PurchaseRecord:
    """The provider accepted the undo (``reply``; None: a re-read shows it under way or done): the
    audit says who and when and keeps the provider's request id and response; the timeline says so."""
    ids_field, response_field, kind = _ANSWER_FIELDS[record.provider]
    request_ids = [*getattr(record.audit, ids_field), *([reply.request_id] if reply and reply.request_id else [])]
    audit = record.audit.model_copy(
        update={
            "revoked_at": at.now,
            "revoked_via": RevokedVia.SELF_SERVICE_API,
            "actor": who,
            ids_field: request_ids,
            response_field: reply.response if reply else getattr(record.audit, response_field),
            "failure": None,
        }
    )
    entry = TimelineEntry(at=at.now, kind=kind, summary=summary, detail=detail)
    return with_entry(record.model_copy(update={"audit": audit, "attempt": None, "blocked": None}), entry)


def revoked(record: PurchaseRecord, who: ActorRef | None, at: At) -> PurchaseRecord:
    """AWS confirms the commitment is undone."""
    record = with_entry(
        record.model_copy(update={"status": RevocationStatus.REVOKED}),
        TimelineEntry(
            at=at.now,
            kind=TimelineKind.REVOKED,
            summary=f"Revoked ({_provider_name(record)} state {record.state_word})",
        ),
    )
    record = refreshed(record, at)
    return announced(record, PurchaseChangeKind.REVOKED, done_message(record), key="final", actor=who, now=at.now)


#: Timeline entries' and events' summaries hold at most this many characters (the contract's limit).
SUMMARY_LIMIT = 512


def summary_of(message: str) -> str:
    """A message as a summary: cut to the contract's limit (the audit keeps it whole)."""
    return message if len(message) <= SUMMARY_LIMIT else message[: SUMMARY_LIMIT - 3] + "..."


def _provider_name(record: PurchaseRecord) -> str:
    return "Azure" if record.provider is Provider.AZURE else "AWS"


@dataclass(frozen=True)
class Failing:
    """Why an attempt failed for good, as the audit and the outcome email say it."""

    message: str
    code: str = ""
    action: str = ""
    request_id: str | None = None
    blocks: bool = False
    """The provider refuses this action on this purchase for good (a used-up yearly quota)."""


def aws_failing(error: AwsCallError) -> Failing:
    return Failing(
        failure_message(error),
        error.code,
        error.action,
        error.request_id,
        blocks=error.code == "ServiceQuotaExceededException",
    )


def failed(
    record: PurchaseRecord, why: Failing, actor: ActorRef, at: At, *, state: AwsState | AzureState | None = None
) -> PurchaseRecord:
    """The provider refused the attempt (revoke or support case) for good, or it failed there."""
    if state is not None:
        record = with_state(record, state)
    key = record.attempt.key if record.attempt else at.now.isoformat()
    who = record.attempt.actor if record.attempt else actor
    ids = "azure_request_ids" if record.provider is Provider.AZURE else "aws_request_ids"
    request_ids = [*getattr(record.audit, ids), *([why.request_id] if why.request_id else [])]
    blocked = Blocked(action=why.action, code=why.code, message=why.message) if why.blocks else record.blocked
    record = record.model_copy(
        update={
            "audit": record.audit.model_copy(update={"failure": why.message, ids: request_ids, "actor": who}),
            "blocked": blocked,
            "attempt": None,
            "status": RevocationStatus.FAILED,
        }
    )
    entry = TimelineEntry(
        at=at.now,
        kind=TimelineKind.FAILED,
        summary=summary_of(why.message),
        actor=who,
        detail={"code": why.code, "action": why.action, "request_id": why.request_id},
    )
    record = refreshed(with_entry(record, entry), at)
    summary = summary_of(why.message)
    return announced(record, PurchaseChangeKind.REVOCATION_FAILED, summary, key=key, actor=who, now=at.now)
