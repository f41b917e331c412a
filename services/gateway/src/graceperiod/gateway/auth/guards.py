"""Route guards. Every route of the API and the dashboard carries :func:`signed_in`; those
that act also carry a permission guard. The owning service re-checks every action."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard

from graceperiod.contracts.enums import Permission
from graceperiod.gateway.auth.identity import Identity
from graceperiod.gateway.auth.middleware import bearer_challenge


def identity_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Identity | None:
    user = connection.scope.get("user")
    return user if isinstance(user, Identity) else None


async def signed_in(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    # Async on purpose: Litestar runs synchronous guards in a worker thread.
    if identity_of(connection) is None:
        raise NotAuthorizedException("Sign in, or send an API token, to use this.", headers=bearer_challenge())


def requires(*permissions: Permission) -> Guard:
    """The caller must hold at least one of ``permissions``."""
    names = " or ".join(f"'{p}'" for p in permissions)

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
        await signed_in(connection, handler)
        identity = identity_of(connection)
        if identity is None or not any(identity.can(p) for p in permissions):
            raise PermissionDeniedException(f"This needs the {names} permission, which your role does not grant.")

    guard.__name__ = f"requires({', '.join(permissions)})"
    return guard


REVOKERS = (Permission.REVOKE_ANY_PURCHASES, Permission.REVOKE_OWN_PURCHASES)


def current_identity(request: Request[Any, Any, Any]) -> Identity:
    identity = identity_of(request)
    assert identity is not None, "routes needing an identity carry the signed_in guard"
    return identity


#: The ``identity`` dependency of a controller whose routes carry :func:`signed_in`.
IDENTITY = Provide(current_identity, sync_to_thread=False)
#: How a handler asks for it: ``identity: SignedIn``.
SignedIn = NamedDependency[Identity]
