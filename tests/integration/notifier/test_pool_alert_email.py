"""The low-pool alert email (real broker, FerretDB and SMTP sink): the cooldown service's
``cooldown.pool.low`` reaches the global notification address once per alert, however often
it is delivered; without an address nothing is sent and nothing is dead-lettered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

from faststream.rabbit import RabbitBroker

from graceperiod.contracts.topology import Queues, RoutingKey
from graceperiod.contracts.wait_list import PoolRunningLow
from graceperiod.devstack.servers.processes import SmtpSinkServer
from graceperiod.devstack.testkit.fixtures import Mailbox, running
from tests.integration.notifier.helpers import NotifierFactory, html_of, publish_event, text_of
from tests.integration.progress import Finished

QUEUE = Queues.NOTIFIER_POOL_RUNNING_LOW.queue
AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def alert(number: int) -> PoolRunningLow:
    return PoolRunningLow(
        occurred_at=AT,
        alert_id=f"pool-low-{number:08d}",
        available=1,
        threshold=3,
        cooling=4,
        waiting=2,
        next_release_at=AT + timedelta(hours=5),
        period_hours=12,
    )


def pool_alerts(message: EmailMessage) -> bool:
    return str(message["X-Grace-Period-Email"]) == "pool-running-low"


async def test_each_alert_is_emailed_once_to_the_global_address(
    make_notifier: NotifierFactory, smtp_server: SmtpSinkServer, upstream: RabbitBroker, mailbox: Mailbox
) -> None:
    handled = Finished(QUEUE)
    async with running(make_notifier(smtp_url=smtp_server.url, global_notification_email="FinOps@Example.com")):
        for _ in range(3):  # redelivered, or published again after a crash: the same message id
            await publish_event(
                upstream, RoutingKey.POOL_RUNNING_LOW, alert(1), message_id="cooldown:pool-low-00000001"
            )
        await publish_event(upstream, RoutingKey.POOL_RUNNING_LOW, alert(2), message_id="cooldown:pool-low-00000002")
        await handled.wait(4)
    emails = [m for m in mailbox.messages() if pool_alerts(m)]
    assert len(emails) == 2  # one per alert
    first = emails[0]
    assert first["To"] == "finops@example.com"
    assert first["Subject"] == "[Grace Period] Sandbox pool running low: 1 account Available"
    text = text_of(first)
    for line in ("Available: 1", "Alert threshold: fewer than 3", "In Cooldown: 4", "Leases waiting: 2"):
        assert line in text
    assert "at most one such email every 12 hours" in text
    assert "The pool: https://gp.example.com/accounts" in text
    assert 'href="https://gp.example.com/accounts"' in html_of(first)
    assert handled.dead_lettered == 0


async def test_without_a_global_address_nothing_is_sent_and_nothing_is_lost(
    make_notifier: NotifierFactory, smtp_server: SmtpSinkServer, upstream: RabbitBroker, mailbox: Mailbox
) -> None:
    handled = Finished(QUEUE)
    async with running(make_notifier(smtp_url=smtp_server.url)):
        await publish_event(upstream, RoutingKey.POOL_RUNNING_LOW, alert(3), message_id="cooldown:pool-low-00000003")
        await handled.wait(1)
    assert (handled.handled, handled.dead_lettered) == (1, 0)
    assert [m for m in mailbox.messages() if pool_alerts(m)] == []
