"""Serving an ASGI app on loopback in the current event loop, and Debian's Chromium for
Playwright: shared by the browser tests, the screenshot tool and the gateway benchmark."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, Final

import uvicorn

from graceperiod.runtime.worker import server_config

#: Never a downloaded browser: Debian's, without the sandbox (containers) or background traffic.
CHROMIUM: Final = Path("/usr/bin/chromium")
CHROMIUM_ARGS: Final = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextlib.asynccontextmanager
async def serving(
    app: Any, *, host: str = "127.0.0.1", port: int = 0, trusted_proxies: Sequence[str] = ()
) -> AsyncIterator[str]:
    """Run ``app`` under uvicorn (lifespan included), configured as in production
    (:func:`graceperiod.runtime.worker.server_config`), until the block ends; yields its base URL."""
    server = uvicorn.Server(
        server_config(app, host=host, port=port, trusted_proxies=trusted_proxies, log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # start-up failed: raise its error
            msg = "uvicorn stopped before it started"
            raise RuntimeError(msg)
        await asyncio.sleep(0.02)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        await task
