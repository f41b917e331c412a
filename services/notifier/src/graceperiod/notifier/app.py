"""Composition root of the notifier service."""

from __future__ import annotations

from faststream.asgi import AsgiFastStream

from graceperiod.notifier.adapters.smtp import SmtpConfig, SmtpTransport
from graceperiod.notifier.handlers import build_router
from graceperiod.notifier.service import MailTransport, NotifierService
from graceperiod.notifier.settings import NotifierSettings
from graceperiod.notifier.store import DeliveryStore
from graceperiod.runtime.clock import Clock, SystemClock
from graceperiod.runtime.messaging import build_broker
from graceperiod.runtime.mongo import create_mongo_client
from graceperiod.runtime.worker import create_worker_app, serve


def create_app(
    settings: NotifierSettings | None = None,
    *,
    clock: Clock | None = None,
    transport: MailTransport | None = None,
) -> AsgiFastStream:
    settings = settings or NotifierSettings()
    broker = build_broker(settings, app_id="notifier")
    mongo = create_mongo_client(
        settings.mongodb_url,
        appname="graceperiod-notifier",
        server_selection_timeout_ms=settings.mongodb_server_selection_timeout_ms,
    )
    store = DeliveryStore(mongo[settings.mongodb_database])
    service = NotifierService(
        store=store,
        transport=transport or SmtpTransport(SmtpConfig.from_url(settings.smtp_url), settings.mail_from),
        clock=clock or SystemClock(),
        brand=settings.brand,
        global_address=settings.global_notification_email,
    )
    broker.include_router(build_router(service))
    return create_worker_app(
        title="Grace Period notifier",
        description="Emails everyone concerned when a purchase executes and when a revocation ends.",
        broker=broker,
        mongo=mongo,
        on_startup=[store.ensure_indexes],
    )


def main() -> None:
    settings = NotifierSettings()
    serve(create_app(settings), settings, name="notifier")
