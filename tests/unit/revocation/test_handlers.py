"""The revocation service's handlers through FastStream's TestRabbitBroker (no server): typed
replies, malformed input answered ``invalid`` (dead-lettered when nobody waits), email links
verified by the service itself, one outcome per idempotency key, and the answer by the
deadline — never before the command is accepted."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

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
from graceperiod.contracts.revocation_views import may_act_on
from graceperiod.contracts.rpc import Actor, CommandStatus, ErrorCode
from graceperiod.contracts.topology import Queues
from graceperiod.devstack.testkit.samples import sample_purchase
from graceperiod.devstack.testkit.tokens import LinkSigner
from graceperiod.revocation.acceptance import Acceptance
from graceperiod.revocation.commands import Commands
from graceperiod.revocation.domain.authorization import Asker
from graceperiod.revocation.domain.records import CommandRecord
from graceperiod.revocation.handlers import build_router
from graceperiod.revocation.link_access import LinkAccess
from graceperiod.revocation.replies import Replies
from graceperiod.runtime.clock import FrozenClock
from graceperiod.runtime.middleware import TransientError
from graceperiod.runtime.signing_keys import PublicKeys
from tests.unit.broker_harness import Harness, handlers_on_test_broker

ADMIN = Actor(
    user_id="u-admin",
    email="admin@example.com",
    permissions=[Permission.REVOKE_ANY_PURCHASES],
    path=ActionPath.DASHBOARD,
)
CLOCK = FrozenClock(datetime(2026, 11, 21, 12, 0, tzinfo=UTC))
SIGNER = LinkSigner()
REPLY_WITHIN = 0.2
DONE = CommandReply(status=CommandStatus.DONE, message="Revoked.")

ReplyT = TypeVar("ReplyT", bound=BaseModel)
Work = Callable[[RevokePurchase, str, Acceptance], Awaitable[CommandReply]]


@dataclass
class FakeCommandStore:
    """The command keys, in memory."""

    records: dict[str, CommandRecord] = field(default_factory=dict)

    async def begin(self, command: CommandRecord) -> bool:
        return self.records.setdefault(command.key, command) is command

    async def get(self, key: str) -> CommandRecord | None:
        return self.records.get(key)

    async def finish(self, command: CommandRecord, reply: CommandReply) -> None:
        self.records[command.key] = self.records[command.key].model_copy(update={"state": "done", "reply": reply})


@dataclass
class FakeRevoking:
    work: Work
    calls: list[str] = field(default_factory=list)
    askers: list[Asker] = field(default_factory=list)

    async def revoke(self, command: RevokePurchase, key: str, acceptance: Acceptance, asker: Asker) -> CommandReply:
        self.calls.append(key)
        self.askers.append(asker)
        return await self.work(command, key, acceptance)


class Unused:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"{name} was not expected to be called")


@dataclass
class Service:
    broker: RabbitBroker
    harness: Harness
    store: FakeCommandStore
    revoking: FakeRevoking
    commands: Commands

    async def command(self, body: BaseModel | dict[str, Any]) -> CommandReply:
        return await self.harness.ask(Queues.REVOCATION_COMMANDS, body, CommandReply)

    async def query(self, body: BaseModel | dict[str, Any], reply: type[ReplyT]) -> ReplyT:
        return await self.harness.ask(Queues.REVOCATION_QUERIES, body, reply)


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
        azure_accounts=cast(Any, Unused()),
        replies=Replies(CLOCK),
        clock=CLOCK,
        reply_within=REPLY_WITHIN,
        retention=timedelta(days=30),
    )
    links = LinkAccess(CLOCK, keys=PublicKeys.from_jwks(SIGNER.jwks()))
    router = build_router(
        links=links,
        recording=cast(Any, Unused()),
        deliveries=cast(Any, Unused()),
        follow_ups=cast(Any, Unused()),
        discovering=cast(Any, Unused()),
        commands=commands,
        queries=cast(Any, Unused()),
    )
    async with handlers_on_test_broker(router) as harness:
        yield Service(harness.broker, harness, store, revoking, commands)
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
    assert listed.problem is not None
    assert "limit" in listed.problem.message


async def test_a_malformed_command_nobody_waits_for_is_dead_lettered_with_the_reason(service: Service) -> None:
    body = {"kind": "revoke-purchase", "actor": ADMIN.model_dump(mode="json"), "purchase_id": "x"}

    await service.harness.publish(Queues.REVOCATION_COMMANDS, body, message_id="no-reply-to")

    (letter,) = service.harness.letters(Queues.REVOCATION_COMMANDS)
    assert letter.kind == "bad-input"
    assert "idempotency_key" in letter.reason
    assert letter.message_id == "no-reply-to"
    assert service.revoking.calls == []


def _link_actor(email: str = "owner@example.com") -> Actor:
    """A logged-out recipient, as the gateway describes them: no permissions at all."""
    return Actor(user_id=f"email:{email}", email=email, permissions=[], path=ActionPath.EMAIL_LINK)


def _link_revoke(token: str | None, *, actor: Actor | None = None, purchase_id: str = "pur-1") -> RevokePurchase:
    return RevokePurchase(
        actor=actor or _link_actor(), idempotency_key="k-link", purchase_id=purchase_id, link_token=token
    )


def _token(*, purchase_id: str = "pur-1", recipient: str = "owner@example.com", signer: LinkSigner = SIGNER) -> str:
    return signer.token(purchase_id=purchase_id, recipient=recipient, issued_at=CLOCK.now())


async def test_a_link_request_carries_the_link_the_service_verified_itself(service: Service) -> None:
    reply = await service.command(_link_revoke(_token()))

    assert reply == DONE
    (asker,) = service.revoking.askers
    assert asker.link is not None
    assert (asker.link.purchase_id, asker.link.recipient) == ("pur-1", "owner@example.com")


@pytest.mark.parametrize(
    "token",
    [
        None,
        "not-a-jwt",
        _token(signer=LinkSigner()),
        _token(purchase_id="pur-2"),
        _token(recipient="someone-else@example.com"),
    ],
    ids=["no-token", "malformed", "signed-by-another-key", "for-another-purchase", "for-another-person"],
)
async def test_an_email_link_actor_without_a_link_that_verifies_gets_nothing(
    service: Service, token: str | None
) -> None:
    reply = await service.command(_link_revoke(token))

    if token is None:  # no link at all: an actor without permissions, refused by the use case
        (asker,) = service.revoking.askers
        assert asker.link is None
        assert not may_act_on(asker.actor, sample_purchase(requester_email="alice@example.com"), link=asker.link)
        return
    assert reply.status is CommandStatus.REJECTED
    assert reply.problem is not None
    assert reply.problem.code is ErrorCode.FORBIDDEN
    assert service.revoking.calls == []


async def test_a_link_request_with_a_bad_token_nobody_waits_for_is_dead_lettered(service: Service) -> None:
    await service.harness.publish(Queues.REVOCATION_COMMANDS, _link_revoke(_token(purchase_id="pur-2")))

    (letter,) = service.harness.letters(Queues.REVOCATION_COMMANDS)
    assert "email link is not valid" in letter.reason
    assert service.revoking.calls == []


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
        azure_accounts=cast(Any, Unused()),
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
