"""The revocation service's Azure adapter (adapters/azure) against the local Azure endpoint."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from graceperiod.devstack.azure_endpoint.control import AzureControl, role
from graceperiod.revocation.adapters.azure.reservations import AzureReservations
from graceperiod.revocation.domain.aws_answers import Failure
from graceperiod.revocation.domain.azure_answers import AzureCallError
from tests.integration.azure_endpoint.conftest import ServicePrincipal, new_principal
from tests.integration.revocation_azure.conftest import principal_of


def _now() -> datetime:
    return datetime.now(UTC)


def _ids(order: dict[str, object]) -> tuple[str, str]:
    reservations = order["reservations"]
    assert isinstance(reservations, list)
    return str(order["id"]), str(reservations[0]["id"])


async def test_read_quotes_the_refund_and_the_cap_as_azure_counts_it(
    azure_reservations: AzureReservations, admin: ServicePrincipal, control: AzureControl, billing_scope: str
) -> None:
    order = await control.reservation_order(admin.tenant_id, billing_scope=billing_scope, total=1200, quantity=2)
    await control.outside_refund(billing_scope, 30000)
    order_id, reservation_id = _ids(order)

    state = await azure_reservations.read(principal_of(admin), order_id, reservation_id, _now())

    assert (state.known, state.state, state.quantity) == (True, "Succeeded", 2)
    assert state.expires_at is not None
    assert state.request_id
    quote = state.quote
    assert quote is not None
    assert quote.session_id
    assert quote.quantity == 2
    assert (quote.consumed_usd, quote.limit_usd) == (Decimal("30000.00"), Decimal("50000.00"))
    assert Decimal("1190") < quote.cancelled_usd <= Decimal("1200.00")
    assert quote.currency == "USD"
    assert quote.policy_errors == []


async def test_read_reports_microsofts_policy_errors(
    azure_reservations: AzureReservations, admin: ServicePrincipal, control: AzureControl, billing_scope: str
) -> None:
    order = await control.reservation_order(admin.tenant_id, billing_scope=billing_scope, total=5000, refundable=False)
    await control.outside_refund(billing_scope, 48000)
    order_id, reservation_id = _ids(order)
    state = await azure_reservations.read(principal_of(admin), order_id, reservation_id, _now())
    assert state.quote is not None
    codes = {e.code for e in state.quote.policy_errors}
    assert codes == {"SelfServiceRefundNotSupported", "RefundLimitExceeded"}


async def test_an_unknown_reservation_is_not_found(
    azure_reservations: AzureReservations, admin: ServicePrincipal
) -> None:
    missing = "00000000-0000-0000-0000-000000000000"
    with pytest.raises(AzureCallError) as caught:
        await azure_reservations.read(principal_of(admin), missing, missing, _now())
    assert caught.value.failure is Failure.NOT_FOUND
    assert caught.value.status == 404


async def test_a_return_is_posted_once_and_followed_to_its_end(
    azure_reservations: AzureReservations, admin: ServicePrincipal, control: AzureControl, billing_scope: str
) -> None:
    order = await control.reservation_order(admin.tenant_id, billing_scope=billing_scope, total=1200)
    await control.return_plan(order_id=order["id"], polls=3)
    order_id, reservation_id = _ids(order)
    who = principal_of(admin)
    quote = await azure_reservations.quote(who, order_id, reservation_id, 1, _now())
    assert quote.session_id is not None

    started = await azure_reservations.start_return(who, order_id, reservation_id, 1, quote.session_id)
    ended = await azure_reservations.follow(who, order_id, started.continuation_token, timeout=20)
    after = await azure_reservations.read(who, order_id, reservation_id, _now())

    assert started.response["status"] == 202
    assert "Azure-AsyncOperation" in started.response["headers"]
    assert started.request_id
    assert ended.status == "Succeeded"
    assert (after.state, after.quantity, after.quote) == ("Cancelled", 0, None)
    state = await control.order(order_id)
    assert (state["return_posts"], state["returns_accepted"]) == (1, 1)


async def test_a_throttled_return_post_is_not_sent_again_by_the_sdk(
    azure_reservations: AzureReservations, admin: ServicePrincipal, control: AzureControl
) -> None:
    """azure-core retries a 429 by default; the return turns that off (Grace Period decides)."""
    order = await control.reservation_order(admin.tenant_id)
    order_id, reservation_id = _ids(order)
    who = principal_of(admin)
    quote = await azure_reservations.quote(who, order_id, reservation_id, 1, _now())
    assert quote.session_id is not None
    await control.fault("Return_Post", tenant=admin.tenant_id, kind="server-error", count=3)
    with pytest.raises(AzureCallError) as caught:
        await azure_reservations.start_return(who, order_id, reservation_id, 1, quote.session_id)
    assert caught.value.failure is Failure.UNAVAILABLE
    assert caught.value.retryable
    assert (await control.order(order_id))["return_posts"] == 1


async def test_following_a_return_that_does_not_end_gives_up_in_time_and_a_failed_one_says_why(
    azure_reservations: AzureReservations, admin: ServicePrincipal, control: AzureControl
) -> None:
    who = principal_of(admin)
    slow = await control.reservation_order(admin.tenant_id)
    failing = await control.reservation_order(admin.tenant_id)
    await control.return_plan(order_id=slow["id"], never=True)
    await control.return_plan(order_id=failing["id"], polls=1, fail_code="BillingTransientError")
    ended = {}
    for order in (slow, failing):
        order_id, reservation_id = _ids(order)
        quote = await azure_reservations.quote(who, order_id, reservation_id, 1, _now())
        assert quote.session_id is not None
        started = await azure_reservations.start_return(who, order_id, reservation_id, 1, quote.session_id)
        ended[order_id] = await azure_reservations.follow(who, order_id, started.continuation_token, timeout=1.0)
    assert ended[slow["id"]].status == "InProgress"
    assert (ended[failing["id"]].status, ended[failing["id"]].code) == ("Failed", "BillingTransientError")


async def test_a_reader_may_not_return_and_a_wrong_secret_is_refused(
    azure_reservations: AzureReservations, control: AzureControl, tenant: str
) -> None:
    reader = await new_principal(control, tenant, [role("Reservations Reader")])
    order = await control.reservation_order(tenant)
    order_id, reservation_id = _ids(order)
    with pytest.raises(AzureCallError) as denied:
        await azure_reservations.start_return(principal_of(reader), order_id, reservation_id, 1, "session")
    assert (denied.value.failure, denied.value.status) == (Failure.ACCESS_DENIED, 403)

    wrong = ServicePrincipal(tenant, reader.client_id, "not-the-secret")
    with pytest.raises(AzureCallError) as refused:
        await azure_reservations.read(principal_of(wrong), order_id, reservation_id, _now())
    assert refused.value.failure is Failure.NOT_ASSUMABLE
