"""A delivery claim is taken only when a send slot is free, so its lease starts when the send
starts. Claimed earlier, a claim could expire while queued for a slot (a backlog, a slow
database) and another worker would send the same email (found by the chaos suite)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import cast

from graceperiod.contracts.revocation import Phase, PurchaseRecorded, Windows
from graceperiod.devstack.samples import sample_purchase
from graceperiod.notifier.domain.emails import Email
from graceperiod.notifier.service import NotifierService
from graceperiod.notifier.store import Claim, DeliveryStatus, DeliveryStore
from graceperiod.runtime.clock import FrozenClock


class RecordingStore:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def claim(self, *, kind: str, purchase_id: str, recipient: str, now: datetime) -> Claim:
        self.log.append(f"claim {recipient}")
        return Claim.CLAIMED

    async def release(self, *, kind: str, purchase_id: str, recipient: str, now: datetime) -> None:
        self.log.append(f"release {recipient}")

    async def finish(
        self, *, kind: str, purchase_id: str, recipient: str, status: DeliveryStatus, now: datetime, detail: str = ""
    ) -> None:
        self.log.append(f"finish {recipient}")


class SlowTransport:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def send(self, email: Email) -> None:
        self.log.append(f"send {email.to}")
        await asyncio.sleep(0.01)


async def test_each_claim_is_taken_only_when_its_send_can_start() -> None:
    log: list[str] = []
    service = NotifierService(
        store=cast("DeliveryStore", RecordingStore(log)),
        transport=SlowTransport(log),
        clock=FrozenClock(datetime(2026, 1, 1, tzinfo=UTC)),
        brand="Grace Period",
        global_address="finops@example.com",
        max_concurrent_sends=1,
    )
    purchase = sample_purchase(contacts=["owner@example.com"], requester_email="alice@example.com")
    event = PurchaseRecorded(occurred_at=purchase.executed_at, purchase=purchase, windows=Windows(), phase=Phase.CLOSED)

    await service.on_purchase_recorded(event)

    # With one send slot, every claim is followed by its own send and record before the next claim.
    assert len(log) == 9
    for start in range(0, 9, 3):
        recipient = log[start].removeprefix("claim ")
        assert log[start : start + 3] == [f"claim {recipient}", f"send {recipient}", f"finish {recipient}"]
