"""Bad input and faults: each has a clear outcome, none loses the command."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from graceperiod.contracts.enums import ActionPath
from graceperiod.contracts.identities import BrokerIdentity
from graceperiod.contracts.notifier import DeliveryStatus, EmailDelivered, EmailKind, EmailOutcome
from graceperiod.contracts.revocation import (
    AccountAccessReply,
    CommandReply,
    GetPurchase,
    GetSupportCaseDraft,
    ListAccountAccess,
    ListPurchases,
    PurchaseListReply,
    PurchaseReply,
    RegisterAccountRole,
    RevokePurchase,
    SubmitSupportCase,
    SupportCaseDraftReply,
)
from graceperiod.contracts.revocation_views import AllowedAction, Phase, PurchaseView, TimelineKind, UnavailableReason
from graceperiod.contracts.rpc import Actor, CommandStatus, ErrorCode
from graceperiod.contracts.topology import Queues
from graceperiod.devstack.testkit.tokens import LinkSigner
from graceperiod.revocation.settings import RevocationSettings
from graceperiod.runtime.rpc import call
from tests.integration.revocation import conftest as revocation_conftest
from tests.integration.revocation.conftest import ADMIN, LINK_SIGNER, ROLE_NAME, Harness, key, new_account_id


class Raw(BaseModel):
    """Whatever a buggy caller might send."""

    model_config = ConfigDict(extra="allow")


async def _returnable(harness: Harness, **kwargs: object) -> tuple[str, str]:
    account = await harness.account()
    now = harness.clock.now()
    plan = await harness.control.savings_plan(account, start=now, returnableUntil=now + timedelta(days=2))
    pid = (await harness.purchase(account, commitment_id=plan["savingsPlanId"]))["purchase_id"]
    return account, pid


async def test_unknown_purchase(harness: Harness) -> None:
    reply = await harness.command(RevokePurchase(actor=ADMIN, idempotency_key=key(), purchase_id="pur-nope"))
    got = await harness.query(GetPurchase(actor=ADMIN, purchase_id="pur-nope"), PurchaseReply)
    draft = await harness.query(GetSupportCaseDraft(actor=ADMIN, purchase_id="pur-nope"), SupportCaseDraftReply)
    assert reply.status is CommandStatus.REJECTED
    assert reply.problem is not None
    assert reply.problem.code is ErrorCode.NOT_FOUND
    assert got.problem is not None
    assert got.problem.code is ErrorCode.NOT_FOUND
    assert draft.problem is not None
    assert draft.problem.code is ErrorCode.NOT_FOUND


async def test_unknown_account_role(harness: Harness) -> None:
    account = await harness.account(register=False)
    plan = await harness.control.savings_plan(
        account, start=harness.clock.now(), returnableUntil=harness.clock.now() + timedelta(days=1)
    )
    pid = (await harness.purchase(account, commitment_id=plan["savingsPlanId"]))["purchase_id"]

    view = await harness.view(pid)
    reply = await harness.command(RevokePurchase(actor=ADMIN, idempotency_key=key(), purchase_id=pid))

    assert view.windows.self_service_known is False  # never guessed
    assert view.allowed_actions == []
    assert view.unavailable is not None
    assert view.unavailable.reason is UnavailableReason.ROLE_NOT_ASSUMABLE
    assert reply.status is CommandStatus.REJECTED
    assert reply.problem is not None
    assert reply.problem.code is ErrorCode.UNAVAILABLE
    assert f"no role is registered for account {account}" in reply.problem.message


async def test_a_wrong_external_id_is_reported_as_an_unassumable_role(harness: Harness) -> None:
    account = new_account_id()
    await harness.control.account(account, roles={ROLE_NAME: "the-real-one"})
    reply = await harness.command(
        RegisterAccountRole(actor=ADMIN, idempotency_key=key(), account_id=account, external_id="a-wrong-one")
    )
    assert reply.status is CommandStatus.DONE
    assert reply.account is not None
    assert reply.account.role_assumable is False
    assert reply.account.reapply_bundle is True
    assert reply.account.role_arn == f"arn:aws:iam::{account}:role/{ROLE_NAME}"


async def test_malformed_input_gets_an_invalid_answer(harness: Harness) -> None:
    actor = ADMIN.model_dump(mode="json")
    bad_id = await call(
        harness.client,
        Queues.REVOCATION_COMMANDS,
        Raw.model_validate(
            {"kind": "revoke-purchase", "actor": actor, "idempotency_key": key(), "purchase_id": "not an id!"}
        ),
        CommandReply,
        timeout=10,
        user_id=BrokerIdentity.GATEWAY,
    )
    bad_account = await call(
        harness.client,
        Queues.REVOCATION_COMMANDS,
        Raw.model_validate(
            {
                "kind": "register-account-role",
                "actor": actor,
                "idempotency_key": key(),
                "account_id": "12",
                "external_id": "x y",
            }
        ),
        CommandReply,
        timeout=10,
        user_id=BrokerIdentity.GATEWAY,
    )
    unknown_kind = await call(
        harness.client,
        Queues.REVOCATION_QUERIES,
        Raw.model_validate({"kind": "drop-tables", "actor": actor}),
        PurchaseReply,
        timeout=10,
        user_id=BrokerIdentity.GATEWAY,
    )
    bad_cursor = await harness.query(ListPurchases(actor=ADMIN, cursor="garbage"), PurchaseListReply)
    for reply in (bad_id, bad_account):
        assert reply.status is CommandStatus.REJECTED
        assert reply.problem is not None
        assert reply.problem.code is ErrorCode.INVALID
    assert bad_id.problem is not None
    assert "purchase_id" in bad_id.problem.message
    assert unknown_kind.problem is not None
    assert unknown_kind.problem.code is ErrorCode.INVALID
    assert bad_cursor.problem is not None
    assert bad_cursor.problem.code is ErrorCode.INVALID


#: This module's own back-off between rounds of AWS calls: long enough to see in the call log.
_BACKOFF_BASE = 0.6


@pytest.fixture
def visible_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """The service of the ``harness`` requested after this fixture backs off ``_BACKOFF_BASE``
    (to twice that) between rounds, and answers within 15 s (botocore's own jittered retries
    inside a round take up to 3 s)."""
    original = revocation_conftest.service_settings

    def settings(*args: Any, **overrides: Any) -> RevocationSettings:
        longer = {
            "aws_backoff_base_seconds": _BACKOFF_BASE,
            "aws_backoff_cap_seconds": 2.0,
            "reply_within_seconds": 15.0,
        }
        return original(*args, **(longer | overrides))

    monkeypatch.setattr(revocation_conftest, "service_settings", settings)


async def test_throttling_is_retried_with_backoff(visible_backoff: None, harness: Harness) -> None:
    account, pid = await _returnable(harness)
    await harness.control.fault("savingsplans:ReturnSavingsPlan", account=account, kind="throttle", count=4)

    reply = await harness.command(RevokePurchase(actor=ADMIN, idempotency_key=key(), purchase_id=pid))

    assert reply.status is CommandStatus.DONE, reply
    calls = await harness.control.calls(account=account, action="savingsplans:ReturnSavingsPlan")
    assert [c["code"] for c in calls] == ["ThrottlingException"] * 4 + [None]
    assert {c["params"]["clientToken"] for c in calls} == {f"gp-{pid}"}
    # botocore's 3 attempts (its own jittered back-off, which may be ~0), then our back-off of
    # at least half the base before the next round: the 4th call waited for it.
    at = [datetime.fromisoformat(c["at"]) for c in calls]
    assert (at[3] - at[2]).total_seconds() >= _BACKOFF_BASE / 2, at
    assert at == sorted(at)


async def test_aws_unreadable_at_recording_is_recorded_as_unknown_then_learnt(harness: Harness) -> None:
    account = await harness.account()
    now = harness.clock.now()
    plan = await harness.control.savings_plan(account, start=now, returnableUntil=now + timedelta(days=2))
    await harness.control.fault("savingsplans:DescribeSavingsPlans", account=account, kind="throttle", count=1000)
    pid = (await harness.purchase(account, commitment_id=plan["savingsPlanId"]))["purchase_id"]

    unknown = await harness.view(pid)
    assert unknown.windows.self_service_known is False
    assert unknown.windows.self_service_until is None
    assert unknown.aws_state is None
    assert unknown.phase is Phase.SUPPORT_CASE
    assert AllowedAction.REVOKE in unknown.allowed_actions  # it re-reads AWS before acting
    recorded = [e for e in harness.events if e.get("purchase", {}).get("purchase_id") == pid and "change" not in e]
    assert recorded[0]["windows"]["self_service_known"] is False

    await harness.control.clear_faults()
    harness.clock.advance(timedelta(minutes=5))
    await harness.tick()
    known = await harness.wait_for(pid, lambda v: v.windows.self_service_known)
    assert known.phase is Phase.SELF_SERVICE
    assert known.windows.self_service_until == now + timedelta(days=2)


async def test_server_errors_are_retried(harness: Harness) -> None:
    account = await harness.account()
    plan = await harness.control.savings_plan(account, start=harness.clock.now() + timedelta(days=5))
    pid = (await harness.purchase(account, commitment_id=plan["savingsPlanId"]))["purchase_id"]
    await harness.control.fault("savingsplans:DeleteQueuedSavingsPlan", account=account, kind="server-error", count=2)

    reply = await harness.command(RevokePurchase(actor=ADMIN, idempotency_key=key(), purchase_id=pid))

    assert reply.status is CommandStatus.DONE, reply
    assert reply.purchase is not None
    assert reply.purchase.phase is Phase.REVOKED


async def test_access_denied_is_reported_and_remembered(harness: Harness) -> None:
    account, pid = await _returnable(harness)
    await harness.control.account(account, denied_actions=["savingsplans:ReturnSavingsPlan"])

    reply = await harness.command(RevokePurchase(actor=ADMIN, idempotency_key=key(), purchase_id=pid))

    assert reply.status is CommandStatus.REJECTED
    assert reply.problem is not None
    assert reply.problem.code is ErrorCode.UNAVAILABLE
    assert "savingsplans:ReturnSavingsPlan" in reply.problem.message
    await harness.wait_event(pid, "revocation-failed")
    view = await harness.view(pid)
    assert view.phase is Phase.SELF_SERVICE
    assert view.allowed_actions == []
    assert view.unavailable is not None
    assert view.unavailable.reason is UnavailableReason.ROLE_LACKS_ACTIONS
    access = (await harness.query(ListAccountAccess(actor=ADMIN), AccountAccessReply)).accounts
    assert "savingsplans:ReturnSavingsPlan" in next(a for a in access if a.account_id == account).missing_actions


async def test_a_partial_failure_list_in_an_http_200(harness: Harness) -> None:
    account = await harness.account()
    ri = await harness.control.reserved_instance(
        account, start=harness.clock.now() + timedelta(days=2), deleteFailure="reserved-instances-not-in-queued-state"
    )
    pid = (
        await harness.purchase(
            account, kind="reserved_instance", service="ec2", commitment_id=ri["ReservedInstancesId"]
        )
    )["purchase_id"]

    reply = await harness.command(RevokePurchase(actor=ADMIN, idempotency_key=key(), purchase_id=pid))

    assert reply.status is CommandStatus.REJECTED
    assert reply.problem is not None
    assert reply.problem.code is ErrorCode.CONFLICT
    assert "reserved-instances-not-in-queued-state" in reply.problem.message
    event = await harness.wait_event(pid, "revocation-failed")
    assert "reserved-instances-not-in-queued-state" in event["audit"]["failure"]
    assert reply.purchase is not None
    assert reply.purchase.timeline[-1].kind is TimelineKind.FAILED


async def test_a_duplicate_command_acts_once(harness: Harness) -> None:
    account, pid = await _returnable(harness)
    command = RevokePurchase(actor=ADMIN, idempotency_key=key(), purchase_id=pid)

    first, second = await asyncio.gather(harness.command(command), harness.command(command))
    third = await harness.command(command)
    other_key = await harness.command(RevokePurchase(actor=ADMIN, idempotency_key=key(), purchase_id=pid))

    assert {first.status, second.status} <= {CommandStatus.DONE, CommandStatus.IN_PROGRESS}
    assert third.status is CommandStatus.DONE  # the stored outcome of that key
    assert other_key.status is CommandStatus.DONE
    assert other_key.message == "AWS is already processing the return."
    returns = await harness.control.calls(account=account, action="savingsplans:ReturnSavingsPlan")
    assert {c["params"]["clientToken"] for c in returns} == {f"gp-{pid}"}
    state = await harness.control.get_account(account)
    assert state["savings_plans"][0]["state"] in ("pending-return", "returned")


#: Someone on the broker claiming the email-link path: no permissions, as the gateway sends a
#: logged-out recipient, and no link of their own.
MALLORY = Actor(user_id="email:mallory@example.com", email="mallory@example.com", path=ActionPath.EMAIL_LINK)


@pytest.mark.parametrize("forged", ["no-token", "another-key", "someone-elses-link"])
async def test_an_email_link_claim_without_its_own_verified_link_changes_nothing(harness: Harness, forged: str) -> None:
    """The attack of issue 13: a revoke and a support case published straight to the command
    queue as an email-link actor were carried out. Now the service verifies the link itself."""
    account, pid = await _returnable(harness)
    now = harness.clock.now()
    token = {
        "no-token": None,
        "another-key": LinkSigner().token(purchase_id=pid, recipient="mallory@example.com", issued_at=now),
        "someone-elses-link": LINK_SIGNER.token(purchase_id=pid, recipient="owner@example.com", issued_at=now),
    }[forged]

    revoke = await harness.command(
        RevokePurchase(actor=MALLORY, idempotency_key=key(), purchase_id=pid, link_token=token)
    )
    case = await harness.command(
        SubmitSupportCase(actor=MALLORY, idempotency_key=key(), purchase_id=pid, link_token=token)
    )

    for reply in (revoke, case):
        assert reply.status is CommandStatus.REJECTED, reply
        assert reply.problem is not None
        assert reply.problem.code is ErrorCode.FORBIDDEN
    view = await harness.view(pid)
    assert view.phase is Phase.SELF_SERVICE
    assert view.audit.support_case_id is None
    assert await harness.control.calls(account=account, action="savingsplans:ReturnSavingsPlan") == []
    assert await harness.control.calls(account=account, action="support:CreateCase") == []


async def test_slow_aws_answers_in_progress_then_the_outcome_follows(harness: Harness) -> None:
    account, pid = await _returnable(harness)
    await harness.control.fault("savingsplans:ReturnSavingsPlan", account=account, kind="delay", delay_seconds=7)

    reply = await harness.command(RevokePurchase(actor=ADMIN, idempotency_key=key(), purchase_id=pid))

    assert reply.status is CommandStatus.IN_PROGRESS
    event = await harness.wait_event(pid, "revocation-requested")
    assert event["phase"] == "revocation-pending"


async def test_email_deliveries_join_the_timeline_once(harness: Harness) -> None:
    _, pid = await _returnable(harness)
    delivered = harness.email_sent(pid)
    for _ in range(2):
        await harness.report_email(delivered, f"delivered-{pid}")
    view = await harness.wait_for(pid, lambda v: any(e.kind is TimelineKind.EMAILED for e in v.timeline))
    await asyncio.sleep(0.5)
    view = await harness.view(pid)
    emailed = [e for e in view.timeline if e.kind is TimelineKind.EMAILED]
    assert len(emailed) == 1
    assert "owner@example.com" in emailed[0].summary


async def test_each_email_a_grouped_report_names_joins_the_timeline_once(harness: Harness) -> None:
    """One event reports several emails (``deliveries``); a repeat, a later report of more of
    them and an older notifier's one-email event (its message id the email's delivery id)
    add each email once."""
    _, pid = await _returnable(harness)
    now = harness.clock.now()
    emails = [
        EmailOutcome(recipient=f"r{i}@example.com", status=DeliveryStatus.SENT, at=now, delivery_id=f"d-{pid}-{i}")
        for i in range(4)
    ]

    def report(reported: list[EmailOutcome]) -> dict[str, Any]:
        first = reported[0]
        event = EmailDelivered(
            occurred_at=now,
            purchase_id=pid,
            kind=EmailKind.PURCHASE_EXECUTED,
            recipient=first.recipient,
            status=first.status,
            deliveries=reported,
        )
        return event.model_dump(mode="json")

    older = EmailDelivered(
        occurred_at=now,
        purchase_id=pid,
        kind=EmailKind.PURCHASE_EXECUTED,
        recipient=emails[1].recipient,
        status=DeliveryStatus.SENT,
    )
    for body, message_id in [
        (report(emails[:3]), f"first-{pid}"),
        (report(emails[:3]), f"first-{pid}"),
        (older.model_dump(mode="json"), emails[1].delivery_id),
        (report(emails), f"second-{pid}"),
    ]:
        await harness.report_email(body, message_id)

    def emailed(view: PurchaseView) -> list[str]:
        return sorted(e.detail["recipient"] for e in view.timeline if e.kind is TimelineKind.EMAILED and e.detail)

    await harness.wait_for(pid, lambda v: len(emailed(v)) >= len(emails))
    await asyncio.sleep(0.5)
    assert emailed(await harness.view(pid)) == [email.recipient for email in emails]


async def test_a_burst_of_deliveries_for_one_purchase_each_join_the_timeline_once(harness: Harness) -> None:
    """The notifier reports every recipient of a purchase at once (and may report one twice):
    each delivery becomes one timeline entry, none lost to the concurrent updates."""
    _, pid = await _returnable(harness)
    recipients = [f"r{i}@example.com" for i in range(12)]
    publishes = []
    for recipient in recipients:
        delivered = harness.email_sent(pid, recipient)
        body, message_id = delivered.model_dump(mode="json"), f"delivered-{pid}-{recipient}"
        publishes += [harness.report_email(body, message_id) for _ in range(2)]
    await asyncio.gather(*publishes)

    def emailed(view: PurchaseView) -> list[str]:
        return sorted(e.detail["recipient"] for e in view.timeline if e.kind is TimelineKind.EMAILED and e.detail)

    await harness.wait_for(pid, lambda v: len(emailed(v)) >= len(recipients))
    await asyncio.sleep(0.5)
    assert emailed(await harness.view(pid)) == sorted(recipients)
