"""Composition root of the gateway: the Litestar app factory.

``create_app()`` does no I/O (``make docs`` calls it to write the OpenAPI document): the
broker, the database and the key files are touched in the lifespan, at start-up.
Unit tests pass a fake ``clients`` and ``store``; then nothing external is touched at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar import Litestar, Request, Router
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import CacheControlHeader
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.middleware.session.client_side import CookieBackendConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.plugins.prometheus import PrometheusConfig
from litestar.plugins.pydantic import PydanticPlugin
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig
from pymongo import AsyncMongoClient

from graceperiod.gateway import explain
from graceperiod.gateway.auth.bearer import (
    BearerVerifier,
    ClaimNames,
    DevTokenSigner,
    JwksKeys,
    MappedIssuer,
    StaticKeys,
    Trust,
)
from graceperiod.gateway.auth.guards import identity_of, signed_in
from graceperiod.gateway.auth.identity import Identity
from graceperiod.gateway.auth.middleware import CsrfUnlessBearer, IdentityMiddleware
from graceperiod.gateway.auth.oidc import OidcClient
from graceperiod.gateway.auth.pages import SignInPages
from graceperiod.gateway.auth.session import SessionStore
from graceperiod.gateway.auth.session_store import MongoSessionStore
from graceperiod.gateway.auth.sign_in import Sessions
from graceperiod.gateway.clients import RpcServiceClients, ServiceClients
from graceperiod.gateway.configuration.controllers import AccountController, DevTokenController, SessionController
from graceperiod.gateway.links.pages import LinkPages
from graceperiod.gateway.links.tokens import LinkKeys, LinkTokenVerifier
from graceperiod.gateway.pool.controllers import PoolController
from graceperiod.gateway.purchases.controllers import PurchasesController
from graceperiod.gateway.purchases.pages import DashboardPages
from graceperiod.gateway.purchases.service import Actions
from graceperiod.gateway.settings import GatewaySettings
from graceperiod.gateway.store import LinkStore, MongoGatewayStore
from graceperiod.gateway.system.controllers import MetricsController, SystemController
from graceperiod.gateway.web.openapi import ClosedRequestBodies, DecimalAsString
from graceperiod.gateway.web.problems import handle_exception
from graceperiod.gateway.web.query_string import StrictQueryStringMiddleware
from graceperiod.gateway.web.request_ids import RequestContextMiddleware
from graceperiod.gateway.web.security_headers import security_headers
from graceperiod.runtime.clock import Clock, SystemClock
from graceperiod.runtime.logs import get_logger
from graceperiod.runtime.messaging import build_broker, declare_topology
from graceperiod.runtime.mongo import Document, create_mongo_client
from graceperiod.runtime.rpc import RpcClient
from graceperiod.runtime.worker import VERSION, serve

log = get_logger("graceperiod.gateway")

PACKAGE = Path(__file__).parent
TEMPLATES = PACKAGE / "templates"
STATIC = PACKAGE / "static"


def template_engine() -> JinjaTemplateEngine:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["iso"] = explain.iso
    env.filters["money"] = explain.money
    env.globals["remaining"] = explain.remaining
    env.globals["phase_label"] = lambda phase: explain.PHASE_LABELS.get(phase, str(phase))
    return JinjaTemplateEngine.from_environment(env)


def _load_link_keys(settings: GatewaySettings) -> LinkKeys:
    keys = LinkKeys()
    if settings.link_public_keys_dir is not None:
        keys = keys.merged(LinkKeys.from_pem_dir(settings.link_public_keys_dir))
    if settings.link_jwks_file is not None:
        keys = keys.merged(LinkKeys.from_jwks_file(settings.link_jwks_file))
    return keys


class _DeferredKeys(StaticKeys):
    """The static API-token key, read from its file at start-up (not in create_app)."""

    def __init__(self) -> None:
        super().__init__({})

    def load(self, path: Path) -> None:
        loaded = StaticKeys.from_pem(path.read_bytes())
        self._keys, self._any_kid = loaded._keys, loaded._any_kid


def _identity(
    settings: GatewaySettings, clock: Clock, bearer_trusts: Sequence[Trust] | None
) -> tuple[DevTokenSigner | None, _DeferredKeys, BearerVerifier]:
    signer = DevTokenSigner(audience=settings.auth_audience, clock=clock) if settings.dev_sign_in else None
    static_key = _DeferredKeys()
    trusts: list[Trust] = list(bearer_trusts or [])
    if bearer_trusts is None and settings.auth_issuer:
        if settings.auth_jwks_url:
            jwks = JwksKeys(settings.auth_jwks_url, cache_seconds=settings.auth_jwks_cache_seconds)
            trusts.append(Trust(settings.auth_issuer, jwks))
        if settings.auth_public_key_file:
            trusts.append(Trust(settings.auth_issuer, static_key))
    if signer is not None:
        trusts.append(signer.trust())
    verifier = BearerVerifier(
        trusts,
        audience=settings.auth_audience,
        algorithms=settings.auth_algorithms,
        role_permissions=settings.role_permissions,
        clock=clock,
        leeway_seconds=settings.auth_leeway_seconds,
        claims=ClaimNames(settings.auth_email_claim, settings.auth_name_claim, settings.auth_roles_claim),
        mapped=MappedIssuer(settings.oidc_issuer, settings.oidc_role_claims, settings.oidc_role_mapping)
        if settings.oidc_issuer
        else None,
    )
    return signer, static_key, verifier


def _openapi() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="Grace Period gateway",
        version=VERSION,
        description=(
            "JSON API for the Grace Period frontend. Authenticate with `Authorization: Bearer <JWT>` "
            "(issued by the configured identity provider), or with the dashboard's session cookie plus "
            "the `X-CSRFToken` header on writes. Errors are RFC 9457 problem details "
            "(`application/problem+json`) with a human `detail` and the `request_id` to quote. "
            "The email-link pages (`/api/purchases/{id}/revoke?token=…`) are HTML and documented in "
            "docs/gateway.md."
        ),
        path="/schema",
        render_plugins=[JsonRenderPlugin()],
        components=Components(
            security_schemes={
                "BearerToken": SecurityScheme(
                    type="http",
                    scheme="bearer",
                    bearer_format="JWT",
                    description=(
                        "`Authorization: Bearer <JWT>`. Any other Authorization header (another scheme, no "
                        "token, a token that is not a well-formed, valid and unexpired JWT of a trusted issuer) "
                        "is answered 401 with problem details and a `WWW-Authenticate: Bearer` challenge, "
                        "even where a session cookie is also sent. `/health` and `/ready` ignore the header."
                    ),
                ),
                "SessionCookie": SecurityScheme(type="apiKey", name="gp_session", security_scheme_in="cookie"),
            }
        ),
    )


def _route_handlers(settings: GatewaySettings, *, dev_tokens: bool) -> list[Any]:
    handlers: list[Any] = [
        SystemController,
        MetricsController,
        Router("/", route_handlers=[SignInPages], middleware=_rate_limit("sign_in", settings.sign_in_rate_per_minute)),
        Router("/", route_handlers=[LinkPages], middleware=_rate_limit("public", settings.public_rate_per_minute)),
        create_static_files_router(
            path="/static",
            directories=[STATIC],
            include_in_schema=False,
            cache_control=CacheControlHeader(max_age=3600),
            name="static",
        ),
        Router(
            "/",
            route_handlers=[PurchasesController, PoolController, AccountController, SessionController],
            guards=[signed_in],
            security=[{"BearerToken": []}, {"SessionCookie": []}],
        ),
        Router("/", route_handlers=[DashboardPages], guards=[signed_in]),
    ]
    if dev_tokens:
        handlers.append(
            Router(
                "/",
                route_handlers=[DevTokenController],
                middleware=_rate_limit("sign_in", settings.sign_in_rate_per_minute),
            )
        )
    return handlers


def create_app(
    settings: GatewaySettings | None = None,
    *,
    clients: ServiceClients | None = None,
    store: LinkStore | None = None,
    clock: Clock | None = None,
    link_keys: LinkKeys | None = None,
    bearer_trusts: Sequence[Trust] | None = None,
    sessions: SessionStore | None = None,
) -> Litestar:
    """``store`` and ``sessions`` default to the gateway's MongoDB database; a caller passing
    its own ``store`` passes its own ``sessions`` too."""
    settings = settings or GatewaySettings()
    clock = clock or SystemClock()
    process_secret = os.urandom(32)

    broker = None
    if clients is None:
        broker = build_broker(settings, app_id="gateway")
        clients = RpcServiceClients(
            RpcClient(settings.amqp_url, app_id="gateway", connect_timeout=min(3.0, settings.query_timeout_seconds)),
            query_timeout=settings.query_timeout_seconds,
            command_timeout=settings.command_timeout_seconds,
        )
    storage = _Storage.of(settings, store, sessions)
    service_clients, link_store = clients, storage.links
    signed_in_sessions = Sessions(
        storage.sessions,
        clock=clock,
        max_age=timedelta(seconds=settings.session_max_age_seconds),
        role_permissions=settings.role_permissions,
        role_mapping=settings.oidc_role_mapping,
    )
    oidc = OidcClient(settings, clock=clock) if settings.oidc_enabled else None

    signer, static_key, verifier = _identity(settings, clock, bearer_trusts)
    link_verifier = LinkTokenVerifier(link_keys or LinkKeys(), clock=clock, leeway_seconds=settings.link_leeway_seconds)
    actions = Actions(service_clients, link_store, clock)

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        if settings.auth_public_key_file and bearer_trusts is None:
            static_key.load(settings.auth_public_key_file)
        if link_keys is None:
            link_verifier.keys = _load_link_keys(settings)
            if not len(link_verifier.keys):
                log.warning("no email-link public keys configured: every link will be refused")
        if settings.auth_issuer is None and (settings.auth_jwks_url or settings.auth_public_key_file):
            log.warning("GATEWAY_AUTH_ISSUER is not set: API tokens are refused")
        if broker is not None:
            await broker.connect()
            await declare_topology(broker)  # so commands are routable before their service starts
            await broker.stop()
        await storage.ensure_indexes()
        if oidc is not None:
            oidc.load_keys()
        purgers = [
            asyncio.create_task(_purge_forever(link_store.purge, clock, settings.purge_interval_seconds, "links")),
            asyncio.create_task(
                _purge_forever(storage.sessions.purge, clock, settings.session_purge_interval_seconds, "sessions")
            ),
        ]
        try:
            yield
        finally:
            for purger in purgers:
                purger.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await purger
            await service_clients.close()
            await storage.close()

    def provide_identity(request: Request[Any, Any, Any]) -> Identity:
        identity = identity_of(request)
        assert identity is not None, "routes needing an identity carry the signed_in guard"
        return identity

    def constant(value: Any) -> Provide:
        return Provide(lambda: value, use_cache=True, sync_to_thread=False)

    session_config = CookieBackendConfig(
        secret=settings.derived_key("session", process_secret),
        key="gp_session",
        max_age=settings.session_max_age_seconds,
        secure=settings.secure_cookies,
        httponly=True,
        samesite="lax",
    )
    csrf_config = CSRFConfig(
        secret=settings.derived_key("csrf", process_secret).hex(),
        cookie_name="gp_csrf",
        cookie_secure=settings.secure_cookies,
        cookie_httponly=True,
        cookie_samesite="lax",
    )
    prometheus = PrometheusConfig(
        app_name="gateway", prefix="graceperiod_gateway", group_path=True, exclude=["/metrics", "/static"]
    )

    return Litestar(
        route_handlers=_route_handlers(settings, dev_tokens=signer is not None),
        dependencies={
            "actions": constant(actions),
            "settings": constant(settings),
            "verifier": constant(link_verifier),
            "signer": constant(signer),
            "sessions": constant(signed_in_sessions),
            "oidc": constant(oidc),
            "identity": Provide(provide_identity, sync_to_thread=False),
        },
        middleware=[
            RequestContextMiddleware,
            StrictQueryStringMiddleware,
            session_config.middleware,
            DefineMiddleware(IdentityMiddleware, verifier=verifier, sessions=signed_in_sessions),
            prometheus.middleware,
            DefineMiddleware(CsrfUnlessBearer, config=csrf_config),
        ],
        before_send=[security_headers(hsts=settings.secure_cookies)],
        exception_handlers={Exception: handle_exception},
        template_config=TemplateConfig(instance=template_engine()),
        # Request bodies are validated strictly: "yes" is not a boolean, "5" is not a number.
        plugins=[DecimalAsString(), ClosedRequestBodies(), PydanticPlugin(validate_strict=True)],
        request_max_body_size=settings.http_max_body_bytes,
        lifespan=[lifespan],
        openapi_config=_openapi(),
        debug=False,
    )


@dataclass
class _Storage:
    """The gateway's own database: consumed links and audit, session records. Callers may
    pass their own stores (the unit tests' fakes); else both live in MongoDB."""

    links: LinkStore
    sessions: SessionStore
    mongo: AsyncMongoClient[Document] | None = None

    @classmethod
    def of(cls, settings: GatewaySettings, links: LinkStore | None, sessions: SessionStore | None) -> _Storage:
        if links is not None and sessions is not None:
            return cls(links, sessions)
        if links is not None or sessions is not None:
            msg = "create_app: pass both store= and sessions=, or neither"
            raise TypeError(msg)
        mongo = create_mongo_client(
            settings.mongodb_url,
            appname="graceperiod-gateway",
            server_selection_timeout_ms=settings.mongodb_server_selection_timeout_ms,
        )
        database = mongo[settings.mongodb_database]
        return cls(MongoGatewayStore(database), MongoSessionStore(database), mongo)

    async def ensure_indexes(self) -> None:
        for store in (self.links, self.sessions):
            if isinstance(store, MongoGatewayStore | MongoSessionStore):
                await store.ensure_indexes()

    async def close(self) -> None:
        if self.mongo is not None:
            await self.mongo.close()


def _rate_limit(name: str, per_minute: int) -> list[DefineMiddleware]:
    if per_minute <= 0:
        return []
    return [RateLimitConfig(rate_limit=("minute", per_minute), store=f"rate_limit_{name}").middleware]


async def _purge_forever(purge: Callable[..., Awaitable[int]], clock: Clock, interval: float, what: str) -> None:
    """Forget records past their retention: consumed links and audit entries, expired
    sessions and used sign-in states (no TTL indexes on FerretDB)."""
    while True:
        try:
            now: datetime = clock.now()
            purged = await purge(now=now)
            if purged:
                log.info("purged expired gateway records", what=what, count=purged)
        except Exception as exc:
            log.warning("purge failed", what=what, error=str(exc))
        await asyncio.sleep(interval)


def main() -> None:
    settings = GatewaySettings()
    serve(create_app(settings), settings, name="gateway")
