"""Composition root of the gateway: the Litestar app factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from faststream.rabbit import RabbitBroker
from litestar import Litestar
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin
from pymongo import AsyncMongoClient

from graceperiod.gateway.settings import GatewaySettings
from graceperiod.gateway.system.controllers import SystemController
from graceperiod.runtime.messaging import build_broker, declare_topology
from graceperiod.runtime.mongo import Document, create_mongo_client
from graceperiod.runtime.worker import VERSION, serve


def create_app(settings: GatewaySettings | None = None) -> Litestar:
    settings = settings or GatewaySettings()
    broker = build_broker(settings, app_id="gateway")
    mongo = create_mongo_client(
        settings.mongodb_url,
        appname="graceperiod-gateway",
        server_selection_timeout_ms=settings.mongodb_server_selection_timeout_ms,
    )

    @asynccontextmanager
    async def messaging(_: Litestar) -> AsyncIterator[None]:
        await broker.connect()
        await declare_topology(broker)
        await broker.start()  # declares the direct reply-to consumer used by RPC
        try:
            yield
        finally:
            await broker.stop()
            await mongo.close()

    async def provide_broker() -> RabbitBroker:
        return broker

    async def provide_mongo() -> AsyncMongoClient[Document]:
        return mongo

    return Litestar(
        route_handlers=[SystemController],
        dependencies={"broker": Provide(provide_broker), "mongo": Provide(provide_mongo)},
        lifespan=[messaging],
        openapi_config=OpenAPIConfig(
            title="Grace Period gateway",
            version=VERSION,
            description="JSON API for the Grace Period frontend, email-link pages and dashboard.",
            path="/schema",
            render_plugins=[ScalarRenderPlugin()],
        ),
    )


def main() -> None:
    settings = GatewaySettings()
    serve(create_app(settings), settings, name="gateway")
