"""Releases on ticks with two replicas and duplicated ticks, early release over RPC, and a
release whose worker died half-way — over real RabbitMQ and FerretDB."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from graceperiod.contracts.cooldown import AccountStatus, ActorRef, Cause
from graceperiod.contracts.rpc import CommandStatus, ErrorCode
from graceperiod.contracts.upstream import AccountCleanupSucceeded, AccountRegistered, LeaseTerminated
from graceperiod.cooldown.commands import EARLY_RELEASE_WARNING
from graceperiod.cooldown.domain import release
from graceperiod.cooldown.domain.changes import ChangeRecord
from graceperiod.cooldown.domain.events import settled_id

from .conftest import SETTLED_QUEUE, VIEWER, Cooldown, account_id, read_events, wait_until

S = AccountStatus
H = timedelta(hours=1)
MINUTE = timedelta(minutes=1)


async def _cooling_pool(cooldown: Cooldown, count: int, *, first: int = 100) -> tuple[list[str], datetime]:
    """``count`` accounts in Cooldown, all due at the returned instant, made through the service
    itself (real database and events; quicker than one broker round trip per step)."""
    await cooldown.set_policy(True, 24)
    service = cooldown.main.service
    cooldown.clock.advance(H)
    now = cooldown.clock.now()
    ended, cleaned = now + MINUTE, now + 2 * MINUTE
    ids = [account_id(first + n) for n in range(count)]

    async def cool(account: str) -> None:
        await service.account_registered(
            AccountRegistered(schema_version=1, occurred_at=now, account_id=account, name=f"Sandbox {account}")
        )
        await service.lease_terminated(
            LeaseTerminated(
                schema_version=1,
                occurred_at=now,
                lease_id=f"lease-{account}",
                account_id=account,
                terminated_at=ended,
                reason="Expired",
            )
        )
        await service.cleanup_finished(
            AccountCleanupSucceeded(schema_version=1, occurred_at=now, account_id=account, completed_at=cleaned)
        )

    await asyncio.gather(*(cool(account) for account in ids))
    for account in ids:
        assert (await cooldown.account(account)).status is S.COOLDOWN
    return ids, cleaned + 24 * H


async def _released_once(cooldown: Cooldown, ids: list[str]) -> None:
    """Each account left Cooldown by one stored change (the durable record every event comes
    from: a second release would be a second change), announced under that change's id."""
    expected: dict[str, str] = {}
    for account in ids:
        stored = await cooldown.account(account)
        assert stored.status is S.AVAILABLE, account
        changes = await cooldown.main.store.recent_changes(account, up_to=stored.version, count=50)
        releases = [t for c in changes for t in c.transitions if t.from_status is S.COOLDOWN]
        assert [(t.to_status, t.cause) for t in releases] == [(S.AVAILABLE, Cause.COOLDOWN_ELAPSED)], account
        expected[account] = settled_id(account, stored.version)
    settled = await read_events(cooldown.amqp_url, SETTLED_QUEUE, expect=len(ids))
    announced = {(body["account_id"], message_id) for message_id, body in settled}
    assert announced == set(expected.items())
    assert len(settled) == len(ids)  # and each once: no copy was published


async def test_two_replicas_consuming_duplicated_ticks_release_each_account_exactly_once(
    two_replicas: Cooldown,
) -> None:
    cooldown = two_replicas
    ids, due = await _cooling_pool(cooldown, 30)
    cooldown.clock.set(due)
    await cooldown.tick(copies=4, tick_id="tick-duplicated")
    for _ in range(3):
        await cooldown.tick()

    async def all_released() -> bool:
        statuses = [(await cooldown.account(a)).status for a in ids]
        return all(status is S.AVAILABLE for status in statuses)

    await wait_until(all_released, what="every due account released")
    await _released_once(cooldown, ids)


async def test_concurrent_release_passes_share_the_work_without_overlap(two_replicas: Cooldown) -> None:
    cooldown = two_replicas
    ids, due = await _cooling_pool(cooldown, 40)
    cooldown.clock.set(due)
    first, second = (replica.service for replica in cooldown.replicas)
    counts = await asyncio.gather(first.release_due(), second.release_due(), first.release_due(), second.release_due())
    assert sum(counts) == len(ids)
    await _released_once(cooldown, ids)


async def test_nothing_is_released_a_millisecond_early(cooldown: Cooldown) -> None:
    ids, due = await _cooling_pool(cooldown, 3)
    cooldown.clock.set(due - timedelta(milliseconds=1))
    assert await cooldown.main.service.release_due() == 0
    cooldown.clock.set(due)
    assert await cooldown.main.service.release_due() == 3
    await _released_once(cooldown, ids)


