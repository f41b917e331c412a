"""Liveness, readiness and metrics."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.plugins.prometheus import PrometheusController

from graceperiod.gateway.purchases.service import Actions


class SystemController(Controller):
    tags = ["system"]  # noqa: RUF012 - Litestar reads a class attribute

    @get(
        "/health",
        operation_id="health",
        summary="Liveness: the process is up",
        description="Needs no credentials and ignores any Authorization header.",
        exclude_from_csrf=True,
        exclude_from_auth=True,
    )
    async def health(self) -> dict[str, str]:
        return {"status": "alive"}

    @get(
        "/ready",
        operation_id="ready",
        summary="Readiness: message broker and database reachable (503 otherwise)",
        description="Needs no credentials and ignores any Authorization header.",
        exclude_from_csrf=True,
        exclude_from_auth=True,
        responses={
            503: ResponseSpec(
                data_container=dict[str, Any],
                description="The broker or the database is unreachable; `checks` says which.",
                generate_examples=False,
            )
        },
    )
    async def ready(self, *, actions: NamedDependency[Actions]) -> Response[dict[str, Any]]:
        broker, database = await asyncio.gather(actions.clients.ping(), actions.store.ping())
        checks = {"broker": broker, "database": database}
        ok = all(checks.values())
        return Response({"ready": ok, "checks": checks}, status_code=200 if ok else 503)


class MetricsController(PrometheusController):
    path = "/metrics"
    include_in_schema = False
    opt = {"exclude_from_csrf": True}  # noqa: RUF012 - Litestar reads a class attribute
