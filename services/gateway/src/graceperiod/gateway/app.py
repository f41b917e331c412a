"""Composition root of the gateway: builds its collaborators once and lists the feature routers.

``create_app()`` does no I/O (``make docs`` calls it to write the OpenAPI document): the
broker, the database and the key files are touched in the lifespan, at start-up.
Unit tests pass a fake ``clients`` and ``store``; then nothing external is touched at all.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta
from typing import Any

from litestar import Litestar, Router
from litestar.datastructures import CacheControlHeader
from litestar.middleware import DefineMiddleware
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.plugins.pydantic import PydanticPlugin
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig

from graceperiod.gateway.audit import AuditTrail
from graceperiod.gateway.auth.bearer import Trust
from graceperiod.gateway.auth.controllers import DevTokenController, IdentityController
from graceperiod.gateway.auth.pages import SignInPages
from graceperiod.gateway.auth.session import SessionStore
from graceperiod.gateway.auth.setup import Authentication
from graceperiod.gateway.clients import ServiceClients
from graceperiod.gateway.configuration.controllers import SettingsController
from graceperiod.gateway.configuration.pages import SettingsPages
from graceperiod.gateway.configuration.service import SettingsService
from graceperiod.gateway.connections import Connections
from graceperiod.gateway.links.pages import LinkPages
from graceperiod.gateway.links.service import LinkService
from graceperiod.gateway.pool.controllers import PoolController
from graceperiod.gateway.pool.pages import PoolPages
from graceperiod.gateway.pool.service import PoolService
from graceperiod.gateway.purchases.controllers import PurchasesController
from graceperiod.gateway.purchases.pages import PurchasePages
from graceperiod.gateway.purchases.service import PurchaseService
from graceperiod.gateway.settings import GatewaySettings
from graceperiod.gateway.store import LinkStore, purge_forever
from graceperiod.gateway.system.controllers import MetricsController, Readiness, SystemController, metrics
from graceperiod.gateway.web.collaborators import collaborators_state
from graceperiod.gateway.web.openapi import ClosedRequestBodies, DecimalAsString, openapi_config
from graceperiod.gateway.web.problems import handle_exception
from graceperiod.gateway.web.query_string import StrictQueryStringMiddleware
from graceperiod.gateway.web.request_ids import RequestContextMiddleware
from graceperiod.gateway.web.security_headers import security_headers
from graceperiod.gateway.web.templates import STATIC, template_engine
from graceperiod.runtime.clock import Clock, SystemClock
from graceperiod.runtime.link_tokens import LinkTokenVerifier
from graceperiod.runtime.logs import get_logger
from graceperiod.runtime.signing_keys import PublicKeys
from graceperiod.runtime.tasks import cancel_and_wait
from graceperiod.runtime.tracing import Tracing
from graceperiod.runtime.worker import serve

log = get_logger("graceperiod.gateway")

Lifespan = Callable[[Litestar], AbstractAsyncContextManager[None]]


def create_app(
    settings: GatewaySettings | None = None,
    *,
    clients: ServiceClients | None = None,
    store: LinkStore | None = None,
    clock: Clock | None = None,
    link_keys: PublicKeys | None = None,
    bearer_trusts: Sequence[Trust] | None = None,
    sessions: SessionStore | None = None,
    tracing: Tracing | None = None,
) -> Litestar:
    """``store`` and ``sessions`` default to the gateway's MongoDB database; a caller passing
    its own ``store`` passes its own ``sessions`` too."""
    settings = settings or GatewaySettings()
    clock = clock or SystemClock()
    tracing = tracing or Tracing.for_service(settings, "gateway")
    connections = Connections(settings, clients=clients, store=store, sessions=sessions, tracing=tracing)
    auth = Authentication(settings, clock, connections.sessions, bearer_trusts)
    verifier = LinkTokenVerifier(link_keys or PublicKeys(), clock=clock, leeway_seconds=settings.link_leeway_seconds)
    audit = AuditTrail(connections.store, clock)
    purchases = PurchaseService(connections.clients, audit, clock)
    margin = timedelta(hours=settings.link_record_margin_hours)
    return Litestar(
        route_handlers=routes(settings, dev_tokens=auth.signer is not None),
        state=collaborators_state(
            settings,
            verifier,
            auth.sessions,
            *(item for item in (auth.signer, auth.oidc) if item is not None),
            purchases,
            PoolService(connections.clients, audit, clock),
            SettingsService(connections.clients, audit, reapply_bundle_docs=settings.reapply_bundle_docs),
            LinkService(
                purchases, connections.store, clock, record_margin=margin, view_seconds=settings.link_view_seconds
            ),
            Readiness(connections.clients, connections.store),
        ),
        middleware=[
            *tracing.http_middleware(),  # first: the request's span covers everything below
            RequestContextMiddleware,
            StrictQueryStringMiddleware,
            auth.session_middleware,
            auth.identity_middleware,
            metrics().middleware,
            auth.csrf_middleware,
        ],
        before_send=[security_headers(hsts=settings.secure_cookies)],
        exception_handlers={Exception: handle_exception},
        template_config=TemplateConfig(instance=template_engine()),
        # Request bodies are validated strictly: "yes" is not a boolean, "5" is not a number.
        plugins=[DecimalAsString(), ClosedRequestBodies(), PydanticPlugin(validate_strict=True)],
        request_max_body_size=settings.http_max_body_bytes,
        lifespan=[
            lifespan(settings, clock, connections, auth, verifier if link_keys is None else None, tracing=tracing)
        ],
        openapi_config=openapi_config(),
        debug=False,
    )


def routes(settings: GatewaySettings, *, dev_tokens: bool) -> list[Any]:
    """Every feature's controllers; the public pages behind their rate limits."""
    signing_in = rate_limit("sign_in", settings.sign_in_rate_per_minute)
    return [
        SystemController,
        MetricsController,
        Router("/", route_handlers=[SignInPages], middleware=signing_in),
        Router("/", route_handlers=[LinkPages], middleware=rate_limit("public", settings.public_rate_per_minute)),
        create_static_files_router(
            path="/static",
            directories=[STATIC],
            include_in_schema=False,
            cache_control=CacheControlHeader(max_age=3600),
            name="static",
        ),
        IdentityController,
        PurchasesController,
        PurchasePages,
        PoolController,
        PoolPages,
        SettingsController,
        SettingsPages,
        *([Router("/", route_handlers=[DevTokenController], middleware=signing_in)] if dev_tokens else []),
    ]


