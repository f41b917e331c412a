"""The cooldown service's business class: handlers call it; it receives its collaborators."""

from __future__ import annotations

from graceperiod.contracts.upstream import AccountRegistered
from graceperiod.cooldown.store import AccountStore
from graceperiod.runtime.clock import Clock
from graceperiod.runtime.logs import get_logger

log = get_logger("graceperiod.cooldown")


class CooldownService:
    def __init__(self, *, store: AccountStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def register_account(self, event: AccountRegistered) -> None:
        created = await self._store.register(
            account_id=event.account_id, name=event.name, email=event.email, now=self._clock.now()
        )
        log.info(
            "account registered" if created else "account already registered",
            account_id=event.account_id,
        )
