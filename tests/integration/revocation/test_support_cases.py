"""Done when: an active RI gets a support case filed with the drafted text; a Basic-plan account
gets "support unavailable"; a role missing actions is reported."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

from graceperiod.contracts.revocation import (
    AccountAccessReply,
    GetSupportCaseDraft,
    ListAccountAccess,
    MarkCaseResolved,
    RevokePurchase,
    SubmitSupportCase,
    SupportCaseDraftReply,
)
from graceperiod.contracts.revocation_views import (
    AllowedAction,
    CaseOutcome,
    Phase,
    RevokedVia,
    SupportPlan,
    UnavailableReason,
)
from graceperiod.contracts.rpc import CommandStatus, ErrorCode
from tests.integration.revocation.conftest import ADMIN, ALICE, Harness, key


async def _active_ri(harness: Harness, account: str) -> str:
    ri = await harness.control.reserved_instance(
        account, region="us-west-2", start=harness.clock.now() - timedelta(minutes=5)
    )
    body = await harness.purchase(
        account, kind="reserved_instance", service="ec2", commitment_id=ri["ReservedInstancesId"], region="us-west-2"
    )
    return str(body["purchase_id"])


async def test_an_active_ri_gets_a_support_case_with_the_drafted_text(harness: Harness) -> None:
    account = await harness.account()
    pid = await _active_ri(harness, account)
    view = await harness.view(pid, ALICE)
    assert view.phase is Phase.SUPPORT_CASE
    assert view.allowed_actions == [AllowedAction.REQUEST_SUPPORT_CASE]
    refused = await harness.command(RevokePurchase(actor=ALICE, idempotency_key=key(), purchase_id=pid))
    assert refused.status is CommandStatus.REJECTED
    assert refused.problem is not None
    assert refused.problem.code is ErrorCode.CONFLICT

    draft = (await harness.query(GetSupportCaseDraft(actor=ALICE, purchase_id=pid), SupportCaseDraftReply)).draft
    assert draft is not None
    reply = await harness.command(SubmitSupportCase(actor=ALICE, idempotency_key=key(), purchase_id=pid))

    assert reply.status is CommandStatus.DONE, reply
    assert reply.purchase is not None
    assert reply.purchase.phase is Phase.CASE_OPEN
    assert reply.purchase.allowed_actions == [AllowedAction.MARK_CASE_RESOLVED]
    audit = reply.purchase.audit
    assert audit.revoked_via is RevokedVia.SUPPORT_CASE_API
    assert audit.revoked_at is None  # a case is a request; AWS decides
    [case] = (await harness.control.get_account(account))["cases"]
    assert audit.support_case_id == case["caseId"]
    assert audit.support_case_display_id == case["displayId"]
    assert case["subject"] == draft.subject
    assert case["recentCommunications"]["communications"][0]["body"] == draft.body
    assert (case["serviceCode"], case["categoryCode"], case["issueType"]) == (
        "billing",
        "reserved-instances",
        "customer-service",
    )
    assert case["severityCode"] == "normal"
    [create] = await harness.control.calls(account=account, action="support:CreateCase")
    assert create["region"] == "us-east-1"  # the Support API's region, not the RI's
    await harness.wait_event(pid, "support-case-opened")

    # AWS Support resolves it; the next due tick notices (DescribeCases with resolved cases).
    await harness.control.set_case(account, case["caseId"], status="work-in-progress")
    harness.clock.advance(timedelta(minutes=5))
    await harness.tick()
    await harness.wait_event(pid, "support-case-updated")
    await harness.control.set_case(account, case["caseId"], status="resolved")
    harness.clock.advance(timedelta(minutes=5))
    await harness.tick()
    resolved = await harness.wait_for(pid, lambda v: v.phase is Phase.CASE_RESOLVED)
    assert resolved.audit.support_case_status == "resolved"
    assert resolved.audit.support_case_resolved_by is None
    await harness.wait_event(pid, "support-case-resolved")
    polls = await harness.control.calls(account=account, action="support:DescribeCases")
    assert all(c["params"]["includeResolvedCases"] is True for c in polls if "caseIdList" in c["params"])


async def test_a_case_can_be_marked_resolved_by_hand_and_categories_fall_back(harness: Harness) -> None:
    account = await harness.account()
    await harness.control.account(account, billing_categories=["other-billing-questions", "charge-inquiry"])
    pid = await _active_ri(harness, account)
    reply = await harness.command(
        SubmitSupportCase(
            actor=ADMIN, idempotency_key=key(), purchase_id=pid, subject="Please refund", body="Edited body"
        )
    )
    assert reply.status is CommandStatus.DONE, reply
    [case] = (await harness.control.get_account(account))["cases"]
    assert case["categoryCode"] == "other-billing-questions"
    assert case["subject"] == f"[GP-{pid}] Please refund"
    filed = reply.purchase.audit if reply.purchase else None
    assert filed is not None
    assert (filed.support_case_subject, filed.support_case_body) == (f"[GP-{pid}] Please refund", "Edited body")
    assert reply.purchase is not None
    assert reply.purchase.support_case_url == (
        f"https://console.aws.amazon.com/support/home#/case/?displayId={case['displayId']}&language=en"
    )

    done = await harness.command(
        MarkCaseResolved(
            actor=ADMIN,
            idempotency_key=key(),
            purchase_id=pid,
            note="AWS refunded the upfront fee",
            outcome=CaseOutcome.PARTIALLY_GRANTED,
            refund_amount=Decimal("1200.50"),
        )
    )
    again = await harness.command(MarkCaseResolved(actor=ADMIN, idempotency_key=key(), purchase_id=pid))

    assert done.status is CommandStatus.DONE
    assert done.purchase is not None
    assert done.purchase.phase is Phase.CASE_RESOLVED
    assert done.purchase.audit.support_case_resolved_by is not None
    assert done.purchase.audit.support_case_resolved_by.user_id == "u-admin"
    assert again.status is CommandStatus.DONE
    resolved = done.purchase.audit
    assert resolved.support_case_resolution_note == "AWS refunded the upfront fee"
    assert resolved.support_case_outcome is CaseOutcome.PARTIALLY_GRANTED
    assert resolved.support_case_refund == Decimal("1200.50")
    assert (await harness.view(pid)).audit.support_case_outcome is CaseOutcome.PARTIALLY_GRANTED  # stored
    event = await harness.wait_event(pid, "support-case-resolved")
    assert event["actor"]["user_id"] == "u-admin"
    # the outcome email is built from the event's audit
    assert event["audit"]["support_case_outcome"] == "partially-granted"
    assert event["audit"]["support_case_refund"] == "1200.50"
    assert event["audit"]["support_case_resolution_note"] == "AWS refunded the upfront fee"


async def test_a_basic_plan_account_gets_support_unavailable(harness: Harness) -> None:
    account = await harness.account(support_plan="basic")
    pid = await _active_ri(harness, account)

    view = await harness.view(pid)
    reply = await harness.command(SubmitSupportCase(actor=ADMIN, idempotency_key=key(), purchase_id=pid))

    assert view.phase is Phase.SUPPORT_UNAVAILABLE
    assert view.allowed_actions == []
    assert view.unavailable is not None
    assert view.unavailable.reason is UnavailableReason.NO_SUPPORT_PLAN
    assert (
        view.unavailable.manual_route
        == "https://console.aws.amazon.com/support/home#/case/create?issueType=customer-service"
    )
    assert reply.status is CommandStatus.REJECTED
    assert reply.problem is not None
    assert reply.problem.code is ErrorCode.UNAVAILABLE
    assert await harness.control.calls(account=account, action="support:CreateCase") == []
    access = (await harness.query(ListAccountAccess(actor=ADMIN), AccountAccessReply)).accounts
    assert next(a for a in access if a.account_id == account).support_plan is SupportPlan.NO_API_ACCESS


async def test_subscription_required_met_when_filing_makes_support_unavailable(harness: Harness) -> None:
    account = await harness.account()
    pid = await _active_ri(harness, account)
    await harness.control.account(account, support_plan="developer")  # downgraded after the probe

    reply = await harness.command(SubmitSupportCase(actor=ADMIN, idempotency_key=key(), purchase_id=pid))

    assert reply.status is CommandStatus.REJECTED
    assert reply.problem is not None
    assert reply.problem.code is ErrorCode.UNAVAILABLE
    assert "Support plan" in reply.problem.message
    view = await harness.view(pid)
    assert view.phase is Phase.SUPPORT_UNAVAILABLE
    assert view.unavailable is not None
    assert view.unavailable.reason is UnavailableReason.NO_SUPPORT_PLAN


async def test_a_role_missing_actions_is_reported(harness: Harness) -> None:
    account = await harness.account(denied=["ec2:DeleteQueuedReservedInstances", "support:DescribeServices"])
    now = harness.clock.now()
    queued = await harness.control.reserved_instance(account, start=now + timedelta(days=2))
    queued_pid = (
        await harness.purchase(
            account, kind="reserved_instance", service="ec2", commitment_id=queued["ReservedInstancesId"]
        )
    )["purchase_id"]
    active_pid = await _active_ri(harness, account)

    access = (await harness.query(ListAccountAccess(actor=ADMIN), AccountAccessReply)).accounts
    mine = next(a for a in access if a.account_id == account)
    assert mine.missing_actions == ["ec2:DeleteQueuedReservedInstances", "support:DescribeServices"]
    assert mine.reapply_bundle is True
    assert mine.support_plan is SupportPlan.API_ACCESS
    assert mine.role_assumable is True

    queued_view = await harness.view(queued_pid)
    assert queued_view.phase is Phase.SELF_SERVICE
    assert queued_view.allowed_actions == []
    assert queued_view.unavailable is not None
    assert queued_view.unavailable.reason is UnavailableReason.ROLE_LACKS_ACTIONS
    assert "ec2:DeleteQueuedReservedInstances" in queued_view.unavailable.message
    active_view = await harness.view(active_pid)
    assert active_view.phase is Phase.SUPPORT_UNAVAILABLE
    assert active_view.unavailable is not None
    assert "support:DescribeServices" in active_view.unavailable.message


async def test_concurrent_requests_file_one_case(harness: Harness) -> None:
    account = await harness.account()
    pid = await _active_ri(harness, account)

    replies = await asyncio.gather(
        *(harness.command(SubmitSupportCase(actor=ADMIN, idempotency_key=key(), purchase_id=pid)) for _ in range(3))
    )

    assert {r.status for r in replies} <= {CommandStatus.DONE, CommandStatus.IN_PROGRESS}
    assert CommandStatus.DONE in {r.status for r in replies}
    assert len((await harness.control.get_account(account))["cases"]) == 1
    assert (await harness.wait_for(pid, lambda v: v.phase is Phase.CASE_OPEN)).audit.support_case_id
