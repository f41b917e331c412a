"""Returning an Azure reservation: the walk, as pure transitions.

:func:`return_claimed` (with the reservation just re-read: the return Azure allows, written with
``posted_at`` and its holder, one handler run, *before* the POST), the POST, then
:func:`return_accepted` (the poller's continuation token stored: PENDING) or
:func:`return_refused`; :func:`return_ended` when the long-running operation ends,
:func:`return_timed_out` when it runs past the policy's limit.
Return takes no idempotency token: while one run holds the return (its POST may be in flight,
:func:`return_held`) nobody else posts; after it, the reservation is re-read before any second
POST, and a POST is only made again when that read shows Azure did nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from graceperiod.contracts.enums import ActionPath
from graceperiod.contracts.revocation import PurchaseChangeKind
from graceperiod.contracts.revocation_views import ActorRef, TimelineEntry, TimelineKind
from graceperiod.contracts.rpc import ErrorCode
from graceperiod.revocation.domain.aws_answers import Failure
from graceperiod.revocation.domain.azure import RETURN, progress, quantity_to_return
from graceperiod.revocation.domain.azure_answers import AzureCallError, ReturnEnded, ReturnStarted
from graceperiod.revocation.domain.lifecycle import At, announced, with_entry, with_state
from graceperiod.revocation.domain.outcomes import Rejected, iso, refund_words
from graceperiod.revocation.domain.providers import Progress
from graceperiod.revocation.domain.records import (
    Attempt,
    AttemptKind,
    AzureReturn,
    AzureState,
    PurchaseRecord,
    RefundQuote,
    RevocationStatus,
)
from graceperiod.revocation.domain.revoking import Failing, audited_acceptance, failed, revoked
from graceperiod.revocation.domain.standing import standing_of


class Next(StrEnum):
    """What a handler does once it tried to claim the return (:func:`return_claimed`)."""

    POST = "post"
    """The return is claimed by this handler run: POST it."""
    WAIT = "wait"
    """Another handler run claimed it and may be posting it now: try again later."""
    FOLLOW = "follow"
    """Azure accepted a return of ours (its token is stored) or shows one running or done: follow it."""
    NONE = "none"
    """Azure allows no return now."""


@dataclass(frozen=True)
class Claim:
    next: Next
    ours: AzureReturn | None = None
    """The return to POST (with :attr:`Next.POST`)."""


def return_held(record: PurchaseRecord, holder: str, now: datetime) -> bool:
    """Another handler run claimed the return and may be posting it: stored, no answer from Azure
    stored yet, its attempt's lease live. Return takes no idempotency token, so nobody else re-reads
    and posts until that run stored Azure's answer or its lease passed (it stopped)."""
    ours, attempt = record.azure_return, record.attempt
    if ours is None or ours.posted_at is None or ours.accepted_at is not None or ours.holder == holder:
        return False
    return attempt is not None and attempt.lease_until > now


def return_claimed(
    record: PurchaseRecord, state: AzureState, key: str, actor: ActorRef, at: At, *, holder: str
) -> tuple[PurchaseRecord, Claim]:
    """With the reservation just re-read: the return to post, claimed by ``holder`` (one handler
    run), or why not. Never a claim over another run's return whose POST may be in flight, nor
    over a return Azure accepted (that re-read may predate Azure's 202: it is not stored)."""
    if return_held(record, holder, at.now):
        return record, Claim(Next.WAIT)
    if return_to_follow(record):
        return record, Claim(Next.FOLLOW)
    record = with_state(record, state)
    if progress(state) is not Progress.NONE:
        return record, Claim(Next.FOLLOW)
    ours = _return_allowed(record, state, holder, at)
    if ours is None:
        return record, Claim(Next.NONE)
    record = _attempted(record.model_copy(update={"azure_return": ours}), ours.quote, key, actor, at)
    return record, Claim(Next.POST, ours)


def _return_allowed(record: PurchaseRecord, state: AzureState, holder: str, at: At) -> AzureReturn | None:
    standing = standing_of(record, at.now)
    if standing.closed is not None or standing.offer is None or at.now >= standing.offer.until:
        return None
    quote = state.quote
    if quote is None or quote.session_id is None:
        return None
    return AzureReturn(
        quantity=quantity_to_return(record.purchase.azure_product(), state),
        session_id=quote.session_id,
        quote=quote,
        posted_at=at.now,
        holder=holder,
    )


def _attempted(record: PurchaseRecord, quote: RefundQuote, key: str, actor: ActorRef, at: At) -> PurchaseRecord:
    """The attempt of ``key`` with its lease renewed (started, and the request noted, if new)."""
    attempt = record.attempt
    lease_until = at.now + at.policy.attempt_lease
    if attempt is not None and attempt.key == key:
        return record.model_copy(update={"attempt": attempt.model_copy(update={"lease_until": lease_until})})
    attempt = Attempt(
        key=key,
        kind=AttemptKind.REVOKE,
        action=RETURN,
        client_token=f"gp-{record.purchase_id}"[:64],
        started_at=at.now,
        lease_until=lease_until,
        actor=actor,
    )
    requested = TimelineEntry(
        at=at.now,
        kind=TimelineKind.REVOKE_REQUESTED,
        summary=f"Return requested; {refund_words(quote)}",
        actor=actor,
    )
    return with_entry(record.model_copy(update={"attempt": attempt}), requested)


