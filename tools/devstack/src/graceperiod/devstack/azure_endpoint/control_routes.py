"""The control API under ``/_emulator/``: seed tenants, principals, billing scopes and
reservation orders, inject faults and return outcomes, move the clock, read the state.

Its client is :class:`~.control.AzureControl`; docs/revocation.md lists the routes.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from werkzeug.wrappers import Request, Response

from graceperiod.devstack.azure_endpoint.refunds import TERM_MONTHS
from graceperiod.devstack.azure_endpoint.state import (
    BUILTIN_ROLES,
    FAULT_KINDS,
    Config,
    Emulator,
    Fault,
    LroPlan,
    Principal,
    Refund,
    Reservation,
    ReservationOrder,
    RoleAssignment,
    new_id,
)
from graceperiod.devstack.azure_endpoint.wire import order_view
from graceperiod.devstack.servers.emulators import ControlApi, json_response, parse_iso

DEFAULT_BILLING_SCOPE = "/providers/Microsoft.Billing/billingAccounts/local/billingProfiles/default"


def _when(value: str | None) -> datetime | None:
    return parse_iso(value) if value else None


def _assignment(spec: dict[str, Any]) -> RoleAssignment:
    role = spec.get("role")
    if role is not None and role not in BUILTIN_ROLES:
        msg = f"unknown role {role!r}; built-in roles: {sorted(BUILTIN_ROLES)}"
        raise ValueError(msg)
    actions = tuple(spec.get("actions") or BUILTIN_ROLES.get(role or "", ()))
    if not actions:
        msg = "a role assignment needs a built-in 'role' or a list of 'actions'"
        raise ValueError(msg)
    return RoleAssignment(scope=spec.get("scope", "/"), actions=actions, role=role)


class ControlRoutes(ControlApi[Emulator]):
    def __init__(self, emulator: Emulator) -> None:
        super().__init__(
            emulator,
            [
                ("/return-plans", "return_plans", ["GET", "POST", "DELETE"]),
                ("/tenants/<tenant_id>", "tenant", ["GET", "PUT"]),
                ("/tenants/<tenant_id>/principals/<client_id>", "principal", ["GET", "PUT", "DELETE"]),
                ("/tenants/<tenant_id>/reservation-orders", "seed_order", ["POST"]),
                ("/billing-scopes", "billing_scope", ["GET", "PUT"]),
                ("/billing-scopes/refunds", "outside_refund", ["POST"]),
                ("/reservation-orders/<order_id>", "order", ["GET", "PATCH"]),
            ],
        )

    refused = (*ControlApi.refused, ArithmeticError)

    def serialised(self) -> AbstractContextManager[object]:
        return self.emulator.lock

    # --- the emulator as a whole ---------------------------------------------------------------

    def _state(self, request: Request) -> Response:
        em = self.emulator
        return json_response(
            {
                "now": em.now(),
                "config": vars(em.config),
                "tenants": [self._tenant_view(t) for t in em.tenants],
                "billing_scopes": [b.describe(em.now()) for b in em.billing_scopes.values()],
                "reservation_orders": [self._order_view(o) for o in list(em.orders)],
                "faults": [vars(f) for f in em.faults],
                "return_plans": [vars(p) for p in em.lro_plans],
            }
        )

    def _config(self, request: Request) -> Response:
        config = self.emulator.config
        if request.method == "POST":
            spec = request.get_json(force=True)
            for name, value in spec.items():
                if name not in vars(Config()):
                    msg = f"unknown setting {name!r}; settings: {sorted(vars(Config()))}"
                    raise ValueError(msg)
                setattr(config, name, type(getattr(Config(), name))(value))
        return json_response(vars(config))

    def _faults(self, request: Request) -> Response:
        em = self.emulator
        if request.method == "DELETE":
            em.faults.clear()
        elif request.method == "POST":
            spec = request.get_json(force=True)
            kind = spec.get("kind", "throttle")
            if kind not in FAULT_KINDS:
                return json_response({"error": f"unknown fault kind {kind!r}; kinds: {sorted(FAULT_KINDS)}"}, 400)
            em.faults.append(
                Fault(
                    operation=spec.get("operation", "*"),
                    tenant=spec.get("tenant"),
                    remaining=int(spec.get("count", 1)),
                    kind=kind,
                    code=spec.get("code"),
                    status=spec.get("status"),
                    message=spec.get("message"),
                    delay_seconds=float(spec.get("delay_seconds", 0)),
                    retry_after=int(spec.get("retry_after", 1)),
                )
            )
        return json_response({"faults": [vars(f) for f in em.faults]})

    def _return_plans(self, request: Request) -> Response:
        em = self.emulator
        if request.method == "DELETE":
            em.lro_plans.clear()
        elif request.method == "POST":
            spec = request.get_json(force=True)
            plan = LroPlan(
                order_id=(spec.get("order_id") or "").lower() or None,
                remaining=int(spec.get("count", 1)),
                polls=spec.get("polls"),
                never=bool(spec.get("never")),
                fail_code=spec.get("fail_code"),
            )
            if spec.get("fail_message"):
                plan.fail_message = spec["fail_message"]
            em.lro_plans.append(plan)
        return json_response({"return_plans": [vars(p) for p in em.lro_plans]})

    def _calls(self, request: Request) -> Response:
        wanted = {key: request.args[key] for key in ("tenant", "operation", "order") if key in request.args}
        calls = [c for c in self.emulator.calls if all(c.get(k) == v for k, v in wanted.items())]
        return json_response({"calls": calls})

    # --- tenants and principals ----------------------------------------------------------------------

    def _tenant_view(self, tenant_id: str) -> dict[str, Any]:
        tenant = self.emulator.tenant(tenant_id)
        return {"id": tenant.id, "principals": [p.describe() for p in tenant.principals.values()]}

    def _tenant(self, request: Request, tenant_id: str) -> Response:
        return json_response(self._tenant_view(tenant_id))

    def _principal(self, request: Request, tenant_id: str, client_id: str) -> Response:
        tenant = self.emulator.tenant(tenant_id)
        if request.method == "DELETE":
            tenant.principals.pop(client_id, None)
            return json_response({"deleted": client_id})
        principal = tenant.principals.get(client_id)
        if request.method == "PUT":
            principal = self._put_principal(tenant_id, client_id, principal, request.get_json(force=True))
            tenant.principals[client_id] = principal
        if principal is None:
            return json_response({"error": f"no principal {client_id} in tenant {tenant_id}"}, 404)
        return json_response(principal.describe())

    @staticmethod
    def _put_principal(tenant_id: str, client_id: str, old: Principal | None, spec: dict[str, Any]) -> Principal:
        secrets = spec.get("secrets") or ([spec["secret"]] if "secret" in spec else None)
        principal = old or Principal(tenant_id, client_id, spec.get("object_id") or new_id(), secrets or [])
        if secrets is not None:
            principal.secrets = list(secrets)
        if "secret_expires_at" in spec:
            principal.secret_expires_at = _when(spec["secret_expires_at"])
        if "role_assignments" in spec:
            principal.assignments = [_assignment(a) for a in spec["role_assignments"]]
        if not principal.secrets:
            msg = "a principal needs a 'secret' (or 'secrets')"
            raise ValueError(msg)
        return principal

    # --- billing scopes (the refund pools) -----------------------------------------------------------

    def _billing_scope(self, request: Request) -> Response:
        em = self.emulator
        if request.method == "GET":
            return json_response(em.billing_scope(request.args["id"]).describe(em.now()))
        spec = request.get_json(force=True)
        scope = em.billing_scope(spec["id"])
        if "currency" in spec:
            scope.currency = spec["currency"]
        if "exchange_rate" in spec:
            scope.exchange_rate = Decimal(str(spec["exchange_rate"]))
        if "max_refund_limit" in spec:
            scope.max_refund_limit = Decimal(str(spec["max_refund_limit"]))
        return json_response(scope.describe(em.now()))

    def _outside_refund(self, request: Request) -> Response:
        """A return made outside Grace Period (in the portal, by another tool): it uses the pool too."""
        em = self.emulator
        spec = request.get_json(force=True)
        scope = em.billing_scope(spec["billing_scope"])
        scope.refunds.append(Refund(_when(spec.get("at")) or em.now(), Decimal(str(spec["amount"]))))
        return json_response(scope.describe(em.now()), 201)

    # --- reservation orders ------------------------------------------------------------------------------

    def _seed_order(self, request: Request, tenant_id: str) -> Response:
        em = self.emulator
        spec = request.get_json(force=True)
        self.emulator.tenant(tenant_id)
        order = _new_order(tenant_id, spec, em.now())
        if order.id in em.orders:
            return json_response({"error": f"reservation order {order.id} exists"}, 409)
        em.billing_scope(order.billing_scope_id)
        em.orders[order.id] = order
        return json_response(self._order_view(order.id), 201)

    def _order_view(self, order_id: str) -> dict[str, Any]:
        em = self.emulator
        order = em.order(order_id)
        if order is None:
            msg = f"no reservation order {order_id}"
            raise KeyError(msg)
        operations = [em.operations[o] for o in order.operations]
        return {
            "id": order.id,
            "tenant_id": order.tenant_id,
            "billing_scope_id": order.billing_scope_id,
            "state": order.state,
            "term": order.term,
            "billing_plan": order.billing_plan,
            "purchased_at": order.purchased_at,
            "expires_at": order.expires_at,
            "total_usd": order.total_usd,
            "refundable": order.refundable,
            "reservations": [vars(r) | {"resource_id": r.resource_id} for r in order.reservations.values()],
            "return_posts": em.return_posts.get(order.id, 0),
            "return_posts_faulted": em.return_posts_faulted.get(order.id, 0),
            "returns_accepted": len(operations),
            "operations": [vars(o) for o in operations],
            "arm": order_view(order),
        }

    def _order(self, request: Request, order_id: str) -> Response:
        order = self.emulator.order(order_id)
        if order is None:
            return json_response({"error": f"no reservation order {order_id}"}, 404)
        if request.method == "PATCH":
            spec = request.get_json(force=True)
            if "refundable" in spec:
                order.refundable = bool(spec["refundable"])
            if "expires_at" in spec:
                order.expires_at = parse_iso(spec["expires_at"])
        return json_response(self._order_view(order_id))


def _new_order(tenant_id: str, spec: dict[str, Any], now: datetime) -> ReservationOrder:
    term = spec.get("term", "P1Y")
    if term not in TERM_MONTHS:
        msg = f"term must be one of {sorted(TERM_MONTHS)}"
        raise ValueError(msg)
    purchased_at = _when(spec.get("purchased_at")) or now
    order_id = str(spec.get("order_id") or new_id()).lower()
    items = spec.get("reservations") or [spec]
    order = ReservationOrder(
        id=order_id,
        tenant_id=tenant_id,
        billing_scope_id=spec.get("billing_scope", DEFAULT_BILLING_SCOPE),
        display_name=spec.get("display_name", f"VM_RI_{purchased_at:%m-%d-%Y_%H-%M}"),
        term=term,
        billing_plan=spec.get("billing_plan", "Upfront"),
        purchased_at=purchased_at,
        expires_at=_when(spec.get("expires_at")) or purchased_at + timedelta(days=365 * TERM_MONTHS[term] // 12),
        total_usd=Decimal(str(spec.get("total", "1000.00"))),
        original_quantity=sum(int(item.get("quantity", 1)) for item in items),
        refundable=bool(spec.get("refundable", True)),
    )
    subscription = spec.get("subscription_id") or new_id()
    for item in items:
        reservation = Reservation(
            id=str(item.get("reservation_id") or new_id()).lower(),
            order_id=order_id,
            resource_type=item.get("resource_type", "VirtualMachines"),
            sku=item.get("sku", "Standard_D2s_v5"),
            location=item.get("location", "westeurope"),
            quantity=int(item.get("quantity", 1)),
            original_quantity=int(item.get("quantity", 1)),
            display_name=item.get("display_name", order.display_name),
            subscription_id=item.get("subscription_id", subscription),
        )
        order.reservations[reservation.id] = reservation
    return order
