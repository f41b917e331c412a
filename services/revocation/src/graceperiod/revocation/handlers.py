"""Message handlers: decode, verify who asks, hand to the use case, return its typed answer
(the RPC reply).

Commands and queries pass the request gate first (``graceperiod.runtime.requests``): a
malformed or refused one is answered with its problem when a caller waits, and dead-lettered
with the reason when nobody does. Everything else arriving here that breaks its contract, or
an internal event not published by its owner, is dead-lettered by the reliability middleware.
"""

from __future__ import annotations

from typing import Any

from faststream.rabbit import RabbitRouter
from faststream.rabbit.annotations import RabbitMessage
from pydantic import TypeAdapter

from graceperiod.contracts.notifier import EmailDelivered
from graceperiod.contracts.revocation import (
    AccountAccessReply,
    CommandReply,
    OrganizationViewReply,
    PurchaseListReply,
    PurchaseReply,
    PurchaseRowsReply,
    PurchaseSummaryReply,
    RevocationCommand,
    RevocationQuery,
    SupportCaseDraftReply,
)
from graceperiod.contracts.rpc import CommandStatus
from graceperiod.contracts.topology import Queues
from graceperiod.contracts.upstream import PurchaseExecuted, Tick
from graceperiod.revocation.commands import Commands
from graceperiod.revocation.deliveries import Deliveries
from graceperiod.revocation.discovering import Discovering
from graceperiod.revocation.follow_ups import FollowUps
from graceperiod.revocation.link_access import LinkAccess
from graceperiod.revocation.queries import Queries, Reply
from graceperiod.revocation.recording import Recording
from graceperiod.runtime.messaging import exchange_for, queue_for
from graceperiod.runtime.requests import RequestProblem

_COMMANDS: TypeAdapter[Any] = TypeAdapter(RevocationCommand)
_QUERIES: TypeAdapter[Any] = TypeAdapter(RevocationQuery)
#: The reply type of each query kind (a refused query is answered in its caller's type).
_REPLIES: dict[str, type[Reply]] = {
    "list-purchases": PurchaseListReply,
    "export-purchases": PurchaseRowsReply,
    "summarize-purchases": PurchaseSummaryReply,
    "get-purchase": PurchaseReply,
    "get-support-case-draft": SupportCaseDraftReply,
    "list-account-access": AccountAccessReply,
    "get-organization-view": OrganizationViewReply,
}


def build_router(
    *,
    recording: Recording,
    deliveries: Deliveries,
    follow_ups: FollowUps,
    discovering: Discovering | None,
    commands: Commands,
    queries: Queries,
    links: LinkAccess,
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
        if discovering is not None:  # discovery turned off: ticks only follow up
            await discovering.on_tick()

    @router.subscriber(queue_for(Queues.REVOCATION_COMMANDS), title="revocation.commands")
    async def on_command(body: dict[str, Any], message: RabbitMessage) -> CommandReply:
        try:
            command, link = links.decode(_COMMANDS, body, message)
        except RequestProblem as refused:
            problem = refused.problem
            return CommandReply(status=CommandStatus.REJECTED, message=problem.message, problem=problem)
        return await commands.handle(command, link)

    @router.subscriber(queue_for(Queues.REVOCATION_QUERIES), title="revocation.queries")
    async def on_query(body: dict[str, Any], message: RabbitMessage) -> Reply:
        try:
            query, link = links.decode(_QUERIES, body, message)
        except RequestProblem as refused:
            return _REPLIES.get(str(body.get("kind")), PurchaseReply)(problem=refused.problem)
        return await queries.answer(query, link)

    return router
