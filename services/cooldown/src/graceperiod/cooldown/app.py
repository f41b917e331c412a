"""Composition root of the cooldown service."""

from __future__ import annotations

from dataclasses import dataclass

from faststream.asgi import AsgiFastStream

from graceperiod.contracts.cooldown import AccountSettled, AccountStatusChanged
from graceperiod.cooldown.handlers import build_router
from graceperiod.cooldown.service import CooldownService
from graceperiod.cooldown.settings import CooldownSettings
from graceperiod.cooldown.store import AccountStore
from graceperiod.runtime.clock import Clock, SystemClock
from graceperiod.runtime.messaging import EventPublisher
from graceperiod.runtime.worker import create_worker_app, serve, service_connections


@dataclass(frozen=True)
class CooldownComponents:
    """The app and the collaborators behind it (tests and benchmarks drive ``service`` directly)."""

    app: AsgiFastStream
    service: CooldownService
    store: AccountStore


def build(settings: CooldownSettings | None = None, *, clock: Clock | None = None) -> CooldownComponents:
    settings = settings or CooldownSettings()
    broker, mongo = service_connections(settings, "cooldown")
    store = AccountStore(mongo[settings.mongodb_database])
    service = CooldownService(
        store=store,
        events=EventPublisher(broker, [AccountStatusChanged, AccountSettled]),
        clock=clock or SystemClock(),
        options=settings.options(),
    )
    broker.include_router(build_router(service))
    app = create_worker_app(
        title="Grace Period cooldown service",
        description="Keeps used sandbox accounts in Cooldown until their bills have settled.",
        broker=broker,
        mongo=mongo,
        on_startup=[store.ensure_indexes],
    )
    return CooldownComponents(app=app, service=service, store=store)


def create_app(settings: CooldownSettings | None = None, *, clock: Clock | None = None) -> AsgiFastStream:
    return build(settings, clock=clock).app


def main() -> None:
    settings = CooldownSettings()
    serve(create_app(settings), settings, name="cooldown")
