"""The shape every message-driven service shares: a FastStream app with health,
readiness and metrics endpoints, and the topology declared before consuming starts.

A service's ``app.py`` opens its connections with :func:`service_connections`, builds its
collaborators on them and hands them to :func:`create_worker_app`;
``serve`` runs the result under uvicorn. Tests start the same object in-process with
``await app.start()`` / ``await app.stop()``.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Awaitable, Callable, Sequence
from types import FrameType
from typing import Any

import uvicorn
from faststream.asgi import AsgiFastStream, AsgiResponse, get
from faststream.asgi.types import Scope
from faststream.rabbit import RabbitBroker
from faststream.specification import AsyncAPI
from prometheus_client import REGISTRY, make_asgi_app
from pymongo import AsyncMongoClient

from graceperiod.contracts.topology import ServiceName
from graceperiod.runtime.logs import configure_logging, get_logger
from graceperiod.runtime.messaging import build_broker, declare_service_queues
from graceperiod.runtime.mongo import Document, create_mongo_client, ping
from graceperiod.runtime.settings import ServiceSettings
from graceperiod.runtime.tracing import Tracing

Hook = Callable[[], Awaitable[None]]

VERSION = "0.1.0"
#: After SIGTERM/SIGINT a service process is gone within this long, whatever its shutdown waits
#: for (a broker or database that went away mid-drain); under the manifests'
#: ``terminationGracePeriodSeconds`` (40 s), above uvicorn's graceful 20 s for open requests.
STOP_DEADLINE_SECONDS = 30.0


def _json(status: int, body: dict[str, Any]) -> AsgiResponse:
    return AsgiResponse(json.dumps(body).encode(), status, headers={"content-type": "application/json"})


def service_connections(
    settings: ServiceSettings, name: str, tracing: Tracing | None = None
) -> tuple[RabbitBroker, AsyncMongoClient[Document]]:
    """The broker (with the project's delivery guarantees) and the MongoDB client of the
    service ``name``, traced when ``tracing`` is on. Neither connects yet: the worker app
    connects on start-up."""
    broker = build_broker(settings, app_id=name, tracing=tracing)
    mongo = create_mongo_client(
        settings.mongodb_url,
        appname=f"graceperiod-{name}",
        server_selection_timeout_ms=settings.mongodb_server_selection_timeout_ms,
        tracing=tracing,
    )
    return broker, mongo


def health_routes(broker: RabbitBroker, mongo: AsyncMongoClient[Document]) -> list[tuple[str, Any]]:
    @get(include_in_schema=False)
    async def live(scope: Scope) -> AsgiResponse:
        return _json(200, {"status": "alive"})

    @get(include_in_schema=False)
    async def ready(scope: Scope) -> AsgiResponse:
        checks = {"broker": await broker.ping(timeout=2.0), "database": await ping(mongo)}
        return _json(200 if all(checks.values()) else 503, {"ready": all(checks.values()), "checks": checks})

    return [("/health", live), ("/ready", ready), ("/metrics", make_asgi_app(REGISTRY))]


def create_worker_app(
    *,
    service: ServiceName,
    title: str,
    description: str,
    broker: RabbitBroker,
    mongo: AsyncMongoClient[Document],
    on_startup: Sequence[Hook] = (),
    on_shutdown: Sequence[Hook] = (),
    tracing: Tracing | None = None,
) -> AsgiFastStream:
    """``tracing``: flushed at shutdown, so a stopping service loses no spans."""

    async def startup(**_: Any) -> None:
        await broker.connect()
        await declare_service_queues(broker, service)
        for hook in on_startup:
            await hook()

    async def shutdown() -> None:
        for hook in on_shutdown:
            await hook()
        await mongo.close()
        if tracing is not None:
            tracing.flush()

    return AsgiFastStream(
        broker,
        logger=logging.getLogger(f"graceperiod.{broker.config.app_id or 'worker'}"),
        asgi_routes=health_routes(broker, mongo),
        on_startup=[startup],
        after_shutdown=[shutdown],
        specification=AsyncAPI(title=title, version=VERSION, description=description),
        asyncapi_path="/docs/asyncapi",
    )


def server_config(
    app: Any, *, host: str, port: int, trusted_proxies: Sequence[str] = (), **options: Any
) -> uvicorn.Config:
    """How every Grace Period HTTP server runs under uvicorn. Forwarded headers
    (``X-Forwarded-For``/``-Proto``) are believed only from ``trusted_proxies`` (addresses or
    networks); with none, uvicorn's own default (trust 127.0.0.1, so anything on the host could
    choose its client address, and escape rate limits keyed on it) is turned off. The event loop
    is uvloop and HTTP is parsed by httptools, named rather than left to uvicorn's "auto", which
    silently falls back to the pure-Python asyncio loop and h11 when they are missing."""
    trusted = list(trusted_proxies)
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
        lifespan="on",
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or "",
        **options,
    )


class _Server(uvicorn.Server):
    """uvicorn's server, but a stop signal always ends the process. uvicorn only sets a flag its
    main loop reads once start-up is over: a start-up blocked for good (a broker address that
    accepts connections and never answers) or a shutdown hook that hangs kept the process alive
    through every SIGTERM (seen: a service of a chaos run alive 26 minutes later)."""

    def __init__(self, config: uvicorn.Config, *, stop_deadline: float) -> None:
        super().__init__(config)
        self._stop_deadline = stop_deadline
        self._deadline: threading.Timer | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        if not self.started:
            # Nothing consumed yet, so nothing to drain; what a start-up hook left half done is
            # what a crash leaves (every handler and start-up step is idempotent).
            os._exit(128 + sig)
        if self._deadline is None:
            self._deadline = threading.Timer(self._stop_deadline, _give_up, args=(sig, self._stop_deadline))
            self._deadline.daemon = True
            self._deadline.start()


def _give_up(sig: int, seconds: float) -> None:
    logging.getLogger("graceperiod.runtime.worker").error("shutdown took over %.0f s; exiting now", seconds)
    logging.shutdown()
    os._exit(128 + sig)


def serve(
    app: Any,
    settings: ServiceSettings,
    *,
    name: str,
    trusted_proxies: Sequence[str] = (),
    stop_deadline: float = STOP_DEADLINE_SECONDS,
) -> None:
    """Run an ASGI app (worker or gateway) until SIGTERM/SIGINT, logging as configured; the
    process exits at once when the signal comes during start-up, and ``stop_deadline`` seconds
    after it at the latest."""
    configure_logging(settings.log_level, settings.log_format)
    get_logger(f"graceperiod.{name}").info("starting", host=settings.http_host, port=settings.http_port)
    config = server_config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        trusted_proxies=trusted_proxies,
        timeout_graceful_shutdown=20,
    )
    _Server(config, stop_deadline=stop_deadline).run()
