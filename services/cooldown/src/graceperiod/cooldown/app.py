"""Composition root of the cooldown service."""

from __future__ import annotations

from dataclasses import dataclass

from faststream.asgi import AsgiFastStream

from graceperiod.contracts.base import Message
from graceperiod.contracts.cooldown import AccountSettled, AccountStatusChanged
from graceperiod.contracts.topology import ServiceName
from graceperiod.contracts.wait_list import PoolRunningLow, WaitExpired, WaitGranted
from graceperiod.cooldown.adapters.cost_explorer import CostExplorer
from graceperiod.cooldown.handlers import build_router
from graceperiod.cooldown.service import CooldownService
from graceperiod.cooldown.settings import CooldownSettings
from graceperiod.cooldown.store import AccountStore
from graceperiod.runtime.aws import AwsSessions
from graceperiod.runtime.clock import Clock, SystemClock
from graceperiod.runtime.messaging import EventPublisher
from graceperiod.runtime.tracing import Tracing
from graceperiod.runtime.worker import create_worker_app, serve, service_connections


@dataclass(frozen=True)
class CooldownComponents:
    """The app and the collaborators behind it (tests and benchmarks drive ``service`` directly)."""

    app: AsgiFastStream
    service: CooldownService
    store: AccountStore


#: Every event the service publishes (each with its queues in the contracts' topology).
EVENTS: tuple[type[Message], ...] = (AccountStatusChanged, AccountSettled, WaitGranted, WaitExpired, PoolRunningLow)


def build(
    settings: CooldownSettings | None = None, *, clock: Clock | None = None, tracing: Tracing | None = None
) -> CooldownComponents:
    settings = settings or CooldownSettings()
    clock = clock or SystemClock()
    tracing = tracing or Tracing.for_service(settings, "cooldown")
    broker, mongo = service_connections(settings, "cooldown", tracing)
    store = AccountStore(mongo[settings.mongodb_database])
    role = settings.cost_role()
    reader = (
        CostExplorer(
            AwsSessions(
                clock=clock, options=settings.aws_options(), tracer=tracing.tracer("graceperiod.cooldown.adapters")
            ),
            role,
        )
        if role
        else None
    )
    service = CooldownService(
        store=store,
        events=EventPublisher(broker, EVENTS),
        clock=clock,
        options=settings.options(),
        reader=reader,
    )
    broker.include_router(build_router(service))
    app = create_worker_app(
        service=ServiceName.COOLDOWN,
        title="Grace Period cooldown service",
        description="Keeps used sandbox accounts in Cooldown until their bills have settled.",
        broker=broker,
        mongo=mongo,
        on_startup=[service.ensure_indexes, *([reader.start] if reader else [])],
        on_shutdown=[reader.close] if reader else [],
        tracing=tracing,
    )
    return CooldownComponents(app=app, service=service, store=store)


def create_app(settings: CooldownSettings | None = None, *, clock: Clock | None = None) -> AsgiFastStream:
    return build(settings, clock=clock).app


def main() -> None:
    settings = CooldownSettings()
    serve(create_app(settings), settings, name="cooldown")
