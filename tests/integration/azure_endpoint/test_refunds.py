"""calculateRefund: amounts, and Microsoft's 50,000 USD rolling 12-month cap per billing scope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.reservations.models import CalculateRefundResponse

from graceperiod.devstack.azure_endpoint.control import AzureControl
from tests.integration.azure_endpoint.conftest import (
    ClientFactory,
    ServicePrincipal,
    refund_request,
    return_request,
)

BOUGHT = datetime(2026, 1, 1, tzinfo=UTC)


async def _quote(reservations: ClientFactory, who: ServicePrincipal, order: dict[str, Any]) -> CalculateRefundResponse:
    async with reservations(who) as client:
        return await client.calculate_refund.post(order["id"], refund_request(order))


def _policy(reply: CalculateRefundResponse) -> tuple[float, float, list[object]]:
    assert reply.properties is not None
    assert reply.properties.policy_result is not None
    policy = reply.properties.policy_result.properties
    assert policy is not None
    assert policy.consumed_refunds_total is not None
    assert policy.max_refund_limit is not None
    codes: list[object] = [e.code for e in policy.policy_errors or []]  # str enums: equal to their value
    return float(policy.consumed_refunds_total.amount or 0), float(policy.max_refund_limit.amount or 0), codes


@pytest.mark.parametrize(
    ("plan", "refund", "paid", "remaining", "completed", "total"),
    [("Upfront", 2400.0, 3600.0, 0.0, 1, 1), ("Monthly", 100.0, 1300.0, 2300.0, 13, 36)],
)
async def test_the_cancelled_commitment_is_the_unused_share_of_the_term(
    reservations: ClientFactory,
    admin: ServicePrincipal,
    control: AzureControl,
    billing_scope: str,
    plan: str,
    refund: float,
    paid: float,
    remaining: float,
    completed: int,
    total: int,
) -> None:
    """Microsoft's example: 3 years at 100 USD a month, refunded in month 12, cancels 2,400 USD."""
    order = await control.reservation_order(
        admin.tenant_id, billing_scope=billing_scope, term="P3Y", billing_plan=plan, total=3600, purchased_at=BOUGHT
    )
    await control.set_clock(now=BOUGHT + timedelta(days=365))
    reply = await _quote(reservations, admin, order)
    assert reply.properties is not None
    assert reply.properties.session_id
    assert reply.properties.quantity == 1
    assert reply.properties.pricing_refund_amount is not None
    assert reply.properties.pricing_refund_amount.amount == 2400.0
    assert reply.properties.pricing_refund_amount.currency_code == "USD"
    assert reply.properties.billing_refund_amount is not None
    assert reply.properties.billing_refund_amount.amount == refund
    billing = reply.properties.billing_information
    assert billing is not None
    assert billing.billing_plan == plan
    assert billing.billing_currency_total_paid_amount is not None
    assert billing.billing_currency_total_paid_amount.amount == paid
    assert billing.billing_currency_remaining_commitment_amount is not None
    assert billing.billing_currency_remaining_commitment_amount.amount == remaining
    assert (billing.completed_transactions, billing.total_transactions) == (completed, total)
    assert _policy(reply) == (0.0, 50000.0, [])


async def test_billing_amounts_are_in_the_billing_scopes_currency(
    reservations: ClientFactory, admin: ServicePrincipal, control: AzureControl, billing_scope: str
) -> None:
    await control.billing_scope(billing_scope, currency="EUR", exchange_rate=0.5)
    order = await control.reservation_order(
        admin.tenant_id, billing_scope=billing_scope, total=1000, purchased_at=BOUGHT
    )
    await control.set_clock(now=BOUGHT)
    reply = await _quote(reservations, admin, order)
    assert reply.properties is not None
    assert reply.properties.billing_refund_amount is not None
    assert (reply.properties.billing_refund_amount.currency_code, reply.properties.billing_refund_amount.amount) == (
        "EUR",
        500.0,
    )
    assert reply.properties.pricing_refund_amount is not None
    assert reply.properties.pricing_refund_amount.amount == 1000.0


