"""Azure Resource Manager on the wire, server side: resource bodies, error bodies, headers.

Shapes follow the Reservations API 2022-11-01 (``azure-mgmt-reservations`` 3.x models and the
REST spec's examples): camelCase properties, resource ids as ``/providers/microsoft.capacity/...``
paths, ``{"error": {"code", "message"}}`` errors, amounts as ``{"currencyCode", "amount"}``.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from graceperiod.devstack.azure_endpoint.refunds import PolicyError, Quote
from graceperiod.devstack.azure_endpoint.state import (
    BillingScope,
    Reservation,
    ReservationOrder,
    ReturnOperation,
)

ORDER_TYPE = "Microsoft.Capacity/reservationOrders"
RESERVATION_TYPE = "Microsoft.Capacity/reservationOrders/reservations"
#: displayProvisioningState shows "Expiring" this long before the expiry.
EXPIRING_DAYS = 30


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> bytes:
        return b"" if self.body is None else json.dumps(self.body).encode()


class ArmError(Exception):
    """An ARM error answer: ``{"error": {"code": ..., "message": ...}}`` with its status."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def reply(self) -> Reply:
        return Reply(self.status, error_body(self.code, self.message), dict(self.headers))


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def new_request_id() -> str:
    return str(uuid.uuid4())


def iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def price(amount: Decimal, currency: str = "USD") -> dict[str, Any]:
    return {"currencyCode": currency, "amount": float(amount)}


# --- resources -------------------------------------------------------------------------------


def display_state(reservation: Reservation, order: ReservationOrder, now: datetime, *, returning: bool) -> str:
    if returning and reservation.state == "Succeeded":
        return "Processing"
    if reservation.state == "Succeeded" and (order.expires_at - now).days < EXPIRING_DAYS:
        return "Expiring"
    return reservation.state


def reservation_view(
    reservation: Reservation, order: ReservationOrder, now: datetime, *, returning: bool
) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": reservation.resource_id,
        "type": RESERVATION_TYPE,
        "name": f"{order.id}/{reservation.id}",
        "etag": reservation.etag,
        "location": reservation.location,
        "sku": {"name": reservation.sku},
        "properties": {
            "reservedResourceType": reservation.resource_type,
            "displayName": reservation.display_name,
            "appliedScopeType": "Shared",
            "userFriendlyAppliedScopeType": "Shared",
            "quantity": reservation.quantity,
            "provisioningState": reservation.state,
            "displayProvisioningState": display_state(reservation, order, now, returning=returning),
            "effectiveDateTime": iso(reservation.last_updated or order.purchased_at),
            "benefitStartTime": iso(order.purchased_at),
            "lastUpdatedDateTime": iso(reservation.last_updated or order.purchased_at),
            "purchaseDate": order.purchased_at.date().isoformat(),
            "purchaseDateTime": iso(order.purchased_at),
            "expiryDate": order.expires_at.date().isoformat(),
            "expiryDateTime": iso(order.expires_at),
            "skuDescription": reservation.sku,
            "billingScopeId": f"/subscriptions/{reservation.subscription_id}",
            "billingPlan": order.billing_plan,
            "term": order.term,
            "renew": False,
            "userFriendlyRenewState": "Off",
        },
    }
    if reservation.resource_type == "VirtualMachines":
        view["kind"] = "Microsoft.Compute"
        view["properties"]["instanceFlexibility"] = "On"
    return view


def order_view(order: ReservationOrder, *, expand_plan: bool = False) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "displayName": order.display_name,
        "requestDateTime": iso(order.purchased_at),
        "createdDateTime": iso(order.purchased_at),
        "benefitStartTime": iso(order.purchased_at),
        "expiryDate": order.expires_at.date().isoformat(),
        "expiryDateTime": iso(order.expires_at),
        "term": order.term,
        "billingPlan": order.billing_plan,
        "provisioningState": order.state,
        "reservations": [{"id": r.resource_id} for r in order.reservations.values()],
        "originalQuantity": order.original_quantity,
    }
    if expand_plan:
        properties["planInformation"] = {
            "pricingCurrencyTotal": price(order.total_usd),
            "startDate": order.purchased_at.date().isoformat(),
        }
    return {
        "id": order.resource_id,
        "type": ORDER_TYPE,
        "name": order.id,
        "etag": order.etag,
        "properties": properties,
    }


def refund_view(
    reservation: Reservation,
    order: ReservationOrder,
    billing: BillingScope,
    quote: Quote,
    *,
    session_id: str | None,
    consumed_usd: Decimal,
    errors: list[PolicyError],
) -> dict[str, Any]:
    """The ``CalculateRefundResponse`` / ``RefundResponse`` body."""

    def billed(amount_usd: Decimal) -> dict[str, Any]:
        return price((amount_usd * billing.exchange_rate).quantize(Decimal("0.01")), billing.currency)

    return {
        "id": reservation.resource_id,
        "properties": {
            "sessionId": session_id,
            "quantity": quote.quantity,
            "billingRefundAmount": billed(quote.refund_usd),
            "pricingRefundAmount": price(quote.cancelled_usd),
            "policyResult": {
                "properties": {
                    "consumedRefundsTotal": price(consumed_usd),
                    "maxRefundLimit": price(billing.max_refund_limit),
                    "policyErrors": [{"code": e.code, "message": e.message} for e in errors],
                }
            },
            "billingInformation": {
                "billingPlan": order.billing_plan,
                "completedTransactions": quote.completed_transactions,
                "totalTransactions": quote.total_transactions,
                "billingCurrencyTotalPaidAmount": billed(quote.paid_usd),
                "billingCurrencyProratedAmount": billed(quote.used_usd),
                "billingCurrencyRemainingCommitmentAmount": billed(quote.remaining_commitment_usd),
            },
        },
    }


def operation_view(operation: ReturnOperation, path: str) -> dict[str, Any]:
    """An ``Azure-AsyncOperation`` status resource."""
    view: dict[str, Any] = {
        "id": path,
        "name": operation.id,
        "status": operation.status,
        "startTime": iso(operation.accepted_at),
    }
    if operation.ended_at is not None:
        view["endTime"] = iso(operation.ended_at)
    if operation.status == "Failed":
        view["error"] = {"code": operation.fail_code, "message": operation.fail_message}
    return view
