"""The Reservations API operations the emulator answers (``Microsoft.Capacity``, 2022-11-01).

Each handler receives an :class:`ArmCall` (the authenticated caller, the path parameters, the
query and body) and returns a :class:`~.wire.Reply`, or raises :class:`~.wire.ArmError`.
Authorisation is checked per resource the way ARM does it: the caller's role assignments must
grant the operation's action at a scope containing the resource, else 403 AuthorizationFailed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from graceperiod.devstack.azure_endpoint.refunds import PolicyError, Quote, policy_errors, quote
from graceperiod.devstack.azure_endpoint.state import (
    API_VERSION,
    FINAL_STATES,
    Emulator,
    IssuedToken,
    Principal,
    Refund,
    RefundSession,
    Reservation,
    ReservationOrder,
    ReturnOperation,
    new_id,
)
from graceperiod.devstack.azure_endpoint.wire import (
    ArmError,
    Reply,
    operation_view,
    order_view,
    refund_view,
    reservation_view,
)

READ_ORDER = "Microsoft.Capacity/reservationOrders/read"
READ_RESERVATION = "Microsoft.Capacity/reservationOrders/reservations/read"
_CAPACITY = "/providers/Microsoft.Capacity"
CALCULATE_REFUND = "Microsoft.Capacity/reservationOrders/calculateRefund/action"
RETURN = "Microsoft.Capacity/reservationOrders/return/action"


@dataclass
class ArmCall:
    emulator: Emulator
    caller: IssuedToken
    #: ``https://host:port``: where links (nextLink, Location, Azure-AsyncOperation) point.
    base: str
    params: dict[str, str]
    query: dict[str, str] = field(default_factory=dict)
    body: Any = None

    @property
    def principal(self) -> Principal | None:
        tenant = self.emulator.tenants.get(self.caller.tenant_id)
        return tenant.principals.get(self.caller.client_id) if tenant else None

    def may(self, action: str, resource: str) -> bool:
        principal = self.principal
        return principal is not None and principal.can(action, resource)

    def require(self, action: str, resource: str) -> None:
        if not self.may(action, resource):
            oid = self.caller.object_id
            raise ArmError(
                403,
                "AuthorizationFailed",
                f"The client '{oid}' with object id '{oid}' does not have authorization to perform action "
                f"'{action}' over scope '{resource}' or the scope is invalid. If access was recently granted, "
                "please refresh your credentials.",
            )

    def order(self, action: str) -> ReservationOrder:
        """The path's order after checking ``action`` on it (403 comes before 404, as in ARM)."""
        order_id = self.params["order_id"]
        self.require(action, f"/providers/Microsoft.Capacity/reservationOrders/{order_id}")
        order = self.emulator.order(order_id)
        if order is None or order.tenant_id != self.caller.tenant_id:
            raise ArmError(404, "ReservationOrderNotFound", f"Reservation order '{order_id}' was not found.")
        return order

    def link(self, path: str, **query: str) -> str:
        extra = "".join(f"&{key}={value}" for key, value in query.items())
        return f"{self.base}{path}?api-version={API_VERSION}{extra}"


Handler = Callable[[ArmCall], Reply]


def _reservation(order: ReservationOrder, reservation_id: str) -> Reservation:
    found = order.reservations.get(reservation_id.lower())
    if found is None:
        raise ArmError(
            404,
            "ResourceNotFound",
            f"The Resource 'Microsoft.Capacity/reservationOrders/{order.id}/reservations/{reservation_id}' "
            "was not found.",
        )
    return found


def _page(call: ArmCall, items: list[dict[str, Any]], path: str) -> dict[str, Any]:
    size = call.emulator.config.page_size
    start = int(call.query.get("$skiptoken") or 0)
    more = start + size < len(items)
    next_link = call.link(path, **{"$skiptoken": str(start + size)}) if more else None
    return {"value": items[start : start + size], "nextLink": next_link}


def list_orders(call: ArmCall) -> Reply:
    """The orders the caller may read; 403 at the provider's scope when it may read none at all
    (ARM's answer to a subscription Reader, MicrosoftDocs/azure-docs#61495)."""
    em = call.emulator
    principal = call.principal
    if principal is None or not principal.can_somewhere_under(READ_ORDER, _CAPACITY):
        call.require(READ_ORDER, _CAPACITY)
    orders = sorted(
        (o for o in em.orders.values() if o.tenant_id == call.caller.tenant_id),
        key=lambda o: (o.purchased_at, o.id),
    )
    readable = []
    for order in orders:
        if call.may(READ_ORDER, f"/providers/Microsoft.Capacity/reservationOrders/{order.id}"):
            em.advance(order)
            readable.append(order_view(order))
    return Reply(200, _page(call, readable, "/providers/Microsoft.Capacity/reservationOrders"))


