"""Every route is guarded, or public on purpose; the role table has the issue's defaults."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler

from graceperiod.contracts.enums import Permission
from graceperiod.gateway.app import create_app
from graceperiod.gateway.auth.guards import signed_in
from graceperiod.gateway.settings import GatewaySettings

#: Reachable without signing in, and why.
PUBLIC = {
    "/health": "liveness probe",
    "/ready": "readiness probe",
    "/metrics": "Prometheus scrape",
    "/schema/openapi.json": "the published API description",
    "/schema": "the published API description",
    "/schema/{path:str}": "the published API description",
    "/sign-in": "the sign-in page",
    "/sign-in/provider": "starts a sign-in at the identity provider",
    "/sign-in/callback": "the identity provider's answer (state, code) is the authority",
    "/sign-out": "ending a session needs no session",
    "/api/purchases/{purchase_id:str}/revoke": "email links: the token is the authority",
    "/static": "the stylesheet",
    "/dev/token/{user_id:str}": "dev sign-in only",
}


def guard_names(handler: HTTPRouteHandler) -> list[str]:
    """Litestar wraps guards in AsyncCallable; the original is ``.func``."""
    return [getattr(getattr(g, "func", g), "__name__", "") for g in handler.resolve_guards()]


def handlers(app: Litestar) -> list[tuple[str, HTTPRouteHandler]]:
    return [
        (route.path, handler)
        for route in app.routes
        for handler in getattr(route, "route_handlers", [])
        if isinstance(handler, HTTPRouteHandler)
    ]


def test_every_route_is_guarded_or_deliberately_public(make_app: Callable[..., Litestar]) -> None:
    app = make_app(dev_sign_in=True)
    unguarded = set()
    for path, handler in handlers(app):
        names = guard_names(handler)
        if signed_in.__name__ in names or any(n.startswith("requires(") for n in names):
            continue
        unguarded.add(path if not path.startswith("/static") else "/static")
    assert unguarded == set(PUBLIC)


def test_state_changing_api_routes_name_their_permission(make_app: Callable[..., Litestar]) -> None:
    needs = {}
    for path, handler in handlers(make_app()):
        if (
            path.startswith("/api/")
            and not path.endswith("/revoke")
            and handler.http_methods & {"POST", "PUT", "DELETE"}
        ):
            needs[(path, tuple(sorted(handler.http_methods)))] = guard_names(handler)
    unprotected = {route for route, names in needs.items() if not any(n.startswith("requires(") for n in names)}
    assert unprotected == {("/api/session", ("POST",)), ("/api/session", ("DELETE",))}


def test_each_controller_declares_its_own_dependencies(make_app: Callable[..., Litestar]) -> None:
    app = make_app(dev_sign_in=True)
    assert app.dependencies == {}  # no app-wide map: a controller names what its routes use
    for path, handler in handlers(app):
        declared = set(handler.resolve_dependencies())
        if signed_in.__name__ in guard_names(handler) and path.startswith(("/api/", "/accounts", "/purchases")):
            assert "identity" in declared, path


def test_default_role_table_is_the_issues() -> None:
    table = GatewaySettings().role_permissions
    assert set(table["admin"]) == {
        Permission.REVOKE_ANY_PURCHASES,
        Permission.RELEASE_ANY_ACCOUNTS,
        Permission.UPDATE_CONFIG,
    }
    assert table["user"] == [Permission.REVOKE_OWN_PURCHASES]


def test_role_table_is_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_ROLE_PERMISSIONS", '{"auditor": [], "finops": ["revoke-any:purchases"]}')
    assert GatewaySettings().role_permissions == {"auditor": [], "finops": [Permission.REVOKE_ANY_PURCHASES]}


def test_create_app_does_no_io() -> None:
    # No servers exist in unit tests: building the app must not try to reach any.
    app = create_app(GatewaySettings(amqp_url="amqp://nowhere.invalid:1/", mongodb_url="mongodb://nowhere.invalid:1/"))
    assert app.openapi_schema.openapi == "3.1.0"
    json.dumps(app.openapi_schema.to_schema())  # what `make docs` writes: plain JSON
