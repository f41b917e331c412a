"""Message handlers: decode, delegate to :class:`CooldownService`, nothing else."""

from __future__ import annotations

from faststream.rabbit import RabbitRouter
from faststream.rabbit.annotations import RabbitMessage

from graceperiod.contracts.cooldown import (
    AccountCommandReply,
    AccountListReply,
    AccountReply,
    CooldownCommand,
    CooldownQuery,
    PolicyReply,
)
from graceperiod.contracts.topology import Binding, Queues
from graceperiod.contracts.upstream import (
    AccountCleanupFailed,
    AccountCleanupSucceeded,
    AccountRegistered,
    LeaseTerminated,
    Tick,
)
from graceperiod.contracts.wait_list import WaitListReply, WaitReply
from graceperiod.cooldown.service import CooldownService
from graceperiod.runtime.messaging import exchange_for, queue_for


def _title(binding: Binding) -> str:
    return binding.queue


def _redelivered(message: RabbitMessage) -> bool:
    """Delivered before without an acknowledgement (a worker stopped mid-way)."""
    return bool(getattr(message.raw_message, "redelivered", False))


def build_router(service: CooldownService) -> RabbitRouter:
    router = RabbitRouter()
    registered = Queues.COOLDOWN_ACCOUNT_REGISTERED
    terminated = Queues.COOLDOWN_LEASE_TERMINATED
    succeeded = Queues.COOLDOWN_CLEANUP_SUCCEEDED
    failed = Queues.COOLDOWN_CLEANUP_FAILED
    ticks = Queues.COOLDOWN_TICKS
    commands = Queues.COOLDOWN_COMMANDS
    queries = Queues.COOLDOWN_QUERIES

    @router.subscriber(queue_for(registered), exchange_for(registered), title=_title(registered))
    async def on_account_registered(body: AccountRegistered, message: RabbitMessage) -> None:
        await service.account_registered(body, redelivered=_redelivered(message))

    @router.subscriber(queue_for(terminated), exchange_for(terminated), title=_title(terminated))
    async def on_lease_terminated(body: LeaseTerminated, message: RabbitMessage) -> None:
        await service.lease_terminated(body, redelivered=_redelivered(message))

    @router.subscriber(queue_for(succeeded), exchange_for(succeeded), title=_title(succeeded))
    async def on_cleanup_succeeded(body: AccountCleanupSucceeded, message: RabbitMessage) -> None:
        await service.cleanup_finished(body, redelivered=_redelivered(message))

    @router.subscriber(queue_for(failed), exchange_for(failed), title=_title(failed))
    async def on_cleanup_failed(body: AccountCleanupFailed, message: RabbitMessage) -> None:
        await service.cleanup_finished(body, redelivered=_redelivered(message))

    @router.subscriber(queue_for(ticks), exchange_for(ticks), title=_title(ticks))
    async def on_tick(body: Tick) -> None:
        await service.on_tick(body)

    @router.subscriber(queue_for(commands), title=_title(commands))
    async def on_command(
        body: CooldownCommand, message: RabbitMessage
    ) -> AccountCommandReply | PolicyReply | WaitReply:
        return await service.execute(body, redelivered=_redelivered(message))

    @router.subscriber(queue_for(queries), title=_title(queries))
    async def on_query(
        body: CooldownQuery,
    ) -> AccountListReply | AccountReply | PolicyReply | WaitListReply | WaitReply:
        return await service.answer(body)

    return router