def get_order(call: ArmCall) -> Reply:
    order = call.order(READ_ORDER)
    expand = (call.query.get("$expand") or "").lower()
    return Reply(200, order_view(order, expand_plan="planinformation" in expand))


def list_reservations(call: ArmCall) -> Reply:
    order = call.order(READ_RESERVATION)
    returning = call.emulator.in_flight(order)
    views = [
        reservation_view(
            r, order, call.emulator.now(), returning=returning is not None and returning.reservation_id == r.id
        )
        for r in order.reservations.values()
    ]
    return Reply(200, _page(call, views, f"/providers/Microsoft.Capacity/reservationOrders/{order.id}/reservations"))


def get_reservation(call: ArmCall) -> Reply:
    order = call.order(READ_RESERVATION)
    reservation = _reservation(order, call.params["reservation_id"])
    returning = call.emulator.in_flight(order)
    in_flight = returning is not None and returning.reservation_id == reservation.id
    return Reply(200, reservation_view(reservation, order, call.emulator.now(), returning=in_flight))


# --- refunds ---------------------------------------------------------------------------------


def _to_return(call: ArmCall, order: ReservationOrder) -> tuple[Reservation, int, dict[str, Any]]:
    """The reservation and quantity a calculateRefund / return body names (400 when malformed)."""
    properties = call.body.get("properties") if isinstance(call.body, dict) else None
    if not isinstance(properties, dict):
        raise ArmError(400, "InvalidRequestContent", "The request content is invalid: 'properties' is required.")
    scope = properties.get("scope")
    if scope is not None and str(scope).lower() != "reservation":
        raise ArmError(400, "InvalidRequestContent", f"Refund scope '{scope}' is not supported; use 'Reservation'.")
    target = properties.get("reservationToReturn") or {}
    reservation_path = str(target.get("reservationId") or "")
    prefix = f"/providers/microsoft.capacity/reservationorders/{order.id}/reservations/"
    if not reservation_path.lower().startswith(prefix):
        raise ArmError(
            400,
            "ReservationIdNotInReservationOrder",
            f"Reservation '{reservation_path}' does not belong to reservation order '{order.id}'.",
        )
    reservation = _reservation(order, reservation_path[len(prefix) :])
    quantity = target.get("quantity")
    # A reservation no longer active is refused for its state (policy), not for its quantity.
    most = reservation.quantity if reservation.state not in FINAL_STATES else reservation.original_quantity
    if not isinstance(quantity, int) or isinstance(quantity, bool) or not 0 < quantity <= most:
        raise ArmError(
            400, "InvalidRefundQuantity", f"Quantity {quantity!r} is invalid: it must be between 1 and {most}."
        )
    return reservation, quantity, properties


def _assess(
    call: ArmCall, order: ReservationOrder, reservation: Reservation, quantity: int
) -> tuple[Quote, list[PolicyError]]:
    em = call.emulator
    billing = em.billing_scope(order.billing_scope_id)
    offer = quote(order, quantity, em.now())
    errors = policy_errors(
        order,
        reservation,
        in_flight=em.in_flight(order) is not None,
        cancelled_usd=offer.cancelled_usd,
        consumed_usd=billing.consumed(em.now()),
        limit_usd=billing.max_refund_limit,
    )
    return offer, errors


def _refund_body(
    call: ArmCall,
    order: ReservationOrder,
    reservation: Reservation,
    offer: Quote,
    *,
    session_id: str | None,
    errors: list[PolicyError],
) -> dict[str, Any]:
    em = call.emulator
    billing = em.billing_scope(order.billing_scope_id)
    return refund_view(
        reservation,
        order,
        billing,
        offer,
        session_id=session_id,
        consumed_usd=billing.consumed(em.now()),
        errors=errors,
    )


def calculate_refund(call: ArmCall) -> Reply:
    em = call.emulator
    order = call.order(CALCULATE_REFUND)
    reservation, quantity, _ = _to_return(call, order)
    offer, errors = _assess(call, order, reservation, quantity)
    session_id = None
    if not errors:
        session_id = new_id()
        em.sessions[session_id] = RefundSession(session_id, order.id, reservation.id, quantity, em.now())
    return Reply(200, _refund_body(call, order, reservation, offer, session_id=session_id, errors=errors))


