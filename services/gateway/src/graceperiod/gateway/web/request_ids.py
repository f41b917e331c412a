"""Request ids and security headers, for every response (errors and 404s included).

The request id is the caller's ``X-Request-ID`` when it is a sane token, else a new one.
It is echoed in the response, bound to every log line of the request, and becomes the
correlation id of every command and query the request sends (see
:class:`~graceperiod.runtime.rpc.RpcClient`), so one id follows an action from the browser
through the services' logs and the events they publish.
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any

import structlog
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType

from graceperiod.runtime.middleware import correlation_scope

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_SCOPE_KEY = "graceperiod.request_id"

#: No script at all (the pages need none), styles only from our own stylesheet, forms only
#: to ourselves, never framed.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'none'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def request_id_of(scope: Scope | dict[str, Any]) -> str:
    """The request's id, decided once per request and kept in the scope."""
    existing = scope.get(_SCOPE_KEY)
    if isinstance(existing, str):
        return existing
    supplied = None
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            supplied = value.decode("latin-1").strip()
            break
    request_id = supplied if supplied and _REQUEST_ID.match(supplied) else uuid.uuid4().hex
    scope[_SCOPE_KEY] = request_id  # type: ignore[literal-required]
    return request_id


class RequestContextMiddleware:
    """Makes the request id the current correlation id and binds it to the logs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        with correlation_scope(request_id), structlog.contextvars.bound_contextvars(request_id=request_id):
            await self.app(scope, receive, send)


def security_headers(*, hsts: bool) -> Any:
    """A ``before_send`` hook adding the request id and the security headers to every response."""
    fixed: list[tuple[bytes, bytes]] = [
        (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        # Email-link URLs carry a token: never leak it (or any path) to another site.
        (b"referrer-policy", b"no-referrer"),
        (b"cross-origin-opener-policy", b"same-origin"),
        (b"cross-origin-resource-policy", b"same-origin"),
        (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), interest-cohort=()"),
    ]
    if hsts:
        fixed.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))

    async def before_send(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        # Raw header tuples (appended, not looked up one by one): this runs for every response.
        raw: list[tuple[bytes, bytes]] = list(message.get("headers") or [])
        names = {name.lower() for name, _ in raw}
        raw.append((b"x-request-id", request_id_of(scope).encode()))
        raw.extend(fixed)
        if b"cache-control" not in names:
            raw.append((b"cache-control", b"no-store"))
        message["headers"] = raw
        if scope.get("method") == "OPTIONS" and b"allow" in names:
            # Litestar 2.25's automatic OPTIONS answer lists only the first handler's methods
            # of a path (GET, not the PUT beside it); list every method the path serves.
            methods = _methods_of(scope)
            if methods:
                MutableScopeHeaders.from_message(message)["Allow"] = ", ".join(methods)

    return before_send


def _methods_of(scope: Scope) -> list[str]:
    template, app = scope.get("path_template"), scope.get("litestar_app")
    if not template or app is None:
        return []
    for route in app.routes:
        if template in (route.path_format, route.path):
            return sorted(getattr(route, "methods", ()))
    return []
