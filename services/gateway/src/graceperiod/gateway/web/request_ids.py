"""Request ids, for every request (errors and 404s included).

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
from litestar.enums import ScopeType

from graceperiod.runtime.middleware import correlation_scope

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Receive, Scope, Send

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_SCOPE_KEY = "graceperiod.request_id"


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
