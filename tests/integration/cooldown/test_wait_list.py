"""The wait-list on real servers: queued first in, first out with a position and an expected
time, granted the next released account exactly once (also with two replicas and duplicated
ticks), expired, cancelled; bad requests refused with the reason; the low-pool alert."""

from __future__ import annotations

from datetime import timedelta

from graceperiod.contracts.cooldown import AccountStatus
from graceperiod.contracts.rpc import CommandStatus, ErrorCode
from graceperiod.contracts.topology import Queues
from graceperiod.contracts.wait_list import WaitStatus
from graceperiod.cooldown.domain.waits import WaitState
from graceperiod.cooldown.settings import CooldownSettings

from .conftest import Cooldown, account_id, read_events, wait_until

S = AccountStatus
H = timedelta(hours=1)
GRANTED_QUEUE = Queues.LEASE_MANAGER_WAIT_GRANTED.queue
EXPIRED_QUEUE = Queues.LEASE_MANAGER_WAIT_EXPIRED.queue


async def cooling_pool(cooldown: Cooldown, count: int, *, hours: int = 24) -> list[str]:
    """``count`` accounts in Cooldown, released one hour apart from ``hours`` after now."""
    accounts = [account_id(n) for n in range(1, count + 1)]
    await cooldown.registered(*accounts)
    await cooldown.set_policy(True, hours)
    for n, account in enumerate(accounts):
        await cooldown.into_cooldown(account, f"old-{n}")
        cooldown.clock.advance(H - 2 * timedelta(minutes=1))
    return accounts


async def test_a_waiting_acquisition_is_granted_the_next_released_account(cooldown: Cooldown) -> None:
    first, second = await cooling_pool(cooldown, 2)
    due = [(await cooldown.account(a)).cooldown_until for a in (first, second)]

    waiting = await cooldown.acquire("lease-a", wait=True, key="wait-a")
    assert waiting.status is CommandStatus.IN_PROGRESS, waiting
    assert waiting.wait is not None
    assert (waiting.wait.status, waiting.wait.position, waiting.wait.eta) == (WaitStatus.WAITING, 1, due[0])
    behind = await cooldown.acquire("lease-b", wait=True)
    assert behind.wait is not None
    assert (behind.wait.position, behind.wait.eta) == (2, due[1])
    line = await cooldown.wait_list()
    assert [(r.lease_id, r.position) for r in line.items] == [("lease-a", 1), ("lease-b", 2)]
    assert line.waiting == 2

    plain = await cooldown.acquire("lease-c")
    assert plain.problem is not None
    assert plain.problem.code is ErrorCode.UNAVAILABLE

    assert due[0] is not None
    cooldown.clock.advance(due[0] - cooldown.clock.now())
    await cooldown.tick(copies=3)
    granted = await cooldown.wait_for(first, lambda a: a.status is S.ACTIVE, what="granted to lease-a")
    assert granted.lease_id == "lease-a"
    [(message_id, event)] = await read_events(cooldown.amqp_url, GRANTED_QUEUE, expect=1)
    assert message_id == "cooldown:wait-granted:lease-a:1"
    assert (event["lease_id"], event["account_id"]) == ("lease-a", first)

    again = await cooldown.acquire("lease-a", wait=True, key="wait-a")  # the same request: as it stands
    assert (again.status, again.noop) == (CommandStatus.DONE, True)
    assert again.account is not None
    assert again.account.account_id == first
    plain_again = await cooldown.acquire("lease-a")
    assert plain_again.account is not None
    assert plain_again.account.account_id == first
    line = await cooldown.wait_list()
    assert [(r.lease_id, r.position, r.eta) for r in line.items] == [("lease-b", 1, due[1])]


async def test_bad_wait_requests_are_refused_with_the_reason(cooldown: Cooldown) -> None:
    [free] = [account_id(9)]
    await cooldown.registered(free)
    malformed = await cooldown.acquire("lease 42!", wait=True)
    assert (malformed.status, malformed.problem and malformed.problem.code) == (
        CommandStatus.REJECTED,
        ErrorCode.INVALID,
    )
    assert "lease id 'lease 42!' is malformed" in malformed.message
    holder = await cooldown.acquire("lease-held")
    assert holder.status is CommandStatus.DONE
    held = await cooldown.acquire("lease-held", wait=True)
    assert held.problem is not None
    assert (held.problem.code, held.message) == (ErrorCode.CONFLICT, f"lease lease-held already holds account {free}")
    queued = await cooldown.acquire("lease-q", wait=True, key="q-1")
    assert queued.status is CommandStatus.IN_PROGRESS
    twice = await cooldown.acquire("lease-q", wait=True, key="q-2")
    assert twice.problem is not None
    assert twice.problem.code is ErrorCode.CONFLICT
    assert "already has an open request" in twice.message


