"""Scenario 8: poison messages straight into every queue of the system (``Queues.all()``):
bad JSON, a ``schema_version`` from the future, a 1 MB body, a wrong content type. Each must
be dead-lettered with its reason in ``x-gp-error`` headers, counted by the owning service's
``graceperiod_messages_dead_lettered_total``, and good purchases around them keep flowing.

A queue no Grace Period service consumes (the upstream lease manager's own queues) cannot
dead-letter anything here: the scenario lists such queues in its notes.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import aio_pika

from graceperiod.contracts.identities import usual_publisher
from graceperiod.contracts.revocation import PurchaseRecorded
from graceperiod.contracts.revocation_views import Phase, Windows
from graceperiod.contracts.topology import Binding, QueueKind, Queues, RoutingKey
from graceperiod.devstack.chaos.core import Run, scenario
from graceperiod.devstack.chaos.load import Outgoing
from graceperiod.devstack.chaos.results import Result, Ui
from graceperiod.devstack.chaos.sizes import Size
from graceperiod.devstack.chaos.stack import ChaosStack
from graceperiod.devstack.testkit import fixtures
from graceperiod.devstack.testkit.samples import purchase_payload, sample_purchase

ONE_MB = 1024 * 1024

#: Poison kind → a part of the reason the DLQ header must carry.
REASONS = {
    "bad-json": "not valid JSON",
    "future-schema-version": "schema_version",
    "one-megabyte": "exceeds",
    "wrong-content-type": "not application/json",
}


def valid_body(binding: Binding) -> dict[str, Any]:
    """A body the queue's consumer would accept (or at least one shaped like its messages)."""
    now = datetime.now(UTC)
    if binding.routing_key == RoutingKey.PURCHASE_EXECUTED:
        return purchase_payload()
    if binding.routing_key == RoutingKey.PURCHASE_RECORDED:
        event = PurchaseRecorded(occurred_at=now, purchase=sample_purchase(), windows=Windows(), phase=Phase.CLOSED)
        return event.model_dump(mode="json")
    if binding.routing_key == RoutingKey.ACCOUNT_REGISTERED:
        return {"schema_version": 1, "occurred_at": now.isoformat(), "account_id": "123456789012", "name": "Sandbox"}
    return {"schema_version": 1, "occurred_at": now.isoformat()}


def expected(kind: str, binding: Binding) -> tuple[str, str]:
    """What the dead letter of a poison must say: a part of its reason, and its error kind.
    A request claiming the gateway must carry the gateway's signed actor, which no one can sign
    over bytes that are not JSON: bad JSON to an RPC queue is refused as unsigned (the
    signature is checked before the body is read)."""
    if kind == "bad-json" and binding.kind in (QueueKind.COMMANDS, QueueKind.QUERIES):
        return "unsigned", "refused"
    return REASONS[kind], "bad-input"


def applies(kind: str, binding: Binding) -> bool:
    """RPC requests (commands, queries) carry no ``schema_version``: they are validated by
    their ``kind`` (a discriminated union), so "a schema_version from the future" is not a
    poison for them."""
    return not (kind == "future-schema-version" and binding.kind in (QueueKind.COMMANDS, QueueKind.QUERIES))


def poison_for(binding: Binding) -> list[Outgoing]:
    """The poison messages for one queue (four, or three for RPC queues), sent through the default exchange."""
    future = {**valid_body(binding), "schema_version": 99}
    queue, claims = binding.queue, usual_publisher(binding)
    poisons = {
        "bad-json": Outgoing(f"poison-bad-json-{queue}", b'{"purchase_id": "pur-1", "oops', queue, "", user_id=claims),
        "future-schema-version": Outgoing(
            f"poison-future-schema-version-{queue}", json.dumps(future).encode(), queue, "", user_id=claims
        ),
        "one-megabyte": Outgoing(
            f"poison-one-megabyte-{queue}", b'{"pad": "' + b"x" * ONE_MB + b'"}', queue, "", user_id=claims
        ),
        "wrong-content-type": Outgoing(
            f"poison-wrong-content-type-{queue}",
            json.dumps(valid_body(binding)).encode(),
            queue,
            "",
            "text/plain",
            user_id=claims,
        ),
    }
    return [message for kind, message in poisons.items() if applies(kind, binding)]


