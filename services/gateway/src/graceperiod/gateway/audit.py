"""The audit of actions: who asked the gateway for which action, through which door, and what
the owning service answered. Written to the gateway's own database, best effort (see
:meth:`~graceperiod.gateway.store.LinkStore.record_action`)."""

from __future__ import annotations

from graceperiod.contracts.rpc import Actor
from graceperiod.gateway.store import LinkStore
from graceperiod.runtime.clock import Clock
from graceperiod.runtime.middleware import current_correlation_id


class AuditTrail:
    def __init__(self, store: LinkStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def record(self, actor: Actor, action: str, target: str, status: object, message: str) -> None:
        await self._store.record_action(
            {
                "request_id": current_correlation_id(),
                "actor": {"user_id": actor.user_id, "email": actor.email, "path": str(actor.path)},
                "action": action,
                "target": target,
                "status": str(status),
                "message": message[:500],
            },
            now=self._clock.now(),
        )
