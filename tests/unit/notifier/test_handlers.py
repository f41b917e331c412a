"""The notifier's handlers on FastStream's TestRabbitBroker (no server): each queue decodes
its contract and reaches the right use of the service, RPC replies come back typed, and bad
input is dead-lettered without reaching the service. Sending email is covered by the
integration tests, on real servers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from graceperiod.contracts.enums import ActionPath, Permission
from graceperiod.contracts.notifier import (
    DeliveriesReply,
    DeliveryStatus,
    DeliveryView,
    EmailKind,
    GetNotificationSettings,
    ListDeliveries,
    NotificationSettings,
    NotificationSettingsReply,
    SetNotificationSettings,
)
from graceperiod.contracts.revocation import PurchaseChanged, PurchaseChangeKind, PurchaseRecorded
from graceperiod.contracts.revocation_views import Audit, Phase, Windows
from graceperiod.contracts.rpc import Actor
from graceperiod.contracts.topology import Queues
from graceperiod.contracts.upstream import Tick
from graceperiod.devstack.testkit.samples import sample_purchase
from graceperiod.notifier.handlers import build_router
from graceperiod.notifier.service import NotifierService
from tests.unit.broker_harness import Harness, handlers_on_test_broker

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ADMIN = Actor(user_id="u-admin", email="admin@example.com", permissions=[Permission.UPDATE_CONFIG], path=ActionPath.API)
PURCHASE = sample_purchase(executed_at=T0)
WINDOWS = Windows(self_service_until=T0 + timedelta(days=7), closes_at=T0 + timedelta(days=7))
RECORDED = PurchaseRecorded(occurred_at=T0, purchase=PURCHASE, windows=WINDOWS, phase=Phase.SELF_SERVICE)
CHANGED = PurchaseChanged(
    occurred_at=T0,
    change=PurchaseChangeKind.REVOKED,
    purchase=PURCHASE,
    windows=WINDOWS,
    phase=Phase.REVOKED,
    audit=Audit(),
    summary="AWS returned the Savings Plan",
)


class RecordingService:
    """Stands in for NotifierService: records what the handlers hand it, answers typed replies."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, Any]] = []

    async def on_purchase_recorded(self, event: PurchaseRecorded) -> None:
        self.calls.append(("on_purchase_recorded", event, None))

    async def on_purchase_changed(self, event: PurchaseChanged, *, message_id: str | None) -> None:
        self.calls.append(("on_purchase_changed", event, message_id))

    async def on_tick(self) -> None:
        self.calls.append(("on_tick", None, None))

    async def set_settings(self, command: SetNotificationSettings) -> NotificationSettingsReply:
        self.calls.append(("set_settings", command, None))
        settings = NotificationSettings(global_notification_email=command.global_notification_email)
        return NotificationSettingsReply(settings=settings)

    async def get_settings(self, query: GetNotificationSettings) -> NotificationSettingsReply:
        self.calls.append(("get_settings", query, None))
        return NotificationSettingsReply(settings=NotificationSettings(global_notification_email="ops@example.com"))

    async def list_deliveries(self, query: ListDeliveries) -> DeliveriesReply:
        self.calls.append(("list_deliveries", query, None))
        view = DeliveryView(
            purchase_id=query.purchase_id,
            kind=EmailKind.PURCHASE_EXECUTED,
            recipient="a@example.com",
            status=DeliveryStatus.SENT,
            at=T0,
        )
        return DeliveriesReply(items=[view])


@pytest.fixture
def service() -> RecordingService:
    return RecordingService()


@pytest.fixture
async def harness(service: RecordingService) -> AsyncIterator[Harness]:
    async with handlers_on_test_broker(build_router(cast(NotifierService, service))) as harness:
        yield harness


async def test_purchase_events_and_ticks_reach_their_use_with_the_change_message_id(
    harness: Harness, service: RecordingService
) -> None:
    await harness.publish(Queues.NOTIFIER_PURCHASE_RECORDED, RECORDED, message_id="purchase-recorded:p1")
    await harness.publish(Queues.NOTIFIER_PURCHASE_CHANGED, CHANGED, message_id="purchase-changed:p1:7")
    await harness.publish(Queues.NOTIFIER_TICKS, Tick(tick_id="t1", at=T0, occurred_at=T0))
    assert service.calls == [
        ("on_purchase_recorded", RECORDED, None),
        # The change's message id tells a redelivery of one change from a second change of the same kind.
        ("on_purchase_changed", CHANGED, "purchase-changed:p1:7"),
        ("on_tick", None, None),
    ]
    assert harness.dead_letters == {}


async def test_the_settings_command_and_both_queries_answer_typed_replies(
    harness: Harness, service: RecordingService
) -> None:
    command = SetNotificationSettings(actor=ADMIN, idempotency_key="k-1", global_notification_email="x@example.com")
    changed = await harness.ask(Queues.NOTIFIER_COMMANDS, command, NotificationSettingsReply)
    current = await harness.ask(
        Queues.NOTIFIER_QUERIES, GetNotificationSettings(actor=ADMIN), NotificationSettingsReply
    )
    listed = await harness.ask(Queues.NOTIFIER_QUERIES, ListDeliveries(actor=ADMIN, purchase_id="p1"), DeliveriesReply)

    assert [name for name, _, _ in service.calls] == ["set_settings", "get_settings", "list_deliveries"]
    assert service.calls[0][1] == command
    assert changed.settings == NotificationSettings(global_notification_email="x@example.com")
    assert current.settings == NotificationSettings(global_notification_email="ops@example.com")
    assert [(v.purchase_id, v.status) for v in listed.items] == [("p1", DeliveryStatus.SENT)]


async def test_bad_input_is_dead_lettered_with_its_reason_and_never_reaches_the_service(
    harness: Harness, service: RecordingService
) -> None:
    recorded = Queues.NOTIFIER_PURCHASE_RECORDED
    broken = RECORDED.model_dump(mode="json")
    del broken["purchase"]["cost"]
    await harness.publish(recorded, broken, message_id="m-1")
    await harness.publish(recorded, {**RECORDED.model_dump(mode="json"), "schema_version": 99}, message_id="m-2")
    await harness.publish(Queues.NOTIFIER_QUERIES, {"kind": "delete-everything"}, message_id="m-3")
    await harness.publish(recorded, RECORDED, message_id="m-4")  # the queue keeps flowing

    letters = harness.letters(recorded)
    assert [(letter.message_id, letter.kind) for letter in letters] == [("m-1", "bad-input"), ("m-2", "bad-input")]
    assert "purchase.cost: Field required" in letters[0].reason
    assert "schema_version 99 is newer than this consumer understands" in letters[1].reason
    [query_letter] = harness.letters(Queues.NOTIFIER_QUERIES)
    assert "delete-everything" in query_letter.reason
    assert service.calls == [("on_purchase_recorded", RECORDED, None)]
