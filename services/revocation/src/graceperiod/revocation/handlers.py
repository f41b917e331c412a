"""Message handlers: decode, delegate to :class:`RevocationService`, nothing else.

Commands are answered by hand (``no_reply``): once, on the first delivery, within a few
seconds ("in progress" if AWS is slow), while the handler goes on until the outcome is
stored; a redelivered command (after a crash) is carried on without a second answer.
Malformed commands and queries get a clear ``invalid`` answer instead of silence.
"""

from __future__ import annotations

from typing import Any

from faststream.rabbit import RabbitBroker, RabbitRouter
from faststream.rabbit.annotations import RabbitMessage
from pydantic import TypeAdapter, ValidationError

from graceperiod.contracts.notifier import EmailDelivered
from graceperiod.contracts.revocation import CommandReply, RevocationCommand, RevocationQuery
from graceperiod.contracts.rpc import CommandStatus, ErrorCode, Problem
from graceperiod.contracts.topology import Queues
from graceperiod.contracts.upstream import PurchaseExecuted, Tick
from graceperiod.revocation.service import RevocationService
from graceperiod.runtime.messaging import exchange_for, queue_for

_COMMANDS: TypeAdapter[Any] = TypeAdapter(RevocationCommand)
_QUERIES: TypeAdapter[Any] = TypeAdapter(RevocationQuery)


def _invalid(exc: ValidationError) -> Problem:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '(body)'}: {err['msg']}" for err in exc.errors()[:10]
    )
    return Problem(code=ErrorCode.INVALID, message=f"invalid request: {problems}"[:512])


def build_router(service: RevocationService, broker: RabbitBroker) -> RabbitRouter:
    router = RabbitRouter()
    executed = Queues.REVOCATION_PURCHASE_EXECUTED
    delivered = Queues.REVOCATION_EMAIL_DELIVERED
    ticks = Queues.REVOCATION_TICKS

    @router.subscriber(queue_for(executed), exchange_for(executed), title="revocation.purchase.executed")
    async def on_purchase_executed(body: PurchaseExecuted) -> None:
        await service.record_purchase(body)

    @router.subscriber(queue_for(delivered), exchange_for(delivered), title="revocation.notifier.email.delivered")
    async def on_email_delivered(body: EmailDelivered, message: RabbitMessage) -> None:
        await service.on_email_delivered(body, message_id=message.message_id)

    @router.subscriber(queue_for(ticks), exchange_for(ticks), title="revocation.ticks")
    async def on_tick(body: Tick) -> None:
        await service.on_tick(body)

    @router.subscriber(queue_for(Queues.REVOCATION_COMMANDS), title="revocation.commands", no_reply=True)
    async def on_command(body: dict[str, Any], message: RabbitMessage) -> None:
        first_delivery = not message.raw_message.redelivered and bool(message.reply_to)

        async def reply(answer: CommandReply) -> None:
            await broker.publish(
                answer,
                routing_key=message.reply_to,
                correlation_id=message.correlation_id,
                mandatory=False,
                content_type="application/json",
            )

        try:
            command = _COMMANDS.validate_python(body)
        except ValidationError as exc:
            if first_delivery:
                problem = _invalid(exc)
                await reply(CommandReply(status=CommandStatus.REJECTED, message=problem.message, problem=problem))
            return
        await service.handle_command(command, reply if first_delivery else None)

    @router.subscriber(queue_for(Queues.REVOCATION_QUERIES), title="revocation.queries")
    async def on_query(body: dict[str, Any]) -> Any:
        try:
            query = _QUERIES.validate_python(body)
        except ValidationError as exc:
            return {"problem": _invalid(exc).model_dump(mode="json")}
        return await service.query(query)

    return router