async def test_a_request_expires_or_is_cancelled_and_is_then_never_granted(cooldown: Cooldown) -> None:
    [cooling] = await cooling_pool(cooldown, 1)
    short = await cooldown.acquire("lease-short", wait=True, wait_hours=2)
    assert short.wait is not None
    assert short.wait.expires_at == cooldown.clock.now() + 2 * H
    await cooldown.acquire("lease-cancelled", wait=True)
    cancelled = await cooldown.cancel_wait("lease-cancelled")
    assert cancelled.request is not None
    assert cancelled.request.status is WaitStatus.CANCELLED
    assert (await cooldown.cancel_wait("lease-cancelled")).noop

    cooldown.clock.advance(2 * H)
    await cooldown.ticked(copies=2)
    [(message_id, event)] = await read_events(cooldown.amqp_url, EXPIRED_QUEUE, expect=1)
    assert (message_id, event["lease_id"]) == ("cooldown:wait-expired:lease-short:1", "lease-short")
    assert (await cooldown.wait_list()).items == []

    cooldown.clock.advance(30 * H)
    await cooldown.ticked()
    released = await cooldown.wait_for(cooling, lambda a: a.status is S.AVAILABLE, what="released, granted to nobody")
    assert released.lease_id not in ("lease-short", "lease-cancelled")
    assert await read_events(cooldown.amqp_url, GRANTED_QUEUE, expect=0) == []


async def test_two_replicas_grant_each_released_account_once_in_line_order(two_replicas: Cooldown) -> None:
    cooldown = two_replicas
    accounts = await cooling_pool(cooldown, 3, hours=4)
    leases = [f"lease-{n}" for n in range(5)]
    for lease in leases:
        reply = await cooldown.acquire(lease, wait=True)
        assert reply.status is CommandStatus.IN_PROGRESS
        cooldown.clock.advance(timedelta(seconds=1))
    cooldown.clock.advance(6 * H)  # every cooldown over, no request expired
    await cooldown.ticked(copies=3)
    await cooldown.ticked(copies=2)

    async def three_granted() -> bool:
        return all([(await cooldown.account(a)).status is S.ACTIVE for a in accounts])

    await wait_until(three_granted, what="three accounts granted")
    events = await read_events(cooldown.amqp_url, GRANTED_QUEUE, expect=3)
    assert sorted(e["lease_id"] for _, e in events) == leases[:3]  # first in line first
    assert sorted(e["account_id"] for _, e in events) == sorted(accounts)  # each account once
    assert len({message_id for message_id, _ in events}) == 3
    line = await cooldown.wait_list()
    assert [(r.lease_id, r.position) for r in line.items] == [("lease-3", 1), ("lease-4", 2)]


async def test_a_low_pool_is_announced_at_most_once_per_period(cooldown: Cooldown) -> None:
    accounts = [account_id(n) for n in (1, 2, 3)]
    await cooldown.registered(*accounts)
    await cooldown.change_policy(low_pool_threshold=3, low_pool_alert_hours=6)
    queue = "test.observed.pool-low"
    await cooldown.bind_observer(queue, Queues.NOTIFIER_POOL_RUNNING_LOW.routing_key)
    await cooldown.ticked()
    assert await read_events(cooldown.amqp_url, queue, expect=0) == []  # 3 is not below 3

    await cooldown.acquire("lease-1")
    await cooldown.ticked(copies=3)
    [(message_id, event)] = await read_events(cooldown.amqp_url, queue, expect=1)
    assert message_id == "cooldown:pool-low-00000001"
    assert (event["available"], event["threshold"], event["period_hours"]) == (2, 3, 6)
    cooldown.clock.advance(5 * H)
    await cooldown.ticked(copies=2)
    assert await read_events(cooldown.amqp_url, queue, expect=0) == []  # within the period
    cooldown.clock.advance(H)
    await cooldown.ticked()
    [(message_id, _)] = await read_events(cooldown.amqp_url, queue, expect=1)
    assert message_id == "cooldown:pool-low-00000002"


async def test_a_request_another_worker_is_granting_keeps_its_place_in_line(two_replicas: Cooldown) -> None:
    """Found by CI: a replica that skipped past the request another replica was granting handed
    the next request the account the first one was about to be given."""
    cooldown = two_replicas
    [account] = await cooling_pool(cooldown, 1, hours=4)
    for lease in ("lease-first", "lease-second"):
        assert (await cooldown.acquire(lease, wait=True)).status is CommandStatus.IN_PROGRESS
        cooldown.clock.advance(timedelta(seconds=1))
    cooldown.clock.advance(6 * H)
    waits = cooldown.main.service.wait_store
    first = await waits.get("lease-first")
    assert first is not None
    # another worker (one that will stop here, as if it died) is granting the first in line
    assert await waits.step(first, to=WaitState.GRANTING, granting_since=cooldown.clock.now()) is not None

    await cooldown.ticked()
    released = await cooldown.account(account)
    assert released.status is S.AVAILABLE, "the account waits for the request first in line"
    assert await read_events(cooldown.amqp_url, GRANTED_QUEUE, expect=0) == []

    cooldown.clock.advance(CooldownSettings().options().claim_grace)  # that worker is overdue
    await cooldown.ticked()
    [(_, event)] = await read_events(cooldown.amqp_url, GRANTED_QUEUE, expect=1)
    assert (event["lease_id"], event["account_id"]) == ("lease-first", account)
