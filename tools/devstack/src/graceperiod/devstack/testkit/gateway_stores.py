"""The gateway's stores (LinkStore, SessionStore) in memory, for the gateway's unit and browser
tests, the screenshots and the gateway bench: no database behind the gateway."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class InMemoryLinkStore:
    """The gateway's LinkStore in memory (consume = insert-if-absent, like the unique _id)."""

    links: dict[str, Any] = field(default_factory=dict)
    actions: list[dict[str, Any]] = field(default_factory=list)

    async def consume(
        self, claims: Any, *, action: Any, now: datetime, keep_until: datetime, request_id: str | None
    ) -> Any:
        from graceperiod.gateway.store import ConsumedLink  # noqa: PLC0415 - devstack must not need the gateway at import

        if claims.jti in self.links:
            return self.links[claims.jti]
        self.links[claims.jti] = ConsumedLink.of(
            claims, action=action, now=now, keep_until=keep_until, request_id=request_id
        )
        return None

    async def find(self, jti: str) -> Any:
        return self.links.get(jti)

    async def record_outcome(self, jti: str, outcome: Any) -> None:
        self.links[jti] = self.links[jti].model_copy(update={"outcome": outcome})

    async def release(self, jti: str) -> None:
        link = self.links.get(jti)
        if link is not None and link.outcome is not None and link.outcome.status == "rejected":
            del self.links[jti]

    async def record_action(self, entry: dict[str, Any], *, now: datetime) -> None:
        self.actions.append({**entry, "at": now})

    async def purge(self, *, now: datetime) -> int:
        return 0

    async def ping(self) -> bool:
        return True


@dataclass
class InMemorySessionStore:
    """The gateway's SessionStore in memory (a used state is an insert-if-absent, like the unique _id)."""

    sessions: dict[str, Any] = field(default_factory=dict)
    states: dict[str, Any] = field(default_factory=dict)

    async def create(self, record: Any) -> None:
        self.sessions[record.key] = record

    async def find(self, key: str) -> Any:
        return self.sessions.get(key)

    async def delete(self, key: str) -> None:
        self.sessions.pop(key, None)

    async def use_state(self, used: Any) -> bool:
        if used.key in self.states:
            return False
        self.states[used.key] = used
        return True

    async def purge(self, *, now: datetime) -> int:
        expired = [key for key, record in self.sessions.items() if record.expires_at <= now]
        used = [key for key, state in self.states.items() if state.expires_at <= now]
        for key in expired:
            del self.sessions[key]
        for key in used:
            del self.states[key]
        return len(expired) + len(used)
