"""An account's lease cycle over real RabbitMQ and FerretDB with the frozen clock:
Active → CleanUp → Cooldown → Available at exactly the period (enforcement on), straight to
Available (enforcement off), what toggling the policy does, and late or repeated events."""

from __future__ import annotations

from datetime import datetime, timedelta

from graceperiod.contracts.cooldown import (
    AccountReply,
    AccountStatus,
    Cause,
    GetAccount,
    GetCooldownPolicy,
    PolicyReply,
)
from graceperiod.contracts.rpc import CommandStatus
from graceperiod.contracts.topology import Queues
from tests.integration.progress import Finished

from .conftest import SETTLED_QUEUE, STATUS_QUEUE, VIEWER, Cooldown, account_id, read_events

S = AccountStatus
H = timedelta(hours=1)
MS = timedelta(milliseconds=1)


async def _history(cooldown: Cooldown, account: str) -> list[tuple[S | None, S, Cause]]:
    reply = await cooldown.query(GetAccount(actor=VIEWER, account_id=account), AccountReply)
    assert reply.account is not None
    return [(t.from_status, t.to_status, t.cause) for t in reply.account.history]


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def test_with_enforcement_on_an_account_cools_for_exactly_the_period(cooldown: Cooldown) -> None:
    account = account_id(1)
    await cooldown.registered(account)
    await cooldown.set_policy(True, 24)

    cooldown.clock.advance(H)
    started = cooldown.clock.now()
    reply = await cooldown.acquire("lease-1")
    assert reply.status is CommandStatus.DONE
    assert reply.account is not None
    assert (reply.account.account_id, reply.account.status, reply.account.lease_id) == (account, S.ACTIVE, "lease-1")
    assert reply.warning is None  # never cleaned: not recently used

    cooldown.clock.advance(8 * H)
    ended = cooldown.clock.now()
    await cooldown.terminate(account, "lease-1")
    await cooldown.wait_for(account, lambda a: a.status is S.CLEANUP, what="CleanUp")

    cooldown.clock.advance(H / 2)
    cleaned = cooldown.clock.now()
    await cooldown.cleaned(account)
    cooling = await cooldown.wait_for(account, lambda a: a.status is S.COOLDOWN, what="Cooldown")
    assert cooling.cooldown_until == cleaned + 24 * H

    cooldown.clock.set(cleaned + 24 * H - MS)
    assert await cooldown.main.service.release_due() == 0
    assert (await cooldown.account(account)).status is S.COOLDOWN

    cooldown.clock.set(cleaned + 24 * H)
    ticks = Finished(Queues.COOLDOWN_TICKS.queue)
    await cooldown.tick()
    released = await cooldown.wait_for(account, lambda a: a.status is S.AVAILABLE, what="released")
    await ticks.wait(1)  # its events are published
    assert released.status_since == cleaned + 24 * H
    assert released.cooldown_until is None

    assert await _history(cooldown, account) == [
        (None, S.AVAILABLE, Cause.REGISTERED),
        (S.AVAILABLE, S.ACTIVE, Cause.ACQUIRED),
        (S.ACTIVE, S.CLEANUP, Cause.LEASE_TERMINATED),
        (S.CLEANUP, S.COOLDOWN, Cause.CLEANUP_SUCCEEDED),
        (S.COOLDOWN, S.AVAILABLE, Cause.COOLDOWN_ELAPSED),
    ]
    changes = await read_events(cooldown.amqp_url, STATUS_QUEUE, expect=5)
    assert [body["transition"]["to_status"] for _, body in changes] == [
        "Available",
        "Active",
        "CleanUp",
        "Cooldown",
        "Available",
    ]
    settled = await read_events(cooldown.amqp_url, SETTLED_QUEUE, expect=1)
    assert len(settled) == 1
    message_id, body = settled[0]
    assert message_id == f"cooldown:settled:{account}:{released.version}"
    assert body["lease_id"] == "lease-1"
    assert _instant(body["cost_window_start"]) == started
    assert _instant(body["cost_window_end"]) == cleaned
    assert _instant(body["lease_terminated_at"]) == ended
    assert _instant(body["settled_at"]) == cleaned + 24 * H
    assert body["released_early"] is False


async def test_with_enforcement_off_a_cleaned_account_is_available_at_once(cooldown: Cooldown) -> None:
    account = account_id(2)
    await cooldown.registered(account)
    reply = await cooldown.acquire("lease-1")
    assert reply.account is not None
    assert reply.account.account_id == account
    cooldown.clock.advance(3 * H)
    await cooldown.terminate(account, "lease-1")
    await cooldown.wait_for(account, lambda a: a.status is S.CLEANUP, what="CleanUp")
    cooldown.clock.advance(H / 4)
    cleanups = Finished(Queues.COOLDOWN_CLEANUP_SUCCEEDED.queue)
    await cooldown.cleaned(account)
    available = await cooldown.wait_for(account, lambda a: a.status is S.AVAILABLE, what="Available")
    await cleanups.wait(1)  # handled: everything it announces is published
    assert available.cooldown_until is None
    assert (await _history(cooldown, account))[-1] == (S.CLEANUP, S.AVAILABLE, Cause.CLEANUP_SUCCEEDED)
    assert await read_events(cooldown.amqp_url, SETTLED_QUEUE, expect=0) == []


