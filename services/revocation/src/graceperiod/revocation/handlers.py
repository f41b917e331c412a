"""Message handlers: decode, hand to the use case, return its typed answer (the RPC reply).

Malformed commands and queries get a clear ``invalid`` answer instead of silence (they are
not dead-lettered: the caller is waiting). Everything else arriving here that breaks its
contract is dead-lettered by the reliability middleware.
"""

from __future__ import annotations

from typing import Any

from faststream.rabbit import RabbitRouter
from faststream.rabbit.annotations import RabbitMessage
from pydantic import TypeAdapter, ValidationError

from graceperiod.contracts.notifier import EmailDelivered
from graceperiod.contracts.revocation import (
    AccountAccessReply,
    CommandReply,
    PurchaseListReply,
    PurchaseReply,
    PurchaseRowsReply,
    PurchaseSummaryReply,
    RevocationCommand,
    RevocationQuery,
    SupportCaseDraftReply,
)
from graceperiod.contracts.rpc import CommandStatus, ErrorCode, Problem
from graceperiod.contracts.topology import Queues
from graceperiod.contracts.upstream import PurchaseExecuted, Tick
from graceperiod.revocation.commands import Commands
from graceperiod.revocation.deliveries import Deliveries
from graceperiod.revocation.follow_ups import FollowUps
from graceperiod.revocation.queries import Queries, Reply
from graceperiod.revocation.recording import Recording
from graceperiod.runtime.messaging import exchange_for, queue_for

_COMMANDS: TypeAdapter[Any] = TypeAdapter(RevocationCommand)
_QUERIES: TypeAdapter[Any] = TypeAdapter(RevocationQuery)
#: The reply type of each query kind (a malformed query is answered in its caller's type).
_REPLIES: dict[str, type[Reply]] = {
    "list-purchases": PurchaseListReply,
    "export-purchases": PurchaseRowsReply,
    "summarize-purchases": PurchaseSummaryReply,
    "get-purchase": PurchaseReply,
    "get-support-case-draft": SupportCaseDraftReply,
    "list-account-access": AccountAccessReply,
}


def invalid(exc: ValidationError) -> Problem:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '(body)'}: {err['msg']}" for err in exc.errors()[:10]
    )
    return Problem(code=ErrorCode.INVALID, message=f"invalid request: {problems}"[:512])


def build_router(
    *, recording: Recording, deliveries: Deliveries, follow_ups: FollowUps, commands: Commands, queries: Queries
) -> RabbitRouter:
    router = RabbitRouter()
    executed = Queues.REVOCATION_PURCHASE_EXECUTED
    delivered = Queues.REVOCATION_EMAIL_DELIVERED
    ticks = Queues.REVOCATION_TICKS

    @router.subscriber(queue_for(executed), exchange_for(executed), title="revocation.purchase.executed")
    async def on_purchase_executed(body: PurchaseExecuted) -> None:
        await recording.record(body)

    @router.subscriber(queue_for(delivered), exchange_for(delivered), title="revocation.notifier.email.delivered")
    async def on_email_delivered(body: EmailDelivered, message: RabbitMessage) -> None:
        await deliveries.delivered(body, message_id=message.message_id)

    @router.subscriber(queue_for(ticks), exchange_for(ticks), title="revocation.ticks")
    async def on_tick(body: Tick) -> None:
        await follow_ups.on_tick(body)

    @router.subscriber(queue_for(Queues.REVOCATION_COMMANDS), title="revocation.commands")
    async def on_command(body: dict[str, Any]) -> CommandReply:
        try:
            command = _COMMANDS.validate_python(body)
        except ValidationError as exc:
            problem = invalid(exc)
            return CommandReply(status=CommandStatus.REJECTED, message=problem.message, problem=problem)
        return await commands.handle(command)

    @router.subscriber(queue_for(Queues.REVOCATION_QUERIES), title="revocation.queries")
    async def on_query(body: dict[str, Any]) -> Reply:
        try:
            query = _QUERIES.validate_python(body)
        except ValidationError as exc:
            return _REPLIES.get(str(body.get("kind")), PurchaseReply)(problem=invalid(exc))
        return await queries.answer(query)

    return router
