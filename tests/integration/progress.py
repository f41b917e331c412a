"""A positive signal that services running in this process have dealt with what a test sent.

"Nothing else arrives" and "exactly once" are only worth checking once every message that
could still cause an effect has been dealt with: its handler finished (effects stored, events
published, emails accepted) and it was acked, or it was dead-lettered. The services count
both on their own metrics (``graceperiod_messages_handled_total`` and
``graceperiod_messages_dead_lettered_total``, by queue), so a test waits for the count to
reach what it sent instead of watching a quiet queue for a second or two. A message that is
retried counts only once it is finally done.
"""

from __future__ import annotations

import asyncio
import time

from prometheus_client import REGISTRY


def _finished(queue: str) -> tuple[float, float]:
    handled = dead = 0.0
    for family in REGISTRY.collect():
        for sample in family.samples:
            if sample.labels.get("queue") != queue:
                continue
            if sample.name == "graceperiod_messages_handled_total":
                handled += sample.value
            elif sample.name == "graceperiod_messages_dead_lettered_total":
                dead += sample.value
    return handled, dead


class Finished:
    """Messages of one queue dealt with since this object was made (counters are per process)."""

    def __init__(self, queue: str) -> None:
        self.queue = queue
        self._handled, self._dead = _finished(queue)

    @property
    def handled(self) -> int:
        return int(_finished(self.queue)[0] - self._handled)

    @property
    def dead_lettered(self) -> int:
        return int(_finished(self.queue)[1] - self._dead)

    async def wait(self, count: int, *, timeout: float = 20.0) -> None:
        """Until ``count`` messages sent since were handled or dead-lettered."""
        deadline = time.monotonic() + timeout
        while self.handled + self.dead_lettered < count:
            if time.monotonic() > deadline:
                msg = (
                    f"{self.queue}: {self.handled} handled and {self.dead_lettered} dead-lettered "
                    f"of {count} within {timeout}s"
                )
                raise AssertionError(msg)
            await asyncio.sleep(0.02)
