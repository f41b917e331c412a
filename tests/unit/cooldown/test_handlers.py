"""The cooldown service's handlers on FastStream's TestRabbitBroker (no server): each queue
decodes its contract and reaches the right use of the service, RPC replies come back typed,
redeliveries are flagged, and bad input is dead-lettered without reaching the service.
The service's own behaviour is covered by the integration tests, on real servers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from faststream.rabbit.testing import PatchedMessage

from graceperiod.contracts.cooldown import (
    AccountCommandReply,
    AccountListReply,
    AccountReply,
    AcquireAccount,
    CooldownPolicy,
    GetAccount,
    GetCooldownPolicy,
    ListAccounts,
    ListStuckAccounts,
    PolicyReply,
    RegisterAccount,
    ReleaseAccountEarly,
    SetCooldownPolicy,
)
from graceperiod.contracts.enums import ActionPath, Permission
from graceperiod.contracts.rpc import Actor, CommandStatus
from graceperiod.contracts.topology import Queues
from graceperiod.contracts.upstream import (
    AccountCleanupFailed,
    AccountCleanupSucceeded,
    AccountRegistered,
    LeaseTerminated,
    Tick,
)
from graceperiod.cooldown.handlers import build_router
from graceperiod.cooldown.service import CooldownService
from tests.unit.broker_harness import Harness, handlers_on_test_broker

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ACCOUNT = "123456789012"
ADMIN = Actor(user_id="u-admin", email="admin@example.com", permissions=[Permission.UPDATE_CONFIG], path=ActionPath.API)


class RecordingService:
    """Stands in for CooldownService: records what the handlers hand it, answers typed replies."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, bool | None]] = []

    async def account_registered(self, event: AccountRegistered, *, redelivered: bool = False) -> None:
        self.calls.append(("account_registered", event, redelivered))

    async def lease_terminated(self, event: LeaseTerminated, *, redelivered: bool = False) -> None:
        self.calls.append(("lease_terminated", event, redelivered))

    async def cleanup_finished(
        self, event: AccountCleanupSucceeded | AccountCleanupFailed, *, redelivered: bool = False
    ) -> None:
        self.calls.append(("cleanup_finished", event, redelivered))

    async def on_tick(self, tick: Tick) -> int:
        self.calls.append(("on_tick", tick, None))
        return 0

    async def execute(self, command: Any, *, redelivered: bool = False) -> AccountCommandReply | PolicyReply:
        self.calls.append(("execute", command, redelivered))
        if isinstance(command, SetCooldownPolicy):
            return PolicyReply(policy=CooldownPolicy(cooldown_period_hours=command.cooldown_period_hours))
        return AccountCommandReply(status=CommandStatus.DONE, message=f"did {command.kind}")

    async def answer(self, query: Any) -> AccountListReply | AccountReply | PolicyReply:
        self.calls.append(("answer", query, None))
        if isinstance(query, GetAccount):
            return AccountReply()
        if isinstance(query, GetCooldownPolicy):
            return PolicyReply(policy=CooldownPolicy(enforce_account_cooldown=True))
        return AccountListReply(next_cursor=f"after-{query.kind}")


@pytest.fixture
def service() -> RecordingService:
    return RecordingService()


@pytest.fixture
async def harness(service: RecordingService) -> AsyncIterator[Harness]:
    async with handlers_on_test_broker(build_router(cast(CooldownService, service))) as harness:
        yield harness


def envelope(**fields: Any) -> dict[str, Any]:
    return {"schema_version": 1, "occurred_at": T0.isoformat(), **fields}


async def test_each_upstream_queue_decodes_its_contract_and_reaches_its_use(
    harness: Harness, service: RecordingService
) -> None:
    at = T0.isoformat()
    await harness.publish(Queues.COOLDOWN_ACCOUNT_REGISTERED, envelope(account_id=ACCOUNT, name="Sandbox"))
    ended = envelope(lease_id="L1", account_id=ACCOUNT, terminated_at=at, reason="Expired")
    await harness.publish(Queues.COOLDOWN_LEASE_TERMINATED, ended)
    await harness.publish(Queues.COOLDOWN_CLEANUP_SUCCEEDED, envelope(account_id=ACCOUNT, completed_at=at))
    failed = envelope(account_id=ACCOUNT, completed_at=at, error="aws-nuke failed")
    await harness.publish(Queues.COOLDOWN_CLEANUP_FAILED, failed)
    await harness.publish(Queues.COOLDOWN_TICKS, Tick(tick_id="t1", at=T0, occurred_at=T0))

    assert [(name, type(body), redelivered) for name, body, redelivered in service.calls] == [
        ("account_registered", AccountRegistered, False),
        ("lease_terminated", LeaseTerminated, False),
        ("cleanup_finished", AccountCleanupSucceeded, False),
        ("cleanup_finished", AccountCleanupFailed, False),
        ("on_tick", Tick, None),
    ]
    assert service.calls[1][1].terminated_at == T0
    assert service.calls[3][1].error == "aws-nuke failed"
    assert harness.dead_letters == {}