async def test_early_release_works_once_and_records_the_actor(cooldown: Cooldown) -> None:
    [account], _ = await _cooling_pool(cooldown, 1)
    cooldown.clock.advance(2 * H)
    released_at = cooldown.clock.now()

    first = await cooldown.release_early(account, key="release-1", reason="pool is empty for a demo")
    assert first.status is CommandStatus.DONE
    assert first.noop is False
    assert first.warning == EARLY_RELEASE_WARNING
    assert first.account is not None
    assert first.account.status is S.AVAILABLE
    early = first.account.early_release
    assert early is not None
    assert (early.by.email, early.at, early.reason) == ("admin@example.com", released_at, "pool is empty for a demo")

    cooldown.clock.advance(H)
    again = await cooldown.release_early(account, key="release-1")
    assert (again.status, again.noop) == (CommandStatus.DONE, True)
    assert "this request already released the account" in again.message
    other = await cooldown.release_early(account, key="release-2")
    assert (other.status, other.noop) == (CommandStatus.DONE, True)
    assert "already released early by admin@example.com" in other.message

    stored = await cooldown.account(account)
    changes = await cooldown.main.store.recent_changes(account, up_to=stored.version, count=50)
    early_moves = [t for c in changes for t in c.transitions if t.cause is Cause.RELEASED_EARLY]
    assert len(early_moves) == 1
    assert early_moves[0].actor == ActorRef(user_id="u-admin", email="admin@example.com")
    assert early_moves[0].reason == "pool is empty for a demo"
    # Every command was answered after its handler published what it announces.
    settled = await read_events(cooldown.amqp_url, SETTLED_QUEUE, expect=1)
    assert [(message_id, body["released_early"]) for message_id, body in settled] == [
        (settled_id(account, stored.version), True)
    ]


async def test_early_release_is_refused_with_a_reason_unless_the_account_is_cooling(cooldown: Cooldown) -> None:
    active, cleaning, quarantined = account_id(1), account_id(2), account_id(3)
    await cooldown.registered(active)
    await cooldown.acquire("lease-1")
    await cooldown.registered(cleaning, quarantined)
    await cooldown.into_cleanup(cleaning, "lease-2")
    await cooldown.into_cleanup(quarantined, "lease-3")
    cooldown.clock.advance(H)
    await cooldown.cleanup_failed(quarantined)
    await cooldown.wait_for(quarantined, lambda a: a.status is S.QUARANTINE)

    for account, reason in (
        (active, "the account is Active (lease lease-1)"),
        (cleaning, "its cleanup has not finished"),
        (quarantined, "re-run the cleanup"),
    ):
        reply = await cooldown.release_early(account)
        assert reply.status is CommandStatus.REJECTED
        assert reply.problem is not None
        assert reply.problem.code is ErrorCode.CONFLICT
        assert reason in reply.message

    forbidden = await cooldown.release_early(active, actor=VIEWER)
    assert forbidden.problem is not None
    assert forbidden.problem.code is ErrorCode.FORBIDDEN
    assert "release-any:accounts" in forbidden.message
    missing = await cooldown.release_early(account_id(99))
    assert missing.problem is not None
    assert missing.problem.code is ErrorCode.NOT_FOUND


async def test_a_release_whose_worker_died_half_way_is_finished_after_the_grace_period(cooldown: Cooldown) -> None:
    [account], due = await _cooling_pool(cooldown, 1)
    cooldown.clock.set(due)
    service, store = cooldown.main.service, cooldown.main.store
    # A worker claims the release and dies before storing or announcing it.
    cooling = await cooldown.account(account)
    decision = release.release_due(cooling, now=cooldown.clock.now())
    assert await store.claim(ChangeRecord.of(decision, source="release:crashed", claimed_at=cooldown.clock.now()))

    # Its claim is young: another pass leaves it to that worker.
    assert await service.release_due() == 0
    assert (await cooldown.account(account)).status is S.COOLDOWN

    # Past the grace period the next pass finishes it: stored, announced, unscheduled.
    cooldown.clock.advance(timedelta(seconds=31))
    await service.release_due()
    released = await cooldown.account(account)
    assert (released.status, released.version) == (S.AVAILABLE, cooling.version + 1)
    assert await store.due(cooldown.clock.now(), limit=10) == []
    await _released_once(cooldown, [account])
