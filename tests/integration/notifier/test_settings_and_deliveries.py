"""The notifier's RPC interface (global notification address, delivery log) and its delivery
claims, on the real broker and FerretDB."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from faststream.rabbit import RabbitBroker
from pymongo import AsyncMongoClient
from pymongo.monitoring import CommandFailedEvent, CommandListener, CommandStartedEvent, CommandSucceededEvent

from graceperiod.contracts.enums import ActionPath, Permission
from graceperiod.contracts.identities import BrokerIdentity
from graceperiod.contracts.notifier import (
    DeliveriesReply,
    DeliveryStatus,
    EmailKind,
    GetNotificationSettings,
    ListDeliveries,
    NotificationSettingsReply,
    SetNotificationSettings,
)
from graceperiod.contracts.revocation import PurchaseRecorded
from graceperiod.contracts.revocation_views import Phase, Windows
from graceperiod.contracts.rpc import Actor, ErrorCode
from graceperiod.contracts.topology import Queues, RoutingKey
from graceperiod.devstack.servers.processes import SmtpSinkServer
from graceperiod.devstack.testkit.fixtures import Mailbox, running
from graceperiod.devstack.testkit.samples import sample_purchase
from graceperiod.notifier.domain.deliveries import Claim, DeliveryKey
from graceperiod.notifier.domain.reminders import ReminderRecord, reminder_for
from graceperiod.notifier.store import CoalescedInserts, DeliveryStore, ReminderStore
from graceperiod.runtime.mongo import Document
from graceperiod.runtime.rpc import call
from graceperiod.runtime.signing_keys import KeyConfigurationError
from tests.integration.notifier.helpers import NotifierFactory, about, publish_event, recorded
from tests.integration.progress import Finished

ADMIN = Actor(
    user_id="u-admin", email="admin@example.com", permissions=[Permission.UPDATE_CONFIG], path=ActionPath.DASHBOARD
)
USER = Actor(user_id="u-bob", email="bob@example.com", path=ActionPath.DASHBOARD)


async def current_settings(broker: RabbitBroker) -> NotificationSettingsReply:
    query = GetNotificationSettings(actor=USER)
    return await call(
        broker, Queues.NOTIFIER_QUERIES, query, NotificationSettingsReply, timeout=10, user_id=BrokerIdentity.GATEWAY
    )


async def test_the_global_address_changes_at_run_time_for_those_allowed_to(
    make_notifier: NotifierFactory, smtp_server: SmtpSinkServer, upstream: RabbitBroker, mailbox: Mailbox
) -> None:
    async with running(make_notifier(smtp_url=smtp_server.url, global_notification_email="finops@example.com")):
        before = await call(
            upstream,
            Queues.NOTIFIER_QUERIES,
            GetNotificationSettings(actor=USER),
            NotificationSettingsReply,
            timeout=10,
            user_id=BrokerIdentity.GATEWAY,
        )
        refused = await call(
            upstream,
            Queues.NOTIFIER_COMMANDS,
            SetNotificationSettings(actor=USER, idempotency_key="k1", global_notification_email="x@example.com"),
            NotificationSettingsReply,
            timeout=10,
            user_id=BrokerIdentity.GATEWAY,
        )
        invalid = await call(
            upstream,
            Queues.NOTIFIER_COMMANDS,
            SetNotificationSettings(actor=ADMIN, idempotency_key="k2", global_notification_email="not an address"),
            NotificationSettingsReply,
            timeout=10,
            user_id=BrokerIdentity.GATEWAY,
        )
        changed = await call(
            upstream,
            Queues.NOTIFIER_COMMANDS,
            SetNotificationSettings(actor=ADMIN, idempotency_key="k3", global_notification_email=" Team@Example.com "),
            NotificationSettingsReply,
            timeout=10,
            user_id=BrokerIdentity.GATEWAY,
        )
        event = recorded(contacts=[])
        pid = event.purchase.purchase_id
        recorded_events = Finished(Queues.NOTIFIER_PURCHASE_RECORDED.queue)
        await publish_event(upstream, RoutingKey.PURCHASE_RECORDED, event, message_id=f"purchase-recorded:{pid}")
        await recorded_events.wait(1)
        emails = await mailbox.wait_for(2, where=about(pid))
        deliveries = await call(
            upstream,
            Queues.NOTIFIER_QUERIES,
            ListDeliveries(actor=USER, purchase_id=pid),
            DeliveriesReply,
            timeout=10,
            user_id=BrokerIdentity.GATEWAY,
        )

    assert before.settings is not None
    assert before.settings.global_notification_email == "finops@example.com"
    assert refused.problem is not None
    assert refused.problem.code is ErrorCode.FORBIDDEN
    assert invalid.problem is not None
    assert invalid.problem.code is ErrorCode.INVALID
    assert changed.settings is not None
    assert changed.settings.global_notification_email == "team@example.com"
    assert changed.settings.updated_by == "admin@example.com"
    assert sorted(m["To"] for m in emails) == ["alice@example.com", "team@example.com"]
    assert sorted((d.recipient, d.status, d.kind) for d in deliveries.items) == [
        ("alice@example.com", DeliveryStatus.SENT, EmailKind.PURCHASE_EXECUTED),
        ("team@example.com", DeliveryStatus.SENT, EmailKind.PURCHASE_EXECUTED),
    ]


async def test_a_run_time_change_survives_a_restart_with_the_old_configured_value(
    make_notifier: NotifierFactory, upstream: RabbitBroker
) -> None:
    async with running(make_notifier(global_notification_email="finops@example.com")):
        await call(
            upstream,
            Queues.NOTIFIER_COMMANDS,
            SetNotificationSettings(actor=ADMIN, idempotency_key="k1", global_notification_email="team@example.com"),
            NotificationSettingsReply,
            timeout=10,
            user_id=BrokerIdentity.GATEWAY,
        )
    async with running(make_notifier(global_notification_email="finops@example.com")):
        after = await call(
            upstream,
            Queues.NOTIFIER_QUERIES,
            GetNotificationSettings(actor=USER),
            NotificationSettingsReply,
            timeout=10,
            user_id=BrokerIdentity.GATEWAY,
        )
    assert after.settings is not None
    assert after.settings.global_notification_email == "team@example.com"


async def test_a_configured_value_applies_while_nobody_changed_it_at_run_time(
    make_notifier: NotifierFactory, upstream: RabbitBroker
) -> None:
    async with running(make_notifier(global_notification_email="finops@example.com")):
        pass
    async with running(make_notifier(global_notification_email="finops-v2@example.com")):
        after = await call(
            upstream,
            Queues.NOTIFIER_QUERIES,
            GetNotificationSettings(actor=USER),
            NotificationSettingsReply,
            timeout=10,
            user_id=BrokerIdentity.GATEWAY,
        )
    assert after.settings is not None
    assert after.settings.global_notification_email == "finops-v2@example.com"


async def test_one_claim_wins_a_live_claim_is_busy_an_expired_one_is_retaken_a_finished_one_is_done(
    mongo: AsyncMongoClient[Document], db_prefix: str
) -> None:
    store = DeliveryStore(mongo[f"{db_prefix}_notifier"], lease=timedelta(seconds=60))
    await store.ensure_indexes()
    key = DeliveryKey(EmailKind.PURCHASE_EXECUTED, "pur-1", "a@example.com")
    now = datetime.now(UTC).replace(microsecond=0)

    first, second = await asyncio.gather(store.claim(key, now=now), store.claim(key, now=now))
    assert sorted([first[0], second[0]]) == sorted([Claim.CLAIMED, Claim.BUSY])
    assert (await store.claim(key, now=now + timedelta(seconds=59)))[0] is Claim.BUSY
    assert (await store.claim(key, now=now + timedelta(seconds=61)))[0] is Claim.CLAIMED  # the owner died
    await store.finish(key, status=DeliveryStatus.SENT, now=now + timedelta(seconds=62))
    claim, done = await store.claim(key, now=now + timedelta(days=400))
    assert claim is Claim.DONE
    assert done is not None
    assert done.status is DeliveryStatus.SENT
    # Another change of the same purchase is another email.
    other = DeliveryKey(EmailKind.REVOCATION_OUTCOME, "pur-1", "a@example.com", "evt-2")
    assert (await store.claim(other, now=now))[0] is Claim.CLAIMED
    assert await store.purge(finished_before=now + timedelta(days=1)) == 1


class _Inserts(CommandListener):
    """Counts the ``insert`` commands a client sends."""

    def __init__(self) -> None:
        self.commands = 0

    def started(self, event: CommandStartedEvent) -> None:
        self.commands += event.command_name == "insert"

    def succeeded(self, event: CommandSucceededEvent) -> None:
        pass

    def failed(self, event: CommandFailedEvent) -> None:
        pass


async def test_concurrent_events_share_insert_commands_and_each_learns_only_its_own_duplicates(
    mongodb_url: str, mongo: AsyncMongoClient[Document], db_prefix: str
) -> None:
    inserts = _Inserts()
    client: AsyncMongoClient[Document] = AsyncMongoClient(mongodb_url, tz_aware=True, event_listeners=[inserts])
    try:
        store = DeliveryStore(client[f"{db_prefix}_notifier"], lease=timedelta(seconds=60))
        now = datetime.now(UTC).replace(microsecond=0)
        kind = EmailKind.PURCHASE_EXECUTED
        events = [[DeliveryKey(kind, f"pur-{i}", f"{r}@example.com") for r in "abc"] for i in range(20)]
        await store.claim_many(events[3][1:], now=now)  # pur-3's b and c: claimed before, still live
        await store.claim_many(events[5], now=now)  # pur-5: sent before
        await store.finish_many(events[5], status=DeliveryStatus.SENT, now=now)
        before = inserts.commands

        claims = await asyncio.gather(*(store.claim_many(keys, now=now) for keys in events))
        sent = await asyncio.gather(*(store.finish_many(keys, status=DeliveryStatus.SENT, now=now) for keys in events))

        assert inserts.commands - before <= 4, "20 events' claims and deliveries: a few shared inserts, not 40"
        for index, outcome in enumerate(claims):
            expected = {3: [Claim.CLAIMED, Claim.BUSY, Claim.BUSY], 5: [Claim.DONE] * 3}.get(index, [Claim.CLAIMED] * 3)
            assert [claim for claim, _ in outcome] == expected, index
        assert all(len(records) == 3 for records in sent)
        assert await mongo[f"{db_prefix}_notifier"]["deliveries"].count_documents({}) == 60
        assert await mongo[f"{db_prefix}_notifier"]["claims"].count_documents({}) == 60
    finally:
        await client.close()


async def test_a_caller_cancelled_before_its_insert_is_sent_gets_nothing_written(
    mongo: AsyncMongoClient[Document], db_prefix: str
) -> None:
    inserts = CoalescedInserts(mongo[f"{db_prefix}_notifier"], "claims")
    kept = asyncio.create_task(inserts.insert([{"_id": "kept"}]))
    dropped = asyncio.create_task(inserts.insert([{"_id": "dropped"}]))
    await asyncio.sleep(0)  # both queued, their shared command not sent yet
    dropped.cancel()
    assert await kept == set()
    with pytest.raises(asyncio.CancelledError):
        await dropped
    assert [doc["_id"] async for doc in mongo[f"{db_prefix}_notifier"]["claims"].find()] == ["kept"]


async def test_a_reminder_is_stored_once_however_often_its_event_comes(
    mongo: AsyncMongoClient[Document], db_prefix: str
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    purchase = sample_purchase(purchase_id="pur-1", executed_at=now)

    def reminder(hours_left: int) -> ReminderRecord:
        windows = Windows(self_service_until=now + timedelta(hours=hours_left), closes_at=now + timedelta(days=7))
        event = PurchaseRecorded(occurred_at=now, purchase=purchase, windows=windows, phase=Phase.SELF_SERVICE)
        found = reminder_for(event, hours_before=24, now=now)
        assert found is not None
        return found

    store = ReminderStore(mongo[f"{db_prefix}_notifier"])
    first, other = reminder(48), reminder(72)
    await asyncio.gather(store.schedule(first), store.schedule(other), store.schedule(first))
    stored = await store.get("pur-1")
    assert stored in (first, other)
    await store.schedule(other if stored == first else first)  # a later redelivery changes nothing
    assert await store.get("pur-1") == stored
    assert await mongo[f"{db_prefix}_notifier"]["reminders"].count_documents({}) == 1


async def test_reminders_of_events_arriving_within_the_linger_share_one_insert(
    mongodb_url: str, mongo: AsyncMongoClient[Document], db_prefix: str
) -> None:
    inserts = _Inserts()
    client: AsyncMongoClient[Document] = AsyncMongoClient(mongodb_url, tz_aware=True, event_listeners=[inserts])
    try:
        store = ReminderStore(client[f"{db_prefix}_notifier"], linger=0.2)
        now = datetime.now(UTC).replace(microsecond=0)
        windows = Windows(self_service_until=now + timedelta(hours=48), closes_at=now + timedelta(days=7))

        async def schedule(index: int) -> None:
            await asyncio.sleep(index * 0.02)  # events arriving one after the other, not at once
            purchase = sample_purchase(purchase_id=f"pur-{index}", executed_at=now)
            event = PurchaseRecorded(occurred_at=now, purchase=purchase, windows=windows, phase=Phase.SELF_SERVICE)
            found = reminder_for(event, hours_before=24, now=now)
            assert found is not None
            await store.schedule(found)

        await asyncio.gather(*(schedule(i) for i in range(5)))

        assert inserts.commands == 1, "5 reminders 20 ms apart, within a 200-ms linger: one insert"
        assert await mongo[f"{db_prefix}_notifier"]["reminders"].count_documents({}) == 5
    finally:
        await client.close()


async def test_without_a_link_signing_key_the_notifier_refuses_to_start(make_notifier: NotifierFactory) -> None:
    with pytest.raises(KeyConfigurationError, match="no signing key configured: give NOTIFIER_LINK_KEYS_DIR"):
        async with running(make_notifier(link_keys_dir=None)):
            pass