async def test_a_redelivered_message_reaches_the_service_flagged_as_such(
    harness: Harness, service: RecordingService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redelivered (its worker stopped before acknowledging it): the service republishes the
    events of a change already stored. The broker sets the flag; here the test does."""
    delivered = PatchedMessage.__init__

    def redelivered(message: PatchedMessage, *args: Any, **kwargs: Any) -> None:
        delivered(message, *args, **kwargs)
        object.__setattr__(message, "redelivered", True)  # aio-pika locks a delivered message

    monkeypatch.setattr(PatchedMessage, "__init__", redelivered)
    await harness.publish(
        Queues.COOLDOWN_LEASE_TERMINATED,
        envelope(lease_id="L1", account_id=ACCOUNT, terminated_at=T0.isoformat(), reason="Expired"),
    )
    command = ReleaseAccountEarly(actor=ADMIN, idempotency_key="k-1", account_id=ACCOUNT, reason="demo")
    await harness.ask(Queues.COOLDOWN_COMMANDS, command, AccountCommandReply)
    assert [(name, redelivered) for name, _, redelivered in service.calls] == [
        ("lease_terminated", True),
        ("execute", True),
    ]


@pytest.mark.parametrize(
    ("command", "reply_type"),
    [
        (RegisterAccount(actor=ADMIN, idempotency_key="k-1", account_id=ACCOUNT, name="Sandbox"), AccountCommandReply),
        (
            ReleaseAccountEarly(actor=ADMIN, idempotency_key="k-2", account_id=ACCOUNT, reason="demo"),
            AccountCommandReply,
        ),
        (AcquireAccount(actor=ADMIN, idempotency_key="k-3", lease_id="L9"), AccountCommandReply),
        (
            SetCooldownPolicy(
                actor=ADMIN, idempotency_key="k-4", enforce_account_cooldown=True, cooldown_period_hours=48
            ),
            PolicyReply,
        ),
    ],
)
async def test_every_command_kind_is_decoded_and_its_typed_reply_returned(
    harness: Harness, service: RecordingService, command: Any, reply_type: type[Any]
) -> None:
    reply = await harness.ask(Queues.COOLDOWN_COMMANDS, command, reply_type)
    [(name, received, redelivered)] = service.calls
    assert (name, received, redelivered) == ("execute", command, False)
    expected = await RecordingService().execute(command)
    assert reply == expected


@pytest.mark.parametrize(
    ("query", "reply_type"),
    [
        (ListAccounts(actor=ADMIN, limit=5), AccountListReply),
        (GetAccount(actor=ADMIN, account_id=ACCOUNT), AccountReply),
        (GetCooldownPolicy(actor=ADMIN), PolicyReply),
        (ListStuckAccounts(actor=ADMIN, older_than_hours=2), AccountListReply),
    ],
)
async def test_every_query_kind_is_decoded_and_its_typed_reply_returned(
    harness: Harness, service: RecordingService, query: Any, reply_type: type[Any]
) -> None:
    reply = await harness.ask(Queues.COOLDOWN_QUERIES, query, reply_type)
    assert service.calls == [("answer", query, None)]
    assert reply == await RecordingService().answer(query)


async def test_bad_input_is_dead_lettered_with_its_reason_and_never_reaches_the_service(
    harness: Harness, service: RecordingService
) -> None:
    terminated = Queues.COOLDOWN_LEASE_TERMINATED
    await harness.publish(terminated, envelope(lease_id="L1", account_id="not-an-account", reason="Expired"))
    await harness.publish(terminated, b"{not json", message_id="m-2")
    good = envelope(lease_id="L2", account_id=ACCOUNT, terminated_at=T0.isoformat(), reason="Expired")
    await harness.publish(terminated, good, message_id="m-3", content_type="text/plain")
    unknown = {"kind": "delete-account", "actor": ADMIN.model_dump(mode="json"), "idempotency_key": "k-1"}
    await harness.publish(Queues.COOLDOWN_COMMANDS, unknown, message_id="m-4")
    await harness.publish(terminated, good, message_id="m-5")  # the queue keeps flowing

    letters = harness.letters(terminated)
    assert [letter.kind for letter in letters] == ["bad-input"] * 3
    assert "account_id" in letters[0].reason
    assert "terminated_at: Field required" in letters[0].reason
    assert "not valid JSON" in letters[1].reason or "JSONDecodeError" in letters[1].reason
    assert "content type 'text/plain' is not application/json" in letters[2].reason
    [command_letter] = harness.letters(Queues.COOLDOWN_COMMANDS)
    assert "delete-account" in command_letter.reason
    assert [(name, body.lease_id) for name, body, _ in service.calls] == [("lease_terminated", "L2")]
