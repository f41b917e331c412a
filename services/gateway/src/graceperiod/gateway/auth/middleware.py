"""Authentication: puts the caller's :class:`Identity` (or None) into ``scope["user"]``.

* ``Authorization: Bearer <jwt>`` → verified API token; the session cookie is then ignored.
  Any other Authorization header, or a bad token, is answered 401 at once.
* otherwise the session cookie (set by the sign-in) → its server-side session record, read
  on every request (:class:`~graceperiod.gateway.auth.sign_in.Sessions`) → the dashboard's
  identity. A database that cannot be read is a 503, never a silent sign-out.
* otherwise None: anonymous. Guards decide what anonymous callers may reach (401 when
  a route needs someone signed in, 403 when that someone lacks a permission).

Routes marked ``exclude_from_auth=True`` (the liveness and readiness probes) never look at
the caller: whatever Authorization header a proxy or probe adds, they answer as documented.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar.datastructures import Headers
from litestar.enums import ScopeType
from litestar.exceptions import NotAuthorizedException, ServiceUnavailableException
from litestar.middleware.csrf import CSRFMiddleware
from pymongo.errors import PyMongoError

from graceperiod.gateway.auth.bearer import BearerError, BearerVerifier, KeysUnavailable
from graceperiod.gateway.auth.sign_in import Sessions

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Receive, Scope, Send


def bearer_challenge(error: str | None = None) -> dict[str, str]:
    value = 'Bearer realm="graceperiod"'
    if error:
        value += ', error="invalid_token", error_description="' + error.replace('"', "'") + '"'
    return {"WWW-Authenticate": value}


class IdentityMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        verifier: BearerVerifier,
        sessions: Sessions,
    ) -> None:
        self.app = app
        self._verifier = verifier
        self._sessions = sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = scope.get("route_handler")
        if handler is not None and handler.opt.get("exclude_from_auth"):
            scope["user"] = None
            scope["auth"] = None
        elif scope["type"] == ScopeType.HTTP:
            authorization = Headers.from_scope(scope).get("authorization")
            if authorization is not None:
                scope["user"] = await self._bearer(authorization)
                scope["auth"] = "bearer"
            else:
                identity = await self._session(scope.get("session"))
                scope["user"] = identity
                scope["auth"] = "session" if identity else None
        await self.app(scope, receive, send)

    async def _session(self, session: Any) -> Any:
        try:
            return await self._sessions.identity(session if isinstance(session, dict) else None)
        except PyMongoError as exc:
            raise ServiceUnavailableException(
                "Your session cannot be checked right now (the gateway's database is not answering). "
                "Try again in a minute.",
                headers={"Retry-After": "10"},
            ) from exc

    async def _bearer(self, authorization: str) -> Any:
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthorizedException("Use 'Authorization: Bearer <token>'", headers=bearer_challenge())
        try:
            return await self._verifier.verify(token.strip())
        except BearerError as exc:
            raise NotAuthorizedException(
                f"The API token was refused: {exc}", headers=bearer_challenge(str(exc))
            ) from exc
        except KeysUnavailable as exc:
            raise ServiceUnavailableException(
                "API tokens cannot be checked right now: the identity provider's keys are unavailable",
                headers={"Retry-After": "30"},
            ) from exc


class CsrfUnlessBearer(CSRFMiddleware):
    """Litestar's CSRF check (``CSRFConfig``), except for requests carrying an Authorization
    header. A browser never attaches that header by itself, and adding it cross-site needs a
    CORS preflight the gateway never grants, so such requests cannot be forged; and for them
    :class:`IdentityMiddleware` ignores the session cookie. Every cookie-authenticated or
    anonymous state-changing request to a public route stays under the CSRF check.

    An anonymous request to a guarded route also skips it, so the guard answers 401 (not a
    misleading 403 about a form token); it cannot change anything, since every guard of
    this app needs a signed-in caller."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            bearer = any(name == b"authorization" for name, _ in scope["headers"])
            handler = scope.get("route_handler")
            anonymous_to_guarded = scope.get("user") is None and handler is not None and bool(handler.resolve_guards())
            if bearer or anonymous_to_guarded:
                await self.app(scope, receive, send)
                return
        await super().__call__(scope, receive, send)