def rate_limit(name: str, per_minute: int) -> list[DefineMiddleware]:
    """Per client address; 0 turns it off."""
    if per_minute <= 0:
        return []
    return [RateLimitConfig(rate_limit=("minute", per_minute), store=f"rate_limit_{name}").middleware]


def lifespan(
    settings: GatewaySettings,
    clock: Clock,
    connections: Connections,
    auth: Authentication,
    link_verifier: LinkTokenVerifier | None,
    *,
    tracing: Tracing,
) -> Lifespan:
    """Start-up reads the key files (``link_verifier``: the one whose keys come from the
    settings), opens the connections and starts the purge; shutdown stops and closes them."""

    @asynccontextmanager
    async def run(_: Litestar) -> AsyncIterator[None]:
        auth.load_keys()
        if link_verifier is not None:
            link_verifier.keys = settings.link_public_keys()
            if not len(link_verifier.keys):
                log.warning("no email-link public keys configured: every link will be refused")
        await connections.open()
        purgers = [
            asyncio.create_task(
                purge_forever(connections.store.purge, clock, settings.purge_interval_seconds, "links")
            ),
            asyncio.create_task(
                purge_forever(connections.sessions.purge, clock, settings.session_purge_interval_seconds, "sessions")
            ),
        ]
        try:
            yield
        finally:
            for purger in purgers:
                await cancel_and_wait(purger)
            await connections.close()
            tracing.flush()

    return run


def main() -> None:
    settings = GatewaySettings()
    serve(create_app(settings), settings, name="gateway", trusted_proxies=settings.trusted_proxies)
