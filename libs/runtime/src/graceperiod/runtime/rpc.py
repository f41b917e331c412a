"""Request/reply over RabbitMQ (direct reply-to), for the gateway and other callers.

Commands are published persistently to the owning service's durable command queue: if the
caller stops waiting, the command is still carried out (the caller says "in progress").
Queries expire with the caller's timeout, so a service that was down does not wake up to a
backlog of questions nobody is waiting for.

Every request goes out with the caller's ``user_id`` (RabbitMQ validates it against the
connection's user) and a ``timestamp``: the owning service takes a request only from the
identities allowed to send it (:func:`graceperiod.contracts.identities.may_send`). The
gateway's also carry its signed actor assertion, which the owning service verifies before
anything else (:mod:`graceperiod.runtime.actor_assertions`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage, DeliveryMode
from aio_pika.exceptions import AMQPError, DeliveryError
from faststream.rabbit import RabbitBroker
from opentelemetry import propagate
from opentelemetry.trace import SpanKind
from prometheus_client import Histogram
from pydantic import BaseModel, ValidationError

from graceperiod.contracts.identities import BrokerIdentity
from graceperiod.contracts.topology import Binding, QueueKind
from graceperiod.runtime.actor_assertions import ASSERTION_HEADER, AssertionSigner, tool_signer
from graceperiod.runtime.logs import get_logger
from graceperiod.runtime.middleware import current_correlation_id
from graceperiod.runtime.settings import broker_user
from graceperiod.runtime.tracing import Tracing

ReplyT = TypeVar("ReplyT", bound=BaseModel)

log = get_logger("graceperiod.rpc")

DIRECT_REPLY_TO = "amq.rabbitmq.reply-to"

RPC_SECONDS = Histogram(
    "graceperiod_rpc_seconds",
    "Time from sending a command or query to its reply (or giving up), by queue and outcome.",
    ["queue", "outcome"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


class ServiceUnavailable(Exception):  # noqa: N818 - reads better at call sites than ...Error
    """The owning service did not answer in time (down, overloaded or unreachable)."""

    def __init__(self, service: str, timeout: float, *, detail: str | None = None) -> None:
        super().__init__(detail or f"the {service} service did not answer within {timeout:g} s")
        self.service = service
        self.timeout = timeout


class BadReply(Exception):  # noqa: N818
    """The service answered something that is not the expected reply (a version mismatch)."""


def _is_command(binding: Binding) -> bool:
    """Commands go out persistent (they outlive the caller); queries expire with its timeout."""
    if binding.kind not in (QueueKind.COMMANDS, QueueKind.QUERIES):
        msg = f"{binding.queue} is not an RPC queue"
        raise ValueError(msg)
    return binding.kind is QueueKind.COMMANDS


def _reply(binding: Binding, body: bytes, reply_type: type[ReplyT]) -> ReplyT:
    try:
        return reply_type.model_validate_json(body)
    except ValidationError as exc:
        msg = f"{binding.service} answered {binding.queue} with an unexpected body: {exc.errors()[:3]}"
        raise BadReply(msg) from exc


def signed(signer: AssertionSigner | None, binding: Binding, body: bytes) -> tuple[dict[str, Any], datetime]:
    """The assertion header (none without ``signer``) and the publish time of a request."""
    if signer is None:
        return {}, datetime.now(UTC)
    assertion, at = signer.sign(binding.service, body)
    return {ASSERTION_HEADER: assertion}, at


async def call(
    broker: RabbitBroker,
    binding: Binding,
    request: BaseModel,
    reply_type: type[ReplyT],
    *,
    timeout: float,
    message_id: str | None = None,
    user_id: str | None = None,
    signer: AssertionSigner | None = None,
) -> ReplyT:
    """One request through a FastStream broker. Its ``user_id`` is set by the reliability
    middleware of a broker made by ``build_broker``; another broker's caller names it (RabbitMQ
    accepts it only from that user, or from an administrator tagged ``impersonator``). Acting
    as the gateway, the request is signed (``signer``, else the keys of
    ``GATEWAY_ASSERTION_KEYS_DIR``: tests and the dev kit)."""
    is_command = _is_command(binding)
    message_id = message_id or uuid.uuid4().hex
    if signer is None and user_id == BrokerIdentity.GATEWAY:
        signer = tool_signer()
    body = request.model_dump_json().encode()
    headers, at = signed(signer, binding, body)
    try:
        response = await broker.request(
            body,
            queue=binding.queue,
            user_id=user_id,
            timestamp=at,
            headers=headers or None,
            timeout=timeout,
            persist=is_command,
            expiration=None if is_command else timedelta(seconds=timeout),
            message_id=message_id,
            correlation_id=current_correlation_id() or message_id,
            content_type="application/json",
        )
    except TimeoutError as exc:
        raise ServiceUnavailable(binding.service, timeout) from exc
    return _reply(binding, response.body, reply_type)


def _headers(request_id: str | None) -> dict[str, Any] | None:
    """The request id, and the current trace context when a span is being recorded."""
    headers: dict[str, Any] = {"x-request-id": request_id} if request_id else {}
    propagate.inject(headers)  # writes nothing when no span is recording (tracing off)
    return headers or None


@dataclass(eq=False)
class _Lane:
    """One channel with its direct reply-to consumer and the calls waiting on it."""

    channel: AbstractChannel
    pending: dict[str, asyncio.Future[AbstractIncomingMessage]] = field(default_factory=dict)

    async def deliver(self, message: AbstractIncomingMessage) -> None:
        waiter = self.pending.get(message.correlation_id or "")
        if waiter is None or waiter.done():
            # Its caller gave up (timeout) or never existed: nobody is waiting for it.
            log.debug("late or unknown reply dropped", correlation_id=message.correlation_id)
            return
        waiter.set_result(message)

    def fail_all(self, *_: Any) -> None:
        for waiter in self.pending.values():
            if not waiter.done():
                waiter.set_exception(ConnectionError("the AMQP channel closed while waiting for a reply"))


class RpcClient:
    """Concurrent request/reply over RabbitMQ's direct reply-to, for the gateway.

    FastStream's ``broker.request`` (behind :func:`call`) holds one lock per broker for the
    whole round trip, so one slow service stalls every other caller of the process. This
    client keeps one reply consumer open per channel and matches replies to callers by
    correlation id, so calls run concurrently; a reply arriving after its caller gave up
    finds nobody waiting and is dropped. Commands go out persistent and with publisher
    confirms (the command outlives the caller); queries without confirms and expire with
    the caller's timeout.

    The correlation id is ``<current correlation id (the HTTP request id)>.<random suffix>``:
    the prefix lets logs and the events a service publishes be traced back to the request;
    the suffix keeps it unique, so a late reply to an earlier call can never be taken for
    the answer to a later call of the same request. The request id also travels unchanged
    in the ``x-request-id`` header.

    With ``tracing`` on, each call is a span (``rpc <queue> <request type>``) whose context
    travels in the request's headers, where the service's telemetry middleware picks it up.

    Connects lazily and reconnects on the next call after the connection was lost.
    """

    def __init__(
        self,
        url: str,
        *,
        app_id: str,
        connect_timeout: float = 3.0,
        tracing: Tracing | None = None,
        signer: AssertionSigner | None = None,
    ) -> None:
        self._url = url
        self.signer = signer
        """Signs every request's actor (the gateway's keys, loaded at its start-up)."""
        self._user = broker_user(url)
        self._app_id = app_id
        self._connect_timeout = connect_timeout
        self._tracer = (tracing or Tracing.off()).tracer("graceperiod.runtime.rpc")
        self._connection: AbstractConnection | None = None
        self._lanes: dict[bool, _Lane] = {}
        self._lock = asyncio.Lock()

    async def _lane(self, *, confirms: bool) -> _Lane:
        lane = self._lanes.get(confirms)
        if lane is not None and not lane.channel.is_closed and _is_open(self._connection):
            return lane
        async with self._lock:
            lane = self._lanes.get(confirms)
            if lane is not None and not lane.channel.is_closed and _is_open(self._connection):
                return lane
            connection = self._connection
            if connection is None or not _is_open(connection):
                await self._drop_connection()
                connection = self._connection = await aio_pika.connect(
                    self._url,
                    timeout=self._connect_timeout,
                    client_properties={"connection_name": f"{self._app_id}-rpc"},
                )
            channel = await connection.channel(publisher_confirms=confirms, on_return_raises=confirms)
            lane = _Lane(channel)
            channel.close_callbacks.add(lane.fail_all)
            replies = await channel.get_queue(DIRECT_REPLY_TO, ensure=False)
            await replies.consume(lane.deliver, no_ack=True)
            self._lanes[confirms] = lane
            return lane

    async def call(
        self,
        binding: Binding,
        request: BaseModel,
        reply_type: type[ReplyT],
        *,
        timeout: float,
        message_id: str | None = None,
    ) -> ReplyT:
        """Send ``request`` to the owning service's RPC queue and return its typed reply.

        Raises :class:`ServiceUnavailable` when no reply came within ``timeout`` seconds or
        the broker cannot be reached, :class:`BadReply` when the reply is not a ``reply_type``.
        """
        # The span records a failure itself (the exception and an error status).
        with self._tracer.start_as_current_span(
            f"rpc {binding.queue} {type(request).__name__}",
            kind=SpanKind.CLIENT,
            attributes={"messaging.system": "rabbitmq", "messaging.destination.name": binding.queue},
        ):
            response = await self._call(binding, request, timeout=timeout, message_id=message_id)
        return _reply(binding, response.body, reply_type)

    async def _call(
        self, binding: Binding, request: BaseModel, *, timeout: float, message_id: str | None
    ) -> AbstractIncomingMessage:
        is_command = _is_command(binding)
        started = time.perf_counter()
        outcome = "error"
        try:
            async with asyncio.timeout(timeout):
                response = await self._request(
                    binding, request, is_command=is_command, timeout=timeout, message_id=message_id or uuid.uuid4().hex
                )
                outcome = "ok"
        except TimeoutError as exc:
            outcome = "timeout"
            raise ServiceUnavailable(binding.service, timeout) from exc
        except DeliveryError as exc:
            outcome = "unroutable"
            detail = f"the {binding.service} service's queue {binding.queue} does not exist yet"
            raise ServiceUnavailable(binding.service, timeout, detail=detail) from exc
        except (AMQPError, ConnectionError, OSError) as exc:
            outcome = "broker-unreachable"
            detail = f"the message broker cannot be reached to ask the {binding.service} service ({exc})"
            raise ServiceUnavailable(binding.service, timeout, detail=detail) from exc
        finally:
            RPC_SECONDS.labels(queue=binding.queue, outcome=outcome).observe(time.perf_counter() - started)
        return response

    async def _request(
        self, binding: Binding, request: BaseModel, *, is_command: bool, timeout: float, message_id: str
    ) -> AbstractIncomingMessage:
        """Publish the request and wait for the reply with its correlation id."""
        request_id = current_correlation_id()
        lane = await self._lane(confirms=is_command)
        correlation_id = f"{request_id or message_id}.{uuid.uuid4().hex[:12]}"
        body = request.model_dump_json().encode()
        assertion, at = signed(self.signer, binding, body)
        waiter: asyncio.Future[AbstractIncomingMessage] = asyncio.get_running_loop().create_future()
        lane.pending[correlation_id] = waiter
        try:
            await lane.channel.default_exchange.publish(
                aio_pika.Message(
                    body,
                    content_type="application/json",
                    delivery_mode=DeliveryMode.PERSISTENT if is_command else DeliveryMode.NOT_PERSISTENT,
                    expiration=None if is_command else timedelta(seconds=timeout),
                    message_id=message_id,
                    correlation_id=correlation_id,
                    reply_to=DIRECT_REPLY_TO,
                    app_id=self._app_id,
                    user_id=self._user,
                    timestamp=at,
                    headers=(_headers(request_id) or {}) | assertion or None,
                ),
                routing_key=binding.queue,
                mandatory=True,
            )
            return await waiter
        finally:
            lane.pending.pop(correlation_id, None)

    async def ping(self, timeout: float = 2.0) -> bool:
        """Whether the broker can be reached (opens the connection if needed)."""
        try:
            async with asyncio.timeout(timeout):
                await self._lane(confirms=False)
        except (TimeoutError, AMQPError, ConnectionError, OSError):
            return False
        return True

    async def close(self) -> None:
        await self._drop_connection()

    async def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        for lane in self._lanes.values():
            lane.fail_all()
        self._lanes.clear()
        if connection is not None and not connection.is_closed:
            with contextlib.suppress(AMQPError, ConnectionError, OSError, RuntimeError):
                await connection.close()


def _is_open(connection: AbstractConnection | None) -> bool:
    """aio-pika's ``is_closed`` stays False after the broker closed the connection (a broker
    node's restart does; its channels then fail with ``RuntimeError: ... closed``): the AMQP
    connection underneath says it."""
    if connection is None or connection.is_closed or connection.transport is None:
        return False
    return not connection.transport.connection.is_closed
