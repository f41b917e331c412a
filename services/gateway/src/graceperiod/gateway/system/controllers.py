"""Liveness, readiness and metrics."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController

from graceperiod.gateway.clients import ServiceClients
from graceperiod.gateway.store import LinkStore
from graceperiod.gateway.web.collaborators import provide


class Readiness:
    """Whether the message broker and the gateway's database answer."""

    def __init__(self, clients: ServiceClients, store: LinkStore) -> None:
        self._clients = clients
        self._store = store

    async def checks(self) -> dict[str, bool]:
        broker, database = await asyncio.gather(self._clients.ping(), self._store.ping())
        return {"broker": broker, "database": database}


class SystemController(Controller):
    tags = ["system"]
    dependencies = {"readiness": provide(Readiness)}

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
    async def ready(self, readiness: NamedDependency[Readiness]) -> Response[dict[str, Any]]:
        checks = await readiness.checks()
        ok = all(checks.values())
        return Response({"ready": ok, "checks": checks}, status_code=200 if ok else 503)


class MetricsController(PrometheusController):
    path = "/metrics"
    include_in_schema = False
    opt = {"exclude_from_csrf": True}


def metrics() -> PrometheusConfig:
    """Request metrics by method, path template and status (the scrape and the stylesheet left out)."""
    return PrometheusConfig(
        app_name="gateway", prefix="graceperiod_gateway", group_path=True, exclude=["/metrics", "/static"]
    )
