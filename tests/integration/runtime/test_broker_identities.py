"""Who may publish what, on a real RabbitMQ with the broker definitions loaded (every identity
with its permissions and topic permissions; ``tests/conftest.py`` loads them per vhost).

For every internal event a Grace Period service consumes, and for every command and query of
the contracts: a forged copy, published by an identity that could reach the queue (through the
default exchange, which topic permissions cannot restrict), is refused before its handler
runs, dead-lettered with the reason and counted in ``graceperiod_messages_refused_total``. The
handler here is a recorder behind the real reliability middleware, consuming the real queue
as the owning service's identity: the refusal happens in the middleware, for every service.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from subprocess import PIPE
from typing import Any, get_args

import aio_pika
import pytest
from aiormq.exceptions import ChannelAccessRefused, ChannelPreconditionFailed
from faststream.rabbit import RabbitBroker
from faststream.rabbit.annotations import RabbitMessage
from prometheus_client import REGISTRY

from graceperiod.contracts.cooldown import CooldownCommand, CooldownQuery
from graceperiod.contracts.identities import BrokerIdentity, event_owner, is_internal, may_send, service_identity
from graceperiod.contracts.notifier import NotifierCommand, NotifierQuery
from graceperiod.contracts.revocation import RevocationCommand, RevocationQuery
from graceperiod.contracts.topology import EVENTS_EXCHANGE, Binding, QueueKind, Queues, ServiceName
from graceperiod.runtime.actor_assertions import ASSERTION_HEADER, AssertionSigner, tool_signer
from graceperiod.runtime.messaging import build_broker, queue_for
from graceperiod.runtime.middleware import PermanentMessageError
from graceperiod.runtime.rpc import signed
from graceperiod.runtime.settings import ServiceSettings
from graceperiod.runtime.trust import binding_of

IdentityUrl = Callable[[BrokerIdentity], str]

INTERNAL_EVENT_QUEUES = [
    b
    for b in Queues.all()
    if b.kind is QueueKind.EVENTS and is_internal(b.routing_key) and b.service is not ServiceName.LEASE_MANAGER
]


def _kinds(union: Any) -> list[str]:
    return [str(model.model_fields["kind"].default) for model in get_args(get_args(union)[0])] or [
        str(get_args(union)[0].model_fields["kind"].default)
    ]


REQUESTS: list[tuple[Binding, str]] = [
    (binding, kind)
    for binding, union in [
        (Queues.REVOCATION_COMMANDS, RevocationCommand),
        (Queues.REVOCATION_QUERIES, RevocationQuery),
        (Queues.NOTIFIER_COMMANDS, NotifierCommand),
        (Queues.NOTIFIER_QUERIES, NotifierQuery),
        (Queues.COOLDOWN_COMMANDS, CooldownCommand),
        (Queues.COOLDOWN_QUERIES, CooldownQuery),
    ]
    for kind in _kinds(union)
]

ACTOR = {"user_id": "mallory", "email": "mallory@example.com", "permissions": ["update:config"], "path": "email-link"}


def refused(reason: str) -> float:
    return REGISTRY.get_sample_value("graceperiod_messages_refused_total", {"reason": reason}) or 0.0


@dataclass
class Recorder:
    """What reached the handler; while ``failing``, the handler fails for good (dead letter)."""

    handled: list[bytes] = field(default_factory=list)
    failing: bool = False


@pytest.fixture
async def consume(identity_url: IdentityUrl) -> AsyncIterator[Callable[[Binding], Any]]:
    """Start a recorder on a binding's real queue, as its owning service (identity included)."""
    brokers: list[RabbitBroker] = []

    async def start(binding: Binding) -> Recorder:
        recorder = Recorder()
        url = identity_url(service_identity(binding.service))
        broker = build_broker(ServiceSettings(amqp_url=url), app_id=f"test-{binding.service}")

        @broker.subscriber(queue_for(binding))
        async def handle(message: RabbitMessage) -> None:
            if recorder.failing:
                msg = "not now"
                raise PermanentMessageError(msg)
            recorder.handled.append(message.body)

        await broker.start()
        brokers.append(broker)
        return recorder

    yield start
    for broker in brokers:
        await broker.stop()


