"""The notifier's RPC interface (global notification address, delivery log) and its delivery
claims, on the real broker and FerretDB."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from faststream.rabbit import RabbitBroker
from pymongo import AsyncMongoClient

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
from graceperiod.contracts.rpc import Actor, ErrorCode
from graceperiod.contracts.topology import Queues, RoutingKey
from graceperiod.devstack.servers.processes import SmtpSinkServer
from graceperiod.devstack.testkit.fixtures import Mailbox, running
from graceperiod.notifier.domain.deliveries import Claim, DeliveryKey
from graceperiod.notifier.store import DeliveryStore
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


async def test_without_a_link_signing_key_the_notifier_refuses_to_start(make_notifier: NotifierFactory) -> None:
    with pytest.raises(KeyConfigurationError, match="no signing key configured: give NOTIFIER_LINK_KEYS_DIR"):
        async with running(make_notifier(link_keys_dir=None)):
            pass
