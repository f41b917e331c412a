"""What happens to a message after its handler ran: ack, retry later, or dead-letter with a reason.

Three kinds of failure, three outcomes:

* **Bad input** (not JSON, wrong content type, oversized, fails its contract, or a
  :class:`PermanentMessageError`): retrying cannot help. The message is copied to its
  queue's DLQ with the reason in ``x-gp-error*`` headers, then acked, so the rest of the
  queue keeps flowing.
* **Infrastructure down** (database, broker, network, :class:`TransientError`): the
  handler waits an exponential back-off, then the message is requeued. RabbitMQ
  dead-letters it only after :data:`~graceperiod.runtime.messaging.DELIVERY_LIMIT`
  deliveries, which rides out minutes of outage.
* **Anything else** (a bug, an unexpected AWS answer): retried with back-off a few
  times (``max_handler_errors``), then dead-lettered with the error as the reason.

And one kind of distrust: a message whose publisher is not believed
(:class:`~graceperiod.runtime.trust.Refused`: an internal event not published by its owning
service, a command or query from an identity that may not send it) is dead-lettered with the
reason before its handler runs, and counted in ``graceperiod_messages_refused_total{reason}``.

Everything a service publishes carries its identity's ``user_id`` (RabbitMQ validates it) and
a ``timestamp``; a dead letter keeps, in ``x-gp-original-user-id`` and
``x-gp-original-timestamp``, who published the original and when (docs/security.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

import structlog
from aio_pika.abc import AbstractIncomingMessage
from aio_pika.exceptions import AMQPError
from faststream import BaseMiddleware
from faststream.exceptions import AckMessage, HandlerException, NackMessage
from faststream.rabbit.response import RabbitPublishCommand
from prometheus_client import Counter
from pydantic import ValidationError
from pymongo.errors import ConnectionFailure, ExecutionTimeout, WriteConcernError

from graceperiod.contracts.identities import REQUEST_QUEUES
from graceperiod.contracts.topology import DEAD_LETTER_EXCHANGE
from graceperiod.runtime.mongo import storage_busy
from graceperiod.runtime.trust import (
    REFUSED,
    Refused,
    binding_of,
    check_publisher,
    provenance_headers,
    provenance_of,
)

if TYPE_CHECKING:
    from faststream._internal.context.repository import ContextRepo
    from faststream.message import StreamMessage
    from faststream.rabbit import RabbitBroker

    from graceperiod.runtime.actor_assertions import RequestVerifier

log = structlog.stdlib.get_logger("graceperiod.messaging")

_DIRECT_REPLY_TO = "amq.rabbitmq.reply-to"
_correlation_id: ContextVar[str | None] = ContextVar("graceperiod_correlation_id", default=None)

HANDLED = Counter(
    "graceperiod_messages_handled_total",
    "Messages whose handler finished without an error (then acked), by queue.",
    ["queue"],
)
DEAD_LETTERED = Counter(
    "graceperiod_messages_dead_lettered_total",
    "Messages moved to a dead-letter queue by the service, by queue and reason.",
    ["queue", "reason"],
)
ORPHANED = Counter(
    "graceperiod_handlers_orphaned_total",
    "Handlers whose channel closed while they ran; they were let finish (the message is redelivered).",
)
RETRIED = Counter(
    "graceperiod_messages_retried_total",
    "Messages requeued for another attempt after a failure, by queue and kind of failure.",
    ["queue", "kind"],
)


class PermanentMessageError(Exception):
    """The message can never be handled as it is: dead-letter it with this reason."""


class TransientError(Exception):
    """A dependency is unavailable for now: retry the message later."""


def current_correlation_id() -> str | None:
    """Correlation id of the message being handled (propagated into what it publishes)."""
    return _correlation_id.get()


@contextlib.contextmanager
def correlation_scope(correlation_id: str | None) -> Iterator[None]:
    """Make ``correlation_id`` the current one for the enclosed code (an HTTP request, a job),
    so the messages it publishes carry it. Restores the previous value on exit."""
    token = _correlation_id.set(correlation_id)
    try:
        yield
    finally:
        _correlation_id.reset(token)


_TRANSIENT: tuple[type[BaseException], ...] = (
    TransientError,
    ConnectionFailure,  # includes AutoReconnect, NetworkTimeout, ServerSelectionTimeoutError
    ExecutionTimeout,
    WriteConcernError,
    AMQPError,
    ConnectionError,
    TimeoutError,
)


#: Handlers still finishing after their channel closed (strong references, see ``_shielded``).
_ORPHANS: set[asyncio.Future[Any]] = set()


async def _shielded(handler: Awaitable[Any]) -> Any:
    """Run a handler to completion even if the task awaiting it is cancelled.

    aiormq runs each delivery in a task of its channel and cancels those tasks when the
    channel closes (broker restart, network cut). A handler cancelled half-way leaves its
    effects half-done: an email sent but not recorded as sent, a claim held until its
    lease expires, an event not yet published. The broker redelivers the unacked message
    anyway, so finishing the handler is always safe (handlers are idempotent) and never
    doubles an effect; abandoning it can. The outcome of an orphaned handler is only
    logged: its ack belonged to the dead channel, and the redelivery settles the message.
    """
    task = asyncio.ensure_future(handler)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        if not task.done():
            ORPHANED.inc()
            _ORPHANS.add(task)
            task.add_done_callback(_orphan_finished)
            log.warning("channel closed while the handler ran: letting it finish; the broker redelivers the message")
        raise


def _orphan_finished(task: asyncio.Future[Any]) -> None:
    _ORPHANS.discard(task)
    if task.cancelled():
        return
    if (exc := task.exception()) is not None:
        log.warning("orphaned handler failed; its redelivery will retry", error=_reason(exc))


def _classify(exc: BaseException) -> str:
    if isinstance(exc, Refused):
        return "refused"
    if isinstance(exc, PermanentMessageError | ValidationError | UnicodeDecodeError | json.JSONDecodeError):
        return "bad-input"
    if isinstance(exc, _TRANSIENT) or storage_busy(exc):
        return "transient"
    return "error"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(body)'}: {err['msg']}" for err in exc.errors()[:10]
        )
        return f"contract violation: {problems}"
    if isinstance(exc, json.JSONDecodeError):
        return f"body is not valid JSON: {exc.msg} at position {exc.pos}"
    return f"{type(exc).__name__}: {exc}"[:2000]


@dataclass
class RetryPolicy:
    max_handler_errors: int = 5
    max_body_bytes: int = 256 * 1024
    backoff_base_seconds: float = 0.2
    backoff_cap_seconds: float = 10.0
    user_id: str | None = None
    """The broker user this service publishes as: set on everything it publishes."""
    requests: RequestVerifier | None = None
    """Verifies the actor of every command and query before its handler (None: tools only)."""
    broker: RabbitBroker | None = field(default=None, repr=False)

    def backoff(self, attempt: int) -> float:
        """Exponential back-off with full jitter, capped."""
        ceiling = min(self.backoff_cap_seconds, self.backoff_base_seconds * (2 ** min(attempt, 30)))
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not cryptography

    def middleware(self) -> Callable[..., ReliabilityMiddleware]:
        def factory(msg: Any, /, *, context: ContextRepo) -> ReliabilityMiddleware:
            return ReliabilityMiddleware(msg, context=context, policy=self)

        return factory


class ReliabilityMiddleware(BaseMiddleware):
    def __init__(self, msg: Any, /, *, context: ContextRepo, policy: RetryPolicy) -> None:
        super().__init__(msg, context=context)
        self.policy = policy
        self._token: Any = None

    @property
    def raw(self) -> AbstractIncomingMessage | None:
        return self.msg if isinstance(self.msg, AbstractIncomingMessage) else None

    @property
    def queue_name(self) -> str:
        handler = self.context.get("handler_")
        queue = getattr(handler, "queue", None)
        return str(getattr(queue, "name", "unknown"))

    @property
    def attempt(self) -> int:
        """1 for the first delivery; quorum queues count redeliveries in ``x-delivery-count``."""
        raw = self.raw
        count = (raw.headers or {}).get("x-delivery-count", 0) if raw else 0
        return int(count) + 1 if isinstance(count, int) else 1

    async def on_receive(self) -> None:
        raw = self.raw
        if raw is None:
            return
        correlation = raw.correlation_id or raw.message_id
        self._token = _correlation_id.set(correlation)
        structlog.contextvars.bind_contextvars(
            message_id=raw.message_id,
            correlation_id=correlation,
            queue=self.queue_name,
            attempt=self.attempt,
        )

    async def consume_scope(self, call_next: Any, msg: StreamMessage[Any]) -> Any:
        raw = self.raw
        if raw is not None:
            if len(raw.body) > self.policy.max_body_bytes:
                msg_ = f"body of {len(raw.body)} bytes exceeds the {self.policy.max_body_bytes}-byte limit"
                raise PermanentMessageError(msg_)
            content_type = (raw.content_type or "").split(";")[0].strip().lower()
            if content_type != "application/json":
                msg_ = f"content type {raw.content_type or '(none)'!r} is not application/json"
                raise PermanentMessageError(msg_)
            origin = provenance_of(raw.user_id, raw.timestamp, raw.headers)
            check_publisher(self.queue_name, origin, raw.body)
            binding = binding_of(self.queue_name)
            if binding is not None and binding.kind in REQUEST_QUEUES and self.policy.requests is not None:
                self.policy.requests.verify(binding, origin, raw.headers or {}, raw.body)
        return await _shielded(call_next(msg))

    async def publish_scope(self, call_next: Any, cmd: Any) -> Any:
        if isinstance(cmd, RabbitPublishCommand):
            # RabbitMQ refuses a user_id that is not the connection's user: consumers can trust it.
            if self.policy.user_id is not None and not cmd.message_options.get("user_id"):
                cmd.message_options["user_id"] = self.policy.user_id
            if not cmd.message_options.get("timestamp"):
                cmd.message_options["timestamp"] = datetime.now(UTC)
            # An RPC reply whose caller stopped waiting is unroutable. It must be dropped, not
            # raised: raising would fail the handler and run the command again.
            if cmd.destination.startswith(_DIRECT_REPLY_TO):
                cmd.publish_options["mandatory"] = False
        return await call_next(cmd)

    async def after_processed(
        self,
        exc_type: type[BaseException] | None = None,
        exc_val: BaseException | None = None,
        exc_tb: TracebackType | None = None,
    ) -> bool | None:
        try:
            if exc_val is None:
                HANDLED.labels(queue=self.queue_name).inc()
                return False
            if isinstance(exc_val, HandlerException | asyncio.CancelledError):
                return False
            await self._settle_failure(exc_val)
            return False
        finally:
            if self._token is not None:
                _correlation_id.reset(self._token)
            structlog.contextvars.unbind_contextvars("message_id", "correlation_id", "queue", "attempt")

    async def _settle_failure(self, exc: BaseException) -> None:
        kind = _classify(exc)
        attempt = self.attempt
        queue = self.queue_name
        if kind in ("bad-input", "refused") or (kind == "error" and attempt >= self.policy.max_handler_errors):
            reason = _reason(exc)
            await self._dead_letter(kind, reason)
            DEAD_LETTERED.labels(queue=queue, reason=kind).inc()
            if isinstance(exc, Refused):
                REFUSED.labels(reason=exc.reason).inc()
            log.warning("message dead-lettered", reason=reason, kind=kind, exc_info=kind == "error")
            raise AckMessage from exc
        delay = self.policy.backoff(attempt)
        RETRIED.labels(queue=queue, kind=kind).inc()
        log.warning(
            "message will be retried",
            kind=kind,
            error=_reason(exc),
            retry_in_seconds=round(delay, 3),
            exc_info=kind == "error",
        )
        await asyncio.sleep(delay)
        raise NackMessage(requeue=True) from exc

    async def _dead_letter(self, kind: str, reason: str) -> None:
        raw, broker = self.raw, self.policy.broker
        if raw is None or broker is None:  # pragma: no cover - only without a real broker
            return
        headers = dict(raw.headers or {})
        headers.update(provenance_headers(provenance_of(raw.user_id, raw.timestamp, raw.headers)))
        headers.update(
            {
                "x-gp-error": reason,
                "x-gp-error-kind": kind,
                "x-gp-queue": self.queue_name,
                "x-gp-original-exchange": raw.exchange or "",
                "x-gp-original-routing-key": raw.routing_key or "",
                "x-gp-attempts": self.attempt,
                "x-gp-dead-lettered-at": datetime.now(UTC).isoformat(),
            }
        )
        # Raw bytes, untouched, so the message can be replayed once the cause is fixed.
        await broker.publish(
            raw.body,
            exchange=DEAD_LETTER_EXCHANGE,
            routing_key=self.queue_name,
            headers=headers,
            message_id=raw.message_id,
            correlation_id=raw.correlation_id,
            content_type=raw.content_type,
            persist=True,
        )