async def publish_as(
    url: str, queue: str, body: dict[str, Any] | bytes, *, user_id: str | None, signer: AssertionSigner | None = None
) -> None:
    """Publish straight to ``queue`` through the default exchange, claiming ``user_id``; signed
    as the gateway signs when ``signer`` is given."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    binding = binding_of(queue)
    assert binding is not None
    headers, at = signed(signer, binding, raw)
    await publish_raw(url, queue, raw, user_id=user_id, headers=headers, at=at, message_id=f"forged-{queue}-{user_id}")


async def publish_raw(
    url: str,
    queue: str,
    raw: bytes,
    *,
    user_id: str | None,
    headers: dict[str, Any],
    at: datetime,
    message_id: str | None,
) -> None:
    """``raw`` to ``queue`` through the default exchange, persistent and confirmed."""
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        message = aio_pika.Message(
            raw,
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=message_id,
            user_id=user_id,
            headers=headers or None,
            timestamp=at,
        )
        await channel.default_exchange.publish(message, routing_key=queue, mandatory=True)
    finally:
        await connection.close()


async def publish_event_as(url: str, identity: BrokerIdentity, routing_key: str) -> None:
    """Publish to ``graceperiod.events`` with ``routing_key``, as ``identity``, confirmed."""
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(EVENTS_EXCHANGE, ensure=False)
        message = aio_pika.Message(b"{}", content_type="application/json", user_id=identity)
        await exchange.publish(message, routing_key=routing_key)
    finally:
        await connection.close()


async def dead_letters(amqp_url: str, binding: Binding, expect: int, timeout: float = 15.0) -> list[Any]:
    """Read (and settle) ``expect`` dead letters of the binding's queue."""
    connection = await aio_pika.connect(amqp_url)
    letters: list[aio_pika.abc.AbstractIncomingMessage] = []
    try:
        channel = await connection.channel()
        queue = await channel.get_queue(f"{binding.queue}.dlq", ensure=False)
        deadline = asyncio.get_running_loop().time() + timeout
        while len(letters) < expect and asyncio.get_running_loop().time() < deadline:
            message = await queue.get(fail=False)
            if message is None:
                await asyncio.sleep(0.05)
                continue
            await message.ack()
            letters.append(message)
    finally:
        await connection.close()
    return letters


def forger_of(binding: Binding) -> BrokerIdentity:
    """An identity that can write to the default exchange, and so reach any queue: the gateway
    (for events), another Grace Period service (for requests)."""
    if binding.kind is QueueKind.EVENTS:
        return BrokerIdentity.GATEWAY
    return BrokerIdentity.NOTIFIER if binding.service is not ServiceName.NOTIFIER else BrokerIdentity.REVOCATION


@pytest.mark.parametrize("binding", INTERNAL_EVENT_QUEUES, ids=lambda b: b.queue)
async def test_an_internal_event_not_from_its_owner_is_refused_and_counted(
    binding: Binding, amqp_url: str, identity_url: IdentityUrl, consume: Callable[[Binding], Any]
) -> None:
    recorder: Recorder = await consume(binding)
    forger = forger_of(binding)
    body = {"forged": True, "routing_key": binding.routing_key}
    wrong, missing = refused("wrong-publisher"), refused("missing-user-id")

    await publish_as(identity_url(forger), binding.queue, body, user_id=forger)  # validated: the forger
    await publish_as(identity_url(forger), binding.queue, body, user_id=None)  # anonymous

    letters = await dead_letters(amqp_url, binding, expect=2)
    assert sorted(str(m.headers["x-gp-error-kind"]) for m in letters) == ["refused", "refused"]
    reasons = " | ".join(str(m.headers["x-gp-error"]) for m in letters)
    assert "wrong-publisher" in reasons, reasons
    assert "missing-user-id" in reasons, reasons
    assert recorder.handled == []
    assert refused("wrong-publisher") == wrong + 1
    assert refused("missing-user-id") == missing + 1


@pytest.mark.parametrize("binding", INTERNAL_EVENT_QUEUES, ids=lambda b: b.queue)
async def test_the_broker_refuses_an_internal_event_claimed_by_someone_else(
    binding: Binding, identity_url: IdentityUrl, consume: Callable[[Binding], Any]
) -> None:
    """RabbitMQ itself: a user_id that is not the connection's user closes the channel, and
    topic permissions keep every identity but the owner off the event's routing key."""
    recorder: Recorder = await consume(binding)
    owner = event_owner(binding.routing_key)
    with pytest.raises(ChannelPreconditionFailed):
        await publish_as(identity_url(BrokerIdentity.GATEWAY), binding.queue, {"forged": True}, user_id=owner)

    for identity in BrokerIdentity:
        if identity in (owner, BrokerIdentity.OPERATOR):
            continue
        with pytest.raises(ChannelAccessRefused):
            await publish_event_as(identity_url(identity), identity, binding.routing_key)
    await asyncio.sleep(0.3)
    assert recorder.handled == []


@pytest.mark.parametrize(("binding", "kind"), REQUESTS, ids=lambda v: v.queue if isinstance(v, Binding) else v)
async def test_a_request_from_an_identity_that_may_not_send_it_is_refused_and_counted(
    binding: Binding, kind: str, amqp_url: str, identity_url: IdentityUrl, consume: Callable[[Binding], Any]
) -> None:
    recorder: Recorder = await consume(binding)
    forger = forger_of(binding)
    assert not may_send(forger, binding.service, kind)
    body = {"kind": kind, "actor": ACTOR, "idempotency_key": "forged"}
    before = refused("wrong-publisher")

    await publish_as(identity_url(forger), binding.queue, body, user_id=forger)

    (letter,) = await dead_letters(amqp_url, binding, expect=1)
    assert letter.headers["x-gp-error-kind"] == "refused"
    assert f"{forger} may not send {kind}" in str(letter.headers["x-gp-error"])
    assert letter.headers["x-gp-original-user-id"] == forger
    assert recorder.handled == []
    assert refused("wrong-publisher") == before + 1


