"""One WSGI application on one port: the emulated operations, the control API, and moto.

Each AWS request is routed by the service in its SigV4 credential scope (the
``Authorization`` header): operations in :data:`~.operations.HANDLERS` are answered by
the emulator, everything else (SES v2 for the notifier, ...) by moto's server. The caller's
account comes from the access key: keys handed out by the emulated ``sts:AssumeRole``
belong to the role's account, any other key to the vendor account.

Before an operation runs: the session (STS keys, expiry on the emulator clock), the Region
(an opt-in Region the account has not enabled refuses the credentials), injected faults, the
account's request rate (:mod:`.rates`), then the actions denied to the account.

The control API under ``/_emulator/`` (:mod:`.control_routes`) seeds commitments, sets
support plans, roles, Regions and organisations, denies actions, sets request rates, injects
faults, moves the clock and reads the state, the call log and the call counts.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Iterable
from functools import cache
from typing import Any

from werkzeug.wrappers import Request, Response

from graceperiod.devstack.aws_endpoint.control_routes import ControlRoutes
from graceperiod.devstack.aws_endpoint.operations import HANDLERS, REGIONAL_SERVICES, AwsError, Call
from graceperiod.devstack.aws_endpoint.purchase_events import PURCHASES, cloudtrail_event, forward
from graceperiod.devstack.aws_endpoint.state import Emulator, Fault, iam_action
from graceperiod.devstack.aws_endpoint.wire import (
    Reply,
    SigV4Scope,
    access_denied,
    credential_scope,
    decode_rest,
    error,
    invalid_token,
    new_request_id,
    parse_form,
    rest_routes,
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
    "account": "account",
    "ce": "ce",
    "organizations": "organizations",
}


@cache
def _emulated_operations(service: str) -> frozenset[str]:
    return frozenset(operation for (name, operation) in HANDLERS if name == service)


class AwsEndpointApp:
    def __init__(self, emulator: Emulator, fallback: WsgiApp) -> None:
        self.emulator = emulator
        self.fallback = fallback
        self.control = ControlRoutes(emulator)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        if request.path.startswith("/_emulator/"):
            return self.control(request)(environ, start_response)
        scope = credential_scope(request.headers.get("Authorization"))
        service = EMULATED_SERVICES.get(scope.service) if scope else None
        if scope is not None and service is not None:
            body = request.get_data(cache=True)
            operation, params = _decode(service, request, body)
            if operation is not None and (service, operation) in HANDLERS:
                reply = self._emulate(service, operation, scope, request, params)
                return Response(reply.body, reply.status, headers=reply.headers)(environ, start_response)
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
        if scope is not None:
            # moto keeps its state in the account the emulator says the caller is in.
            session = self.emulator.sessions.get(scope.access_key)
            environ["HTTP_X_MOTO_ACCOUNT_ID"] = session.account if session else self.emulator.vendor_account
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
        started = time.perf_counter()
        request_id = new_request_id()
        action = iam_action(scope.service, operation)
        identity = self._identify(service, scope, request, request_id, action)
        if isinstance(identity, Reply):
            return identity
        account_id, principal = identity
        fault = em.take_fault(account_id, action)
        slow = fault.delay_seconds if fault is not None and fault.kind == "slow-response" else 0.0
        reply = self._refusal(
            service,
            action,
            account_id=account_id,
            principal=principal,
            region=scope.region,
            request_id=request_id,
            fault=fault,
        )
        if reply is None:
            handler = HANDLERS[(service, operation)]
            try:
                with em.lock:
                    account = em.account(account_id)
                    data = handler(Call(em, account, service, operation, scope.region, principal, params))
                reply = success(service, operation, data, request_id)
                if (service, operation) in PURCHASES:
                    event = cloudtrail_event(
                        em, account, (service, operation), region=scope.region, principal=principal,
                        params=params, response=data, request_id=request_id,
                    )  # fmt: skip
                    forward(em, account, event)
            except AwsError as exc:
                reply = error(service, exc.code, exc.message, exc.status, request_id)
        em.log_call(
            account=account_id,
            service=service,
            action=action,
            region=scope.region,
            status=reply.status,
            code=_error_code(reply),
            params=params,
            request_id=request_id,
            duration_ms=round((time.perf_counter() - started) * 1000, 3),
        )
        if slow:
            time.sleep(slow)  # the operation took effect (and is logged); the answer is late
        return reply

    def _identify(
        self, service: str, scope: SigV4Scope, request: Request, request_id: str, action: str
    ) -> tuple[str, str] | Reply:
        """The caller's (account, principal): keys from the emulated STS carry the role's account,
        any other key is the vendor's own."""
        em = self.emulator
        access_key = scope.access_key
        session = em.sessions.get(access_key)
        if session is not None:
            if request.headers.get("X-Amz-Security-Token") != session.token:
                return self._refuse(service, "security token", request_id, action, access_key)
            if em.now() >= session.expires:
                code = {"query": "ExpiredToken", "ec2": "RequestExpired"}.get(
                    service_model(service).protocol, "ExpiredTokenException"
                )
                return error(service, code, "The security token included in the request is expired", 400, request_id)
            return session.account, session.principal
        if access_key.startswith("ASIA"):
            return self._refuse(service, "access key", request_id, action, access_key)
        return em.vendor_account, f"arn:aws:iam::{em.vendor_account}:user/{access_key}"

    def _refuse(self, service: str, what: str, request_id: str, action: str, key: str) -> Reply:
        code = invalid_token(service)
        self.emulator.log_call(account=None, service=service, action=action, status=403, code=code, key=key)
        return error(service, code, f"The {what} included in the request is invalid.", 403, request_id)

    def _refusal(
        self,
        service: str,
        action: str,
        *,
        account_id: str,
        principal: str,
        region: str,
        request_id: str,
        fault: Fault | None,
    ) -> Reply | None:
        """Why the call does not run, in AWS's order: a Region the account has not enabled, an
        injected fault, the account's request rate, an action denied to the role."""
        em = self.emulator
        if service in REGIONAL_SERVICES and not em.account(account_id).region_enabled(region):
            message = f"The security token included in the request is invalid (Region {region} is not enabled)."
            return error(service, invalid_token(service), message, 401 if service == "ec2" else 403, request_id)
        if fault is not None and fault.kind != "slow-response":
            reply = self._injected(service, fault, request_id)
            if reply is not None:
                return reply
        if not em.rates.allow(account_id, region, action):
            code, status = throttle_error(service)
            return error(service, code, "Rate exceeded", status, request_id)
        if action != "sts:AssumeRole" and action in em.account(account_id).denied:
            code, status, message = access_denied(service, action, principal)
            return error(service, code, message, status, request_id)
        return None

    @staticmethod
    def _injected(service: str, fault: Fault, request_id: str) -> Reply | None:
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
                service, fault.code or "InternalFailure", fault.message or "Injected", fault.status or 400, request_id
            )
        return None


def _decode(service: str, request: Request, body: bytes) -> tuple[str | None, dict[str, Any]]:
    protocol = service_model(service).protocol
    if protocol in ("query", "ec2"):
        params = parse_form(body)
        return params.get("Action"), params
    if protocol == "json":
        target = request.headers.get("X-Amz-Target", "")
        return target.rsplit(".", 1)[-1] or None, json.loads(body or b"{}")
    operation = rest_routes(service, _emulated_operations(service)).get((request.method, request.path))
    if operation is None:
        return None, {}
    return operation, decode_rest(service, operation, request.args, body)


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
