"""A client of the endpoint's control API (``/_emulator/...``), for tests, the demo and benchmarks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from graceperiod.devstack.servers.emulators import ControlClient


class EmulatorControl(ControlClient):
    async def account(
        self,
        account_id: str,
        *,
        support_plan: str | None = None,
        roles: dict[str, str | None] | None = None,
        denied_actions: list[str] | None = None,
        billing_categories: list[str] | None = None,
        return_quota_used: int | None = None,
        opted_in_regions: list[str] | None = None,
        purchase_events_queue: str | None = None,
    ) -> dict[str, Any]:
        """Create or update an account; only the arguments given change. ``purchase_events_queue``
        (an SQS queue ARN) deploys the onboarding bundle's purchase-event rule in the account."""
        spec = {
            key: value
            for key, value in {
                "support_plan": support_plan,
                "roles": roles,
                "denied_actions": denied_actions,
                "billing_categories": billing_categories,
                "return_quota_used": return_quota_used,
                "opted_in_regions": opted_in_regions,
                "purchase_events_queue": purchase_events_queue,
            }.items()
            if value is not None
        }
        result: dict[str, Any] = await self._call("PUT", f"/accounts/{account_id}", spec)
        return result

    async def get_account(self, account_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("GET", f"/accounts/{account_id}")
        return result

    async def savings_plan(self, account_id: str, **spec: Any) -> dict[str, Any]:
        """Seed a Savings Plan (``savingsPlanId``, ``state``, ``start``, ``returnableUntil``, ``commitment``...)."""
        result: dict[str, Any] = await self._call("POST", f"/accounts/{account_id}/savings-plans", _wire(spec))
        return result

    async def reserved_instance(self, account_id: str, **spec: Any) -> dict[str, Any]:
        """Seed an EC2 RI (``reservedInstancesId``, ``region``, ``state``, ``start``; ``deleteFailure``:
        the per-id error code DeleteQueuedReservedInstances reports for it)."""
        result: dict[str, Any] = await self._call("POST", f"/accounts/{account_id}/reserved-instances", _wire(spec))
        return result

    async def reserved_node(self, account_id: str, **spec: Any) -> dict[str, Any]:
        """Seed a reserved node of ``service`` (rds, elasticache, redshift, memorydb, opensearch)."""
        result: dict[str, Any] = await self._call("POST", f"/accounts/{account_id}/reserved-nodes", _wire(spec))
        return result

    async def set_case(self, account_id: str, case_id: str, *, status: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._call(
            "PATCH", f"/accounts/{account_id}/cases/{case_id}", {"status": status}
        )
        return result

    async def fault(
        self,
        action: str,
        *,
        kind: str = "throttle",
        count: int = 1,
        account: str | None = None,
        code: str | None = None,
        status: int | None = None,
        message: str | None = None,
        delay_seconds: float = 0.0,
    ) -> None:
        """Make the next ``count`` calls of ``action`` (``service:Operation``, ``service:*`` or ``*``) fail:
        ``throttle``, ``server-error``, ``error`` (with ``code``/``status``), ``delay`` (wait, then
        answer) or ``slow-response`` (take effect, then wait before answering)."""
        await self._call(
            "POST",
            "/faults",
            {
                "action": action,
                "kind": kind,
                "count": count,
                "account": account,
                "code": code,
                "status": status,
                "message": message,
                "delay_seconds": delay_seconds,
            },
        )

    async def clear_faults(self) -> None:
        await self._call("DELETE", "/faults")

    async def set_clock(
        self, *, now: datetime | None = None, offset_seconds: float | None = None, real: bool = False
    ) -> datetime:
        body: dict[str, Any] = {"real": real}
        if now is not None:
            body["now"] = now.isoformat()
        if offset_seconds is not None:
            body["offset_seconds"] = offset_seconds
        result = await self._call("POST", "/clock", body)
        return datetime.fromisoformat(result["now"])

    async def configure(
        self,
        *,
        return_delay_seconds: float | None = None,
        payment_delay_seconds: float | None = None,
        cost_explorer_delay_seconds: float | None = None,
        rate_limits: bool | None = None,
    ) -> dict[str, Any]:
        """Set only what is given: the return and payment delays, how long Cost Explorer takes to
        show a commitment, whether request rates are enforced."""
        spec = {
            "return_delay_seconds": return_delay_seconds,
            "payment_delay_seconds": payment_delay_seconds,
            "cost_explorer_delay_seconds": cost_explorer_delay_seconds,
            "rate_limits": rate_limits,
        }
        result: dict[str, Any] = await self._call("POST", "/config", {k: v for k, v in spec.items() if v is not None})
        return result

    async def organization(
        self, management_account: str, members: list[dict[str, str]], *, name: str | None = None
    ) -> dict[str, Any]:
        """Make ``management_account`` an organisation's management account with ``members``
        (``{"id", "name"?, "email"?}``); it is a member itself."""
        body: dict[str, Any] = {"members": members, "name": name}
        result: dict[str, Any] = await self._call("PUT", f"/organizations/{management_account}", body)
        return result

    async def rate_limit(
        self,
        action: str,
        *,
        capacity: float | None,
        refill_per_second: float = 0.0,
        per_region: bool = True,
        group: str | None = None,
    ) -> dict[str, Any]:
        """Limit ``action`` (``service:Operation``) per account with a token bucket; ``capacity=None``
        removes its limit (AWS publishes none for most services)."""
        body = {
            "action": action,
            "capacity": capacity,
            "refill_per_second": refill_per_second,
            "per_region": per_region,
            "group": group,
        }
        result: dict[str, Any] = await self._call("PUT", "/rate-limits", body)
        return result

    async def reset_rate_limits(self) -> None:
        """AWS's published limits again (overrides dropped), every bucket full."""
        await self._call("DELETE", "/rate-limits")

    async def rate_limits(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("GET", "/rate-limits")
        return result

    async def stats(self) -> dict[str, dict[str, int]]:
        """Calls answered per action and outcome (``ok`` or the error code) since the last reset."""
        result = await self._call("GET", "/stats")
        calls: dict[str, dict[str, int]] = result["calls"]
        return calls

    async def calls(self, *, account: str | None = None, action: str | None = None) -> list[dict[str, Any]]:
        params = {k: v for k, v in {"account": account, "action": action}.items() if v is not None}
        result = await self._call("GET", "/calls", params=params)
        calls: list[dict[str, Any]] = result["calls"]
        return calls

    async def reset(self) -> None:
        await self._call("POST", "/reset")


def _wire(spec: dict[str, Any]) -> dict[str, Any]:
    return {key: value.isoformat() if isinstance(value, datetime) else value for key, value in spec.items()}
