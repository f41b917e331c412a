"""Claims: what only one replica (or one request) may do — a tick's due purchase or probe, a
purchase's support-case filing — claimed by a unique insert that expires after a while."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from graceperiod.revocation.domain.records import Claim
from graceperiod.revocation.store.commands import CommandStore
from graceperiod.runtime.clock import Clock


@dataclass(frozen=True)
class Claims:
    store: CommandStore
    clock: Clock
    retention: timedelta

    async def once(self, claim_id: str, *, owner: str = "", lasting: timedelta | None = None) -> bool:
        """True for exactly one caller (until the claim expires: after ``lasting``, else the
        retention, a purge on a tick removes it)."""
        now = self.clock.now()
        expires_at = now + (lasting if lasting is not None else self.retention)
        return await self.store.claim(Claim(claim_id=claim_id, owner=owner, claimed_at=now, expires_at=expires_at))

    async def held_by(self, claim_id: str, owner: str) -> bool:
        """True when ``owner`` holds the claim: it took it now, or took it before (a request
        repeated with its idempotency key)."""
        if await self.once(claim_id, owner=owner):
            return True
        holder = await self.store.holder(claim_id)
        return holder is None or holder.owner == owner

    async def release(self, claim_id: str) -> None:
        await self.store.release(claim_id)
