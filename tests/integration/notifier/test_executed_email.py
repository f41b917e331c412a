"""Issue 4: the executed-purchase email, end to end on real RabbitMQ, FerretDB and the SMTP sink."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from faststream.rabbit import RabbitBroker
from pymongo import AsyncMongoClient

from graceperiod.contracts.formatting import utc
from graceperiod.contracts.notifier import DeliveryStatus, DeliveryView, EmailDelivered, EmailKind
from graceperiod.contracts.revocation_views import Phase, Windows
from graceperiod.contracts.topology import Queues, RoutingKey
from graceperiod.devstack.servers.processes import SmtpSinkServer
from graceperiod.devstack.testkit.fixtures import Mailbox, dead_letters, running
from graceperiod.devstack.testkit.samples import GLOBAL_NOTIFICATION_EMAIL, purchase_payload
from graceperiod.devstack.testkit.upstream import publish_upstream
from graceperiod.notifier.store import DeliveryStore
from graceperiod.revocation.app import create_app as revocation_app
from graceperiod.revocation.settings import RevocationSettings
from graceperiod.runtime.clock import FrozenClock
from graceperiod.runtime.mongo import Document
from tests.integration.notifier.helpers import (
    LINK,
    NotifierFactory,
    about,
    buttons,
    html_of,
    publish_event,
    recorded,
    take,
    text_of,
    verify_link,
)
from tests.integration.progress import Finished

RECORDED = RoutingKey.PURCHASE_RECORDED


async def test_purchase_executed_emails_each_recipient_once_with_a_link_that_verifies(
    make_notifier: NotifierFactory,
    smtp_server: SmtpSinkServer,
    amqp_url: str,
    mongodb_url: str,
    db_prefix: str,
    upstream: RabbitBroker,
    mailbox: Mailbox,
    jwks: jwt.PyJWKSet,
    mongo: AsyncMongoClient[Document],
) -> None:
    revocation = revocation_app(
        RevocationSettings(amqp_url=amqp_url, mongodb_url=mongodb_url, mongodb_database=f"{db_prefix}_revocation")
    )
    notifier = make_notifier(smtp_url=smtp_server.url, global_notification_email="FinOps@Example.com")
    body = purchase_payload(
        contacts=[" Owner@Example.com", "finops@example.com", "OWNER@example.com "],
        requester_email="Alice@Example.com",
        direct_execute=True,
    )
    recorded_events = Finished(Queues.NOTIFIER_PURCHASE_RECORDED.queue)
    async with running(revocation, notifier):
        await publish_upstream(upstream, "purchase.executed", body, message_id=body["purchase_id"])
        await recorded_events.wait(1)  # handled: every email it sends has been accepted
        emails = await mailbox.wait_for(3, where=about(body["purchase_id"]))

    assert sorted(m["To"] for m in emails) == ["alice@example.com", "finops@example.com", "owner@example.com"]
    stored = await mongo[f"{db_prefix}_revocation"]["purchases"].find_one({"_id": body["purchase_id"]})
    assert stored is not None
    closes_at = Windows.model_validate(stored["windows"]).closes_at
    assert closes_at is not None
    for message in emails:
        assert message["Subject"] == (
            f"[Grace Period] Purchase executed: aws/savingsplans {body['sku']} in Payments Production (123456789012)"
        )
        assert message.get_content_type() == "multipart/alternative"
        text, html = text_of(message), html_of(message)
        for fingerprint in [
            "$13,140.00 upfront. Total over term: $13,140.00",
            "Requested by Alice Example <Alice@Example.com>",
            "Executed directly (grant: execute-direct:purchases)",
            f"Executed at: {utc(datetime.fromisoformat(body['executed_at']))}",
            f"Purchase id: {body['purchase_id']}",
        ]:
            assert fingerprint in text
        # The button and the plain-text URL are the same link, bound to this purchase and this recipient.
        (url,) = LINK.findall(text)
        assert buttons(html) == [url]
        assert urlsplit(url).path == f"/api/purchases/{body['purchase_id']}/revoke"
        claims = verify_link(parse_qs(urlsplit(url).query)["token"][0], jwks)
        assert claims["pid"] == body["purchase_id"]
        assert claims["sub"] == message["To"]
        assert claims["exp"] == int(closes_at.timestamp())


async def test_the_window_line_follows_the_windows_and_the_clock(
    make_notifier: NotifierFactory, smtp_server: SmtpSinkServer, upstream: RabbitBroker, mailbox: Mailbox
) -> None:
    executed = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    clock = FrozenClock(executed + timedelta(hours=5, minutes=30))
    open_window = recorded(
        contacts=[],
        executed_at=executed,
        windows=Windows(
            self_service_until=executed + timedelta(days=1),
            support_case_until=executed + timedelta(days=7),
            closes_at=executed + timedelta(days=7),
        ),
    )
    support_only = recorded(
        contacts=[],
        executed_at=executed,
        windows=Windows(support_case_until=executed + timedelta(days=7), closes_at=executed + timedelta(days=7)),
        phase=Phase.SUPPORT_CASE,
        kind="reserved_instance",
        service="ec2",
    )
    async with running(make_notifier(smtp_url=smtp_server.url, clock=clock)):
        for event in (open_window, support_only):
            await publish_event(upstream, RECORDED, event, message_id=f"rec-{event.purchase.purchase_id}")
        (first,) = await mailbox.wait_for(1, where=about(open_window.purchase.purchase_id))
        (second,) = await mailbox.wait_for(1, where=about(support_only.purchase.purchase_id))

    assert (
        "You can revoke this purchase until 2026-05-02 12:00 UTC (18 hours 30 minutes left); after that, "
        "only an AWS Support refund request remains, until 2026-05-08 12:00 UTC."
    ) in text_of(first)
    second_text = text_of(second)
    assert (
        "AWS offers no self-service revocation for this purchase. You can ask AWS Support for a refund until "
        "2026-05-08 12:00 UTC (6 days 18 hours left)"
    ) in second_text
    assert "You can revoke" not in second_text
    assert "Request a refund from AWS Support:" in second_text


async def test_a_redelivered_event_adds_no_email(
    make_notifier: NotifierFactory,
    smtp_server: SmtpSinkServer,
    upstream: RabbitBroker,
    mailbox: Mailbox,
    mongo: AsyncMongoClient[Document],
    db_prefix: str,
) -> None:
    event = recorded(contacts=["owner@example.com"])
    pid = event.purchase.purchase_id
    recorded_events = Finished(Queues.NOTIFIER_PURCHASE_RECORDED.queue)
    async with running(make_notifier(smtp_url=smtp_server.url, global_notification_email=GLOBAL_NOTIFICATION_EMAIL)):
        await publish_event(upstream, RECORDED, event, message_id=f"purchase-recorded:{pid}")
        await mailbox.wait_for(3, where=about(pid))
        # The same event again, and once more under another message id (a republished copy).
        await publish_event(upstream, RECORDED, event, message_id=f"purchase-recorded:{pid}")
        await publish_event(upstream, RECORDED, event, message_id="someone-else-republished-it")
        await recorded_events.wait(3)  # all three copies handled: whatever they sent is in the mailbox
        emails = await mailbox.wait_for(3, where=about(pid))

    assert recorded_events.handled == 3

    assert sorted(m["To"] for m in emails) == ["alice@example.com", "finops@example.com", "owner@example.com"]
    deliveries = mongo[f"{db_prefix}_notifier"]["deliveries"]
    assert await deliveries.count_documents({"purchase_id": pid, "status": "sent"}) == 3


async def test_a_refused_recipient_is_recorded_not_retried_and_the_others_get_their_email(
    make_notifier: NotifierFactory,
    smtp_server: SmtpSinkServer,
    upstream: RabbitBroker,
    mailbox: Mailbox,
    amqp_url: str,
    mongo: AsyncMongoClient[Document],
    db_prefix: str,
) -> None:
    event = recorded(contacts=["reject-owner@example.com", "owner@example.com"])
    pid = event.purchase.purchase_id
    recorded_events = Finished(Queues.NOTIFIER_PURCHASE_RECORDED.queue)
    async with running(make_notifier(smtp_url=smtp_server.url)):
        await publish_event(upstream, RECORDED, event, message_id=f"purchase-recorded:{pid}")
        await recorded_events.wait(1)
        emails = await mailbox.wait_for(2, where=about(pid))
        # (up to 2 taken, to see that there is 1)
        announced = await take(amqp_url, Queues.REVOCATION_EMAIL_DELIVERED.queue, expect=2, timeout=3)

    assert sorted(m["To"] for m in emails) == ["alice@example.com", "owner@example.com"]
    views = await DeliveryStore(mongo[f"{db_prefix}_notifier"]).for_purchase(pid)
    (rejected,) = [v for v in views if v.recipient == "reject-owner@example.com"]
    assert rejected.status is DeliveryStatus.REJECTED
    assert rejected.attempts == 1  # refused once, never tried again
    assert rejected.detail.startswith("550")
    assert (recorded_events.handled, recorded_events.dead_lettered) == (1, 0)
    # Read once: the only message was handled, so its dead-letter queue is final.
    assert await dead_letters(amqp_url, Queues.NOTIFIER_PURCHASE_RECORDED.queue, timeout=0.1) == []
    # One event announces every outcome for the purchase's timeline, with deterministic ids.
    (message,) = announced
    report = EmailDelivered.model_validate_json(message.body)
    assert {(e.recipient, e.status) for e in report.deliveries} == {
        ("reject-owner@example.com", DeliveryStatus.REJECTED),
        ("owner@example.com", DeliveryStatus.SENT),
        ("alice@example.com", DeliveryStatus.SENT),
    }
    assert report.kind is EmailKind.PURCHASE_EXECUTED
    assert report.purchase_id == pid
    # the single-email fields repeat the first, for consumers from before `deliveries`
    first = report.deliveries[0]
    assert (report.recipient, report.status, report.detail) == (first.recipient, first.status, first.detail)
    assert message.message_id.startswith("emails-delivered:")
    assert len({e.delivery_id for e in report.deliveries}) == 3
    assert all(e.delivery_id.startswith("email-delivered:") for e in report.deliveries)


async def test_a_message_no_recipient_accepts_is_dead_lettered_with_the_reasons(
    make_notifier: NotifierFactory,
    smtp_server: SmtpSinkServer,
    upstream: RabbitBroker,
    amqp_url: str,
    mongo: AsyncMongoClient[Document],
    db_prefix: str,
) -> None:
    event = recorded(contacts=["reject-a@example.com"], requester="reject-b@example.com")
    pid = event.purchase.purchase_id
    async with running(make_notifier(smtp_url=smtp_server.url)):
        await publish_event(upstream, RECORDED, event, message_id=f"purchase-recorded:{pid}")
        (letter,) = await dead_letters(amqp_url, Queues.NOTIFIER_PURCHASE_RECORDED.queue)

    reason = str(letter.headers["x-gp-error"])
    assert reason.startswith("PermanentMessageError: every recipient of purchase-executed email for")
    assert "reject-a@example.com: 550" in reason
    assert "reject-b@example.com: 550" in reason
    assert json.loads(letter.body)["purchase"]["purchase_id"] == pid  # kept for replay
    statuses = await mongo[f"{db_prefix}_notifier"]["deliveries"].distinct("status", {"purchase_id": pid})
    assert statuses == ["rejected"]


async def test_a_deferred_recipient_is_retried_while_the_others_are_not_emailed_again(
    make_notifier: NotifierFactory,
    smtp_server: SmtpSinkServer,
    upstream: RabbitBroker,
    mailbox: Mailbox,
    mongo: AsyncMongoClient[Document],
    db_prefix: str,
) -> None:
    event = recorded(contacts=["defer-owner@example.com"])
    pid = event.purchase.purchase_id
    store = DeliveryStore(mongo[f"{db_prefix}_notifier"])
    async with running(make_notifier(smtp_url=smtp_server.url)):
        await publish_event(upstream, RECORDED, event, message_id=f"purchase-recorded:{pid}")
        await mailbox.wait_for(1, where=about(pid))
        deferred: DeliveryView | None = None
        for _ in range(100):
            deferred = next((v for v in await store.for_purchase(pid) if v.recipient.startswith("defer")), None)
            if deferred is not None and deferred.attempts >= 3:
                break
            await asyncio.sleep(0.1)
        emails = await mailbox.wait_for(1, where=about(pid))

    assert deferred is not None
    assert deferred.status is DeliveryStatus.SENDING
    assert deferred.attempts >= 3
    assert deferred.detail.startswith("451")
    assert [m["To"] for m in emails] == ["alice@example.com"]  # sent once, skipped on every retry


async def test_mail_server_down_then_back_emails_arrive_late_once_each(
    make_notifier: NotifierFactory,
    upstream: RabbitBroker,
    tmp_path: Any,
    mongo: AsyncMongoClient[Document],
    db_prefix: str,
) -> None:
    sink = SmtpSinkServer(data_dir=tmp_path / "smtp")
    sink.start()
    try:
        mailbox = Mailbox(sink.maildir)
        event = recorded(contacts=["owner@example.com", "cfo@example.com"])
        pid = event.purchase.purchase_id
        database = mongo[f"{db_prefix}_notifier"]
        recorded_events = Finished(Queues.NOTIFIER_PURCHASE_RECORDED.queue)
        async with running(make_notifier(smtp_url=sink.url, max_concurrent_sends=2)):
            # A first email warms the pool: its connections are now persistent and will break.
            warm = recorded(contacts=[])
            await publish_event(upstream, RECORDED, warm, message_id="warm")
            await mailbox.wait_for(1, where=about(warm.purchase.purchase_id))
            sink.stop()
            await publish_event(upstream, RECORDED, event, message_id=f"purchase-recorded:{pid}")
            for _ in range(100):
                retried = await database["claims"].count_documents({"purchase_id": pid, "attempts": {"$gte": 2}})
                if retried == 3:
                    break
                await asyncio.sleep(0.1)
            assert not [m for m in mailbox.messages() if about(pid)(m)]
            sink.start()
            await recorded_events.wait(2, timeout=30)  # the warm-up and the event, retried until sent
            emails = await mailbox.wait_for(3, where=about(pid))
        assert sorted(m["To"] for m in emails) == ["alice@example.com", "cfo@example.com", "owner@example.com"]
        assert retried == 3
        assert await database["deliveries"].count_documents({"purchase_id": pid, "status": "sent"}) == 3
    finally:
        sink.stop()