async def test_turning_enforcement_off_lets_cooling_accounts_finish_their_cooldown(cooldown: Cooldown) -> None:
    cooling, fresh = account_id(3), account_id(4)
    await cooldown.registered(cooling, fresh)
    await cooldown.set_policy(True, 24)
    before = await cooldown.into_cooldown(cooling, "lease-a")
    assert before.cooldown_until is not None

    policy = (await cooldown.set_policy(False, 24)).policy
    assert policy is not None
    assert policy.enforce_account_cooldown is False
    assert policy.updated_by is not None
    assert (policy.updated_by.email, policy.updated_at) == ("admin@example.com", cooldown.clock.now())
    stored = await cooldown.query(GetCooldownPolicy(actor=VIEWER), PolicyReply)
    assert stored.policy == policy

    # New cleanups skip the cooldown at once...
    await cooldown.into_cleanup(fresh, "lease-b")
    cooldown.clock.advance(timedelta(minutes=1))
    await cooldown.cleaned(fresh)
    await cooldown.wait_for(fresh, lambda a: a.status is S.AVAILABLE, what="Available without cooldown")

    # ...and the account already cooling keeps its deadline: neither stranded nor released early.
    still = await cooldown.account(cooling)
    assert (still.status, still.cooldown_until) == (S.COOLDOWN, before.cooldown_until)
    cooldown.clock.set(before.cooldown_until - MS)
    assert await cooldown.main.service.release_due() == 0
    cooldown.clock.set(before.cooldown_until)
    await cooldown.tick()
    await cooldown.wait_for(cooling, lambda a: a.status is S.AVAILABLE, what="released at its deadline")


async def test_a_new_period_applies_to_cleanups_from_then_on(cooldown: Cooldown) -> None:
    first, second = account_id(5), account_id(6)
    await cooldown.registered(first, second)
    await cooldown.set_policy(True, 24)
    long = await cooldown.into_cooldown(first, "lease-a")
    await cooldown.set_policy(True, 1)
    short = await cooldown.into_cooldown(second, "lease-b")
    assert short.last_cleanup_completed_at is not None
    assert short.cooldown_until == short.last_cleanup_completed_at + H
    assert (await cooldown.account(first)).cooldown_until == long.cooldown_until

    assert short.cooldown_until is not None
    cooldown.clock.set(short.cooldown_until)
    await cooldown.tick()
    await cooldown.wait_for(second, lambda a: a.status is S.AVAILABLE, what="released after 1 h")
    assert (await cooldown.account(first)).status is S.COOLDOWN


async def test_a_cleanup_result_that_arrives_before_the_termination_is_applied_when_it_arrives(
    cooldown: Cooldown,
) -> None:
    account = account_id(7)
    await cooldown.registered(account)
    await cooldown.set_policy(True, 24)
    await cooldown.acquire("lease-1")
    cooldown.clock.advance(5 * H)
    ended = cooldown.clock.now()
    cooldown.clock.advance(H / 2)
    cleaned = cooldown.clock.now()

    cleanups, terminations = (
        Finished(Queues.COOLDOWN_CLEANUP_SUCCEEDED.queue),
        Finished(Queues.COOLDOWN_LEASE_TERMINATED.queue),
    )
    for _ in range(2):  # duplicated by the publisher: distinct message ids, same content
        await cooldown.cleaned(account, at=cleaned)
    waiting = await cooldown.wait_for(
        account, lambda a: a.pending_cleanup is not None, what="the early cleanup result kept"
    )
    assert waiting.status is S.ACTIVE

    for _ in range(2):
        await cooldown.terminate(account, "lease-1", at=ended)
    cooling = await cooldown.wait_for(account, lambda a: a.status is S.COOLDOWN, what="Cooldown")
    assert cooling.cooldown_until == cleaned + 24 * H
    assert cooling.lease_terminated_at == ended
    assert cooling.pending_cleanup is None
    await cleanups.wait(2)
    await terminations.wait(2)  # every copy handled: the duplicates changed nothing and announced nothing
    changes = await read_events(cooldown.amqp_url, STATUS_QUEUE, expect=4)
    assert [body["transition"]["to_status"] for _, body in changes] == ["Available", "Active", "CleanUp", "Cooldown"]
    assert await _history(cooldown, account) == [
        (None, S.AVAILABLE, Cause.REGISTERED),
        (S.AVAILABLE, S.ACTIVE, Cause.ACQUIRED),
        (S.ACTIVE, S.CLEANUP, Cause.LEASE_TERMINATED),
        (S.CLEANUP, S.COOLDOWN, Cause.CLEANUP_SUCCEEDED),
    ]


async def test_a_failed_cleanup_quarantines_and_a_later_success_frees_the_account(cooldown: Cooldown) -> None:
    account = account_id(8)
    await cooldown.registered(account)
    await cooldown.into_cleanup(account, "lease-1")
    cooldown.clock.advance(H)
    await cooldown.cleanup_failed(account)
    quarantined = await cooldown.wait_for(account, lambda a: a.status is S.QUARANTINE, what="Quarantine")
    assert quarantined.last_cleanup_error == "aws-nuke: 3 resources could not be deleted"
    cooldown.clock.advance(2 * H)
    await cooldown.cleaned(account)
    await cooldown.wait_for(account, lambda a: a.status is S.AVAILABLE, what="Available after re-run cleanup")
