"""Message handlers: decode, delegate to :class:`RevocationService`, nothing else."""

from __future__ import annotations

from faststream.rabbit import RabbitRouter

from graceperiod.contracts.topology import Queues
from graceperiod.contracts.upstream import PurchaseExecuted
from graceperiod.revocation.service import RevocationService
from graceperiod.runtime.messaging import exchange_for, queue_for


def build_router(service: RevocationService) -> RabbitRouter:
    router = RabbitRouter()
    executed = Queues.REVOCATION_PURCHASE_EXECUTED

    @router.subscriber(queue_for(executed), exchange_for(executed), title="revocation.purchase.executed")
    async def on_purchase_executed(body: PurchaseExecuted) -> None:
        await service.record_purchase(body)

    return router
