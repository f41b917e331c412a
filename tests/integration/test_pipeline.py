"""Issue 2, step 9: a purchase.executed flows through revocation and notifier into the
SMTP server's mailbox, over RabbitMQ and a MongoDB-protocol server, all real."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from faststream.rabbit import RabbitBroker
from pymongo import AsyncMongoClient

from graceperiod.contracts.topology import QueueKind, Queues
from graceperiod.devstack.servers.processes import SmtpSinkServer, management_request
from graceperiod.devstack.testkit.fixtures import Mailbox, RabbitEndpoint, dead_letters, running
from graceperiod.devstack.testkit.samples import GLOBAL_NOTIFICATION_EMAIL, purchase_payload
from graceperiod.devstack.testkit.upstream import publish_upstream
from graceperiod.notifier.app import create_app as notifier_app
from graceperiod.notifier.settings import NotifierSettings
from graceperiod.revocation.app import create_app as revocation_app
from graceperiod.revocation.recording import Recording
from graceperiod.revocation.settings import RevocationSettings
from graceperiod.runtime.messaging import DELIVERY_LIMIT
from graceperiod.runtime.mongo import Document
from tests.integration.progress import Finished


@pytest.fixture
async def pipeline(
    amqp_url: str, mongodb_url: str, db_prefix: str, smtp_server: SmtpSinkServer, link_keys_dir: Path
) -> AsyncIterator[None]:
    common: dict[str, Any] = {"amqp_url": amqp_url, "mongodb_url": mongodb_url, "retry_backoff_base_seconds": 0.05}
    revocation = revocation_app(RevocationSettings(**common, mongodb_database=f"{db_prefix}_revocation"))
    notifier = notifier_app(
        NotifierSettings(
            **common,
            mongodb_database=f"{db_prefix}_notifier",
            smtp_url=smtp_server.url,
            global_notification_email=GLOBAL_NOTIFICATION_EMAIL,
            link_keys_dir=link_keys_dir,
        )
    )
    async with running(revocation, notifier):
        yield


RECORDED_QUEUE = Queues.NOTIFIER_PURCHASE_RECORDED.queue


async def _all_handled(executed: Finished, recorded: Finished, *, copies: int) -> None:
    """Both services dealt with every copy: revocation announces a purchase on each delivery of
    ``purchase.executed`` (one message id), and the notifier handled each announcement."""
    await executed.wait(copies)
    await recorded.wait(executed.handled)


def _about(purchase_id: str) -> Callable[[EmailMessage], bool]:
    return lambda m: m["X-Grace-Period-Purchase"] == purchase_id


@pytest.mark.usefixtures("pipeline")
async def test_executed_purchase_is_stored_and_emailed_once_per_recipient(
    upstream: RabbitBroker, mailbox: Mailbox, mongo: AsyncMongoClient[Document], db_prefix: str
) -> None:
    body = purchase_payload(contacts=["Owner@Example.com ", "finops@example.com"], requester_email="alice@example.com")
    executed, recorded = Finished(Queues.REVOCATION_PURCHASE_EXECUTED.queue), Finished(RECORDED_QUEUE)
    await publish_upstream(upstream, "purchase.executed", body, message_id=body["purchase_id"])
    await _all_handled(executed, recorded, copies=1)

    emails: list[EmailMessage] = await mailbox.wait_for(3, where=_about(body["purchase_id"]))

    assert sorted(m["To"] for m in emails) == [
        "alice@example.com",
        "finops@example.com",
        "owner@example.com",
    ]
    for message in emails:
        assert message["Subject"] == (
            f"[Grace Period] Purchase executed: aws/savingsplans {body['sku']} in Payments Production (123456789012)"
        )
        text = message.get_body(("plain",))
        assert text is not None
        assert "$13,140.00 upfront. Total over term: $13,140.00" in text.get_content()
    stored = await mongo[f"{db_prefix}_revocation"]["purchases"].find_one({"_id": body["purchase_id"]})
    assert stored is not None
    assert stored["purchase"]["cost"]["total"] == "13140.00"
    assert stored["windows"]["support_case_until"] is not None


@pytest.mark.usefixtures("pipeline")
async def test_the_same_message_twice_has_one_effect(
    upstream: RabbitBroker, mailbox: Mailbox, mongo: AsyncMongoClient[Document], db_prefix: str
) -> None:
    body = purchase_payload(contacts=["owner@example.com"], requester_email="alice@example.com")
    executed, recorded = Finished(Queues.REVOCATION_PURCHASE_EXECUTED.queue), Finished(RECORDED_QUEUE)
    for _ in range(2):
        await publish_upstream(upstream, "purchase.executed", body, message_id=body["purchase_id"])
    await _all_handled(executed, recorded, copies=2)

    emails = await mailbox.wait_for(3, where=_about(body["purchase_id"]))

    assert sorted(m["To"] for m in emails) == [
        "alice@example.com",
        "finops@example.com",
        "owner@example.com",
    ]
    purchases = mongo[f"{db_prefix}_revocation"]["purchases"]
    assert await purchases.count_documents({"_id": body["purchase_id"]}) == 1
    deliveries = mongo[f"{db_prefix}_notifier"]["deliveries"]
    assert await deliveries.count_documents({"purchase_id": body["purchase_id"], "status": "sent"}) == 3


@pytest.mark.usefixtures("pipeline")
async def test_malformed_messages_are_dead_lettered_with_a_reason_and_traffic_keeps_flowing(
    upstream: RabbitBroker, amqp_url: str, mailbox: Mailbox
) -> None:
    missing = purchase_payload()
    del missing["account"]
    wrong_type = purchase_payload()
    wrong_type["term_months"] = "twelve"
    poison: list[tuple[str, bytes | dict[str, object], str]] = [
        ("bad-json", b"{not json", "application/json"),
        ("missing-field", missing, "application/json"),
        ("wrong-type", wrong_type, "application/json"),
        ("wrong-content-type", b"purchase_id=1", "text/plain"),
    ]
    for message_id, payload, content_type in poison:
        await publish_upstream(upstream, "purchase.executed", payload, message_id=message_id, content_type=content_type)
    good = purchase_payload(contacts=[], requester_email="alice@example.com")
    await publish_upstream(upstream, "purchase.executed", good, message_id=good["purchase_id"])

    await mailbox.wait_for(2, where=_about(good["purchase_id"]))
    letters = await dead_letters(amqp_url, "revocation.purchase.executed", expect=len(poison))

    reasons = {m.message_id: str(m.headers["x-gp-error"]) for m in letters}
    assert set(reasons) == {message_id for message_id, _, _ in poison}
    assert reasons["bad-json"].startswith("body is not valid JSON")
    assert "account: Field required" in reasons["missing-field"]
    assert "term_months: Input should be a valid integer" in reasons["wrong-type"]
    assert "not application/json" in reasons["wrong-content-type"]
    assert all(m.headers["x-gp-error-kind"] == "bad-input" for m in letters)
    assert {m.body for m in letters} >= {
        b"{not json",
        b"purchase_id=1",
    }  # kept byte for byte, for replay


async def test_a_handler_that_keeps_failing_is_retried_then_dead_lettered(
    amqp_url: str, mongodb_url: str, db_prefix: str, upstream: RabbitBroker
) -> None:
    settings = RevocationSettings(
        amqp_url=amqp_url,
        mongodb_url=mongodb_url,
        mongodb_database=f"{db_prefix}_revocation",
        retry_backoff_base_seconds=0.01,
        max_handler_errors=3,
    )
    attempts = 0

    async def broken(self: Recording, body: object) -> None:
        nonlocal attempts
        attempts += 1
        raise RuntimeError("simulated bug")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Recording, "record", broken)
        async with running(revocation_app(settings)):
            body = purchase_payload()
            await publish_upstream(upstream, "purchase.executed", body, message_id=body["purchase_id"])
            letters = await dead_letters(amqp_url, "revocation.purchase.executed")
    assert attempts == 3
    assert letters[0].headers["x-gp-error"] == "RuntimeError: simulated bug"
    assert letters[0].headers["x-gp-attempts"] == 3


async def test_every_queue_is_a_quorum_queue_with_a_delivery_limit_and_a_dead_letter_queue(
    amqp_url: str, mongodb_url: str, db_prefix: str, rabbit: RabbitEndpoint
) -> None:
    management = rabbit.management_url
    if not management:
        pytest.skip("the broker's management API is not reachable")
    app = revocation_app(
        RevocationSettings(amqp_url=amqp_url, mongodb_url=mongodb_url, mongodb_database=f"{db_prefix}_r")
    )
    async with running(app):
        await asyncio.sleep(0)
    vhost = unquote(urlsplit(amqp_url).path.lstrip("/")) or "/"
    queues = {q["name"]: q for q in management_request(management, "GET", f"api/queues/{vhost}")}
    for binding in Queues.all():
        queue = queues[binding.queue]
        assert queue["durable"] is True
        assert queue["arguments"]["x-queue-type"] == "quorum"
        assert queue["arguments"]["x-delivery-limit"] == DELIVERY_LIMIT
        if binding.kind is not QueueKind.TICKS:  # overflowed ticks are dropped, not dead-lettered
            assert queue["arguments"]["x-dead-letter-exchange"] == "graceperiod.dlx"
        assert queues[f"{binding.queue}.dlq"]["arguments"]["x-queue-type"] == "quorum"
