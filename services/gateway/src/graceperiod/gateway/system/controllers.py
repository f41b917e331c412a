"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Any

from faststream.rabbit import RabbitBroker
from litestar import Controller, Response, get
from litestar.di import NamedDependency
from pymongo import AsyncMongoClient

from graceperiod.runtime.mongo import Document, ping


class SystemController(Controller):
    tags = ["system"]  # noqa: RUF012 - Litestar reads a class attribute

    @get(
        "/health",
        exclude_from_auth=True,
        operation_id="health",
        summary="Liveness: the process is up",
    )
    async def health(self) -> dict[str, str]:
        return {"status": "alive"}

    @get(
        "/ready",
        exclude_from_auth=True,
        operation_id="ready",
        summary="Readiness: broker and database reachable",
    )
    async def ready(
        self,
        broker: NamedDependency[RabbitBroker],
        mongo: NamedDependency[AsyncMongoClient[Document]],
    ) -> Response[dict[str, Any]]:
        checks = {"broker": await broker.ping(timeout=2.0), "database": await ping(mongo)}
        ok = all(checks.values())
        return Response({"ready": ok, "checks": checks}, status_code=200 if ok else 503)
