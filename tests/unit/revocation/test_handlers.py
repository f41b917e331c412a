"""The revocation service's handlers through FastStream's TestRabbitBroker (no server): typed
replies, malformed input answered ``invalid``, one outcome per idempotency key, and the answer
by the deadline — never before the command is accepted."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from faststream.rabbit import RabbitBroker
from pydantic import BaseModel

from graceperiod.contracts.enums import ActionPath, Permission
from graceperiod.contracts.revocation import (
    CommandReply,
    PurchaseListReply,
    PurchaseReply,
    RevokePurchase,
    SupportCaseDraftReply,
)
from graceperiod.contracts.rpc import Actor, CommandStatus, ErrorCode
from graceperiod.contracts.topology import Queues
from graceperiod.revocation.acceptance import Acceptance
from graceperiod.revocation.commands import Commands
from graceperiod.revocation.domain.records import CommandRecord
from graceperiod.revocation.handlers import build_router
from graceperiod.revocation.replies import Replies
from graceperiod.runtime.clock import FrozenClock
from graceperiod.runtime.middleware import TransientError
from tests.unit.broker_harness import handlers_on_test_broker

ADMIN = Actor(
    user_id="u-admin",
    email="admin@example.com",
    permissions=[Permission.REVOKE_ANY_PURCHASES],
    path=ActionPath.DASHBOARD,
)
CLOCK = FrozenClock(datetime(2026, 11, 21, 12, 0, tzinfo=UTC))
REPLY_WITHIN = 0.2
DONE = CommandReply(status=CommandStatus.DONE, message="Revoked.")

Work = Callable[[RevokePurchase, str, Acceptance], Awaitable[CommandReply]]


@dataclass
class FakeCommandStore:
    """The command keys, in memory."""

    records: dict[str, CommandRecord] = field(default_factory=dict)

    async def begin(self, command: CommandRecord) -> bool:
        return self.records.setdefault(command.key, command) is command

    async def get(self, key: str) -> CommandRecord | None:
        return self.records.get(key)

    async def finish(self, key: str, reply: CommandReply) -> None:
        self.records[key] = self.records[key].model_copy(update={"state": "done", "reply": reply})


@dataclass
class FakeRevoking:
    work: Work
    calls: list[str] = field(default_factory=list)

    async def revoke(self, command: RevokePurchase, key: str, acceptance: Acceptance) -> CommandReply:
        self.calls.append(key)
        return await self.work(command, key, acceptance)


class Unused:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"{name} was not expected to be called")


@dataclass
class Service:
    broker: RabbitBroker
    store: FakeCommandStore
    revoking: FakeRevoking
    commands: Commands

    async def command(self, body: BaseModel | dict[str, Any]) -> CommandReply:
        response = await self.broker.request(
            _json(body), queue=Queues.REVOCATION_COMMANDS.queue, timeout=5, content_type="application/json"
        )
        return CommandReply.model_validate_json(response.body)

    async def query(self, body: BaseModel | dict[str, Any], reply: type[BaseModel]) -> Any:
        response = await self.broker.request(
            _json(body), queue=Queues.REVOCATION_QUERIES.queue, timeout=5, content_type="application/json"
        )
        return reply.model_validate_json(response.body)


def _json(body: BaseModel | dict[str, Any]) -> dict[str, Any]:
    return body.model_dump(mode="json") if isinstance(body, BaseModel) else body


async def _done(command: RevokePurchase, key: str, acceptance: Acceptance) -> CommandReply:
    return DONE


@pytest.fixture
async def service(request: pytest.FixtureRequest) -> AsyncIterator[Service]:
    work: Work = getattr(request, "param", _done)
    store, revoking = FakeCommandStore(), FakeRevoking(work)
    commands = Commands(
        cast(Any, store),
        revoking=cast(Any, revoking),
        support_cases=cast(Any, Unused()),
        accounts=cast(Any, Unused()),
        replies=Replies(CLOCK),
        clock=CLOCK,
        reply_within=REPLY_WITHIN,
        retention=timedelta(days=30),
    )
    router = build_router(
        recording=cast(Any, Unused()),
        deliveries=cast(Any, Unused()),
        follow_ups=cast(Any, Unused()),
        commands=commands,
        queries=cast(Any, Unused()),
    )
    async with handlers_on_test_broker(router) as harness:
        yield Service(harness.broker, store, revoking, commands)
        await commands.drain()


def _revoke(key: str = "k-1") -> RevokePurchase:
    return RevokePurchase(actor=ADMIN, idempotency_key=key, purchase_id="pur-1")


async def test_a_command_is_answered_with_the_use_cases_reply_and_its_outcome_kept(service: Service) -> None:
    first = await service.command(_revoke())
    again = await service.command(_revoke())

    assert first == DONE
    assert again == DONE
    assert service.revoking.calls == ["revoke-purchase:k-1"]  # the repeat got the kept outcome
    assert service.store.records["revoke-purchase:k-1"].reply == DONE


async def test_a_malformed_command_is_answered_invalid_and_nothing_runs(service: Service) -> None:
    reply = await service.command(
        {"kind": "revoke-purchase", "actor": ADMIN.model_dump(mode="json"), "purchase_id": "x"}
    )

    assert reply.status is CommandStatus.REJECTED
    assert reply.problem is not None
    assert reply.problem.code is ErrorCode.INVALID
    assert "idempotency_key" in reply.problem.message
    assert service.revoking.calls == []


async def test_a_malformed_query_is_answered_invalid_in_the_reply_type_of_its_kind(service: Service) -> None:
    actor = ADMIN.model_dump(mode="json")
    listed = await service.query({"kind": "list-purchases", "actor": actor, "limit": 0}, PurchaseListReply)
    drafted = await service.query({"kind": "get-support-case-draft", "actor": actor}, SupportCaseDraftReply)
    unknown = await service.query({"kind": "drop-tables", "actor": actor}, PurchaseReply)

    for reply in (listed, drafted, unknown):
        assert reply.problem is not None
        assert reply.problem.code is ErrorCode.INVALID
    assert "limit" in listed.problem.message


async def _slow_after_accepting(command: RevokePurchase, key: str, acceptance: Acceptance) -> CommandReply:
    acceptance.accept()
    await asyncio.sleep(REPLY_WITHIN * 3)
    return DONE


@pytest.mark.parametrize("service", [_slow_after_accepting], indirect=True)
async def test_a_slow_accepted_command_is_answered_in_progress_and_finishes_after(service: Service) -> None:
    started = asyncio.get_running_loop().time()
    reply = await service.command(_revoke())
    answered_after = asyncio.get_running_loop().time() - started

    assert reply.status is CommandStatus.IN_PROGRESS
    assert answered_after < REPLY_WITHIN * 2
    assert service.store.records["revoke-purchase:k-1"].reply is None  # still going
    await service.commands.drain()
    assert service.store.records["revoke-purchase:k-1"].reply == DONE


async def _slow_to_accept(command: RevokePurchase, key: str, acceptance: Acceptance) -> CommandReply:
    await asyncio.sleep(REPLY_WITHIN * 2)  # e.g. AWS slow to describe the commitment
    acceptance.accept()
    return DONE


@pytest.mark.parametrize("service", [_slow_to_accept], indirect=True)
async def test_no_answer_before_the_command_is_accepted_whatever_the_deadline(service: Service) -> None:
    reply = await service.command(_revoke())

    assert reply == DONE  # not "in progress" with nothing stored to resume it from


async def _fails_before_accepting(command: RevokePurchase, key: str, acceptance: Acceptance) -> CommandReply:
    raise TransientError("the database is down")


@pytest.mark.parametrize("service", [_fails_before_accepting], indirect=True)
async def test_a_command_that_fails_before_it_is_accepted_fails_its_message(service: Service) -> None:
    # The handler raises (no reply): the reliability middleware retries the message.
    with pytest.raises(TransientError):
        await service.commands.handle(_revoke())
    assert service.store.records["revoke-purchase:k-1"].reply is None


async def _fails_after_accepting(command: RevokePurchase, key: str, acceptance: Acceptance) -> CommandReply:
    acceptance.accept()
    raise TransientError("AWS kept throttling")


@pytest.mark.parametrize("service", [_fails_after_accepting], indirect=True)
async def test_a_command_that_fails_after_it_is_accepted_is_in_progress_for_the_tick_to_resume(
    service: Service,
) -> None:
    reply = await service.command(_revoke())

    assert reply.status is CommandStatus.IN_PROGRESS
    assert service.store.records["revoke-purchase:k-1"].reply is None  # no outcome kept: a retry runs it again


async def test_accepted_commands_still_running_are_bounded() -> None:
    """Answered commands run on after their message is acknowledged, so prefetch no longer
    bounds them: ``max_in_flight`` does, and a command beyond it waits unanswered."""
    release = asyncio.Event()

    async def accept_then_wait(command: RevokePurchase, key: str, acceptance: Acceptance) -> CommandReply:
        acceptance.accept()
        await release.wait()
        return DONE

    commands = Commands(
        cast(Any, FakeCommandStore()),
        revoking=cast(Any, FakeRevoking(accept_then_wait)),
        support_cases=cast(Any, Unused()),
        accounts=cast(Any, Unused()),
        replies=Replies(CLOCK),
        clock=CLOCK,
        reply_within=REPLY_WITHIN,
        retention=timedelta(days=30),
        max_in_flight=2,
    )
    first = await commands.handle(_revoke("k-1"))
    second = await commands.handle(_revoke("k-2"))
    third = asyncio.create_task(commands.handle(_revoke("k-3")))
    await asyncio.sleep(REPLY_WITHIN * 3)

    assert (first.status, second.status) == (CommandStatus.IN_PROGRESS, CommandStatus.IN_PROGRESS)
    assert not third.done()  # neither answered nor acknowledged while two are running
    release.set()
    assert (await third) == DONE
    await commands.drain()
