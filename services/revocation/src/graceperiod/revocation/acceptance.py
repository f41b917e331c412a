"""The moment a command is accepted for good: what a tick resumes it from is stored (an
attempt with its lease on the purchase, or an account's probe due), so its caller may be
answered and its message acknowledged even if the work goes on (docs/architecture.md, "RPC
replies")."""

from __future__ import annotations

import asyncio


class Acceptance:
    def __init__(self) -> None:
        self._event = asyncio.Event()

    def accept(self) -> None:
        self._event.set()

    @property
    def accepted(self) -> bool:
        return self._event.is_set()

    async def wait(self) -> None:
        await self._event.wait()
