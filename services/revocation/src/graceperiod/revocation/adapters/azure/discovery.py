"""Listing every reservation a tenant's service principal can read: the reservation orders
(``ReservationOrder_List``, paged to the end), each order's price (``ReservationOrder_Get`` with
``$expand=planInformation``) and its reservations (``Reservation_List``).

The orders' list failing (403 when the principal may read no order, throttling) is the scan's
only error; one order's failure is that order's only: the listing reports it and carries on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from graceperiod.revocation.adapters.azure.clients import AzureClients, Principal
from graceperiod.revocation.adapters.azure.wire import amount, classify, currency, enum_text
from graceperiod.revocation.adapters.times import parse_time
from graceperiod.revocation.domain.azure import READ_ORDERS, READ_RESERVATIONS
from graceperiod.revocation.domain.azure_answers import AzureCallError
from graceperiod.revocation.domain.azure_discovery import FoundReservation
from graceperiod.revocation.domain.discovery import Listing
from graceperiod.revocation.domain.records import AzureState
from graceperiod.runtime.clock import Clock

T = TypeVar("T")
#: Runs one Azure read with the caller's own rounds of back-off around azure-core's retries.
Attempt = Callable[[Callable[[], Awaitable[Any]]], Awaitable[Any]]


async def _all(pages: Any) -> list[Any]:
    return [item async for item in pages]


def _subscription(billing_scope_id: str | None) -> str | None:
    """``/subscriptions/<guid>`` as the guid."""
    if not billing_scope_id:
        return None
    return billing_scope_id.rstrip("/").rsplit("/", 1)[-1]


def _found(order: Any, reservation: Any, now: datetime) -> FoundReservation | None:
    """A reservation as discovery sees it (None: Azure left out what a purchase needs)."""
    properties, order_properties = reservation.properties, order.properties
    if properties is None or order_properties is None or reservation.name is None:
        return None
    order_id, _, reservation_id = str(reservation.name).partition("/")
    subscription = _subscription(properties.billing_scope_id)
    if not reservation_id or subscription is None or not reservation.location:
        return None
    plan = order_properties.plan_information
    state = AzureState(
        known=True,
        state=enum_text(properties.provisioning_state) or None,
        display_state=properties.display_provisioning_state,
        quantity=int(properties.quantity or 0),
        expires_at=parse_time(properties.expiry_date_time),
        read_at=now,
    )
    return FoundReservation(
        order_id=order_id,
        reservation_id=reservation_id,
        resource_type=enum_text(properties.reserved_resource_type),
        location=str(reservation.location),
        sku=str(reservation.sku.name if reservation.sku else properties.sku_description or "reservation"),
        subscription_id=subscription,
        term=enum_text(properties.term or order_properties.term),
        billing_plan=enum_text(properties.billing_plan or order_properties.billing_plan) or "Upfront",
        purchased_at=parse_time(properties.purchase_date_time) or parse_time(order_properties.request_date_time) or now,
        azure=state,
        order_total=amount(plan.pricing_currency_total if plan else None),
        order_quantity=int(order_properties.original_quantity or 1),
        currency=currency(plan.pricing_currency_total if plan else None),
    )


class AzureDiscovery:
    def __init__(self, clients: AzureClients, clock: Clock) -> None:
        self.clients = clients
        self.clock = clock

    async def _call(self, action: str, request: Callable[[], Awaitable[T]]) -> T:
        try:
            return await request()
        except AzureCallError:
            raise
        except Exception as exc:
            raise classify(exc, action) from exc

    async def reservations(self, principal: Principal, attempt: Attempt) -> Listing:
        """Every reservation the principal can read, with the reads Azure answered and the failures."""
        client = await self.clients.client(principal)
        listing = Listing()
        try:
            orders = await attempt(lambda: self._call(READ_ORDERS, lambda: _all(client.reservation_order.list())))
        except AzureCallError as exc:
            listing.errors.append(("reservationOrders", exc))
            return listing
        listing.reads += 1
        async for found in self._orders(client, orders, attempt, listing):
            listing.found.append(found)
        return listing

    async def _orders(
        self, client: Any, orders: list[Any], attempt: Attempt, listing: Listing
    ) -> AsyncIterator[FoundReservation]:
        for listed in orders:
            try:
                order, reservations = await self._order(client, str(listed.name), attempt)
            except AzureCallError as exc:
                listing.errors.append((f"reservationOrders/{listed.name}", exc))
                continue
            listing.reads += 2
            now = self.clock.now()
            for reservation in reservations:
                found = _found(order, reservation, now)
                if found is not None:
                    yield found

    async def _order(self, client: Any, order_id: str, attempt: Attempt) -> tuple[Any, list[Any]]:
        """The order with its price, and its reservations."""
        order = await attempt(
            lambda: self._call(READ_ORDERS, lambda: client.reservation_order.get(order_id, expand="planInformation"))
        )
        reservations = await attempt(
            lambda: self._call(READ_RESERVATIONS, lambda: _all(client.reservation.list(order_id)))
        )
        return order, reservations
