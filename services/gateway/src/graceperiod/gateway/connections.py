"""The gateway's connections to the outside: the services over RabbitMQ RPC, and its own
MongoDB database (consumed links and the audit, session records). Built without I/O
(``make docs`` builds the app to write the OpenAPI document); opened at start-up, closed at
shutdown. Tests pass fakes of the ports instead."""

from __future__ import annotations

from pymongo import AsyncMongoClient

from graceperiod.gateway.auth.session import SessionStore
from graceperiod.gateway.auth.session_store import MongoSessionStore
from graceperiod.gateway.clients import RpcServiceClients, ServiceClients
from graceperiod.gateway.settings import GatewaySettings
from graceperiod.gateway.store import LinkStore, MongoGatewayStore
from graceperiod.runtime.actor_assertions import AssertionSigner
from graceperiod.runtime.mongo import Document, create_mongo_client
from graceperiod.runtime.rpc import RpcClient
from graceperiod.runtime.signing_keys import KeyConfigurationError
from graceperiod.runtime.tracing import Tracing


class Connections:
    def __init__(
        self,
        settings: GatewaySettings,
        *,
        clients: ServiceClients | None,
        store: LinkStore | None,
        sessions: SessionStore | None,
        tracing: Tracing | None = None,
    ) -> None:
        """``store`` and ``sessions`` default to the gateway's MongoDB database; a caller passing
        its own ``store`` passes its own ``sessions`` too."""
        self._mongo: AsyncMongoClient[Document] | None = None
        self._rpc: RpcClient | None = None
        self._assertion_keys = settings.assertion_keys_dir
        if clients is None:
            rpc = self._rpc = RpcClient(
                settings.broker_url,
                app_id="gateway",
                connect_timeout=min(3.0, settings.query_timeout_seconds),
                tracing=tracing,
            )
            clients = RpcServiceClients(
                rpc,
                query_timeout=settings.query_timeout_seconds,
                command_timeout=settings.command_timeout_seconds,
                export_timeout=settings.export_page_timeout_seconds,
            )
        if (store is None) != (sessions is None):
            msg = "create_app: pass both store= and sessions=, or neither"
            raise TypeError(msg)
        if store is None or sessions is None:
            self._mongo = create_mongo_client(
                settings.mongodb_url,
                appname="graceperiod-gateway",
                server_selection_timeout_ms=settings.mongodb_server_selection_timeout_ms,
                tracing=tracing,
            )
            database = self._mongo[settings.mongodb_database]
            store, sessions = MongoGatewayStore(database), MongoSessionStore(database)
        self.clients: ServiceClients = clients
        self.store: LinkStore = store
        self.sessions: SessionStore = sessions

    async def open(self) -> None:
        if self._rpc is not None:
            # Every command and query is signed; the services refuse unsigned ones.
            if self._assertion_keys is None:
                msg = (
                    "GATEWAY_ASSERTION_KEYS_DIR is not set: the services would refuse every request (docs/security.md)"
                )
                raise KeyConfigurationError(msg)
            self._rpc.signer = AssertionSigner.from_directory(self._assertion_keys)
        for store in (self.store, self.sessions):
            if isinstance(store, MongoGatewayStore | MongoSessionStore):
                await store.ensure_indexes()

    async def close(self) -> None:
        await self.clients.close()
        if self._mongo is not None:
            await self._mongo.close()