@pytest.mark.parametrize(("binding", "kind"), REQUESTS, ids=lambda v: v.queue if isinstance(v, Binding) else v)
async def test_the_gateway_may_send_every_request(
    binding: Binding, kind: str, identity_url: IdentityUrl, consume: Callable[[Binding], Any]
) -> None:
    """The control: the same message from the gateway, signed, reaches the handler."""
    recorder: Recorder = await consume(binding)
    body = {"kind": kind, "actor": ACTOR, "idempotency_key": "sent"}
    gateway = BrokerIdentity.GATEWAY

    await publish_as(identity_url(gateway), binding.queue, body, user_id=gateway, signer=tool_signer())

    for _ in range(200):
        if recorder.handled:
            break
        await asyncio.sleep(0.05)
    assert [json.loads(b)["kind"] for b in recorder.handled] == [kind]


async def dlq_tool(operator_url: str, *args: str) -> str:
    """Run the DLQ tool as the operator identity; its output (it must succeed)."""
    command = [sys.executable, "-m", "graceperiod.runtime.dlq", "--amqp-url", operator_url, *args]
    process = await asyncio.create_subprocess_exec(*command, stdout=PIPE, stderr=PIPE)
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, stderr.decode()
    return stdout.decode()


async def dead_lettered(operator_url: str, binding: Binding, count: int) -> str:
    """The DLQ tool's listing once the binding's DLQ holds ``count`` letters."""
    for _ in range(100):
        listing = await dlq_tool(operator_url, "list", binding.queue)
        if f"{count} dead letter(s)" in listing:
            return listing
        await asyncio.sleep(0.1)
    msg = f"{binding.queue}.dlq never held {count} letters"
    raise AssertionError(msg)


async def test_a_replayed_internal_event_keeps_its_owner_and_a_replayed_forgery_stays_refused(
    identity_url: IdentityUrl, consume: Callable[[Binding], Any]
) -> None:
    """The DLQ tool republishes as the operator; consumers believe the original publisher it
    states (``x-gp-original-user-id``, kept from the dead letter) from the operator only."""
    binding = Queues.NOTIFIER_PURCHASE_CHANGED
    recorder: Recorder = await consume(binding)
    recorder.failing = True
    owner, forger = BrokerIdentity.REVOCATION, BrokerIdentity.GATEWAY
    await publish_as(identity_url(owner), binding.queue, {"from": "owner"}, user_id=owner)
    operator = identity_url(BrokerIdentity.OPERATOR)
    await dead_lettered(operator, binding, 1)
    recorder.failing = False
    await publish_as(identity_url(forger), binding.queue, {"from": "forger"}, user_id=forger)
    listing = await dead_lettered(operator, binding, 2)
    assert f"published by: {owner}" in listing
    assert f"published by: {forger}" in listing
    before = refused("wrong-publisher")

    output = await dlq_tool(operator, "replay", binding.queue)

    assert "2 replayed" in output, output
    for _ in range(200):
        if recorder.handled and refused("wrong-publisher") > before:
            break
        await asyncio.sleep(0.05)
    assert [json.loads(body) for body in recorder.handled] == [{"from": "owner"}]
    assert refused("wrong-publisher") == before + 1


@pytest.mark.parametrize(("binding", "kind"), REQUESTS, ids=lambda v: v.queue if isinstance(v, Binding) else v)
async def test_a_request_from_the_gateway_without_its_signed_actor_or_with_another_is_refused(
    binding: Binding, kind: str, amqp_url: str, identity_url: IdentityUrl, consume: Callable[[Binding], Any]
) -> None:
    """The gateway's own broker identity is not enough: unsigned, or an assertion signed for
    another request (another actor here: more permissions), changes nothing and is counted."""
    recorder: Recorder = await consume(binding)
    gateway, signer = BrokerIdentity.GATEWAY, tool_signer()
    assert signer is not None
    body = {"kind": kind, "actor": ACTOR, "idempotency_key": "forged"}
    grander = {**body, "actor": {**ACTOR, "permissions": ["revoke-any:purchases", "update:config"]}}
    token, at = signer.sign(binding.service, json.dumps(body).encode())
    before = {reason: refused(reason) for reason in ("unsigned", "mismatched")}

    await publish_as(identity_url(gateway), binding.queue, body, user_id=gateway)
    await publish_with(identity_url(gateway), binding.queue, json.dumps(grander).encode(), token, at)

    letters = await dead_letters(amqp_url, binding, expect=2)
    assert sorted(str(m.headers["x-gp-error-kind"]) for m in letters) == ["refused", "refused"]
    assert recorder.handled == []
    assert refused("unsigned") == before["unsigned"] + 1
    assert refused("mismatched") == before["mismatched"] + 1


async def publish_with(url: str, queue: str, raw: bytes, assertion: str, at: datetime) -> None:
    """Publish ``raw`` as the gateway with a given assertion (one signed for something else)."""
    headers = {ASSERTION_HEADER: assertion}
    await publish_raw(url, queue, raw, user_id=BrokerIdentity.GATEWAY, headers=headers, at=at, message_id=None)
