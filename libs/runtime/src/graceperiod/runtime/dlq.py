"""Inspect and replay dead letters (an operations tool; docs/operations.md#dead-letters).

    graceperiod-dlq list <queue> [--limit N] [--json]
    graceperiod-dlq replay <queue> [--limit N] [--message-id ID ...] [--to-queue] [--dry-run]

``<queue>`` is a work queue (``notifier.revocation.purchase.recorded``) or its dead-letter
queue (the same name + ``.dlq``). Every dead letter says where it came from:

* a service dead-lettered it (bad input, or a handler that kept failing): headers
  ``x-gp-error``, ``x-gp-error-kind``, ``x-gp-original-exchange``, ``x-gp-original-routing-key``;
* RabbitMQ dead-lettered it (the queue's delivery limit, an expired RPC query): ``x-death``,
  whose newest entry names the exchange and routing keys it was first published with.

``replay`` publishes each message back to that exchange and routing key (``--to-queue``:
straight to the work queue instead, so only the consumer that failed sees it again), with
its body, ``message_id`` and correlation id unchanged, and acks the dead letter only once
the broker confirmed the new copy. Consumers are idempotent by ``message_id``, so a message
delivered twice by a crash mid-replay is harmless.

``list`` cannot peek: AMQP has no browse for quorum queues, and returning a message to a
quorum queue may count as a failed delivery (RabbitMQ 4 drops a message past the default
limit of 20 when, as here, the queue has no dead-letter target). So ``list`` moves each
message it shows to the back of its dead-letter queue instead (a confirmed copy, then an
ack), stamping the origin read from ``x-death`` into ``x-gp-*`` headers so it is never lost.

Both commands handle at most the number of messages the queue held when they started, so a
message that fails again during a replay is not replayed twice in one run.

**Where a message came from survives the replay.** Run the tool as the operator identity
(``graceperiod-operator``; its ``AMQP_URL``): RabbitMQ stamps what it publishes with that
``user_id``, so consumers would see the operator, not the original publisher. The tool therefore
states the original publisher and publish time in ``x-gp-original-user-id`` and
``x-gp-original-timestamp``, which consumers believe on a message published by the operator
only. It reads them from the dead letter: the ``user_id`` and ``timestamp`` RabbitMQ kept when it
dead-lettered the message itself, or the ``x-gp-original-*`` headers written by whoever put the
letter in the queue, when that writer was the queue's own service (its reliability middleware)
or the operator (an earlier ``list``). Anything else in the DLQ counts as published by whoever
published it (docs/security.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange, AbstractIncomingMessage
from aio_pika.exceptions import ChannelClosed, DeliveryError

from graceperiod.contracts.identities import BrokerIdentity, service_identity
from graceperiod.contracts.topology import DEAD_LETTER_SUFFIX
from graceperiod.runtime.settings import broker_user
from graceperiod.runtime.trust import (
    ORIGINAL_TIMESTAMP,
    ORIGINAL_USER_ID,
    Provenance,
    binding_of,
    provenance_headers,
    provenance_of,
)

#: Headers that describe a dead-lettering; a replayed message starts without them.
_DEATH_HEADERS = frozenset(
    {
        "x-death",
        "x-first-death-exchange",
        "x-first-death-queue",
        "x-first-death-reason",
        "x-last-death-exchange",
        "x-last-death-queue",
        "x-last-death-reason",
        "x-delivery-count",
        "x-gp-error",
        "x-gp-error-kind",
        "x-gp-queue",
        "x-gp-original-exchange",
        "x-gp-original-routing-key",
        "x-gp-attempts",
        "x-gp-dead-lettered-at",
        ORIGINAL_USER_ID,
        ORIGINAL_TIMESTAMP,
    }
)


NOT_SELECTED = "not selected"
DRY_RUN = "dry run"


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def trusted_writers(work_queue: str) -> frozenset[str]:
    """Who may state a dead letter's original publisher in its headers: the operator, and the
    service owning the queue (whose middleware dead-letters with them)."""
    binding = binding_of(work_queue)
    owner = {str(service_identity(binding.service))} if binding is not None else set()
    return frozenset({BrokerIdentity.OPERATOR, *owner})


def queue_names(name: str) -> tuple[str, str]:
    """(work queue, dead-letter queue) for either name."""
    work = name.removesuffix(DEAD_LETTER_SUFFIX)
    return work, work + DEAD_LETTER_SUFFIX


@dataclass(frozen=True)
class Origin:
    exchange: str
    routing_key: str

    def __str__(self) -> str:
        return f"{self.exchange or '(default exchange)'} / {self.routing_key}"


@dataclass(frozen=True)
class DeadLetter:
    """What a dead letter says about itself, read from its properties and headers."""

    message_id: str | None
    correlation_id: str | None
    kind: str
    reason: str
    origin: Origin | None
    dead_lettered_at: str | None
    replay_count: int
    body: bytes = field(repr=False)
    published_by: Provenance = field(default_factory=lambda: Provenance(None, None))
    """Who published the message first, and when (as far as the broker vouches for it)."""

    @classmethod
    def read(cls, message: AbstractIncomingMessage, work_queue: str) -> DeadLetter:
        headers = dict(message.headers or {})
        death = _newest_death(headers, work_queue)
        if "x-gp-error-kind" in headers:
            kind = _text(headers["x-gp-error-kind"]) or "unknown"
            reason = _text(headers.get("x-gp-error")) or ""
            at = _text(headers.get("x-gp-dead-lettered-at"))
        elif death is not None:
            kind = (_text(death.get("reason")) or "unknown").replace("_", "-")
            reason = f"dead-lettered by RabbitMQ ({kind}) after {_text(death.get('count')) or '?'} time(s)"
            at = _text(death.get("time"))
        else:
            kind, reason, at = "unknown", "no x-gp-error or x-death header", None
        raw_count = headers.get("x-gp-replay-count", 0)
        return cls(
            message_id=message.message_id,
            correlation_id=message.correlation_id,
            kind=kind,
            reason=reason,
            origin=origin_of(headers, work_queue),
            dead_lettered_at=at,
            replay_count=raw_count if isinstance(raw_count, int) else 0,
            body=message.body,
            published_by=provenance_of(
                message.user_id, message.timestamp, headers, trusted_writers=trusted_writers(work_queue)
            ),
        )

    def summary(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "correlation_id": self.correlation_id,
            "kind": self.kind,
            "reason": self.reason,
            "origin_exchange": self.origin.exchange if self.origin else None,
            "origin_routing_key": self.origin.routing_key if self.origin else None,
            "dead_lettered_at": self.dead_lettered_at,
            "replay_count": self.replay_count,
            "published_by": self.published_by.publisher,
            "published_at": self.published_by.published_at.isoformat() if self.published_by.published_at else None,
            "body": self.body.decode("utf-8", "replace"),
        }


def _newest_death(headers: Mapping[str, Any], work_queue: str) -> Mapping[str, Any] | None:
    deaths = headers.get("x-death")
    if not isinstance(deaths, list) or not deaths:
        return None
    entries = [entry for entry in deaths if isinstance(entry, Mapping)]
    for entry in entries:  # newest first; prefer the entry of this very queue
        if _text(entry.get("queue")) == work_queue:
            return entry
    return entries[0] if entries else None


def origin_of(headers: Mapping[str, Any], work_queue: str) -> Origin | None:
    """Where the message was published before it died, or None when nothing says so."""
    if "x-gp-original-routing-key" in headers:
        return Origin(
            _text(headers.get("x-gp-original-exchange")) or "",
            _text(headers["x-gp-original-routing-key"]) or "",
        )
    death = _newest_death(headers, work_queue)
    if death is not None:
        keys = death.get("routing-keys")
        if isinstance(keys, list) and keys:
            return Origin(_text(death.get("exchange")) or "", _text(keys[0]) or "")
    return None


def _copy(
    message: AbstractIncomingMessage, headers: dict[str, Any], *, keep_reply: bool, user_id: str
) -> aio_pika.Message:
    """A copy to publish as ``user_id`` (the tool's own user: RabbitMQ refuses any other)."""
    return aio_pika.Message(
        message.body,
        headers=headers,
        content_type=message.content_type,
        content_encoding=message.content_encoding,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        priority=message.priority,
        correlation_id=message.correlation_id,
        message_id=message.message_id,
        timestamp=message.timestamp,
        type=message.type,
        app_id=message.app_id,
        user_id=user_id,
        # A replayed RPC request's caller is long gone: no reply-to, and no expiry that
        # would drop it again on arrival.
        reply_to=message.reply_to if keep_reply else None,
        expiration=message.expiration if keep_reply else None,
    )


def kept_headers(message: AbstractIncomingMessage, letter: DeadLetter) -> dict[str, Any]:
    """Headers of a dead letter moved back into its DLQ, its origin and reason made explicit."""
    headers = dict(message.headers or {})
    headers.setdefault("x-gp-error-kind", letter.kind)
    headers.setdefault("x-gp-error", letter.reason)
    if letter.dead_lettered_at:
        headers.setdefault("x-gp-dead-lettered-at", letter.dead_lettered_at)
    if letter.origin is not None:
        headers.setdefault("x-gp-original-exchange", letter.origin.exchange)
        headers.setdefault("x-gp-original-routing-key", letter.origin.routing_key)
    headers.pop("x-delivery-count", None)
    headers.update(provenance_headers(letter.published_by))
    return headers


def replay_headers(message: AbstractIncomingMessage, letter: DeadLetter, dlq: str, now: datetime) -> dict[str, Any]:
    headers = {key: value for key, value in (message.headers or {}).items() if key not in _DEATH_HEADERS}
    headers["x-gp-replayed-from"] = dlq
    headers["x-gp-replayed-at"] = now.isoformat()
    headers["x-gp-replay-count"] = letter.replay_count + 1
    headers.update(provenance_headers(letter.published_by))
    return headers


@dataclass
class ReplayReport:
    replayed: list[tuple[str | None, Origin]] = field(default_factory=list)
    kept: list[tuple[str | None, str]] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """Whether a selected message could not be replayed (a dry run fails nothing)."""
        return any(why != NOT_SELECTED and not why.startswith(DRY_RUN) for _, why in self.kept)


class DeadLetterQueue:
    """One dead-letter queue, over one AMQP connection with publisher confirms."""

    def __init__(self, connection: AbstractConnection, queue: str, *, user: str = "guest") -> None:
        self.connection = connection
        self.user = user
        """The broker user of ``connection`` (every copy is published with it as ``user_id``)."""
        self.work_queue, self.name = queue_names(queue)
        self._channel: AbstractChannel | None = None
        self._exchanges: dict[str, AbstractExchange | None] = {}

    async def _open(self) -> AbstractChannel:
        if self._channel is None or self._channel.is_closed:
            self._channel = await self.connection.channel(publisher_confirms=True, on_return_raises=True)
            await self._channel.set_qos(prefetch_count=1)
        return self._channel

    async def depth(self) -> int:
        channel = await self._open()
        queue = await channel.declare_queue(self.name, passive=True)
        count = queue.declaration_result.message_count
        return int(count or 0)

    async def _get(self) -> AbstractIncomingMessage | None:
        channel = await self._open()
        queue = await channel.get_queue(self.name, ensure=False)
        return await queue.get(no_ack=False, fail=False)

    async def _exchange(self, name: str) -> AbstractExchange | None:
        """The exchange to publish to, or None when it does not exist (checked on a
        throwaway channel: a failed passive declare closes the channel it ran on)."""
        if name not in self._exchanges:
            channel = await self._open()
            if not name:
                self._exchanges[name] = channel.default_exchange
            else:
                probe = await self.connection.channel()
                try:
                    await probe.declare_exchange(name, passive=True)
                    self._exchanges[name] = await channel.get_exchange(name, ensure=False)
                except ChannelClosed:
                    self._exchanges[name] = None
                finally:
                    if not probe.is_closed:
                        await probe.close()
        return self._exchanges[name]

    async def _keep(self, message: AbstractIncomingMessage, letter: DeadLetter) -> None:
        """Move the message to the back of its DLQ: confirmed copy first, then the ack."""
        channel = await self._open()
        copy = _copy(message, kept_headers(message, letter), keep_reply=True, user_id=self.user)
        await channel.default_exchange.publish(copy, routing_key=self.name, mandatory=True)
        await message.ack()

    async def list(self, limit: int | None = None) -> list[DeadLetter]:
        letters = []
        for _ in range(min(await self.depth(), limit if limit is not None else sys.maxsize)):
            message = await self._get()
            if message is None:
                break
            letter = DeadLetter.read(message, self.work_queue)
            await self._keep(message, letter)
            letters.append(letter)
        return letters

    async def replay(
        self,
        *,
        limit: int | None = None,
        message_ids: Sequence[str] = (),
        to_queue: bool = False,
        dry_run: bool = False,
        now: datetime | None = None,
    ) -> ReplayReport:
        report = ReplayReport()
        wanted = set(message_ids)
        budget = limit if limit is not None else sys.maxsize
        for _ in range(await self.depth()):
            if len(report.replayed) >= budget:
                break
            message = await self._get()
            if message is None:
                break
            letter = DeadLetter.read(message, self.work_queue)
            target = Origin("", self.work_queue) if to_queue else letter.origin
            why = await self._replay_one(message, letter, target, wanted=wanted, dry_run=dry_run, now=now)
            if why is None:
                assert target is not None
                report.replayed.append((letter.message_id, target))
            else:
                await self._keep(message, letter)
                report.kept.append((letter.message_id, why))
        return report

    async def _replay_one(
        self,
        message: AbstractIncomingMessage,
        letter: DeadLetter,
        target: Origin | None,
        *,
        wanted: set[str],
        dry_run: bool,
        now: datetime | None,
    ) -> str | None:
        """Publish one dead letter to its target and ack it; the reason it stays, if it does."""
        if wanted and letter.message_id not in wanted:
            return NOT_SELECTED
        if target is None:
            return "origin unknown (no x-gp-original-* or x-death header): use --to-queue"
        exchange = await self._exchange(target.exchange)
        if exchange is None:
            return f"exchange {target.exchange!r} does not exist"
        if dry_run:
            return f"{DRY_RUN}: would replay to {target}"
        headers = replay_headers(message, letter, self.name, now or datetime.now(UTC))
        try:
            await exchange.publish(
                _copy(message, headers, keep_reply=False, user_id=self.user),
                routing_key=target.routing_key,
                mandatory=True,
            )
        except DeliveryError:
            return f"unroutable: no queue bound to {target}"
        await message.ack()
        return None


async def _run(args: argparse.Namespace) -> int:
    connection = await aio_pika.connect(args.amqp_url)
    try:
        dlq = DeadLetterQueue(connection, args.queue, user=broker_user(args.amqp_url))
        if args.command == "list":
            letters = await dlq.list(limit=args.limit)
            for number, letter in enumerate(letters, 1):
                _print_letter(number, letter, as_json=args.json)
            if not args.json:
                print(f"{len(letters)} dead letter(s) in {dlq.name}")  # noqa: T201
            return 0
        report = await dlq.replay(
            limit=args.limit, message_ids=args.message_id, to_queue=args.to_queue, dry_run=args.dry_run
        )
        for message_id, target in report.replayed:
            print(f"replayed {message_id} -> {target}")  # noqa: T201
        for message_id, why in report.kept:
            if why != NOT_SELECTED:
                print(f"kept {message_id}: {why}")  # noqa: T201
        print(f"{len(report.replayed)} replayed, {len(report.kept)} kept in {dlq.name}")  # noqa: T201
        return 1 if report.failed else 0
    finally:
        await connection.close()


def _print_letter(number: int, letter: DeadLetter, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(letter.summary()))  # noqa: T201
        return
    body = letter.body.decode("utf-8", "replace")
    print(  # noqa: T201
        f"{number:>4}  message_id={letter.message_id}  kind={letter.kind}  at={letter.dead_lettered_at}\n"
        f"      origin: {letter.origin or 'unknown'}   replayed before: {letter.replay_count}\n"
        f"      published by: {letter.published_by.publisher or 'unknown (no user_id)'}"
        f" at {letter.published_by.published_at or 'unknown'}\n"
        f"      reason: {letter.reason}\n"
        f"      body:   {body[:300]}{'…' if len(body) > 300 else ''}"
    )


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="graceperiod-dlq", description=__doc__.splitlines()[0])
    root.add_argument(
        "--amqp-url",
        default=os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
        help="broker URL, the operator identity's (default: $AMQP_URL)",
    )
    commands = root.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="show the dead letters of a queue (moves none out of it)")
    listing.add_argument("queue")
    listing.add_argument("--limit", type=int, default=None)
    listing.add_argument("--json", action="store_true", help="one JSON object per message")
    replay = commands.add_parser("replay", help="publish dead letters back where they came from")
    replay.add_argument("queue")
    replay.add_argument("--limit", type=int, default=None, help="replay at most this many")
    replay.add_argument("--message-id", action="append", default=[], help="replay only these (repeatable)")
    replay.add_argument(
        "--to-queue", action="store_true", help="publish straight to the work queue, not to the original exchange"
    )
    replay.add_argument("--dry-run", action="store_true", help="say what would be replayed; replay nothing")
    return root


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(_run(parser().parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
