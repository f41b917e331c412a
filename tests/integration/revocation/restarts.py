"""The revocation service as its own process, for the tests that kill it (SIGKILL) and start
another: what every such process is configured with, and the ticker that resumes its work."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from graceperiod.devstack.servers.processes import ServiceProcess, free_port
from tests.integration.revocation.conftest import Harness

#: How long an attempt is leased: the next tick after it resumes an attempt a killed service left.
LEASE_SECONDS = 2


@dataclass
class RevocationProcesses:
    """Revocation service processes on one harness's broker and database (``env``: what the
    test's adapter needs besides), all stopped when the block ends."""

    harness: Harness
    data_dir: Path
    mongodb_url: str
    env: dict[str, str]
    started: list[ServiceProcess] = field(default_factory=list)

    def start(self) -> ServiceProcess:
        port = free_port()
        process = ServiceProcess(
            name=f"revocation-{port}",
            module="graceperiod.revocation",
            data_dir=self.data_dir,
            port=port,
            env={
                "AMQP_URL": self.harness.amqp_url,
                "MONGODB_URL": self.mongodb_url,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "REVOCATION_MONGODB_DATABASE": self.harness.database,
                "REVOCATION_HTTP_PORT": str(port),
                "REVOCATION_REPLY_WITHIN_SECONDS": "5",
                "REVOCATION_PENDING_POLL_SECONDS": "0.2",
                "REVOCATION_ATTEMPT_LEASE_SECONDS": str(LEASE_SECONDS),
                "LOG_FORMAT": "console",
                **self.env,
            },
        )
        process.start(timeout=60)
        self.started.append(process)
        return process

    def __enter__(self) -> RevocationProcesses:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        for process in self.started:
            process.stop()


@contextlib.asynccontextmanager
async def ticking(harness: Harness, every: float = 0.5) -> AsyncIterator[None]:
    """A ticker, as the scheduler runs one in production."""

    async def tick() -> None:
        while True:
            await harness.tick()
            await asyncio.sleep(every)

    task = asyncio.create_task(tick())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
