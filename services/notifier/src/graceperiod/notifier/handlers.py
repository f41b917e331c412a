"""Message handlers: decode, delegate to :class:`NotifierService`, nothing else."""

from __future__ import annotations

from faststream.rabbit import RabbitMessage, RabbitRouter

from graceperiod.contracts.notifier import (
    DeliveriesReply,
    GetNotificationSettings,
    NotificationSettingsReply,
    NotifierCommand,
    NotifierQuery,
)
from graceperiod.contracts.revocation import PurchaseChanged, PurchaseRecorded
from graceperiod.contracts.topology import Queues
from graceperiod.contracts.upstream import Tick
from graceperiod.contracts.wait_list import PoolRunningLow
from graceperiod.notifier.service import NotifierService
from graceperiod.runtime.messaging import exchange_for, queue_for


def build_router(service: NotifierService) -> RabbitRouter:
    router = RabbitRouter()
    recorded, changed = Queues.NOTIFIER_PURCHASE_RECORDED, Queues.NOTIFIER_PURCHASE_CHANGED
    ticks = Queues.NOTIFIER_TICKS
    pool_low = Queues.NOTIFIER_POOL_RUNNING_LOW
    commands, queries = Queues.NOTIFIER_COMMANDS, Queues.NOTIFIER_QUERIES

    @router.subscriber(queue_for(recorded), exchange_for(recorded), title="notifier.purchase.recorded")
    async def on_purchase_recorded(body: PurchaseRecorded) -> None:
        await service.on_purchase_recorded(body)

    @router.subscriber(queue_for(changed), exchange_for(changed), title="notifier.purchase.changed")
    async def on_purchase_changed(body: PurchaseChanged, message: RabbitMessage) -> None:
        await service.on_purchase_changed(body, message_id=message.message_id)

    @router.subscriber(queue_for(pool_low), exchange_for(pool_low), title=pool_low.queue)
    async def on_pool_running_low(body: PoolRunningLow) -> None:
        await service.on_pool_running_low(body)

    @router.subscriber(queue_for(ticks), exchange_for(ticks), title="notifier.ticks")
    async def on_tick(body: Tick) -> None:
        await service.on_tick()

    @router.subscriber(queue_for(commands), title="notifier.commands")
    async def on_command(body: NotifierCommand) -> NotificationSettingsReply:
        return await service.set_settings(body)

    @router.subscriber(queue_for(queries), title="notifier.queries")
    async def on_query(body: NotifierQuery) -> NotificationSettingsReply | DeliveriesReply:
        if isinstance(body, GetNotificationSettings):
            return await service.get_settings(body)
        return await service.list_deliveries(body)

    return router
