"""The Azure return's walk as pure transitions: claimed (stored before the POST) only when Azure
shows no return and allows one, accepted with the continuation token, ended, timed out; never a
second claim while Azure shows a return of ours running or done."""

from __future__ import annotations

from datetime import timedelta

from graceperiod.contracts.enums import ActionPath, Provider
from graceperiod.contracts.revocation import PurchaseChangeKind
from graceperiod.contracts.revocation_views import ActorRef
from graceperiod.revocation.domain.aws_answers import Failure
from graceperiod.revocation.domain.azure_answers import AzureCallError, ReturnEnded, ReturnStarted
from graceperiod.revocation.domain.azure_returning import (
    Claim,
    Next,
    azure_problem_code,
    return_accepted,
    return_claimed,
    return_ended,
    return_held,
    return_refused,
    return_timed_out,
    return_to_follow,
)
from graceperiod.revocation.domain.lifecycle import At, LifecyclePolicy
from graceperiod.revocation.domain.records import AccountRecord, PurchaseRecord, RevocationStatus
from tests.unit.revocation.provider_facts import EXECUTED, azure_record, azure_state

TENANT = "3b7c1e9d-2f4a-4d8b-a6e0-5c9f2b7d1e43"
ACCOUNT = AccountRecord(account_id=TENANT, provider=Provider.AZURE, azure_client_id="c", azure_secret="sealed")
ACTOR = ActorRef(user_id="u-admin", email="admin@example.com", path=ActionPath.DASHBOARD)
POLICY = LifecyclePolicy(azure_return_timeout=timedelta(hours=1))


def _at(after: timedelta = timedelta(minutes=1)) -> At:
    return At(now=EXECUTED + after, account=ACCOUNT, policy=POLICY)


def _claimed() -> PurchaseRecord:
    record, claim = return_claimed(azure_record(azure_state()), azure_state(), "k1", ACTOR, _at(), holder="run-1")
    assert claim.next is Next.POST
    assert claim.ours is not None
    return record


def _accepted() -> PurchaseRecord:
    started = ReturnStarted("token-1", "req-1", {"status": 202})
    return return_accepted(_claimed(), started, ACTOR, _at())


def test_a_claim_is_stored_with_its_session_and_posted_at_before_the_post() -> None:
    record = _claimed()
    assert record.azure_return is not None
    assert record.azure_return.posted_at == _at().now
    assert record.azure_return.session_id == "session-1"
    assert record.azure_return.continuation_token is None
    assert record.azure_return.holder == "run-1"
    assert record.attempt is not None
    assert record.attempt.key == "k1"


def test_no_other_run_claims_a_return_whose_post_may_be_in_flight() -> None:
    """Two deliveries of one key (or two keys) at once: the second run waits, and posts nothing."""
    claimed = _claimed()
    for key in ("k1", "k2"):
        later = _at(timedelta(minutes=1, seconds=5))
        record, claim = return_claimed(claimed, azure_state(), key, ACTOR, later, holder="run-2")
        assert claim == Claim(Next.WAIT)
        assert record == claimed
    assert return_held(claimed, "run-2", _at().now)
    assert not return_held(claimed, "run-1", _at().now)  # its own next round posts again
    again, claim = return_claimed(claimed, azure_state(), "k1", ACTOR, _at(timedelta(minutes=2)), holder="run-1")
    assert claim.next is Next.POST
    assert again.attempt is not None
    assert again.attempt.lease_until == _at(timedelta(minutes=2)).now + POLICY.attempt_lease


def test_once_the_holders_lease_passed_the_reread_decides() -> None:
    """The run that held it stopped (a crash): the next one re-reads, and posts only if Azure did nothing."""
    after = _at(timedelta(minutes=1) + POLICY.attempt_lease + timedelta(seconds=1))
    assert not return_held(_claimed(), "run-2", after.now)
    _, claim = return_claimed(_claimed(), azure_state(display="Processing"), "k1", ACTOR, after, holder="run-2")
    assert claim == Claim(Next.FOLLOW)
    record, claim = return_claimed(_claimed(), azure_state(), "k1", ACTOR, after, holder="run-2")
    assert claim.next is Next.POST
    assert record.azure_return is not None
    assert record.azure_return.holder == "run-2"


