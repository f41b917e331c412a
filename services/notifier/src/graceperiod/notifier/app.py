"""Composition root of the notifier service."""

from __future__ import annotations

from datetime import timedelta

from faststream.asgi import AsgiFastStream

from graceperiod.contracts.notifier import EmailDelivered
from graceperiod.contracts.topology import ServiceName
from graceperiod.notifier.adapters.mail import MailTransport
from graceperiod.notifier.adapters.ses import SesTransport
from graceperiod.notifier.adapters.smtp import SmtpConfig, SmtpTransport
from graceperiod.notifier.handlers import build_router
from graceperiod.notifier.links import LinkSigner
from graceperiod.notifier.rendering import EmailRenderer
from graceperiod.notifier.service import NotifierService
from graceperiod.notifier.settings import NotifierSettings
from graceperiod.notifier.store import DeliveryStore, ReminderStore, SettingsStore
from graceperiod.runtime.clock import Clock, SystemClock
from graceperiod.runtime.messaging import EventPublisher, EventSink
from graceperiod.runtime.signing_keys import KeyConfigurationError, KeyRing
from graceperiod.runtime.tracing import Tracing
from graceperiod.runtime.worker import create_worker_app, serve, service_connections


def build_transport(settings: NotifierSettings, tracing: Tracing | None = None) -> MailTransport:
    tracer = (tracing or Tracing.off()).tracer("graceperiod.notifier.adapters")
    if settings.email_transport == "ses":
        return SesTransport(
            settings.mail_from,
            region=settings.ses_region,
            configuration_set=settings.ses_configuration_set,
            max_concurrency=settings.max_concurrent_sends,
            reply_to=settings.mail_reply_to,
            tracer=tracer,
        )
    return SmtpTransport(
        SmtpConfig.from_url(settings.smtp_url),
        settings.mail_from,
        pool_size=settings.max_concurrent_sends,
        reply_to=settings.mail_reply_to,
        tracer=tracer,
    )


LINK_KEYS_HINT = (
    "NOTIFIER_LINK_KEYS_DIR, a directory of <kid>.pem files (create one with `graceperiod-keys generate --dir DIR`), "
    "or NOTIFIER_LINK_SIGNING_KEYS, a JSON object {kid: PEM}"
)


def load_keys(settings: NotifierSettings) -> KeyRing:
    return KeyRing.load(
        directory=settings.link_keys_dir,
        pems=settings.link_signing_keys,
        signing_kid=settings.link_signing_kid,
        hint=LINK_KEYS_HINT,
    )


class _KeysMissing:
    """Stands in for the key ring when none is configured, so the app can still be built
    (e.g. to write its AsyncAPI document); starting it fails with the configuration error."""

    def __init__(self, error: KeyConfigurationError) -> None:
        self.error = error

    async def check(self) -> None:
        raise self.error


def _key_ring(settings: NotifierSettings, keys: KeyRing | None) -> tuple[KeyRing | None, _KeysMissing | None]:
    """The given key ring, or the configured one; a missing configuration fails at start-up."""
    if keys is not None:
        return keys, None
    try:
        return load_keys(settings), None
    except KeyConfigurationError as exc:
        return None, _KeysMissing(exc)


def create_app(
    settings: NotifierSettings | None = None,
    *,
    clock: Clock | None = None,
    transport: MailTransport | None = None,
    keys: KeyRing | None = None,
    events: EventSink | None = None,
    tracing: Tracing | None = None,
) -> AsgiFastStream:
    settings = settings or NotifierSettings()
    clock = clock or SystemClock()
    tracing = tracing or Tracing.for_service(settings, "notifier")
    broker, mongo = service_connections(settings, "notifier", tracing)
    database = mongo[settings.mongodb_database]
    deliveries = DeliveryStore(database, lease=timedelta(seconds=settings.delivery_lease_seconds))
    settings_store = SettingsStore(database, cache_seconds=settings.settings_cache_seconds)
    reminders = ReminderStore(database)
    transport = transport or build_transport(settings, tracing)
    keys, missing = _key_ring(settings, keys)
    service = NotifierService(
        deliveries=deliveries,
        settings=settings_store,
        transport=transport,
        renderer=EmailRenderer(),
        links=LinkSigner(keys, public_base_url=settings.public_base_url),
        events=events or EventPublisher(broker, [EmailDelivered]),
        clock=clock,
        brand=settings.brand,
        link_fallback_ttl=timedelta(days=settings.link_fallback_ttl_days),
        delivery_retention=(
            timedelta(days=settings.delivery_retention_days) if settings.delivery_retention_days else None
        ),
        reminders=reminders,
        reminder_hours_before=settings.reminder_hours_before,
        reminder_batch=settings.reminder_batch_size,
    )
    broker.include_router(build_router(service))

    async def seed_settings() -> None:
        await settings_store.seed(settings.global_notification_email)

    return create_worker_app(
        service=ServiceName.NOTIFIER,
        title="Grace Period notifier",
        description="Emails everyone concerned when a purchase executes and when a revocation ends.",
        broker=broker,
        mongo=mongo,
        on_startup=[
            *([missing.check] if missing else []),
            deliveries.ensure_indexes,
            reminders.ensure_indexes,
            seed_settings,
            transport.start,
        ],
        on_shutdown=[transport.close],
        tracing=tracing,
    )


def main() -> None:
    settings = NotifierSettings()
    serve(create_app(settings), settings, name="notifier")
