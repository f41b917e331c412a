"""A client of the endpoint's control API (``/_emulator/...``), for tests, the demo and benchmarks."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from graceperiod.devstack.servers.emulators import ControlClient

#: Where reservations live: a role assigned here covers every reservation order of the tenant.
CAPACITY_SCOPE = "/providers/Microsoft.Capacity"


@dataclass(frozen=True)
class AzureEndpointAddress:
    """Where a running endpoint listens (ARM base URL = Entra ID authority) and the CA it is trusted by."""

    url: str
    ca_bundle: Path


def role(name: str, scope: str = CAPACITY_SCOPE) -> dict[str, Any]:
    """A built-in role assignment (``Reservations Administrator``, ``Reservations Reader``, ``Reader``, ...)."""
    return {"role": name, "scope": scope}


def actions(*granted: str, scope: str = CAPACITY_SCOPE) -> dict[str, Any]:
    """A custom role assignment granting exactly ``granted`` (wildcards as in Azure RBAC)."""
    return {"actions": list(granted), "scope": scope}


def order_scope(order_id: str) -> str:
    return f"{CAPACITY_SCOPE}/reservationOrders/{order_id}"


class AzureControl(ControlClient):
    def __init__(self, base_url: str, ca_bundle: Path | str, *, timeout: float = 10.0) -> None:
        super().__init__(base_url, timeout=timeout, verify=ssl.create_default_context(cafile=str(ca_bundle)))

    async def _call(self, method: str, path: str, body: Any = None, params: dict[str, str] | None = None) -> Any:
        return await super()._call(method, path, _wire(body), params)

    async def _dict(
        self, method: str, path: str, body: Any = None, params: dict[str, str] | None = None
    ) -> dict[str, Any]:
        result: dict[str, Any] = await self._call(method, path, body, params)
        return result

    # --- directory ---------------------------------------------------------------------------------

    async def tenant(self, tenant_id: str) -> dict[str, Any]:
        return await self._dict("PUT", f"/tenants/{tenant_id}", {})

    async def principal(
        self,
        tenant_id: str,
        client_id: str,
        *,
        secret: str | None = None,
        role_assignments: list[dict[str, Any]] | None = None,
        secret_expires_at: datetime | None = None,
    ) -> dict[str, Any]:
        """Create or update a service principal; only the arguments given change."""
        spec: dict[str, Any] = {}
        if secret is not None:
            spec["secret"] = secret
        if role_assignments is not None:
            spec["role_assignments"] = role_assignments
        if secret_expires_at is not None:
            spec["secret_expires_at"] = secret_expires_at
        return await self._dict("PUT", f"/tenants/{tenant_id}/principals/{client_id}", spec)

    async def delete_principal(self, tenant_id: str, client_id: str) -> None:
        await self._call("DELETE", f"/tenants/{tenant_id}/principals/{client_id}")

    # --- billing scopes and their refund pools -------------------------------------------------------

    async def billing_scope(
        self,
        scope_id: str,
        *,
        currency: str | None = None,
        exchange_rate: Decimal | float | None = None,
        max_refund_limit: Decimal | float | None = None,
    ) -> dict[str, Any]:
        spec = {
            "id": scope_id,
            "currency": currency,
            "exchange_rate": exchange_rate,
            "max_refund_limit": max_refund_limit,
        }
        return await self._dict("PUT", "/billing-scopes", {k: v for k, v in spec.items() if v is not None})

    async def get_billing_scope(self, scope_id: str) -> dict[str, Any]:
        return await self._dict("GET", "/billing-scopes", params={"id": scope_id})

    async def outside_refund(
        self, scope_id: str, amount: Decimal | float, *, at: datetime | None = None
    ) -> dict[str, Any]:
        """Record a return made outside Grace Period: its cancelled commitment (USD) uses the pool."""
        return await self._dict(
            "POST", "/billing-scopes/refunds", {"billing_scope": scope_id, "amount": amount, "at": at}
        )

    # --- reservation orders ----------------------------------------------------------------------------

    async def reservation_order(self, tenant_id: str, **spec: Any) -> dict[str, Any]:
        """Seed an order: ``billing_scope``, ``term`` (P1Y/P3Y/P5Y), ``billing_plan`` (Upfront/Monthly),
        ``total`` (USD over the term), ``purchased_at``, ``expires_at``, ``refundable``, and either one
        reservation's ``resource_type``/``sku``/``location``/``quantity`` or ``reservations=[...]``."""
        return await self._dict("POST", f"/tenants/{tenant_id}/reservation-orders", spec)

    async def order(self, order_id: str) -> dict[str, Any]:
        """The order as the emulator holds it, with ``return_posts`` (every POST), ``return_posts_faulted`` (those an
        injected fault answered instead of the operation), ``returns_accepted`` and ``operations``."""
        return await self._dict("GET", f"/reservation-orders/{order_id}")

    async def update_order(
        self, order_id: str, *, refundable: bool | None = None, expires_at: datetime | None = None
    ) -> dict[str, Any]:
        spec = {"refundable": refundable, "expires_at": expires_at}
        return await self._dict(
            "PATCH", f"/reservation-orders/{order_id}", {k: v for k, v in spec.items() if v is not None}
        )

    # --- faults and return outcomes -----------------------------------------------------------------

    async def fault(
        self,
        operation: str,
        *,
        kind: str = "throttle",
        count: int = 1,
        tenant: str | None = None,
        code: str | None = None,
        status: int | None = None,
        message: str | None = None,
        delay_seconds: float = 0.0,
        retry_after: int = 1,
    ) -> None:
        """Make the next ``count`` calls of ``operation`` (an ARM operation id such as ``Return_Post``,
        or ``*``) fail: ``throttle`` (429 + Retry-After), ``server-error`` (500), ``error`` (``status`` +
        ``code``), ``delay`` (wait, then answer), ``slow-response`` (take effect, then wait) or
        ``error-after-effect`` (take effect, then answer 500)."""
        spec = {
            "operation": operation,
            "kind": kind,
            "count": count,
            "tenant": tenant,
            "code": code,
            "status": status,
            "message": message,
            "delay_seconds": delay_seconds,
            "retry_after": retry_after,
        }
        await self._call("POST", "/faults", spec)

    async def clear_faults(self) -> None:
        await self._call("DELETE", "/faults")

    async def return_plan(
        self,
        *,
        order_id: str | None = None,
        count: int = 1,
        polls: int | None = None,
        never: bool = False,
        fail_code: str | None = None,
        fail_message: str | None = None,
    ) -> None:
        """Shape the next ``count`` accepted returns (of ``order_id``, or any): complete after exactly
        ``polls`` status polls, ``never`` complete, or end Failed with ``fail_code``."""
        spec = {
            "order_id": order_id,
            "count": count,
            "polls": polls,
            "never": never,
            "fail_code": fail_code,
            "fail_message": fail_message,
        }
        await self._call("POST", "/return-plans", spec)

    async def clear_return_plans(self) -> None:
        await self._call("DELETE", "/return-plans")

    # --- clock, settings, observations -------------------------------------------------------------

    async def set_clock(
        self, *, now: datetime | None = None, offset_seconds: float | None = None, real: bool = False
    ) -> datetime:
        result = await self._dict("POST", "/clock", {"now": now, "offset_seconds": offset_seconds, "real": real})
        return datetime.fromisoformat(result["now"])

    async def configure(self, **settings: Any) -> dict[str, Any]:
        """``return_polls``, ``return_seconds``, ``retry_after_seconds``, ``token_lifetime_seconds``, ``page_size``."""
        return await self._dict("POST", "/config", settings)

    async def calls(
        self, *, tenant: str | None = None, operation: str | None = None, order: str | None = None
    ) -> list[dict[str, Any]]:
        wanted = {"tenant": tenant, "operation": operation, "order": order}
        result = await self._dict("GET", "/calls", params={k: v for k, v in wanted.items() if v is not None})
        calls: list[dict[str, Any]] = result["calls"]
        return calls

    async def state(self) -> dict[str, Any]:
        return await self._dict("GET", "/state")

    async def reset(self) -> None:
        await self._call("POST", "/reset")


def _wire(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _wire(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_wire(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value
