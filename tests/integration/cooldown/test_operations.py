"""Queries, registration and policy over RPC, metrics, dead letters and event redelivery —
the cooldown service over real RabbitMQ and FerretDB."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY

from graceperiod.contracts.base import Message
from graceperiod.contracts.cooldown import (
    AccountCommandReply,
    AccountListReply,
    AccountReply,
    AccountStatus,
    GetAccount,
    ListAccounts,
    ListStuckAccounts,
    PolicyReply,
    RegisterAccount,
    SetCooldownPolicy,
)
from graceperiod.contracts.rpc import CommandStatus, ErrorCode
from graceperiod.contracts.topology import Queues
from graceperiod.devstack.testkit.fixtures import dead_letters
from graceperiod.runtime.messaging import EventPublisher
from graceperiod.runtime.middleware import TransientError
from tests.integration.progress import Finished

from .conftest import ADMIN, SETTLED_QUEUE, STATUS_QUEUE, VIEWER, Cooldown, account_id, read_events

S = AccountStatus
H = timedelta(hours=1)


async def test_accounts_are_listed_a_page_at_a_time_and_by_status(cooldown: Cooldown) -> None:
    ids = [account_id(n) for n in range(1, 6)]
    await cooldown.registered(*ids)
    await cooldown.into_cleanup(ids[1], "lease-1")

    seen: list[str] = []
    cursor: str | None = None
    while True:
        page = await cooldown.query(ListAccounts(actor=VIEWER, limit=2, cursor=cursor), AccountListReply)
        seen += [a.account_id for a in page.items]
        assert all(a.history == [] for a in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == ids
    cleaning = await cooldown.query(ListAccounts(actor=VIEWER, status=S.CLEANUP), AccountListReply)
    assert [a.account_id for a in cleaning.items] == [ids[1]]


async def test_cooldown_accounts_are_listed_by_time_left_a_page_at_a_time(cooldown: Cooldown) -> None:
    await cooldown.set_policy(enforce=True, hours=24)
    ids = [account_id(n) for n in range(1, 6)]
    await cooldown.registered(*ids)
    # Entered Cooldown in this order, so released in it: 4, 2, 5, 1 (3 stays Available).
    for n in (4, 2, 5, 1):
        await cooldown.into_cooldown(ids[n - 1], f"lease-{n}")

    seen: list[str] = []
    cursor: str | None = None
    while True:
        query = ListAccounts(actor=VIEWER, status=S.COOLDOWN, limit=3, cursor=cursor)
        page = await cooldown.query(query, AccountListReply)
        assert page.problem is None, page.problem
        seen += [a.account_id for a in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [ids[3], ids[1], ids[4], ids[0]]
    everyone = await cooldown.query(ListAccounts(actor=VIEWER), AccountListReply)
    assert [a.account_id for a in everyone.items] == ids  # all statuses: by id, as before

    wrong = await cooldown.query(ListAccounts(actor=VIEWER, status=S.COOLDOWN, cursor=ids[0]), AccountListReply)
    assert wrong.problem is not None
    assert wrong.problem.code is ErrorCode.INVALID


async def test_a_quarantined_account_shows_the_error_its_cleanup_failed_with(cooldown: Cooldown) -> None:
    account = account_id(1)
    await cooldown.registered(account)
    await cooldown.into_cleanup(account, "lease-1")
    await cooldown.cleanup_failed(account)
    await cooldown.wait_for(account, lambda a: a.status is S.QUARANTINE, what="Quarantine")

    found = await cooldown.query(GetAccount(actor=VIEWER, account_id=account), AccountReply)
    assert found.account is not None
    assert found.account.last_cleanup_error == "aws-nuke: 3 resources could not be deleted"
    listed = await cooldown.query(ListAccounts(actor=VIEWER, status=S.QUARANTINE), AccountListReply)
    assert [a.last_cleanup_error for a in listed.items] == ["aws-nuke: 3 resources could not be deleted"]


async def test_accounts_stuck_in_cleanup_or_quarantine_are_listed_oldest_first(cooldown: Cooldown) -> None:
    cleaning, quarantined, fine = account_id(1), account_id(2), account_id(3)
    await cooldown.registered(cleaning, quarantined, fine)
    await cooldown.into_cleanup(cleaning, "lease-1")
    cooldown.clock.advance(H)
    await cooldown.into_cleanup(quarantined, "lease-2")
    await cooldown.cleanup_failed(quarantined)
    await cooldown.wait_for(quarantined, lambda a: a.status is S.QUARANTINE)
    cooldown.clock.advance(24 * H)

    stuck = await cooldown.query(ListStuckAccounts(actor=VIEWER, older_than_hours=24), AccountListReply)
    assert [(a.account_id, a.status) for a in stuck.items] == [(cleaning, S.CLEANUP), (quarantined, S.QUARANTINE)]
    longer = await cooldown.query(ListStuckAccounts(actor=VIEWER, older_than_hours=24.5), AccountListReply)
    assert [a.account_id for a in longer.items] == [cleaning]


async def test_registration_over_rpc_is_idempotent_and_needs_update_config(cooldown: Cooldown) -> None:
    account = account_id(1)
    register = RegisterAccount(actor=ADMIN, idempotency_key="reg-1", account_id=account, name="Sandbox 1")
    first = await cooldown.command(register, AccountCommandReply)
    assert (first.status, first.noop) == (CommandStatus.DONE, False)
    again = await cooldown.command(register.model_copy(update={"idempotency_key": "reg-2"}), AccountCommandReply)
    assert (again.status, again.noop) == (CommandStatus.DONE, True)
    await cooldown.register(account, name="Sandbox 1 (event)")  # the upstream event for the same account
    denied = await cooldown.command(
        RegisterAccount(actor=VIEWER, idempotency_key="reg-3", account_id=account_id(2), name="x"),
        AccountCommandReply,
    )
    assert denied.problem is not None
    assert denied.problem.code is ErrorCode.FORBIDDEN
    reply = await cooldown.query(GetAccount(actor=VIEWER, account_id=account), AccountReply)
    assert reply.account is not None
    assert reply.account.name == "Sandbox 1"
    assert len(reply.account.history) == 1
    assert (await cooldown.query(GetAccount(actor=VIEWER, account_id=account_id(2)), AccountReply)).account is None


async def test_the_policy_is_changed_only_with_update_config_and_a_retry_changes_nothing(cooldown: Cooldown) -> None:
    denied = await cooldown.command(
        SetCooldownPolicy(actor=VIEWER, idempotency_key="p1", enforce_account_cooldown=True, cooldown_period_hours=24),
        PolicyReply,
    )
    assert denied.problem is not None
    assert denied.problem.code is ErrorCode.FORBIDDEN
    command = SetCooldownPolicy(
        actor=ADMIN, idempotency_key="p2", enforce_account_cooldown=True, cooldown_period_hours=72
    )
    first = await cooldown.command(command, PolicyReply)
    cooldown.clock.advance(H)
    retried = await cooldown.command(command, PolicyReply)
    assert first.policy is not None
    assert retried.policy == first.policy  # same who/when: the retry did not apply it again
    assert (first.policy.cooldown_period_hours, first.policy.updated_at) == (72, cooldown.clock.now() - H)


async def test_metrics_count_the_pool_by_status_and_time_spent_in_cooldown(cooldown: Cooldown) -> None:
    def sample(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    cooling, free = account_id(1), account_id(2)
    await cooldown.registered(cooling, free)
    await cooldown.set_policy(True, 1)
    await cooldown.into_cooldown(cooling, "lease-1")
    counts = await cooldown.main.service.refresh_gauges()
    assert counts[S.COOLDOWN] == 1
    assert counts[S.AVAILABLE] == 1
    assert sample("graceperiod_cooldown_accounts", status="Cooldown") == 1
    assert sample("graceperiod_cooldown_accounts", status="Quarantine") == 0

    observed = sample("graceperiod_cooldown_duration_seconds_count", release="elapsed")
    total = sample("graceperiod_cooldown_duration_seconds_sum", release="elapsed")
    cooldown.clock.advance(H)
    assert await cooldown.main.service.release_due() == 1
    assert sample("graceperiod_cooldown_duration_seconds_count", release="elapsed") == observed + 1
    assert sample("graceperiod_cooldown_duration_seconds_sum", release="elapsed") - total == pytest.approx(3600, abs=1)
    await cooldown.main.service.refresh_gauges()
    assert sample("graceperiod_cooldown_accounts", status="Available") == 2


async def test_an_event_for_an_account_not_in_the_pool_is_dead_lettered_with_the_reason(cooldown: Cooldown) -> None:
    await cooldown.terminate(account_id(42), "lease-1", message_id="orphan-termination")
    [letter] = await dead_letters(cooldown.amqp_url, "cooldown.lease.terminated", timeout=30)
    assert letter.message_id == "orphan-termination"
    assert "account 100000000042 is not in the pool" in str(letter.headers["x-gp-error"])


async def test_events_whose_publication_failed_after_the_change_was_stored_are_published_on_redelivery(
    cooldown: Cooldown, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = account_id(1)
    await cooldown.registered(account)
    await cooldown.set_policy(True, 24)
    await cooldown.into_cleanup(account, "lease-1")
    await read_events(cooldown.amqp_url, STATUS_QUEUE, expect=2)

    failures = {"left": 1}
    publish = EventPublisher.publish

    async def flaky(self: EventPublisher, event: Message, *, message_id: str) -> Any:
        if failures["left"]:
            failures["left"] -= 1
            raise TransientError("broker went away while publishing")
        return await publish(self, event, message_id=message_id)

    monkeypatch.setattr(EventPublisher, "publish", flaky)
    cleanups = Finished(Queues.COOLDOWN_CLEANUP_SUCCEEDED.queue)
    await cooldown.cleaned(account)
    cooling = await cooldown.wait_for(account, lambda a: a.status is S.COOLDOWN)
    await cleanups.wait(1)  # done at last (its first attempt failed): everything it announces is published
    changes = await read_events(cooldown.amqp_url, STATUS_QUEUE, expect=1)
    assert [(mid, body["transition"]["to_status"]) for mid, body in changes] == [
        (f"cooldown:status-changed:{account}:{cooling.version}:0", "Cooldown")
    ]
    assert failures["left"] == 0
    assert (cleanups.handled, cleanups.dead_lettered) == (1, 0)
    assert await read_events(cooldown.amqp_url, SETTLED_QUEUE, expect=0) == []
