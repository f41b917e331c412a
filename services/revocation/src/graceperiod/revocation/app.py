"""Composition root of the revocation service."""

from __future__ import annotations

from datetime import timedelta

from faststream.asgi import AsgiFastStream

from graceperiod.contracts.revocation import PurchaseChanged, PurchaseRecorded
from graceperiod.revocation.adapters.aws import AwsAccounts
from graceperiod.revocation.handlers import build_router
from graceperiod.revocation.service import Policy, RevocationService
from graceperiod.revocation.settings import RevocationSettings
from graceperiod.revocation.store import PurchaseStore
from graceperiod.runtime.clock import Clock, SystemClock
from graceperiod.runtime.messaging import EventPublisher, build_broker
from graceperiod.runtime.mongo import Inbox, create_mongo_client
from graceperiod.runtime.worker import create_worker_app, serve


def policy_from(settings: RevocationSettings) -> Policy:
    return Policy(
        support_window=timedelta(days=settings.support_window_days),
        default_role_name=settings.default_role_name,
        aws_retry_rounds=settings.aws_retry_rounds,
        aws_backoff_base=settings.aws_backoff_base_seconds,
        aws_backoff_cap=settings.aws_backoff_cap_seconds,
        reply_within=settings.reply_within_seconds,
        attempt_lease=timedelta(seconds=settings.attempt_lease_seconds),
        pending_poll=timedelta(seconds=settings.pending_poll_seconds),
        case_poll=timedelta(seconds=settings.case_poll_seconds),
        unknown_retry=timedelta(seconds=settings.unknown_retry_seconds),
        probe_max_age=timedelta(seconds=settings.probe_max_age_seconds),
        command_retention=timedelta(days=settings.command_retention_days),
        tick_batch=settings.tick_batch,
    )


def create_app(
    settings: RevocationSettings | None = None, *, clock: Clock | None = None, aws: AwsAccounts | None = None
) -> AsgiFastStream:
    settings = settings or RevocationSettings()
    clock = clock or SystemClock()
    broker = build_broker(settings, app_id="revocation")
    mongo = create_mongo_client(
        settings.mongodb_url,
        appname="graceperiod-revocation",
        server_selection_timeout_ms=settings.mongodb_server_selection_timeout_ms,
    )
    database = mongo[settings.mongodb_database]
    store = PurchaseStore(database)
    inbox = Inbox(database, retention=timedelta(days=settings.inbox_retention_days))
    aws = aws or AwsAccounts(
        clock=clock,
        retry_mode=settings.aws_retry_mode,
        max_attempts=settings.aws_max_attempts,
        connect_timeout=settings.aws_connect_timeout_seconds,
        read_timeout=settings.aws_read_timeout_seconds,
        session_name=settings.role_session_name,
        session_seconds=settings.role_session_seconds,
        refresh_margin=timedelta(seconds=settings.credential_refresh_margin_seconds),
    )
    service = RevocationService(
        store=store,
        events=EventPublisher(broker, [PurchaseRecorded, PurchaseChanged]),
        clock=clock,
        aws=aws,
        inbox=inbox,
        policy=policy_from(settings),
    )
    broker.include_router(build_router(service, broker))
    return create_worker_app(
        title="Grace Period revocation service",
        description="Records executed purchases, works out their revocation windows and phases, and acts on AWS.",
        broker=broker,
        mongo=mongo,
        on_startup=[store.ensure_indexes, inbox.ensure_indexes, aws.start],
        on_shutdown=[aws.close],
    )


def main() -> None:
    settings = RevocationSettings()
    serve(create_app(settings), settings, name="revocation")
