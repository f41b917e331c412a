"""Composition root of the revocation service."""

from __future__ import annotations

from datetime import timedelta

from faststream.asgi import AsgiFastStream

from graceperiod.contracts.revocation import PurchaseRecorded
from graceperiod.revocation.handlers import build_router
from graceperiod.revocation.service import RevocationService
from graceperiod.revocation.settings import RevocationSettings
from graceperiod.revocation.store import PurchaseStore
from graceperiod.runtime.clock import Clock, SystemClock
from graceperiod.runtime.messaging import EventPublisher, build_broker
from graceperiod.runtime.mongo import create_mongo_client
from graceperiod.runtime.worker import create_worker_app, serve


def create_app(settings: RevocationSettings | None = None, *, clock: Clock | None = None) -> AsgiFastStream:
    settings = settings or RevocationSettings()
    broker = build_broker(settings, app_id="revocation")
    mongo = create_mongo_client(
        settings.mongodb_url,
        appname="graceperiod-revocation",
        server_selection_timeout_ms=settings.mongodb_server_selection_timeout_ms,
    )
    store = PurchaseStore(mongo[settings.mongodb_database])
    service = RevocationService(
        store=store,
        events=EventPublisher(broker, [PurchaseRecorded]),
        clock=clock or SystemClock(),
        support_window=timedelta(days=settings.support_window_days),
    )
    broker.include_router(build_router(service))
    return create_worker_app(
        title="Grace Period revocation service",
        description="Records executed purchases, works out their revocation windows and acts on AWS.",
        broker=broker,
        mongo=mongo,
        on_startup=[store.ensure_indexes],
    )


def main() -> None:
    settings = RevocationSettings()
    serve(create_app(settings), settings, name="revocation")
