"""Security headers on every response (errors and 404s included), and the request id echoed.

``Cache-Control: no-store`` unless the response sets its own (static assets do).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar.datastructures import MutableScopeHeaders

from graceperiod.gateway.web.request_ids import request_id_of

if TYPE_CHECKING:
    from litestar.types import Message, Scope

#: No script at all (the pages need none), styles only from our own stylesheet, forms only
#: to ourselves, never framed.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'none'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


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
