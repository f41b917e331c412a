"""Issue 16, item 7: one reminder email before the self-service window closes, once per
purchase and recipient, over real RabbitMQ, FerretDB and the SMTP sink, with two notifier
replicas, duplicated ticks and a redelivered event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from faststream.rabbit import RabbitBroker

from graceperiod.contracts.revocation import PurchaseChanged, PurchaseChangeKind
from graceperiod.contracts.revocation_views import Audit, Phase, Windows
from graceperiod.contracts.topology import Queues, RoutingKey
from graceperiod.contracts.upstream import Tick
from graceperiod.devstack.servers.processes import SmtpSinkServer
from graceperiod.devstack.testkit.fixtures import Mailbox, running
from graceperiod.runtime.clock import FrozenClock
from graceperiod.runtime.messaging import publish_tick
from tests.integration.notifier.helpers import (
    LINK,
    NotifierFactory,
    about,
    buttons,
    html_of,
    publish_event,
    recorded,
    text_of,
)
from tests.integration.progress import Finished

T0 = datetime.now(UTC).replace(microsecond=0)
H = timedelta(hours=1)


def windows(self_service: timedelta) -> Windows:
    return Windows(self_service_until=T0 + self_service, support_case_until=T0 + 7 * 24 * H, closes_at=T0 + 7 * 24 * H)


async def tick(upstream: RabbitBroker, clock: FrozenClock, n: int, *, copies: int = 2) -> None:
    ticks = Finished(Queues.NOTIFIER_TICKS.queue)
    now = clock.now()
    event = Tick(tick_id=f"tick-{n}", at=now, occurred_at=now)
    for _ in range(copies):
        await publish_tick(upstream, event, message_id=event.tick_id)
    await ticks.wait(copies)


async def test_one_reminder_per_recipient_before_the_window_closes_and_none_once_revoked(
    make_notifier: NotifierFactory, smtp_server: SmtpSinkServer, upstream: RabbitBroker, mailbox: Mailbox
) -> None:
    clock = FrozenClock(T0)
    kept = recorded(contacts=["owner@example.com"], executed_at=T0, windows=windows(72 * H))
    revoked = recorded(contacts=["owner@example.com"], executed_at=T0, windows=windows(72 * H))
    short = recorded(contacts=["owner@example.com"], executed_at=T0, windows=windows(20 * H))
    options = {"smtp_url": smtp_server.url, "reminder_hours_before": 24}
    replicas = [make_notifier(clock=clock, **options), make_notifier(clock=clock, **options)]
    recordings = Finished(Queues.NOTIFIER_PURCHASE_RECORDED.queue)
    async with running(*replicas):
        for event in (kept, revoked, short):
            pid = event.purchase.purchase_id
            await publish_event(upstream, RoutingKey.PURCHASE_RECORDED, event, message_id=f"recorded:{pid}")
        # a redelivered recording schedules nothing twice
        await publish_event(
            upstream, RoutingKey.PURCHASE_RECORDED, kept, message_id=f"recorded:{kept.purchase.purchase_id}"
        )
        await recordings.wait(4)
        await mailbox.wait_for(6, where=lambda m: str(m["X-Grace-Period-Email"]) == "purchase-executed")

        await tick(upstream, clock, 1)  # 72 h left: nothing due yet
        change = PurchaseChanged(
            occurred_at=clock.now(),
            change=PurchaseChangeKind.REVOCATION_REQUESTED,
            purchase=revoked.purchase,
            windows=revoked.windows,
            phase=Phase.REVOCATION_PENDING,
            audit=Audit(),
            summary="Revocation requested",
        )
        changes = Finished(Queues.NOTIFIER_PURCHASE_CHANGED.queue)
        await publish_event(upstream, RoutingKey.PURCHASE_CHANGED, change, message_id="changed:revoked:1")
        await changes.wait(1)

        clock.advance(48 * H + timedelta(minutes=1))  # 24 h left on the two 72-hour windows
        for n in range(2, 5):
            await tick(upstream, clock, n)
        reminders = await mailbox.wait_for(2, where=about(kept.purchase.purchase_id, "window-reminder"), settle=1.0)
        clock.advance(3 * H)
        await tick(upstream, clock, 5)

    every = [m for m in mailbox.messages() if str(m["X-Grace-Period-Email"]) == "window-reminder"]
    assert sorted(str(m["To"]) for m in every) == ["alice@example.com", "owner@example.com"]
    assert {str(m["X-Grace-Period-Purchase"]) for m in every} == {kept.purchase.purchase_id}
    message = reminders[0]
    assert str(message["Subject"]).startswith("[Grace Period] Revocation window closing soon: ")
    text = text_of(message)
    assert "the revocation window closes in 23 hours 59 minutes" in text
    assert "You can revoke this purchase until " in text
    assert "This is the only reminder." in text
    link = LINK.search(text)
    assert link
    assert buttons(html_of(message)) == [link.group(0)]


async def test_no_reminder_when_reminders_are_off(
    make_notifier: NotifierFactory, smtp_server: SmtpSinkServer, upstream: RabbitBroker, mailbox: Mailbox
) -> None:
    clock = FrozenClock(T0)
    event = recorded(contacts=[], executed_at=T0, windows=windows(72 * H))
    pid = event.purchase.purchase_id
    recordings = Finished(Queues.NOTIFIER_PURCHASE_RECORDED.queue)
    async with running(make_notifier(clock=clock, smtp_url=smtp_server.url, reminder_hours_before=0)):
        await publish_event(upstream, RoutingKey.PURCHASE_RECORDED, event, message_id=f"recorded:{pid}")
        await recordings.wait(1)
        clock.advance(60 * H)
        await tick(upstream, clock, 1, copies=1)
    assert not [m for m in mailbox.messages() if about(pid, "window-reminder")(m)]
