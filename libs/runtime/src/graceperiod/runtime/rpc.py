"""Request/reply over RabbitMQ (direct reply-to), for the gateway and other callers.

Commands are published persistently to the owning service's durable command queue: if the
caller stops waiting, the command is still carried out (the caller says "in progress").
Queries expire with the caller's timeout, so a service that was down does not wake up to a
backlog of questions nobody is waiting for.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import TypeVar

from faststream.rabbit import RabbitBroker
from pydantic import BaseModel, ValidationError

from graceperiod.contracts.topology import Binding, QueueKind
from graceperiod.runtime.middleware import current_correlation_id

ReplyT = TypeVar("ReplyT", bound=BaseModel)


class ServiceUnavailable(Exception):  # noqa: N818 - reads better at call sites than ...Error
    """The owning service did not answer in time (down, overloaded or unreachable)."""

    def __init__(self, service: str, timeout: float) -> None:
        super().__init__(f"the {service} service did not answer within {timeout:g} s")
        self.service = service
        self.timeout = timeout


class BadReply(Exception):  # noqa: N818
    """The service answered something that is not the expected reply (a version mismatch)."""


async def call(
    broker: RabbitBroker,
    binding: Binding,
    request: BaseModel,
    reply_type: type[ReplyT],
    *,
    timeout: float,
    message_id: str | None = None,
) -> ReplyT:
    if binding.kind not in (QueueKind.COMMANDS, QueueKind.QUERIES):
        msg = f"{binding.queue} is not an RPC queue"
        raise ValueError(msg)
    is_command = binding.kind is QueueKind.COMMANDS
    message_id = message_id or uuid.uuid4().hex
    try:
        response = await broker.request(
            request,
            queue=binding.queue,
            timeout=timeout,
            persist=is_command,
            expiration=None if is_command else timedelta(seconds=timeout),
            message_id=message_id,
            correlation_id=current_correlation_id() or message_id,
            content_type="application/json",
        )
    except TimeoutError as exc:
        raise ServiceUnavailable(binding.service, timeout) from exc
    try:
        return reply_type.model_validate_json(response.body)
    except ValidationError as exc:
        msg = f"{binding.service} answered {binding.queue} with an unexpected body: {exc.errors()[:3]}"
        raise BadReply(msg) from exc
