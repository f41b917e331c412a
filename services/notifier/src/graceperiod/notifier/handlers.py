"""Message handlers: decode, delegate to :class:`NotifierService`, nothing else."""

from __future__ import annotations

from faststream.rabbit import RabbitRouter

from graceperiod.contracts.revocation import PurchaseRecorded
from graceperiod.contracts.topology import Queues
from graceperiod.notifier.service import NotifierService
from graceperiod.runtime.messaging import exchange_for, queue_for


def build_router(service: NotifierService) -> RabbitRouter:
    router = RabbitRouter()
    recorded = Queues.NOTIFIER_PURCHASE_RECORDED

    @router.subscriber(queue_for(recorded), exchange_for(recorded), title="notifier.purchase.recorded")
    async def on_purchase_recorded(body: PurchaseRecorded) -> None:
        await service.on_purchase_recorded(body)

    return router
