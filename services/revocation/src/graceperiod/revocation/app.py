"""Composition root of the revocation service: builds every collaborator once, hands each
use case what it needs, and returns the app."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from faststream.asgi import AsgiFastStream
from faststream.rabbit import RabbitRouter
from pymongo.asynchronous.database import AsyncDatabase

from graceperiod.contracts.enums import Provider
from graceperiod.contracts.revocation import PurchaseChanged, PurchaseRecorded
from graceperiod.contracts.topology import ServiceName
from graceperiod.revocation.accounts import Accounts
from graceperiod.revocation.adapters.aws.accounts import AwsAccounts
from graceperiod.revocation.adapters.aws.purchase_events import PurchaseEventQueue
from graceperiod.revocation.adapters.azure.clients import AzureClients, AzureOptions
from graceperiod.revocation.adapters.azure.discovery import AzureDiscovery
from graceperiod.revocation.adapters.azure.reservations import AzureReservations
from graceperiod.revocation.aws_calls import AwsCalls, Backoff
from graceperiod.revocation.azure_accounts import AzureAccounts
from graceperiod.revocation.azure_calls import AzureCalls
from graceperiod.revocation.azure_revoking import AzureRevoking
from graceperiod.revocation.changes import Changes
from graceperiod.revocation.claims import Claims
from graceperiod.revocation.commands import Commands
from graceperiod.revocation.deliveries import Deliveries
from graceperiod.revocation.discovering import Discovering, Scans, claim_recorded_commitments
from graceperiod.revocation.domain.accounts import ProbePolicy
from graceperiod.revocation.domain.discovery import DiscoveryPolicy
from graceperiod.revocation.domain.lifecycle import LifecyclePolicy
from graceperiod.revocation.follow_ups import FollowUps
from graceperiod.revocation.handlers import build_router
from graceperiod.revocation.link_access import LinkAccess
from graceperiod.revocation.organizations import OrganizationReads
from graceperiod.revocation.purchase_events import PurchaseEvents
from graceperiod.revocation.queries import Queries
from graceperiod.revocation.recording import Recording
from graceperiod.revocation.replies import Replies
from graceperiod.revocation.revoking import Revoking
from graceperiod.revocation.scan_readers import AwsReader, AzureReader, ScanReader
from graceperiod.revocation.secrets import SecretBox
from graceperiod.revocation.settings import RevocationSettings
from graceperiod.revocation.store.accounts import AccountStore
from graceperiod.revocation.store.commands import CommandStore
from graceperiod.revocation.store.commitments import CommitmentStore
from graceperiod.revocation.store.purchases import PurchaseStore
from graceperiod.revocation.support_cases import SupportCases
from graceperiod.runtime.clock import Clock, SystemClock
from graceperiod.runtime.messaging import EventPublisher, EventSink, build_broker
from graceperiod.runtime.mongo import Document, Inbox, create_mongo_client
from graceperiod.runtime.tracing import Tracing
from graceperiod.runtime.worker import Hook, create_worker_app, serve


def lifecycle_policy(settings: RevocationSettings) -> LifecyclePolicy:
    return LifecyclePolicy(
        support_window=timedelta(days=settings.support_window_days),
        attempt_lease=timedelta(seconds=settings.attempt_lease_seconds),
        pending_poll=timedelta(seconds=settings.pending_poll_seconds),
        case_poll=timedelta(seconds=settings.case_poll_seconds),
        unknown_retry=timedelta(seconds=settings.unknown_retry_seconds),
        azure_return_timeout=timedelta(seconds=settings.azure_return_timeout_seconds),
    )


def aws_accounts(settings: RevocationSettings, clock: Clock, tracing: Tracing | None = None) -> AwsAccounts:
    options = settings.aws_client_options(
        session_name=settings.role_session_name,
        session_seconds=settings.role_session_seconds,
        refresh_margin=timedelta(seconds=settings.credential_refresh_margin_seconds),
    )
    return AwsAccounts(
        clock=clock, options=options, tracer=(tracing or Tracing.off()).tracer("graceperiod.revocation.adapters.aws")
    )


def azure_clients(settings: RevocationSettings) -> AzureClients:
    return AzureClients(
        AzureOptions(
            arm_url=settings.azure_arm_url,
            authority=settings.azure_authority,
            ca_bundle=settings.azure_ca_bundle,
            retry_total=settings.azure_retries,
            polling_interval=settings.azure_polling_seconds,
        )
    )


def discovery_policy(settings: RevocationSettings) -> DiscoveryPolicy:
    return DiscoveryPolicy(
        interval=timedelta(seconds=settings.discovery_interval_seconds),
        event_spacing=timedelta(seconds=settings.discovery_event_spacing_seconds),
        organization_interval=timedelta(seconds=settings.discovery_organization_interval_seconds),
        regions=tuple(settings.discovery_regions),
    )


@dataclass(frozen=True)
class DiscoveryParts:
    discovering: Discovering
    organizations: OrganizationReads
    on_startup: list[Hook]
    on_shutdown: list[Hook]


def discovery(
    settings: RevocationSettings,
    changes: Changes,
    calls: AwsCalls,
    claims: Claims,
    events: EventSink,
    *,
    azure: AzureCalls,
) -> DiscoveryParts:
    """Discovery's collaborators (one scan reader per provider), and the purchase-event reader
    when a queue is configured."""
    assert changes.commitments is not None
    policy = discovery_policy(settings)
    organizations = OrganizationReads(changes, calls, policy)
    readers: dict[Provider, ScanReader] = {
        Provider.AWS: AwsReader(changes, calls, policy, organizations),
        Provider.AZURE: AzureReader(azure, AzureDiscovery(azure.reservations.clients, changes.clock)),
    }
    scans = Scans(changes, changes.commitments, events, policy, readers)
    discovering = Discovering(scans, claims, settings.discovery_concurrency, settings.tick_batch, policy.event_spacing)
    commitments = changes.commitments
    on_startup: list[Hook] = [lambda: claim_recorded_commitments(changes, commitments)]
    on_shutdown: list[Hook] = [discovering.drain]
    if settings.discovery_events_queue_url:
        queue = PurchaseEventQueue(
            calls.aws.sessions,
            queue_url=settings.discovery_events_queue_url,
            region=settings.discovery_events_queue_region,
        )
        reader = PurchaseEvents(queue, discovering)
        on_startup.append(reader.start)
        on_shutdown.insert(0, reader.stop)
    return DiscoveryParts(discovering, organizations, on_startup, on_shutdown)


@dataclass(frozen=True)
class Service:
    """The revocation service's handlers' router, and what starts and stops with it."""

    router: RabbitRouter
    on_startup: list[Hook]
    on_shutdown: list[Hook]


def build_service(
    settings: RevocationSettings,
    database: AsyncDatabase[Document],
    events: EventSink,
    clock: Clock,
    aws: AwsAccounts,
    *,
    links: LinkAccess | None = None,
) -> Service:
    purchases, accounts, command_store = PurchaseStore(database), AccountStore(database), CommandStore(database)
    inbox = Inbox(database, retention=timedelta(days=settings.inbox_retention_days))
    commitments = CommitmentStore(database)
    changes = Changes(purchases, accounts, events, clock, lifecycle_policy(settings), commitments)
    backoff = Backoff(settings.aws_retry_rounds, settings.aws_backoff_base_seconds, settings.aws_backoff_cap_seconds)
    calls, replies = AwsCalls(aws, changes, backoff), Replies(clock)
    clients, box = azure_clients(settings), SecretBox(settings.secret_keys)
    azure_calls = AzureCalls(AzureReservations(clients), changes, box, backoff)
    azure = AzureRevoking(changes, azure_calls, replies, follow_seconds=settings.azure_follow_seconds)
    retention = timedelta(days=settings.command_retention_days)
    claims = Claims(command_store, clock, retention)
    probe_policy = ProbePolicy(
        max_age=timedelta(seconds=settings.probe_max_age_seconds),
        retry=timedelta(seconds=settings.unknown_retry_seconds),
    )
    commands = Commands(
        command_store,
        Revoking(changes, calls, replies, azure),
        SupportCases(changes, calls, claims, replies),
        Accounts(changes, calls, settings.default_role_name, probe_policy, discovery_policy(settings)),
        AzureAccounts(changes, box, azure_calls, discovery_policy(settings)),
        replies,
        clock,
        settings.reply_within_seconds,
        retention,
        max_in_flight=settings.max_commands_in_flight,
    )
    purges = [command_store.purge, command_store.purge_claims, lambda now: inbox.purge(now=now)]
    load_links: list[Hook] = []
    if links is None:  # the notifier's public keys, read from the settings at start-up
        links = LinkAccess(clock, leeway_seconds=settings.link_leeway_seconds)
        load_links.append(partial(_load_link_keys, links, settings))
    found = discovery(settings, changes, calls, claims, events, azure=azure_calls)
    router = build_router(
        links=links,
        recording=Recording(changes, calls, events, commitments, azure_calls),
        deliveries=Deliveries(changes),
        follow_ups=FollowUps(changes, calls, claims, commands, purges, settings.tick_batch, azure),
        discovering=found.discovering if settings.discovery_enabled else None,
        commands=commands,
        queries=Queries(changes, purchases.listing, found.organizations),
    )
    indexes = [purchases.ensure_indexes, accounts.ensure_indexes, command_store.ensure_indexes, inbox.ensure_indexes]
    background = (purchases, purchases.returns)  # start-up passes: the listing, the return tallies
    return Service(
        router,
        on_startup=[*indexes, *load_links, *(b.start for b in background), aws.start, *found.on_startup],
        on_shutdown=[*found.on_shutdown, commands.drain, *(b.stop for b in background), aws.close, clients.close],
    )


async def _load_link_keys(links: LinkAccess, settings: RevocationSettings) -> None:
    links.load(settings.link_public_keys_dir, settings.link_jwks_file)


def create_app(
    settings: RevocationSettings | None = None,
    *,
    clock: Clock | None = None,
    aws: AwsAccounts | None = None,
    tracing: Tracing | None = None,
) -> AsgiFastStream:
    settings = settings or RevocationSettings()
    clock = clock or SystemClock()
    tracing = tracing or Tracing.for_service(settings, "revocation")
    broker = build_broker(settings, app_id="revocation", tracing=tracing)
    mongo = create_mongo_client(
        settings.mongodb_url,
        appname="graceperiod-revocation",
        server_selection_timeout_ms=settings.mongodb_server_selection_timeout_ms,
        tracing=tracing,
    )
    events = EventPublisher(broker, [PurchaseRecorded, PurchaseChanged])
    service = build_service(
        settings, mongo[settings.mongodb_database], events, clock, aws or aws_accounts(settings, clock, tracing)
    )
    broker.include_router(service.router)
    return create_worker_app(
        service=ServiceName.REVOCATION,
        title="Grace Period revocation service",
        description=(
            "Records executed purchases and the ones it finds in onboarded accounts, works out their revocation "
            "windows and phases, and acts on AWS."
        ),
        broker=broker,
        mongo=mongo,
        on_startup=service.on_startup,
        on_shutdown=service.on_shutdown,
        tracing=tracing,
    )


def main() -> None:
    settings = RevocationSettings()
    serve(create_app(settings), settings, name="revocation")