def test_a_return_azure_accepted_is_followed_even_after_a_read_from_before_the_post() -> None:
    accepted = _accepted()
    record, claim = return_claimed(accepted, azure_state(), "k1", ACTOR, _at(timedelta(minutes=2)), holder="run-2")
    assert claim == Claim(Next.FOLLOW)
    assert record == accepted
    assert record.azure_return is not None
    assert record.azure_return.continuation_token == "token-1"


def test_no_claim_while_azure_shows_a_return_running_or_done() -> None:
    for shown in (azure_state(display="Processing"), azure_state(state="Cancelled")):
        record, claim = return_claimed(_accepted(), shown, "k2", ACTOR, _at(timedelta(minutes=2)), holder="run-2")
        assert claim == Claim(Next.FOLLOW)
        assert record.azure_return is not None
        assert record.azure_return.continuation_token == "token-1"


def test_no_claim_beyond_the_cap_or_for_a_product_microsoft_does_not_refund() -> None:
    capped = azure_state(consumed="49500")
    _, claim = return_claimed(azure_record(capped), capped, "k1", ACTOR, _at(), holder="run-1")
    assert claim == Claim(Next.NONE)
    refused = azure_state(errors=(("SelfServiceRefundNotSupported", "not eligible"),))
    _, claim = return_claimed(azure_record(refused), refused, "k1", ACTOR, _at(), holder="run-1")
    assert claim == Claim(Next.NONE)


def test_accepted_is_pending_with_the_token_and_announced_once() -> None:
    record = _accepted()
    assert record.status is RevocationStatus.PENDING
    assert record.attempt is None
    assert record.azure_return is not None
    assert record.azure_return.continuation_token == "token-1"
    assert return_to_follow(record)
    assert record.audit.azure_request_ids == ["req-1"]
    again = return_accepted(record, None, ACTOR, _at(timedelta(minutes=3)))
    assert [o.event.change for o in again.outbox] == [PurchaseChangeKind.REVOCATION_REQUESTED]


def test_the_end_of_the_operation_decides_the_outcome() -> None:
    done = return_ended(_accepted(), ReturnEnded("Succeeded"), azure_state(state="Cancelled"), _at())
    assert done.status is RevocationStatus.REVOKED
    failed = return_ended(_accepted(), ReturnEnded("Failed", "BillingTransientError", "try later"), None, _at())
    assert failed.status is RevocationStatus.FAILED
    assert failed.audit.failure is not None
    assert "BillingTransientError" in failed.audit.failure
    running = return_ended(_accepted(), ReturnEnded("InProgress"), azure_state(display="Processing"), _at())
    assert running.status is RevocationStatus.PENDING


def test_a_return_running_past_the_limit_is_an_outcome_and_its_later_end_still_counts() -> None:
    record = _accepted()
    assert return_timed_out(record, _at(timedelta(minutes=30))).status is RevocationStatus.PENDING
    timed_out = return_timed_out(record, _at(timedelta(hours=2)))
    assert timed_out.status is RevocationStatus.FAILED
    assert timed_out.audit.failure is not None
    assert "was not posted again" in timed_out.audit.failure
    later = return_ended(timed_out, ReturnEnded("InProgress"), azure_state(state="Cancelled"), _at(timedelta(hours=3)))
    assert later.status is RevocationStatus.REVOKED


def test_a_refusal_drops_the_claim_and_says_why() -> None:
    error = AzureCallError(Failure.ACCESS_DENIED, "AuthorizationFailed: no", action="return", status=403)
    record = return_refused(_claimed(), error, ACTOR, _at())
    assert record.status is RevocationStatus.FAILED
    assert record.azure_return is None
    assert record.audit.failure is not None
    assert "re-apply the Azure onboarding template" in record.audit.failure
    assert azure_problem_code(error).value == "unavailable"
