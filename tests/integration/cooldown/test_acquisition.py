"""AcquireAccount over RPC (real RabbitMQ and FerretDB): only Available accounts, preference for
accounts cleaned long ago, one account per lease, never one account for two leases."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

from graceperiod.contracts.cooldown import AccountStatus
from graceperiod.contracts.rpc import CommandStatus, ErrorCode

from .conftest import VIEWER, Cooldown, account_id

S = AccountStatus
H = timedelta(hours=1)
RECENT_WARNING = (
    "The account acquired for the lease has been used within the last 24 hours and may result in inaccurate cost data"
)


async def test_acquisition_never_returns_a_cooling_cleaning_or_quarantined_account(cooldown: Cooldown) -> None:
    cooling_a, cooling_b, cleaning, quarantined, free_a, free_b = (account_id(n) for n in range(1, 7))
    await cooldown.registered(cooling_a, cooling_b, cleaning, quarantined)
    await cooldown.set_policy(True, 24)
    await cooldown.into_cooldown(cooling_a, "lease-a")
    first_due = (await cooldown.account(cooling_a)).cooldown_until
    await cooldown.into_cooldown(cooling_b, "lease-b")
    await cooldown.into_cleanup(cleaning, "lease-c")
    await cooldown.into_cleanup(quarantined, "lease-d")
    await cooldown.cleanup_failed(quarantined)
    await cooldown.wait_for(quarantined, lambda a: a.status is S.QUARANTINE)
    await cooldown.registered(free_a, free_b)

    replies = [await cooldown.acquire(f"new-{n}") for n in range(3)]
    assert [r.status for r in replies] == [CommandStatus.DONE, CommandStatus.DONE, CommandStatus.REJECTED]
    assert {r.account.account_id for r in replies[:2] if r.account} == {free_a, free_b}
    refused = replies[2]
    assert refused.problem is not None
    assert refused.problem.code is ErrorCode.UNAVAILABLE
    assert first_due is not None
    assert refused.message == (
        f"no account is Available; 2 in Cooldown, the next released at {first_due.isoformat()}; "
        "ask with wait=true to join the wait-list"
    )
    for account, status in ((cooling_a, S.COOLDOWN), (cooling_b, S.COOLDOWN), (cleaning, S.CLEANUP)):
        assert (await cooldown.account(account)).status is status


async def test_acquisition_prefers_accounts_cleaned_long_ago_then_warns(cooldown: Cooldown, capsys: object) -> None:
    old, recent = account_id(1), account_id(2)
    await cooldown.registered(old, recent)
    await cooldown.into_cleanup(old, "lease-a")
    await cooldown.cleaned(old)
    await cooldown.wait_for(old, lambda a: a.status is S.AVAILABLE)
    cooldown.clock.advance(30 * H)
    await cooldown.into_cleanup(recent, "lease-b")
    await cooldown.cleaned(recent)
    await cooldown.wait_for(recent, lambda a: a.status is S.AVAILABLE)
    cooldown.clock.advance(H)

    preferred = await cooldown.acquire("lease-1")
    assert preferred.account is not None
    assert (preferred.account.account_id, preferred.warning) == (old, None)
    fallback = await cooldown.acquire("lease-2")
    assert fallback.account is not None
    assert (fallback.account.account_id, fallback.warning) == (recent, RECENT_WARNING)


async def test_the_same_lease_asking_again_gets_the_same_account(cooldown: Cooldown) -> None:
    await cooldown.registered(account_id(1), account_id(2))
    first = await cooldown.acquire("lease-1")
    again = await cooldown.acquire("lease-1")
    assert first.account is not None
    assert again.account is not None
    assert again.account.account_id == first.account.account_id
    assert (again.status, again.noop) == (CommandStatus.DONE, True)
    free = [a for a in (account_id(1), account_id(2)) if a != first.account.account_id]
    assert (await cooldown.account(free[0])).status is S.AVAILABLE


async def test_concurrent_acquisitions_for_one_lease_end_with_one_account(two_replicas: Cooldown) -> None:
    cooldown = two_replicas
    ids = [account_id(n) for n in range(1, 9)]
    await cooldown.registered(*ids)
    replies = await asyncio.gather(*(cooldown.acquire("lease-1") for _ in range(6)))
    held = {r.account.account_id for r in replies if r.account}
    assert [r.status for r in replies] == [CommandStatus.DONE] * 6
    assert len(held) == 1
    statuses = Counter([(await cooldown.account(a)).status for a in ids])
    assert statuses == {S.ACTIVE: 1, S.AVAILABLE: len(ids) - 1}


async def test_sixty_concurrent_acquisitions_on_a_small_pool_never_hand_out_one_account_twice(
    two_replicas: Cooldown,
) -> None:
    cooldown = two_replicas
    ids = [account_id(n) for n in range(1, 13)]
    await cooldown.registered(*ids)
    replies = await asyncio.gather(*(cooldown.acquire(f"lease-{n}") for n in range(60)))
    granted = {f"lease-{n}": r.account.account_id for n, r in enumerate(replies) if r.account is not None}
    assert len(granted) == len(ids)
    assert sorted(granted.values()) == sorted(ids)  # every account once, none twice
    refused = [r for r in replies if r.status is CommandStatus.REJECTED]
    assert len(refused) == 60 - len(ids)
    assert all(r.problem is not None and r.problem.code is ErrorCode.UNAVAILABLE for r in refused)
    for lease, account in granted.items():
        stored = await cooldown.account(account)
        assert (stored.status, stored.lease_id) == (S.ACTIVE, lease)
        assert await cooldown.main.store.lease_account(lease) == account


async def test_acquisition_needs_the_acquire_permission(cooldown: Cooldown) -> None:
    await cooldown.registered(account_id(1))
    reply = await cooldown.acquire("lease-1", actor=VIEWER)
    assert reply.problem is not None
    assert reply.problem.code is ErrorCode.FORBIDDEN
    assert "acquire:accounts" in reply.message
    assert (await cooldown.account(account_id(1))).status is S.AVAILABLE
