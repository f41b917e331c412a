"""Message handlers: decode, delegate to :class:`CooldownService`, nothing else."""

from __future__ import annotations

from faststream.rabbit import RabbitRouter

from graceperiod.contracts.topology import Queues
from graceperiod.contracts.upstream import AccountRegistered
from graceperiod.cooldown.service import CooldownService
from graceperiod.runtime.messaging import exchange_for, queue_for


def build_router(service: CooldownService) -> RabbitRouter:
    router = RabbitRouter()
    registered = Queues.COOLDOWN_ACCOUNT_REGISTERED

    @router.subscriber(queue_for(registered), exchange_for(registered), title="cooldown.account.registered")
    async def on_account_registered(body: AccountRegistered) -> None:
        await service.register_account(body)

    return router
