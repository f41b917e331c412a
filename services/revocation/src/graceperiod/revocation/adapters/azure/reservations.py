"""Reservations as the revocation service reads and returns them, through the async SDK.

``read`` is the reservation (``Reservation_Get``) and, while it can still be returned, Azure's
refund quote (``calculateRefund``). ``start_return`` posts the return once, with azure-core's
retries off (a retried POST could return twice: the return takes no idempotency token), and
hands back the poller's continuation token at once, before anything is waited for; ``follow``
resumes the poller from that token (in this process or after a restart) until Azure's
long-running operation ends or the time given runs out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from azure.core.exceptions import HttpResponseError
from azure.mgmt.reservations.models import (
    CalculateRefundRequest,
    CalculateRefundRequestProperties,
    RefundRequest,
    RefundRequestProperties,
    ReservationToReturn,
)

from graceperiod.revocation.adapters.azure.clients import AzureClients, Principal
from graceperiod.revocation.adapters.azure.wire import amount, classify, currency, enum_text, request_id_of
from graceperiod.revocation.adapters.times import parse_time
from graceperiod.revocation.domain.azure import CALCULATE_REFUND, READ_ORDERS, READ_RESERVATIONS, RETURN
from graceperiod.revocation.domain.azure_answers import ReturnEnded, ReturnStarted
from graceperiod.revocation.domain.records import AzureState, PolicyError, RefundQuote

T = TypeVar("T")

RETURN_REASON = "Grace Period revocation"
#: Reservation ``provisioningState`` in which a refund can be quoted.
QUOTABLE = "Succeeded"


def reservation_path(order_id: str, reservation_id: str) -> str:
    """What ``calculateRefund`` and ``return`` name the reservation by."""
    return f"/providers/Microsoft.Capacity/reservationOrders/{order_id}/reservations/{reservation_id}"


def _quote_of(reply: Any, now: datetime, request_id: str | None) -> RefundQuote:
    properties = reply.properties
    policy = properties.policy_result.properties if properties.policy_result is not None else None
    errors = (
        [PolicyError(code=enum_text(e.code), message=str(e.message or "")) for e in (policy.policy_errors or [])]
        if policy
        else []
    )
    return RefundQuote(
        quantity=int(properties.quantity or 0),
        session_id=properties.session_id,
        amount=amount(properties.billing_refund_amount),
        currency=currency(properties.billing_refund_amount),
        cancelled_usd=amount(properties.pricing_refund_amount),
        consumed_usd=amount(policy.consumed_refunds_total if policy else None),
        limit_usd=amount(policy.max_refund_limit if policy else None),
        policy_errors=errors,
        quoted_at=now,
        request_id=request_id,
    )


class _RequestIds:
    """Keeps the ``x-ms-request-id`` of the last response the SDK saw (for the audit)."""

    def __init__(self) -> None:
        self.last: str | None = None

    def __call__(self, response: Any) -> None:
        self.last = request_id_of(response.http_response)


class AzureReservations:
    def __init__(self, clients: AzureClients) -> None:
        self.clients = clients

    async def _call(self, action: str, request: Callable[[], Awaitable[T]]) -> T:
        try:
            return await request()
        except Exception as exc:
            raise classify(exc, action) from exc

    async def probe(self, principal: Principal) -> None:
        """Sign in and read the first page of the reservation orders the principal can see: the
        permission probe at registration (raises :class:`AzureCallError` on a refusal)."""
        client = await self.clients.client(principal)

        async def first_page() -> None:
            async for _ in client.reservation_order.list().by_page():
                return

        await self._call(READ_ORDERS, first_page)

    async def read(self, principal: Principal, order_id: str, reservation_id: str, now: datetime) -> AzureState:
        """The reservation now, with a fresh refund quote while it is active."""
        client = await self.clients.client(principal)
        ids = _RequestIds()
        found = await self._call(
            READ_RESERVATIONS, lambda: client.reservation.get(order_id, reservation_id, raw_response_hook=ids)
        )
        properties = found.properties
        quantity = int(properties.quantity or 0) if properties else 0
        state = AzureState(
            known=True,
            state=properties.provisioning_state if properties else None,
            display_state=properties.display_provisioning_state if properties else None,
            quantity=quantity,
            expires_at=parse_time(properties.expiry_date_time) if properties else None,
            read_at=now,
            request_id=ids.last,
        )
        if state.state != QUOTABLE or state.display_state == "Processing" or quantity < 1:
            return state
        return state.model_copy(update={"quote": await self.quote(principal, order_id, reservation_id, quantity, now)})

    async def quote(
        self, principal: Principal, order_id: str, reservation_id: str, quantity: int, now: datetime
    ) -> RefundQuote:
        """What returning ``quantity`` would give back and use of the cap (``calculateRefund``)."""
        client = await self.clients.client(principal)
        body = CalculateRefundRequest(
            id=f"/providers/Microsoft.Capacity/reservationOrders/{order_id}",
            properties=CalculateRefundRequestProperties(
                scope="Reservation",
                reservation_to_return=ReservationToReturn(
                    reservation_id=reservation_path(order_id, reservation_id), quantity=quantity
                ),
            ),
        )
        ids = _RequestIds()
        reply = await self._call(
            CALCULATE_REFUND, lambda: client.calculate_refund.post(order_id, body, raw_response_hook=ids)
        )
        return _quote_of(reply, now, ids.last)

    async def start_return(
        self, principal: Principal, order_id: str, reservation_id: str, quantity: int, session_id: str
    ) -> ReturnStarted:
        """POST the return once (no retries: Azure may have acted on a POST whose answer was lost)."""
        client = await self.clients.client(principal)
        body = RefundRequest(
            properties=RefundRequestProperties(
                session_id=session_id,
                scope="Reservation",
                reservation_to_return=ReservationToReturn(
                    reservation_id=reservation_path(order_id, reservation_id), quantity=quantity
                ),
                return_reason=RETURN_REASON,
            )
        )
        seen: list[Any] = []
        poller = await self._call(
            RETURN,
            lambda: client.return_operations.begin_post(
                order_id, body, retry_total=0, raw_response_hook=lambda r: seen.append(r.http_response)
            ),
        )
        first = seen[0] if seen else None
        response = {"status": first.status_code, "headers": _lro_headers(first)} if first is not None else {}
        return ReturnStarted(poller.continuation_token(), request_id_of(first), response)

    async def follow(self, principal: Principal, order_id: str, token: str, timeout: float) -> ReturnEnded:
        """Follow the return the continuation token names until it ends; ``InProgress`` when
        ``timeout`` seconds pass first (the operation goes on at Azure)."""
        client = await self.clients.client(principal)
        poller = await self._call(
            READ_ORDERS,
            lambda: client.return_operations.begin_post(order_id, None, continuation_token=token),  # type: ignore[call-overload]
        )
        try:
            await asyncio.wait_for(poller.result(), timeout)
        except TimeoutError:
            return ReturnEnded("InProgress")
        except HttpResponseError as exc:
            error = classify(exc, RETURN)
            if poller.status() == "Failed" or (exc.status_code or 0) < 400:
                return ReturnEnded("Failed", error.code, error.message, error.request_id)
            raise error from exc
        except Exception as exc:
            raise classify(exc, READ_ORDERS) from exc
        return ReturnEnded(str(poller.status()))


def _lro_headers(response: Any) -> dict[str, str]:
    wanted = ("Location", "Azure-AsyncOperation", "Retry-After", "x-ms-request-id")
    return {name: str(response.headers[name]) for name in wanted if name in response.headers}