async def consumer_counts(amqp_url: str, queues: list[str]) -> dict[str, int]:
    """Consumers of each queue, now (a passive declare; the management API lags seconds)."""
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        counts: dict[str, int] = {}
        for name in queues:
            queue = await channel.declare_queue(name, passive=True)
            counts[name] = int(queue.declaration_result.consumer_count or 0)
        return counts
    finally:
        await connection.close()


async def read_dead_letters(amqp_url: str, queue: str, *, expect: int, timeout: float) -> list[Any]:
    """Take (and ack) up to ``expect`` messages from ``<queue>.dlq``."""
    return await fixtures.dead_letters(amqp_url, queue, expect=expect, timeout=timeout)


@scenario("poison", "bad JSON, future schema_version, 1 MB, wrong content type into every queue")
async def poison(stack: ChaosStack, size: Size, ui: Ui) -> Result:
    async with Run.start(stack, "poison", "poison into every queue; traffic keeps flowing", ui) as run:
        bindings = Queues.all()
        consumers = await consumer_counts(run.deployment.amqp_url, [b.queue for b in bindings])
        consumed = [b for b in bindings if consumers[b.queue]]
        idle = [b.queue for b in bindings if b not in consumed]

        half = size.purchases // 2
        await run.publish(run.purchases(half), rate=size.rate, label="good (before)")
        poisons = [message for binding in bindings for message in poison_for(binding)]
        await run.publish(poisons, label="poison")
        await run.publish(run.purchases(size.purchases - half), rate=size.rate, label="good (after)")

        problems: list[str] = []
        per_queue: dict[str, Any] = {}
        for binding in consumed:
            want = sum(1 for kind in REASONS if applies(kind, binding))
            letters = await read_dead_letters(run.deployment.amqp_url, binding.queue, expect=want, timeout=60)
            reasons = {str(m.message_id): str((m.headers or {}).get("x-gp-error", "")) for m in letters}
            kinds = {str((m.headers or {}).get("x-gp-error-kind", "")) for m in letters}
            counted = sum(
                run.deployment.metric(
                    binding.service, "graceperiod_messages_dead_lettered_total", queue=binding.queue, reason=reason
                )
                for reason in ("bad-input", "refused")
            )
            per_queue[binding.queue] = {"dead_lettered": len(letters), "metric": counted, "sent": want}
            if len(letters) != want:
                problems.append(f"{binding.queue}: {len(letters)} of {want} poison messages dead-lettered")
            wanted_kinds = {expected(kind, binding)[1] for kind in REASONS if applies(kind, binding)}
            for kind in REASONS:
                if not applies(kind, binding):
                    continue
                fragment = expected(kind, binding)[0]
                reason = reasons.get(f"poison-{kind}-{binding.queue}", "")
                if fragment not in reason:
                    problems.append(f"{binding.queue}: {kind} reason {reason[:120]!r} lacks {fragment!r}")
            if kinds != wanted_kinds:
                problems.append(f"{binding.queue}: x-gp-error-kind {sorted(kinds)}, expected {sorted(wanted_kinds)}")
            if counted != want:
                problems.append(f"{binding.queue}: dead-letter metric counts {counted:g}, expected {want}")

        result = await run.finish(deadline_seconds=size.deadline_seconds, settle_seconds=size.settle_seconds)
        result.problems.extend(problems)
        result.inputs_sent = run.inputs
        result.metrics |= {
            "poisoned_queues": len(bindings),
            "poison_messages": len(poisons),
            "consumed_queues": per_queue,
        }
        if idle:
            result.notes.append(
                f"{len(idle)} of {len(bindings)} queues are consumed by an upstream system, not by Grace "
                f"Period, so their poison waits for that consumer: {', '.join(idle)}"
            )
        return result
