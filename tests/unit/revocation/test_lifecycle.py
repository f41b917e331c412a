"""Every transition of the purchase lifecycle, as the pure domain rules make it: the record in,
the record as it becomes out, with the events it announces in its outbox. No servers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from graceperiod.contracts.enums import ActionPath, Permission
from graceperiod.contracts.notifier import DeliveryStatus, EmailDelivered, EmailKind, EmailOutcome
from graceperiod.contracts.revocation import PurchaseChangeKind
from graceperiod.contracts.revocation_views import (
    ActorRef,
    AllowedAction,
    CaseOutcome,
    Phase,
    RevokedVia,
    SupportPlan,
    TimelineKind,
    UnavailableReason,
)
from graceperiod.contracts.rpc import Actor, CommandStatus, ErrorCode
from graceperiod.devstack.testkit.samples import sample_purchase
from graceperiod.revocation.domain.authorization import Asker
from graceperiod.revocation.domain.aws_answers import ActionResult, AwsCallError, CaseInfo, Failure
from graceperiod.revocation.domain.commitments import SelfServiceAction
from graceperiod.revocation.domain.follow_ups import (
    attempt_to_resume,
    case_to_poll,
    followed,
    needs_aws_read,
    windows_closed,
)
from graceperiod.revocation.domain.lifecycle import (
    At,
    LifecyclePolicy,
    announced,
    recorded,
    recorded_event,
    refreshed,
    with_delivery,
)
from graceperiod.revocation.domain.outcomes import Rejected
from graceperiod.revocation.domain.records import AccountRecord, AwsState, PurchaseRecord, RevocationStatus
from graceperiod.revocation.domain.revoking import accepted, aws_failing, claimed, failed, revoke_answer
from graceperiod.revocation.domain.support_cases import (
    Filing,
    Resolution,
    case_answer,
    case_claimed,
    case_followed,
    case_text,
    opened,
    resolve_answer,
    resolved,
)
from graceperiod.revocation.domain.views import view_of

EXECUTED = datetime(2026, 11, 3, 14, 22, tzinfo=UTC)
NOW = EXECUTED + timedelta(hours=1)
POLICY = LifecyclePolicy()
ACCOUNT = AccountRecord(
    account_id="123456789012",
    role_arn="arn:aws:iam::123456789012:role/GracePeriodRevocation",
    external_id="ext",
    role_assumable=True,
    support_plan=SupportPlan.API_ACCESS,
)
AT = At(now=NOW, account=ACCOUNT, policy=POLICY)
ADA = ActorRef(user_id="u-admin", email="admin@example.com", path=ActionPath.DASHBOARD)
RETURNABLE = AwsState(known=True, state="active", start=EXECUTED, returnable_until=EXECUTED + timedelta(days=2))
QUEUED = AwsState(known=True, state="queued", start=EXECUTED + timedelta(days=3))
ACTIVE_RI = AwsState(known=True, state="active", start=EXECUTED - timedelta(hours=1))


def _sp(aws: AwsState = RETURNABLE) -> PurchaseRecord:
    return recorded(sample_purchase(executed_at=EXECUTED), aws, AT)


def _ri(aws: AwsState = ACTIVE_RI) -> PurchaseRecord:
    purchase = sample_purchase(executed_at=EXECUTED, kind="reserved_instance", service="ec2", commitment_id="ri-1")
    return recorded(purchase, aws, AT)


def _changes(record: PurchaseRecord) -> list[PurchaseChangeKind]:
    return [entry.event.change for entry in record.outbox]


def _later(delta: timedelta, account: AccountRecord | None = ACCOUNT) -> At:
    return At(now=NOW + delta, account=account, policy=POLICY)


# --- recording -----------------------------------------------------------------------------------


def test_a_recorded_purchase_has_its_windows_phase_and_next_check_from_aws() -> None:
    record = _sp()
    assert record.windows.self_service_until == RETURNABLE.returnable_until
    assert record.windows.support_case_until == EXECUTED + POLICY.support_window
    assert record.audit.revocation_window_closes_at == record.windows.closes_at
    assert record.phase is Phase.SELF_SERVICE
    assert record.next_check_at == RETURNABLE.returnable_until  # the first window edge
    assert [e.kind for e in record.timeline] == [TimelineKind.EXECUTED, TimelineKind.RECORDED]
    assert record.outbox == []
    event, message_id = recorded_event(record, NOW)
    assert message_id == f"purchase-recorded:{record.purchase_id}"
    assert (event.phase, event.windows) == (Phase.SELF_SERVICE, record.windows)


def test_a_purchase_aws_could_not_describe_is_recorded_unknown_and_read_again_soon() -> None:
    record = _sp(AwsState(known=False, error="ThrottlingException: slow down"))
    assert record.windows.self_service_known is False
    assert record.windows.self_service_until is None
    assert "could not be read (ThrottlingException: slow down)" in record.timeline[-1].summary
    assert record.next_check_at == NOW + POLICY.unknown_retry
    assert needs_aws_read(record, NOW)


def test_an_email_delivery_joins_the_timeline_once() -> None:
    delivered = EmailOutcome(recipient="owner@example.com", status=DeliveryStatus.SENT, at=NOW, delivery_id="m-1")
    once = with_delivery(_sp(), EmailKind.PURCHASE_EXECUTED, delivered)
    twice = with_delivery(once, EmailKind.PURCHASE_EXECUTED, delivered)
    assert [e.kind for e in twice.timeline].count(TimelineKind.EMAILED) == 1
    assert twice is once


def test_an_older_notifiers_event_reports_its_one_email_by_its_message_id() -> None:
    delivered = EmailDelivered(
        occurred_at=NOW,
        purchase_id="p",
        kind=EmailKind.PURCHASE_EXECUTED,
        recipient="owner@example.com",
        status=DeliveryStatus.REJECTED,
        detail="550 no such user",
    )
    assert delivered.outcomes("m-1") == [
        EmailOutcome(
            recipient="owner@example.com",
            status=DeliveryStatus.REJECTED,
            at=NOW,
            detail="550 no such user",
            delivery_id="m-1",
        )
    ]


def test_an_event_is_announced_once_per_message_id() -> None:
    record = announced(_sp(), PurchaseChangeKind.WINDOW_CLOSED, "closed", key="final", now=NOW)
    again = announced(record, PurchaseChangeKind.WINDOW_CLOSED, "closed", key="final", now=NOW)
    assert [o.message_id for o in again.outbox] == [f"purchase-changed:{record.purchase_id}:window-closed:final"]


# --- revoking ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (RevocationStatus.REVOKED, (CommandStatus.DONE, "Already revoked.")),
        (RevocationStatus.PENDING, (CommandStatus.DONE, "AWS is already processing the return.")),
        (RevocationStatus.NONE, None),
        (RevocationStatus.FAILED, None),
    ],
)
def test_what_a_revoke_answers_without_calling_aws(
    status: RevocationStatus, expected: tuple[CommandStatus, str] | None
) -> None:
    answer = revoke_answer(_sp().model_copy(update={"status": status}), "k", AT)
    assert (answer.status, answer.message) == expected if answer else expected is None


def test_a_revoke_after_a_support_case_is_refused() -> None:
    with pytest.raises(Rejected) as refused:
        revoke_answer(_ri().model_copy(update={"status": RevocationStatus.CASE_OPEN}), "k", AT)
    assert refused.value.code is ErrorCode.CONFLICT


def test_a_revoke_while_another_attempt_holds_its_lease_is_in_progress_and_after_it_goes_ahead() -> None:
    record, _ = claimed(_sp(), RETURNABLE, "first", ADA, AT)
    answer = revoke_answer(record, "second", AT)
    assert answer is not None
    assert answer.status is CommandStatus.IN_PROGRESS
    assert revoke_answer(record, "first", AT) is None  # the same request goes on
    assert revoke_answer(record, "second", _later(POLICY.attempt_lease)) is None  # the lease passed


def test_a_claim_stores_the_attempt_with_its_client_token_before_aws_is_called() -> None:
    record, action = claimed(_sp(), RETURNABLE, "k", ADA, AT)
    assert action is SelfServiceAction.RETURN_SAVINGS_PLAN
    assert record.attempt is not None
    assert (record.attempt.key, record.attempt.client_token) == ("k", f"gp-{record.purchase_id}")
    assert record.attempt.lease_until == NOW + POLICY.attempt_lease
    assert record.timeline[-1].kind is TimelineKind.REVOKE_REQUESTED

    renewed, again = claimed(record, RETURNABLE, "k", ADA, _later(timedelta(minutes=1)))
    assert again is action
    assert renewed.attempt is not None
    assert renewed.attempt.lease_until == NOW + timedelta(minutes=1) + POLICY.attempt_lease
    assert len(renewed.timeline) == len(record.timeline)  # the same attempt: no second entry


@pytest.mark.parametrize(
    "aws",
    [
        AwsState(known=True, state="returned", start=EXECUTED),
        AwsState(known=True, state="active", start=EXECUTED, returnable_until=NOW),  # closed at this instant
    ],
    ids=["undone-already", "window-closed"],
)
def test_no_attempt_when_aws_undid_it_already_or_allows_no_undo(aws: AwsState) -> None:
    record, action = claimed(_sp(), aws, "k", ADA, AT)
    assert action is None
    assert record.attempt is None
    assert record.aws == aws


def test_a_return_aws_accepted_is_pending_until_aws_says_returned() -> None:
    record, _ = claimed(_sp(), RETURNABLE, "k", ADA, AT)
    pending = accepted(record, ActionResult("req-1", {"savingsPlanId": "sp-1"}), ADA, AT)
    assert pending.status is RevocationStatus.PENDING
    assert pending.aws.state == "pending-return"
    assert pending.attempt is None
    assert pending.phase is Phase.REVOCATION_PENDING
    assert pending.audit.revoked_via is RevokedVia.SELF_SERVICE_API
    assert pending.audit.aws_request_ids == ["req-1"]
    assert _changes(pending) == [PurchaseChangeKind.REVOCATION_REQUESTED]
    assert pending.next_check_at == NOW + POLICY.pending_poll
    assert needs_aws_read(pending, NOW)

    later = _later(timedelta(minutes=2))
    done = followed(
        pending.model_copy(update={"outbox": []}), RETURNABLE.model_copy(update={"state": "returned"}), None, later
    )
    assert done.status is RevocationStatus.REVOKED
    assert done.phase is Phase.REVOKED
    assert _changes(done) == [PurchaseChangeKind.REVOKED]
    assert done.outbox[0].event.actor == ADA  # who asked, not the tick


def test_a_deleted_queued_purchase_is_revoked_at_once() -> None:
    record, action = claimed(_sp(QUEUED), QUEUED, "k", ADA, AT)
    assert action is SelfServiceAction.DELETE_QUEUED_SAVINGS_PLAN
    done = accepted(record, ActionResult("req-2", {}), ADA, AT)
    assert done.status is RevocationStatus.REVOKED
    assert done.aws.state == "queued-deleted"
    assert [o.message_id for o in done.outbox] == [f"purchase-changed:{done.purchase_id}:revoked:final"]


def test_an_undo_found_done_in_aws_is_finished_without_a_call() -> None:
    record, _ = claimed(_sp(), RETURNABLE, "k", ADA, AT)
    done = accepted(record, None, ADA, AT, aws=AwsState(known=True, state="returned"))
    assert done.status is RevocationStatus.REVOKED
    assert done.audit.actor == ADA


def test_accepting_again_only_lets_go_of_the_attempt() -> None:
    record, _ = claimed(_sp(), RETURNABLE, "k", ADA, AT)
    pending = accepted(record, ActionResult(None, {}), ADA, AT).model_copy(
        update={"outbox": [], "attempt": record.attempt}
    )
    again = accepted(pending, ActionResult(None, {}), ADA, AT)
    assert again.attempt is None
    assert again.outbox == []


def test_a_refusal_fails_the_attempt_and_the_quota_blocks_that_action() -> None:
    record, _ = claimed(_sp(), RETURNABLE, "k", ADA, AT)
    quota = AwsCallError(
        Failure.REJECTED,
        "ServiceQuotaExceededException: 10 a year",
        action="savingsplans:ReturnSavingsPlan",
        code="ServiceQuotaExceededException",
        request_id="req-3",
    )
    down = failed(record, aws_failing(quota), ADA, AT)
    assert down.status is RevocationStatus.FAILED
    assert down.attempt is None
    assert down.blocked is not None
    assert "yearly Savings Plans return quota" in (down.audit.failure or "")
    assert down.audit.aws_request_ids == ["req-3"]
    assert [o.message_id for o in down.outbox] == [f"purchase-changed:{down.purchase_id}:revocation-failed:k"]
    assert down.phase is Phase.SUPPORT_CASE  # the blocked return is not offered again; a case is


# --- support cases -------------------------------------------------------------------------------


def test_a_support_case_is_refused_while_a_self_service_undo_exists_or_the_plan_lacks_the_api() -> None:
    with pytest.raises(Rejected) as self_service:
        case_answer(_sp(), AT)
    assert self_service.value.code is ErrorCode.CONFLICT
    no_plan = ACCOUNT.model_copy(update={"support_plan": SupportPlan.NO_API_ACCESS})
    with pytest.raises(Rejected) as unavailable:
        case_answer(_ri(), At(NOW, no_plan, POLICY))
    assert unavailable.value.code is ErrorCode.UNAVAILABLE
    with pytest.raises(Rejected) as closed:
        case_answer(_ri(), _later(timedelta(days=8)))
    assert closed.value.code is ErrorCode.CONFLICT
    assert case_answer(_ri(), AT) is None


def test_the_case_subject_always_carries_the_reference() -> None:
    record = _ri()
    subject, body = case_text(record, "Please refund", None)
    assert subject == f"[GP-{record.purchase_id}] Please refund"
    assert "ri-1" in body  # the draft's body


def test_a_case_is_filed_opened_followed_and_resolved() -> None:
    record = _ri()
    claimed_record, resuming = case_claimed(record, "k", ADA, AT, subject="[GP-x] s", body="b")
    assert not resuming
    assert claimed_record.attempt is not None
    assert case_claimed(claimed_record, "k", ADA, AT, subject="s", body="b")[1]  # the same key resumes

    info = CaseInfo("case-1", "1234", "opened", "[GP-x] s")
    open_ = opened(
        claimed_record, Filing("case-1", info, ActionResult("req", {"caseId": "case-1"})), claimed_record.attempt, AT
    )
    assert open_.status is RevocationStatus.CASE_OPEN
    assert open_.phase is Phase.CASE_OPEN
    assert open_.attempt is None
    assert open_.audit.support_case_id == "case-1"
    assert (open_.audit.support_case_subject, open_.audit.support_case_body) == ("[GP-x] s", "b")  # as filed
    assert open_.audit.support_case_display_id == "1234"
    assert open_.audit.revoked_via is RevokedVia.SUPPORT_CASE_API
    assert open_.audit.revoked_at is None  # AWS decides at its discretion
    assert _changes(open_) == [PurchaseChangeKind.SUPPORT_CASE_OPENED]
    assert case_to_poll(open_) == "case-1"

    quiet = open_.model_copy(update={"outbox": []})
    assert case_followed(quiet, "opened", AT) is quiet  # nothing new
    updated = case_followed(quiet, "pending-customer-action", AT)
    assert _changes(updated) == [PurchaseChangeKind.SUPPORT_CASE_UPDATED]
    by_aws = case_followed(quiet, "resolved", AT)
    assert by_aws.status is RevocationStatus.CASE_RESOLVED
    assert by_aws.audit.support_case_resolved_by is None

    assert resolve_answer(quiet, AT) is None
    by_hand = resolved(
        quiet, ADA, AT, Resolution("refund seen on the bill", CaseOutcome.PARTIALLY_GRANTED, Decimal("1200.50"))
    )
    assert by_hand.audit.support_case_resolved_by == ADA
    assert by_hand.timeline[-1].detail == {"note": "refund seen on the bill"}
    assert by_hand.audit.support_case_resolution_note == "refund seen on the bill"
    assert by_hand.audit.support_case_outcome is CaseOutcome.PARTIALLY_GRANTED
    assert by_hand.audit.support_case_refund == Decimal("1200.50")
    assert "outcome: partially-granted, refund USD 1200.50" in by_hand.timeline[-1].summary
    announced_audit = by_hand.outbox[-1].event.audit  # the resolved email is built from it
    assert announced_audit.support_case_outcome is CaseOutcome.PARTIALLY_GRANTED
    answer = resolve_answer(by_hand, AT)
    assert answer is not None
    assert answer.message == "The case was already resolved."


def test_resolving_without_an_open_case_is_refused() -> None:
    with pytest.raises(Rejected) as refused:
        resolve_answer(_ri(), AT)
    assert refused.value.code is ErrorCode.CONFLICT


# --- follow-ups ----------------------------------------------------------------------------------


def test_an_attempt_is_resumed_once_its_lease_passed() -> None:
    record, _ = claimed(_sp(), RETURNABLE, "k", ADA, AT)
    assert not attempt_to_resume(record, NOW + POLICY.attempt_lease - timedelta(seconds=1))
    assert attempt_to_resume(record, NOW + POLICY.attempt_lease)
    assert record.attempt is not None
    assert refreshed(record, AT).next_check_at == record.attempt.lease_until  # a tick comes back then


def test_a_queued_commitment_whose_start_passed_is_read_again() -> None:
    record = _sp(QUEUED)
    assert not needs_aws_read(record, NOW)
    assert needs_aws_read(record, QUEUED.start or NOW)


def test_each_window_edge_is_announced_once() -> None:
    record = _sp()
    assert windows_closed(record, AT) is record
    after_self_service = followed(record, None, None, At(RETURNABLE.returnable_until or NOW, ACCOUNT, POLICY))
    assert _changes(after_self_service) == [PurchaseChangeKind.WINDOW_CLOSED]
    assert after_self_service.phase is Phase.SUPPORT_CASE
    closed_at = record.windows.closes_at or NOW
    after_all = followed(
        after_self_service.model_copy(update={"outbox": []}), None, None, At(closed_at, ACCOUNT, POLICY)
    )
    assert [o.message_id.rsplit(":", 1)[1] for o in after_all.outbox] == ["final"]
    assert after_all.phase is Phase.CLOSED
    again = followed(after_all.model_copy(update={"outbox": []}), None, None, At(closed_at, ACCOUNT, POLICY))
    assert again.outbox == []


# --- views ---------------------------------------------------------------------------------------


def test_a_view_offers_the_actions_only_to_whom_may_take_them() -> None:
    record = _sp()
    owner = Actor(
        user_id="u-alice",
        email="alice@example.com",
        permissions=[Permission.REVOKE_OWN_PURCHASES],
        path=ActionPath.DASHBOARD,
    )
    stranger = Actor(
        user_id="u-bob",
        email="bob@example.com",
        permissions=[Permission.REVOKE_OWN_PURCHASES],
        path=ActionPath.DASHBOARD,
    )
    assert view_of(record, ACCOUNT, Asker(owner), NOW).allowed_actions == [AllowedAction.REVOKE]
    refused = view_of(record, ACCOUNT, Asker(stranger), NOW)
    assert refused.allowed_actions == []
    assert refused.unavailable is not None
    assert refused.unavailable.reason is UnavailableReason.NOT_PERMITTED
    assert view_of(record, None, Asker(owner), NOW).unavailable is not None  # no role registered
