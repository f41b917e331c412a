"""The lease's final cost and the settled mode on real servers: RabbitMQ, FerretDB, and the
service's real aioboto3 client reading Cost Explorer on the local AWS endpoint through the
role it assumes in the management account."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from graceperiod.contracts.cooldown import AccountReply, AccountStatus, CooldownMode, GetAccount, Settlement
from graceperiod.contracts.lease_costs import SettledMode
from graceperiod.cooldown.domain.accounts import Account

from .conftest import SETTLED_QUEUE, VIEWER, Billing, StartBilling, account_id, read_events

S = AccountStatus
H = timedelta(hours=1)


async def tick_until(billing: Billing, account: str, check: Callable[[Account], bool], what: str) -> Account:
    await billing.cooldown.tick()
    return await billing.cooldown.wait_for(account, check, what=what)


def reads(n: int) -> Callable[[Account], bool]:
    return lambda a: a.billing is not None and a.billing.reads >= n


async def lease_ended(billing: Billing, account: str, lease: str, *, after: timedelta) -> Account:
    cooldown = billing.cooldown
    await cooldown.acquire(lease)
    await billing.advance(after)
    await cooldown.terminate(account, lease)
    return await cooldown.wait_for(account, lambda a: a.status is S.CLEANUP, what="CleanUp")


async def cleaned(billing: Billing, account: str) -> Account:
    await billing.advance(H)
    await billing.cooldown.cleaned(account)
    return await billing.cooldown.wait_for(account, lambda a: a.status is S.COOLDOWN, what="Cooldown")


async def test_costs_that_keep_arriving_hold_the_account_then_it_leaves_with_its_final_cost(
    start_billing: StartBilling,
) -> None:
    billing = await start_billing()
    cooldown, sandbox = billing.cooldown, account_id(1)
    t0 = cooldown.clock.now()
    await cooldown.registered(sandbox)
    settled = SettledMode(quiet_hours=6, min_hours=12, max_hours=48, read_interval_hours=2)
    await cooldown.change_policy(mode=CooldownMode.SETTLED, settled=settled)
    # $1 an hour for 10 hours, each hour's cost arriving 6 h late; a $5 charge arriving 22 h after the start.
    await billing.costs.usage(
        sandbox, payer=billing.management, start=t0, end=t0 + 10 * H, hourly=Decimal(1), delay_seconds=6 * 3600
    )
    late = {"day": t0.date(), "unblended": Decimal(5), "arrives_at": t0 + 22 * H}
    await billing.costs.lines(sandbox, payer=billing.management, lines=[late])

    await lease_ended(billing, sandbox, "lease-1", after=10 * H)
    ended = await tick_until(billing, sandbox, reads(1), "the cost at termination")
    assert ended.billing is not None
    assert ended.billing.at_termination is not None
    assert ended.billing.at_termination.unblended == Decimal(4)

    cooling = await cleaned(billing, sandbox)  # t0 + 11 h: Cooldown until t0 + 59 h at the latest
    assert cooling.billing is not None
    assert cooling.billing.next_read_at == t0 + 17 * H
    seen: dict[int, Decimal] = {}
    hour = 17
    await billing.advance(6 * H)
    while True:
        account = await tick_until(billing, sandbox, reads(len(seen) + 2), f"read at {hour} h")
        assert account.billing is not None
        assert account.billing.latest is not None
        seen[hour] = account.billing.latest.unblended
        if account.status is S.AVAILABLE:
            break
        assert hour < 40, seen
        hour += 2
        await billing.advance(2 * H)

    assert seen == {17: 10, 19: 10, 21: 10, 23: 15, 25: 15, 27: 15, 29: 15}
    assert account.status_since == t0 + 29 * H  # not at the earliest (23 h): the cost moved then
    [(message_id, event)] = await read_events(cooldown.amqp_url, SETTLED_QUEUE, expect=1)
    assert message_id == f"cooldown:settled:{sandbox}:{account.version}"
    assert event["settlement"] == Settlement.COSTS_SETTLED
    assert event["billing_window"] == {"start": "2026-03-02", "end": "2026-03-03"}
    assert Decimal(event["final_cost"]["unblended"]) == 15
    assert event["final_cost"]["estimated"] is True
    assert Decimal(event["cost_at_termination"]["unblended"]) == 4
    assert Decimal(event["late_difference"]["unblended"]) == 11
    assert event["cost_unknown_reason"] is None
    assert await billing.cost_reads() == 8  # one request per read, none repeated

    shown = await cooldown.query(GetAccount(actor=VIEWER, account_id=sandbox), AccountReply)
    assert shown.account is not None
    assert shown.account.billing is not None
    assert shown.account.billing.final_cost is not None
    assert shown.account.billing.final_cost.unblended == Decimal(15)


async def test_throttling_never_holds_an_account_past_its_maximum(start_billing: StartBilling) -> None:
    billing = await start_billing(aws_max_attempts=1)
    cooldown, sandbox = billing.cooldown, account_id(2)
    await cooldown.registered(sandbox)
    quick = SettledMode(quiet_hours=2, min_hours=0, max_hours=4, read_interval_hours=1)
    await cooldown.change_policy(mode=CooldownMode.SETTLED, settled=quick)
    await billing.control.fault("ce:GetCostAndUsage", account=billing.management, kind="throttle", count=100)

    await lease_ended(billing, sandbox, "lease-2", after=2 * H)
    failed = await tick_until(billing, sandbox, reads(1), "a throttled read")
    assert failed.billing is not None
    assert failed.billing.last_problem is not None
    assert "throttled" in failed.billing.last_problem
    cooling = await cleaned(billing, sandbox)  # at +3 h: Cooldown until +7 h at the latest
    until = cooling.cooldown_until
    assert until is not None
    for read in (2, 3, 4, 5):  # due at +4 h (the retry of the first), then every hour
        await billing.advance(H)
        account = await tick_until(billing, sandbox, reads(read), f"read {read}")
        assert (account.status is S.COOLDOWN) == (cooldown.clock.now() < until)
    released = await cooldown.wait_for(sandbox, lambda a: a.status is S.AVAILABLE, what="released at the maximum")
    assert released.status_since == until
    [(_, event)] = await read_events(cooldown.amqp_url, SETTLED_QUEUE, expect=1)
    assert event["settlement"] == Settlement.MAXIMUM_REACHED
    assert event["final_cost"] is None
    assert "LimitExceededException" in event["cost_unknown_reason"]


async def test_a_denied_read_releases_on_time_with_the_reason(start_billing: StartBilling) -> None:
    billing = await start_billing()
    cooldown, sandbox = billing.cooldown, account_id(3)
    await cooldown.registered(sandbox)
    await cooldown.change_policy(cooldown_period_hours=2)
    await billing.control.account(billing.management, denied_actions=["ce:GetCostAndUsage"])
    await lease_ended(billing, sandbox, "lease-3", after=H)
    await tick_until(billing, sandbox, reads(1), "a denied read")
    cooling = await cleaned(billing, sandbox)
    assert cooling.cooldown_mode is CooldownMode.FIXED
    await billing.advance(2 * H)
    await cooldown.tick()
    await cooldown.wait_for(sandbox, lambda a: a.status is S.AVAILABLE, what="released on time")
    [(_, event)] = await read_events(cooldown.amqp_url, SETTLED_QUEUE, expect=1)
    assert event["settlement"] == Settlement.PERIOD_ELAPSED
    assert "access-denied" in event["cost_unknown_reason"]
    assert "ce:GetCostAndUsage" in event["cost_unknown_reason"]


async def test_fixed_mode_reads_the_final_cost_when_the_account_leaves_cooldown(start_billing: StartBilling) -> None:
    billing = await start_billing()
    cooldown, sandbox = billing.cooldown, account_id(4)
    t0 = cooldown.clock.now()
    await cooldown.registered(sandbox)
    await cooldown.change_policy(cooldown_period_hours=24)
    await billing.costs.usage(
        sandbox, payer=billing.management, start=t0, end=t0 + 4 * H, hourly=Decimal("2.5"), delay_seconds=8 * 3600
    )
    await lease_ended(billing, sandbox, "lease-4", after=4 * H)
    await tick_until(billing, sandbox, reads(1), "the cost at termination")
    await cleaned(billing, sandbox)
    await billing.advance(24 * H)
    await cooldown.tick()
    released = await cooldown.wait_for(sandbox, lambda a: a.status is S.AVAILABLE, what="released with its cost")
    assert released.billing is not None
    assert released.billing.reads == 2
    [(_, event)] = await read_events(cooldown.amqp_url, SETTLED_QUEUE, expect=1)
    assert event["settlement"] == Settlement.PERIOD_ELAPSED
    assert Decimal(event["cost_at_termination"]["unblended"]) == 0  # nothing had arrived yet
    assert Decimal(event["final_cost"]["unblended"]) == 10
    assert Decimal(event["late_difference"]["unblended"]) == 10


async def test_a_cost_the_lease_manager_gives_saves_the_termination_read(start_billing: StartBilling) -> None:
    billing = await start_billing()
    cooldown, sandbox = billing.cooldown, account_id(5)
    await cooldown.registered(sandbox)
    await cooldown.change_policy(cooldown_period_hours=1)
    await cooldown.acquire("lease-5")
    await billing.advance(H)
    given = {"currency": "USD", "unblended": "7.25", "estimated": True}
    body: dict[str, Any] = {
        "schema_version": 1,
        "occurred_at": cooldown.now(),
        "lease_id": "lease-5",
        "account_id": sandbox,
        "terminated_at": cooldown.now(),
        "reason": "Expired",
        "cost": given,
    }
    await cooldown.publish("lease.terminated", body)
    ended = await cooldown.wait_for(sandbox, lambda a: a.status is S.CLEANUP, what="CleanUp")
    assert ended.billing is not None
    assert ended.billing.at_termination is not None
    assert (ended.billing.at_termination.unblended, ended.billing.at_termination.source) == (
        Decimal("7.25"),
        "lease-manager",
    )
    assert ended.billing.next_read_at is None
    await cooldown.tick()
    assert await billing.cost_reads() == 0


async def test_the_daily_budget_caps_requests_across_the_pool(start_billing: StartBilling) -> None:
    billing = await start_billing()
    cooldown = billing.cooldown
    first, second = account_id(6), account_id(7)
    await cooldown.registered(first, second)
    await cooldown.change_policy(cost_requests_per_day=1)
    for account, lease in ((first, "lease-6"), (second, "lease-7")):
        await cooldown.acquire(lease)
        await cooldown.terminate(account, lease)
        await cooldown.wait_for(account, lambda a: a.status is S.CLEANUP)
    await billing.advance(H)
    await cooldown.tick()
    done = [await cooldown.wait_for(a, reads(1), what="a read or its refusal") for a in (first, second)]
    problems = sorted(str(a.billing.last_problem) for a in done if a.billing is not None)
    assert problems == ["None", "the daily budget of 1 Cost Explorer requests is used up"]
    assert await billing.cost_reads() == 1
    refused = next(a for a in done if a.billing is not None and a.billing.last_problem)
    assert refused.billing is not None
    assert refused.billing.next_read_at == datetime.combine(date(2026, 3, 3), datetime.min.time(), tzinfo=UTC)