def _plan_operation(call: ArmCall, order: ReservationOrder, reservation: Reservation, offer: Quote) -> ReturnOperation:
    em = call.emulator
    plan = em.take_lro_plan(order.id)
    polls: int | None = em.config.return_polls
    completes_at: datetime | None = em.now() + timedelta(seconds=em.config.return_seconds)
    if plan is not None and plan.polls is not None:
        polls, completes_at = plan.polls, None  # exactly that many polls, whatever the time
    if plan is not None and plan.never:
        polls, completes_at = None, None
    return ReturnOperation(
        id=new_id(),
        order_id=order.id,
        reservation_id=reservation.id,
        quantity=offer.quantity,
        amount_usd=offer.cancelled_usd,
        session_id="",
        return_reason=None,
        accepted_at=em.now(),
        polls_needed=polls,
        completes_at=completes_at,
        fail_code=plan.fail_code if plan is not None else None,
        fail_message=plan.fail_message if plan is not None else None,
    )


def _session(call: ArmCall, properties: dict[str, Any], reservation: Reservation, quantity: int) -> str:
    session_id = str(properties.get("sessionId") or "")
    session = call.emulator.sessions.get(session_id)
    if session is None or (session.reservation_id, session.quantity) != (reservation.id, quantity):
        raise ArmError(
            400,
            "InvalidRequestContent",
            f"Session '{session_id}' is not a calculateRefund session for {quantity} of reservation {reservation.id}.",
        )
    return session_id


def return_reservation(call: ArmCall) -> Reply:
    em = call.emulator
    order = call.order(RETURN)
    reservation, quantity, properties = _to_return(call, order)
    session_id = _session(call, properties, reservation, quantity)
    offer, errors = _assess(call, order, reservation, quantity)
    if errors:
        raise ArmError(409 if em.in_flight(order) else 400, errors[0].code, errors[0].message)
    body = _refund_body(call, order, reservation, offer, session_id=session_id, errors=errors)
    operation = _plan_operation(call, order, reservation, offer)
    operation.session_id = session_id
    operation.return_reason = properties.get("returnReason")
    em.operations[operation.id] = operation
    order.operations.append(operation.id)
    em.billing_scope(order.billing_scope_id).refunds.append(
        Refund(em.now(), offer.cancelled_usd, order.id, operation.id)
    )
    order_path = f"/providers/Microsoft.Capacity/reservationOrders/{order.id}"
    headers = {
        "Location": call.link(order_path),
        "Azure-AsyncOperation": call.link(f"{order_path}/operationStatuses/{operation.id}"),
        "Retry-After": str(em.config.retry_after_seconds),
    }
    return Reply(202, body, headers)


def operation_status(call: ArmCall) -> Reply:
    em = call.emulator
    order = call.order(READ_ORDER)
    operation = em.operations.get(call.params["operation_id"].lower())
    if operation is None or operation.order_id != order.id:
        raise ArmError(404, "ResourceNotFound", f"Operation '{call.params['operation_id']}' was not found.")
    if operation.status == "InProgress":
        operation.polls += 1
        if operation.polls_needed is not None and operation.polls >= operation.polls_needed:
            em.finish(operation)
    path = f"/providers/Microsoft.Capacity/reservationOrders/{order.id}/operationStatuses/{operation.id}"
    headers = {"Retry-After": str(em.config.retry_after_seconds)} if operation.status == "InProgress" else {}
    return Reply(200, operation_view(operation, path), headers)


#: ARM operation id -> (HTTP method, path pattern (lower case), handler). Patterns name the
#: path parameters ``order_id``, ``reservation_id`` and ``operation_id``.
_ORDER = r"/providers/microsoft\.capacity/reservationorders/(?P<order_id>[^/]+)"
ROUTES: dict[str, tuple[str, str, Handler]] = {
    "ReservationOrder_List": ("GET", r"/providers/microsoft\.capacity/reservationorders", list_orders),
    "ReservationOrder_Get": ("GET", _ORDER, get_order),
    "Reservation_List": ("GET", _ORDER + "/reservations", list_reservations),
    "Reservation_Get": ("GET", _ORDER + r"/reservations/(?P<reservation_id>[^/]+)", get_reservation),
    "CalculateRefund_Post": ("POST", _ORDER + "/calculaterefund", calculate_refund),
    "Return_Post": ("POST", _ORDER + "/return", return_reservation),
    "OperationStatus_Get": ("GET", _ORDER + r"/operationstatuses/(?P<operation_id>[^/]+)", operation_status),
}
