"""A client of the endpoint's Cost Explorer control routes (``/_emulator/costs/...``), for
tests, the chaos suite and benchmarks: seed what a linked account costs and when it arrives."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import httpx

from graceperiod.devstack.servers.emulators import EmulatorError


class CostControl:
    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        self._client = httpx.AsyncClient(base_url=base_url.rstrip("/") + "/_emulator/costs", timeout=timeout)

    async def __aenter__(self) -> CostControl:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._client.aclose()

    async def _call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        response = await self._client.request(method, path, json=body)
        if response.status_code >= 400:
            msg = f"{method} costs{path}: {response.status_code} {response.text}"
            raise EmulatorError(msg)
        result: dict[str, Any] = response.json()
        return result

    async def lines(self, account: str, *, payer: str, lines: list[dict[str, Any]]) -> dict[str, Any]:
        """Seed day lines: ``{"day": date, "unblended": Decimal, "amortized"?, "arrives_at"?: datetime,
        "final_at"?: datetime}`` (each visible from ``arrives_at``, default now)."""
        return await self._call("POST", f"/{account}", {"payer": payer, "lines": [_wire(line) for line in lines]})

    async def usage(
        self,
        account: str,
        *,
        payer: str,
        start: datetime,
        end: datetime,
        hourly: Decimal | str,
        delay_seconds: float,
        amortized_hourly: Decimal | str | None = None,
    ) -> dict[str, Any]:
        """A lease's usage: ``hourly`` for each hour of ``[start, end)``, each hour's cost
        arriving ``delay_seconds`` after that hour ends."""
        spec: dict[str, Any] = {
            "payer": payer,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "hourly": str(hourly),
            "delay_seconds": delay_seconds,
        }
        if amortized_hourly is not None:
            spec["amortized_hourly"] = str(amortized_hourly)
        return await self._call("POST", f"/{account}/usage", spec)

    async def get(self, account: str) -> dict[str, Any]:
        return await self._call("GET", f"/{account}")

    async def clear(self, account: str) -> None:
        await self._call("DELETE", f"/{account}")


def _wire(line: dict[str, Any]) -> dict[str, Any]:
    return {
        key: value.isoformat()
        if isinstance(value, date | datetime)
        else str(value)
        if isinstance(value, Decimal)
        else value
        for key, value in line.items()
    }