def not_returnable(record: PurchaseRecord, at: At) -> Rejected:
    """Azure allows no return now: the closed phase's reason, or the state Azure reports."""
    closed = standing_of(record, at.now).closed
    message = closed.message if closed is not None else f"Azure allows no return now (state {record.azure.state})"
    return Rejected(ErrorCode.CONFLICT, message, record=record, account=at.account)


def return_accepted(record: PurchaseRecord, started: ReturnStarted | None, actor: ActorRef, at: At) -> PurchaseRecord:
    """Azure accepted the return (202, ``started``), or a re-read shows it running or done."""
    if record.status in (RevocationStatus.REVOKED, RevocationStatus.PENDING):
        return record.model_copy(update={"attempt": None})
    who = record.attempt.actor if record.attempt else actor
    ours = record.azure_return
    if ours is not None:
        token = started.continuation_token if started else ours.continuation_token
        ours = ours.model_copy(update={"continuation_token": token, "accepted_at": at.now, "status": "InProgress"})
    record = audited_acceptance(
        record,
        started,
        who,
        at,
        summary="Azure accepted the return (a long-running operation)",
        detail={"request_id": started.request_id if started else None},
    )
    record = record.model_copy(update={"azure_return": ours, "status": RevocationStatus.PENDING})
    summary = "Azure accepted the return of the reservation: irreversible; Azure is processing it"
    if ours is not None:
        summary += f" ({refund_words(ours.quote)})"
    return announced(record, PurchaseChangeKind.REVOCATION_REQUESTED, summary, key="return", actor=who, now=at.now)


def azure_failing(error: AzureCallError) -> Failing:
    return Failing(azure_failure_message(error), error.code, error.action, error.request_id)


def azure_failure_message(error: AzureCallError) -> str:
    if error.failure is Failure.ACCESS_DENIED:
        return (
            f"Grace Period's service principal lacks {error.action}: re-apply the Azure onboarding template. "
            f"Azure said: {error.message}"
        )
    if error.failure in (Failure.NOT_ASSUMABLE, Failure.EXPIRED):
        return f"Azure refused Grace Period's service principal (its secret may have expired): {error.message}"
    if error.failure is Failure.THROTTLED:
        return f"Azure kept throttling the return; nothing was returned. Try again later. ({error.message})"
    if error.failure is Failure.NOT_FOUND:
        return f"Azure does not know this reservation: {error.message}"
    return f"Azure refused the return: {error.message}"


def azure_problem_code(error: AzureCallError) -> ErrorCode:
    if error.failure in (Failure.ACCESS_DENIED, Failure.NOT_ASSUMABLE, Failure.EXPIRED):
        return ErrorCode.UNAVAILABLE
    if error.failure is Failure.NOT_FOUND:
        return ErrorCode.NOT_FOUND
    if error.status in (400, 409):
        return ErrorCode.CONFLICT
    return ErrorCode.FAILED


def return_refused(record: PurchaseRecord, error: AzureCallError, actor: ActorRef, at: At) -> PurchaseRecord:
    """The POST failed for good and a re-read shows Azure did nothing: a failed outcome."""
    record = record.model_copy(update={"azure_return": None})
    return failed(record, azure_failing(error), actor, at)


def return_ended(record: PurchaseRecord, ended: ReturnEnded, state: AzureState | None, at: At) -> PurchaseRecord:
    """What following the operation (and re-reading the reservation) found."""
    ours = record.azure_return
    if state is not None:
        record = with_state(record, state)
    if ours is not None and ended.status != "InProgress":
        record = record.model_copy(update={"azure_return": ours.model_copy(update={"status": ended.status})})
    if record.status not in (RevocationStatus.PENDING, RevocationStatus.FAILED):
        return record
    if ended.status == "Succeeded" or (state is not None and progress(state) is Progress.UNDONE):
        return revoked(record, record.audit.actor, at)
    if ended.status == "Failed" and record.status is RevocationStatus.PENDING:
        why = Failing(f"Azure's return failed: {ended.code}: {ended.message}", ended.code, RETURN, ended.request_id)
        return failed(record, why, record.audit.actor or _system(), at)
    return record


def return_timed_out(record: PurchaseRecord, at: At) -> PurchaseRecord:
    """A return still running past the policy's limit: a recorded outcome (it is never posted
    again; Grace Period keeps reading the reservation and records the end when it comes)."""
    ours = record.azure_return
    if record.status is not RevocationStatus.PENDING or ours is None or ours.accepted_at is None:
        return record
    if at.now < ours.accepted_at + at.policy.azure_return_timeout:
        return record
    record = record.model_copy(update={"azure_return": ours.model_copy(update={"timed_out_at": at.now})})
    why = Failing(
        f"Azure's return, accepted at {iso(ours.accepted_at)}, had not finished by {iso(at.now)}. It was not "
        "posted again; Grace Period keeps reading the reservation and records the return if Azure completes it.",
        "ReturnTimedOut",
        RETURN,
    )
    return failed(record, why, record.audit.actor or _system(), at)


def return_to_follow(record: PurchaseRecord) -> bool:
    """A return of ours Azure accepted whose end is not known yet."""
    ours = record.azure_return
    return ours is not None and ours.accepted_at is not None and ours.status in (None, "InProgress")


def _system() -> ActorRef:
    return ActorRef(user_id="graceperiod", email="graceperiod@localhost", name="Grace Period", path=ActionPath.SYSTEM)