async def test_returns_outside_grace_period_count_for_twelve_months(
    reservations: ClientFactory, admin: ServicePrincipal, control: AzureControl, billing_scope: str
) -> None:
    await control.set_clock(now=BOUGHT)
    await control.outside_refund(billing_scope, 30000, at=BOUGHT - timedelta(days=100))
    await control.outside_refund(billing_scope, 15000, at=BOUGHT - timedelta(days=366))  # out of the window
    order = await control.reservation_order(
        admin.tenant_id, billing_scope=billing_scope, total=25000, purchased_at=BOUGHT
    )
    other_scope = await control.reservation_order(
        admin.tenant_id, billing_scope=f"{billing_scope}-other", total=25000, purchased_at=BOUGHT
    )

    over = await _quote(reservations, admin, order)
    elsewhere = await _quote(reservations, admin, other_scope)
    await control.set_clock(now=BOUGHT + timedelta(days=266))  # the 30,000 leave the window
    later = await _quote(reservations, admin, order)

    assert _policy(over) == (30000.0, 50000.0, ["RefundLimitExceeded"])
    assert over.properties is not None
    assert over.properties.session_id is None  # nothing to return with
    assert _policy(elsewhere) == (0.0, 50000.0, [])
    assert _policy(later)[0] == 0.0
    assert _policy(later)[2] == []


async def test_a_return_that_would_exceed_the_cap_is_refused(
    reservations: ClientFactory, admin: ServicePrincipal, control: AzureControl, billing_scope: str
) -> None:
    order = await control.reservation_order(admin.tenant_id, billing_scope=billing_scope, total=20000)
    quoted = await _quote(reservations, admin, order)
    assert quoted.properties is not None
    await control.outside_refund(billing_scope, 40000)  # someone returned something in the portal meanwhile
    async with reservations(admin) as client:
        with pytest.raises(HttpResponseError) as caught:
            await client.return_operations.begin_post(order["id"], return_request(order, quoted.properties.session_id))
    assert caught.value.status_code == 400
    assert caught.value.error is not None
    assert caught.value.error.code == "RefundLimitExceeded"
    state = await control.order(order["id"])
    assert (state["return_posts"], state["returns_accepted"], state["state"]) == (1, 0, "Succeeded")


@pytest.mark.parametrize(
    ("seed", "change", "code"),
    [
        ({}, {"refundable": False}, "SelfServiceRefundNotSupported"),
        ({"purchased_at": datetime(2019, 1, 1, tzinfo=UTC)}, {}, "OperationCannotBePerformedInCurrentState"),
    ],
    ids=["not-refundable", "expired"],
)
async def test_what_microsoft_does_not_refund_shows_as_a_policy_error(
    reservations: ClientFactory,
    admin: ServicePrincipal,
    control: AzureControl,
    seed: dict[str, Any],
    change: dict[str, Any],
    code: str,
) -> None:
    order = await control.reservation_order(admin.tenant_id, **seed)
    if change:
        await control.update_order(order["id"], **change)
    reply = await _quote(reservations, admin, order)
    assert _policy(reply)[2] == [code]


@pytest.mark.parametrize(
    ("body_change", "code"),
    [
        ({"quantity": 2}, "InvalidRefundQuantity"),
        ({"quantity": 0}, "InvalidRefundQuantity"),
        (
            {"reservation_id": "/providers/microsoft.capacity/reservationOrders/other/reservations/x"},
            "ReservationIdNotInReservationOrder",
        ),
    ],
)
async def test_a_malformed_refund_request_is_400(
    reservations: ClientFactory, admin: ServicePrincipal, control: AzureControl, body_change: dict[str, Any], code: str
) -> None:
    order = await control.reservation_order(admin.tenant_id, quantity=1)
    body = refund_request(order)
    assert body.properties is not None
    assert body.properties.reservation_to_return is not None
    for name, value in body_change.items():
        setattr(body.properties.reservation_to_return, name, value)
    async with reservations(admin) as client:
        with pytest.raises(HttpResponseError) as caught:
            await client.calculate_refund.post(order["id"], body)
    assert caught.value.status_code == 400
    assert caught.value.error is not None
    assert caught.value.error.code == code
