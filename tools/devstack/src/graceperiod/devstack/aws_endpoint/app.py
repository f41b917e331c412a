"""One WSGI application on one port: the emulated operations, the control API, and moto.

Each AWS request is routed by the service in its SigV4 credential scope (the
``Authorization`` header): operations in :data:`~.operations.HANDLERS` are answered by
the emulator, everything else (SES v2 for the notifier, ...) by moto's server. The caller's
account comes from the access key: keys handed out by the emulated ``sts:AssumeRole``
belong to the role's account, any other key to the vendor account.

The control API under ``/_emulator/`` seeds commitments, sets support plans and roles,
denies actions, injects faults, moves the clock and reads the state and call log.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from graceperiod.devstack.aws_endpoint import cost_and_usage
from graceperiod.devstack.aws_endpoint.operations import (
    HANDLERS,
    AwsError,
    Call,
    seed_reserved_instance,
    seed_reserved_node,
    seed_savings_plan,
)
from graceperiod.devstack.aws_endpoint.state import SUPPORT_PLANS, Emulator, Fault, iam_action
from graceperiod.devstack.aws_endpoint.wire import (
    Reply,
    SigV4Scope,
    access_denied,
    credential_scope,
    error,
    new_request_id,
    parse_form,
    parse_iso,
    server_error,
    service_model,
    success,
    throttle_error,
)

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

#: SigV4 signing name → botocore service name, for the services the emulator answers.
EMULATED_SERVICES = {
    "savingsplans": "savingsplans",
    "ec2": "ec2",
    "support": "support",
    "sts": "sts",
    "rds": "rds",
    "elasticache": "elasticache",
    "redshift": "redshift",
    "memorydb": "memorydb",
    "es": "opensearch",
    "ce": "ce",
}

#: Every emulated operation: the emulator's own and Cost Explorer's (:mod:`.cost_and_usage`).
_HANDLERS = {**HANDLERS, **cost_and_usage.HANDLERS}

_REST_OPERATIONS = {
    ("savingsplans", "/DescribeSavingsPlans"): "DescribeSavingsPlans",
    ("savingsplans", "/ReturnSavingsPlan"): "ReturnSavingsPlan",
    ("savingsplans", "/DeleteQueuedSavingsPlan"): "DeleteQueuedSavingsPlan",
    ("opensearch", "/2021-01-01/opensearch/reservedInstances"): "DescribeReservedInstances",
}


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, set):
        return sorted(value)
    raise TypeError(type(value).__name__)


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data, default=_json_default), status, content_type="application/json")


class AwsEndpointApp:
    def __init__(self, emulator: Emulator, fallback: WsgiApp) -> None:
        self.emulator = emulator
        self.fallback = fallback
        self.routes = Map(
            [
                Rule("/_emulator/health", endpoint="health", methods=["GET"]),
                Rule("/_emulator/reset", endpoint="reset", methods=["POST"]),
                Rule("/_emulator/state", endpoint="state", methods=["GET"]),
                Rule("/_emulator/clock", endpoint="clock", methods=["GET", "POST"]),
                Rule("/_emulator/config", endpoint="config", methods=["POST"]),
                Rule("/_emulator/faults", endpoint="faults", methods=["GET", "POST", "DELETE"]),
                Rule("/_emulator/calls", endpoint="calls", methods=["GET"]),
                Rule("/_emulator/accounts/<account_id>", endpoint="account", methods=["GET", "PUT"]),
                Rule("/_emulator/accounts/<account_id>/savings-plans", endpoint="savings_plans", methods=["POST"]),
                Rule(
                    "/_emulator/accounts/<account_id>/reserved-instances",
                    endpoint="reserved_instances",
                    methods=["POST"],
                ),
                Rule("/_emulator/accounts/<account_id>/reserved-nodes", endpoint="reserved_nodes", methods=["POST"]),
                Rule("/_emulator/accounts/<account_id>/cases/<case_id>", endpoint="case", methods=["PATCH"]),
                Rule("/_emulator/costs/<account_id>", endpoint="costs", methods=["GET", "POST", "DELETE"]),
                Rule("/_emulator/costs/<account_id>/usage", endpoint="usage", methods=["POST"]),
            ]
        )

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        if request.path.startswith("/_emulator/"):
            return self._control(request)(environ, start_response)
        scope = credential_scope(request.headers.get("Authorization"))
        service = EMULATED_SERVICES.get(scope.service) if scope else None
        if scope is not None and service is not None:
            body = request.get_data(cache=True)
            operation, params = _decode(service, request, body)
            if operation is not None and (service, operation) in _HANDLERS:
                reply = self._emulate(service, operation, scope, request, params)
                return Response(reply.body, reply.status, headers=reply.headers)(environ, start_response)
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
        return self.fallback(environ, start_response)

    # --- the emulated AWS operations ----------------------------------------------------------

    def _emulate(
        self,
        service: str,
        operation: str,
        scope: SigV4Scope,
        request: Request,
        params: dict[str, Any],
    ) -> Reply:
        em = self.emulator
        signing, region, access_key = scope.service, scope.region, scope.access_key
        started = time.perf_counter()
        request_id = new_request_id()
        action = iam_action(signing, operation)
        session = em.sessions.get(access_key)
        if session is not None:
            if request.headers.get("X-Amz-Security-Token") != session.token:
                return self._refuse(service, "security token", request_id, action, access_key)
            if em.now() >= session.expires:
                code = {"query": "ExpiredToken", "ec2": "RequestExpired"}.get(
                    service_model(service).protocol, "ExpiredTokenException"
                )
                return error(service, code, "The security token included in the request is expired", 400, request_id)
            account_id, principal = session.account, session.principal
        elif access_key.startswith("ASIA"):
            return self._refuse(service, "access key", request_id, action, access_key)
        else:
            account_id, principal = em.vendor_account, f"arn:aws:iam::{em.vendor_account}:user/{access_key}"

        fault = em.take_fault(account_id, action)
        slow = fault.delay_seconds if fault is not None and fault.kind == "slow-response" else 0.0
        reply = self._fault_or_denial(service, action, account_id, principal, request_id, fault=fault)
        if reply is None:
            handler = _HANDLERS[(service, operation)]
            try:
                with em.lock:
                    account = em.account(account_id)
                    data = handler(Call(em, account, service, operation, region, principal, params))
                reply = success(service, operation, data, request_id)
            except AwsError as exc:
                reply = error(service, exc.code, exc.message, exc.status, request_id)
        em.log_call(
            account=account_id,
            service=service,
            action=action,
            region=region,
            status=reply.status,
            code=_error_code(reply),
            params=params,
            request_id=request_id,
            duration_ms=round((time.perf_counter() - started) * 1000, 3),
        )
        if slow:
            time.sleep(slow)  # the operation took effect (and is logged); the answer is late
        return reply

    def _refuse(self, service: str, what: str, request_id: str, action: str, key: str) -> Reply:
        protocol = service_model(service).protocol
        code = {"query": "InvalidClientTokenId", "ec2": "AuthFailure"}.get(protocol, "UnrecognizedClientException")
        self.emulator.log_call(account=None, service=service, action=action, status=403, code=code, key=key)
        return error(service, code, f"The {what} included in the request is invalid.", 403, request_id)

    def _fault_or_denial(
        self, service: str, action: str, account_id: str, principal: str, request_id: str, *, fault: Fault | None
    ) -> Reply | None:
        em = self.emulator
        if fault is not None and fault.kind != "slow-response":
            if fault.delay_seconds:
                time.sleep(fault.delay_seconds)
            if fault.kind == "throttle":
                code, status = throttle_error(service)
                return error(service, code, fault.message or "Rate exceeded", status, request_id)
            if fault.kind == "server-error":
                code, status = server_error(service)
                return error(service, code, fault.message or "Internal failure", status, request_id, sender=False)
            if fault.kind == "error":
                return error(
                    service,
                    fault.code or "InternalFailure",
                    fault.message or "Injected",
                    fault.status or 400,
                    request_id,
                )
        if action != "sts:AssumeRole" and action in em.account(account_id).denied:
            code, status, message = access_denied(service, action, principal)
            return error(service, code, message, status, request_id)
        return None

    # --- control API --------------------------------------------------------------------------------

    def _control(self, request: Request) -> Response:
        try:
            endpoint, args = self.routes.bind_to_environ(request.environ).match()
            handler = getattr(self, f"_control_{endpoint}")
            return handler(request, **args)  # type: ignore[no-any-return]
        except NotFound:
            return _json({"error": f"no control route {request.method} {request.path}"}, 404)
        except HTTPException as exc:
            return _json({"error": str(exc)}, exc.code or 400)
        except (KeyError, ValueError, TypeError) as exc:
            return _json({"error": f"{type(exc).__name__}: {exc}"}, 400)

    def _control_health(self, request: Request) -> Response:
        return _json({"ok": True, "now": self.emulator.now()})

    def _control_reset(self, request: Request) -> Response:
        self.emulator.reset()
        return _json({"ok": True})

    def _control_state(self, request: Request) -> Response:
        with self.emulator.lock:
            accounts = [self.emulator.account(a).describe() for a in list(self.emulator.accounts)]
        return _json(
            {"now": self.emulator.now(), "accounts": accounts, "faults": [vars(f) for f in self.emulator.faults]}
        )

    def _control_clock(self, request: Request) -> Response:
        if request.method == "POST":
            spec = request.get_json(force=True)
            self.emulator.set_clock(
                now=parse_iso(spec["now"]) if spec.get("now") else None,
                offset_seconds=spec.get("offset_seconds"),
                real=bool(spec.get("real")),
            )
        return _json({"now": self.emulator.now(), "frozen": self.emulator.clock.frozen})

    def _control_config(self, request: Request) -> Response:
        spec = request.get_json(force=True)
        if "return_delay_seconds" in spec:
            from datetime import timedelta  # noqa: PLC0415

            self.emulator.return_delay = timedelta(seconds=float(spec["return_delay_seconds"]))
        return _json({"return_delay_seconds": self.emulator.return_delay.total_seconds()})

    def _control_faults(self, request: Request) -> Response:
        em = self.emulator
        if request.method == "DELETE":
            with em.lock:
                em.faults.clear()
        elif request.method == "POST":
            spec = request.get_json(force=True)
            kind = spec.get("kind", "throttle")
            if kind not in ("throttle", "server-error", "error", "delay", "slow-response"):
                return _json({"error": f"unknown fault kind {kind!r}"}, 400)
            fault = Fault(
                action=spec["action"],
                account=spec.get("account"),
                remaining=int(spec.get("count", 1)),
                kind=kind,
                code=spec.get("code"),
                status=spec.get("status"),
                message=spec.get("message"),
                delay_seconds=float(spec.get("delay_seconds", 0)),
            )
            with em.lock:
                em.faults.append(fault)
        return _json({"faults": [vars(f) for f in em.faults]})

    def _control_calls(self, request: Request) -> Response:
        account, action = request.args.get("account"), request.args.get("action")
        with self.emulator.lock:
            calls = [
                c
                for c in self.emulator.calls
                if (account is None or c.get("account") == account) and (action is None or c.get("action") == action)
            ]
        return _json({"calls": calls})

    def _control_account(self, request: Request, account_id: str) -> Response:
        em = self.emulator
        with em.lock:
            account = em.account(account_id)
            if request.method == "PUT":
                spec = request.get_json(force=True)
                if "support_plan" in spec:
                    if spec["support_plan"] not in SUPPORT_PLANS:
                        return _json({"error": f"support_plan must be one of {sorted(SUPPORT_PLANS)}"}, 400)
                    account.support_plan = spec["support_plan"]
                if "roles" in spec:
                    account.roles = dict(spec["roles"])
                if "denied_actions" in spec:
                    account.denied = set(spec["denied_actions"])
                if "billing_categories" in spec:
                    account.billing_categories = spec["billing_categories"]
                if "return_quota_used" in spec:
                    account.return_quota_used = int(spec["return_quota_used"])
            return _json(account.describe())

    def _control_savings_plans(self, request: Request, account_id: str) -> Response:
        em = self.emulator
        with em.lock:
            return _json(seed_savings_plan(em, em.account(account_id), request.get_json(force=True)), 201)

    def _control_reserved_instances(self, request: Request, account_id: str) -> Response:
        em = self.emulator
        with em.lock:
            return _json(seed_reserved_instance(em, em.account(account_id), request.get_json(force=True)), 201)

    def _control_reserved_nodes(self, request: Request, account_id: str) -> Response:
        em = self.emulator
        with em.lock:
            return _json(seed_reserved_node(em, em.account(account_id), request.get_json(force=True)), 201)

    def _control_costs(self, request: Request, account_id: str) -> Response:
        em = self.emulator
        if request.method == "POST":
            return _json(
                cost_and_usage.seed_lines(em.costs, account_id, request.get_json(force=True), now=em.now()), 201
            )
        if request.method == "DELETE":
            em.costs.clear(account_id)
        return _json(cost_and_usage.describe(em.costs, account_id, now=em.now()))

    def _control_usage(self, request: Request, account_id: str) -> Response:
        em = self.emulator
        return _json(cost_and_usage.seed_usage(em.costs, account_id, request.get_json(force=True), now=em.now()), 201)

    def _control_case(self, request: Request, account_id: str, case_id: str) -> Response:
        em = self.emulator
        with em.lock:
            case = em.account(account_id).cases.get(case_id)
            if case is None:
                return _json({"error": f"no case {case_id} in account {account_id}"}, 404)
            case.update({k: v for k, v in request.get_json(force=True).items() if k in ("status", "severityCode")})
            return _json(case)


def _decode(service: str, request: Request, body: bytes) -> tuple[str | None, dict[str, Any]]:
    protocol = service_model(service).protocol
    if protocol in ("query", "ec2"):
        params = parse_form(body)
        return params.get("Action"), params
    if protocol == "json":
        target = request.headers.get("X-Amz-Target", "")
        return target.rsplit(".", 1)[-1] or None, json.loads(body or b"{}")
    operation = _REST_OPERATIONS.get((service, request.path))
    if request.method == "GET":
        return operation, dict(request.args)
    return operation, json.loads(body or b"{}")


def _error_code(reply: Reply) -> str | None:
    if reply.status < 300:
        return None
    if "x-amzn-ErrorType" in reply.headers:
        return reply.headers["x-amzn-ErrorType"]
    text = reply.body.decode(errors="replace")
    if text.startswith("{"):
        return str(json.loads(text).get("__type"))
    start = text.find("<Code>")
    return text[start + 6 : text.find("</Code>")] if start >= 0 else None
