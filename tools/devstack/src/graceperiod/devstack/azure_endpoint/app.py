"""One WSGI application on one HTTPS port: Entra ID's token endpoint, ARM's Reservations API
and the control API.

* ``/<tenant>/oauth2/v2.0/token``, ``/<tenant>/v2.0/.well-known/openid-configuration`` and
  ``/common/discovery/instance``: the identity side (:mod:`.identity`).
* ``/providers/Microsoft.Capacity/...``: ARM. Paths are matched case-insensitively, as ARM does.
  A request is authenticated (401), then meets injected faults (429, 5xx, errors, delays), then
  the ``api-version`` check, then the operation, which checks role assignments (403) before the
  resource (404). Every answer carries ``x-ms-request-id``, ``x-ms-correlation-request-id`` and
  the ``x-ms-ratelimit-remaining-tenant-reads|writes`` counters.
* ``/_emulator/...``: the control API (:mod:`.control_routes`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from werkzeug.wrappers import Request, Response

from graceperiod.devstack.azure_endpoint import identity
from graceperiod.devstack.azure_endpoint.control_routes import ControlRoutes
from graceperiod.devstack.azure_endpoint.operations import ROUTES, ArmCall
from graceperiod.devstack.azure_endpoint.state import (
    AFTER_EFFECT,
    API_VERSION,
    INSTEAD_OF_EFFECT,
    Emulator,
    Fault,
    IssuedToken,
)
from graceperiod.devstack.azure_endpoint.wire import ArmError, Reply, error_body, new_request_id

_TOKEN = re.compile(r"^/(?P<tenant>[^/]+)/oauth2/v2\.0/token$")
_OPENID = re.compile(r"^/(?P<tenant>[^/]+)/v2\.0/\.well-known/openid-configuration$")
_COMPILED = [(name, method, re.compile(f"^{pattern}$"), handler) for name, (method, pattern, handler) in ROUTES.items()]
#: ARM's per-tenant hourly request budgets, reported (not enforced) on every answer.
RATE_LIMITS = {"reads": 12000, "writes": 1200}


class AzureEndpointApp:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.control = ControlRoutes(emulator)
        self._used: dict[tuple[str, str, str], int] = {}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        if request.path.startswith("/_emulator/"):
            return self.control(request)(environ, start_response)
        reply = self._identity(request) or self._arm(request)
        response = Response(reply.encode(), reply.status, headers=reply.headers)
        if reply.body is not None:
            response.content_type = "application/json; charset=utf-8"
        return response(environ, start_response)

    def _base(self, request: Request) -> str:
        return request.host_url.rstrip("/")

    # --- Entra ID ----------------------------------------------------------------------------

    def _identity(self, request: Request) -> Reply | None:
        if request.method == "POST" and (match := _TOKEN.match(request.path)):
            form = dict(parse_qsl(request.get_data(as_text=True)))
            reply = identity.token(self.emulator, match["tenant"], form)
            self.emulator.log_call(
                tenant=match["tenant"], client_id=form.get("client_id"), operation="Token", status=reply.status
            )
            return reply
        if request.method == "GET" and (match := _OPENID.match(request.path)):
            return identity.openid_configuration(match["tenant"], self._base(request))
        if request.method == "GET" and request.path == "/common/discovery/instance":
            return identity.instance_discovery(self._base(request), request.host)
        return None

    # --- ARM -------------------------------------------------------------------------------------

    def _route(self, request: Request) -> tuple[str, dict[str, str], Callable[[ArmCall], Reply]]:
        path = request.path.lower().rstrip("/")
        allowed = False
        for name, method, pattern, handler in _COMPILED:
            match = pattern.match(path)
            if match and method == request.method:
                return name, match.groupdict(), handler
            allowed = allowed or bool(match)
        if allowed:
            raise ArmError(405, "HttpMethodNotSupported", f"The HTTP method '{request.method}' is not supported.")
        raise ArmError(
            404,
            "InvalidResourceType",
            f"The resource type could not be found in the namespace 'Microsoft.Capacity' for api version "
            f"'{request.args.get('api-version')}' (path '{request.path}').",
        )

    def _arm(self, request: Request) -> Reply:
        em = self.emulator
        started = time.perf_counter()
        request_id = new_request_id()
        operation, params, caller = "unknown", dict[str, str](), None
        try:
            operation, params, handler = self._route(request)
            if operation == "Return_Post":
                with em.lock:
                    em.return_posts[params["order_id"]] = em.return_posts.get(params["order_id"], 0) + 1
            with em.lock:
                caller = identity.authenticate(em, request.headers.get("Authorization"))
            fault = em.take_fault(caller.tenant_id, operation)
            if operation == "Return_Post" and fault is not None and fault.kind in INSTEAD_OF_EFFECT:
                with em.lock:
                    order_id = params["order_id"]
                    em.return_posts_faulted[order_id] = em.return_posts_faulted.get(order_id, 0) + 1
            reply = self._faulty(request, handler, caller, params, fault)
        except ArmError as exc:
            reply = exc.reply()
        for name, value in self._headers(request, request_id, caller).items():
            reply.headers.setdefault(name, value)
        em.log_call(
            tenant=caller.tenant_id if caller else None,
            client_id=caller.client_id if caller else None,
            operation=operation,
            method=request.method,
            path=request.path,
            order=params.get("order_id"),
            status=reply.status,
            code=_error_code(reply),
            request_id=request_id,
            duration_ms=round((time.perf_counter() - started) * 1000, 3),
        )
        return reply

    def _faulty(
        self,
        request: Request,
        handler: Callable[[ArmCall], Reply],
        caller: IssuedToken,
        params: dict[str, str],
        fault: Fault | None,
    ) -> Reply:
        """The operation's answer, as the injected fault (if any) shapes it."""
        if fault is None:
            return self._handle(request, handler, caller, params)
        if fault.kind in AFTER_EFFECT:
            reply = self._handle(request, handler, caller, params)  # it takes effect; the answer is lost or late
            time.sleep(fault.delay_seconds)
            if fault.kind == "error-after-effect":
                return Reply(
                    500, error_body("InternalServerError", fault.message or "Encountered internal server error.")
                )
            return reply
        time.sleep(fault.delay_seconds)
        return _fault_reply(fault) or self._handle(request, handler, caller, params)

    def _handle(
        self, request: Request, handler: Callable[[ArmCall], Reply], caller: IssuedToken, params: dict[str, str]
    ) -> Reply:
        version = request.args.get("api-version")
        if not version:
            raise ArmError(
                400,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            )
        if version != API_VERSION:
            raise ArmError(
                400,
                "NoRegisteredProviderFound",
                f"No registered resource provider found for location 'global' and API version '{version}' for type "
                f"'reservationOrders'. The supported api-versions are '{API_VERSION}'.",
            )
        body = request.get_json(silent=True) if request.method == "POST" else None
        if request.method == "POST" and body is None:
            raise ArmError(
                400, "InvalidRequestContent", "The request content was invalid and could not be deserialized."
            )
        call = ArmCall(self.emulator, caller, self._base(request), params, dict(request.args), body)
        with self.emulator.lock:
            return handler(call)

    def _headers(self, request: Request, request_id: str, caller: IssuedToken | None) -> dict[str, str]:
        headers = {
            "x-ms-request-id": request_id,
            "x-ms-correlation-request-id": request.headers.get("x-ms-correlation-request-id") or new_request_id(),
            "x-ms-routing-request-id": f"LOCAL:{request_id}",
        }
        if client_request_id := request.headers.get("x-ms-client-request-id"):
            headers["x-ms-client-request-id"] = client_request_id
        if caller is not None:
            kind = "reads" if request.method == "GET" else "writes"
            hour = self.emulator.now().replace(minute=0, second=0, microsecond=0).isoformat()
            key = (caller.tenant_id, kind, hour)
            with self.emulator.lock:
                self._used[key] = self._used.get(key, 0) + 1
                remaining = RATE_LIMITS[kind] - self._used[key]
            headers[f"x-ms-ratelimit-remaining-tenant-{kind}"] = str(max(remaining, 0))
        return headers


def _fault_reply(fault: Fault) -> Reply | None:
    if fault.kind == "throttle":
        return Reply(
            429,
            error_body(
                "TooManyRequests",
                fault.message
                or "The request is being throttled as the limit has been reached for operation type - "
                "Read_ObservationWindow_00:05:00. For more information, refer to - https://aka.ms/armthrottling",
            ),
            {
                "Retry-After": str(fault.retry_after),
                "x-ms-ratelimit-remaining-tenant-reads": "0",
                "x-ms-ratelimit-remaining-tenant-writes": "0",
            },
        )
    if fault.kind == "server-error":
        return Reply(500, error_body("InternalServerError", fault.message or "Encountered internal server error."))
    if fault.kind == "error":
        return Reply(fault.status or 400, error_body(fault.code or "BadRequest", fault.message or "Injected error."))
    return None  # "delay": answered normally, late


def _error_code(reply: Reply) -> str | None:
    if reply.status < 400 or not isinstance(reply.body, dict):
        return None
    error = reply.body.get("error")
    return str(error.get("code")) if isinstance(error, dict) else None
