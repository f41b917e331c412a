"""The revocation service's business class: handlers call it; it receives its collaborators."""

from __future__ import annotations

from datetime import timedelta

from graceperiod.contracts.revocation import PurchaseRecorded, Windows
from graceperiod.contracts.upstream import PurchaseExecuted
from graceperiod.revocation.domain.windows import compute_windows, phase_at
from graceperiod.revocation.store import PurchaseStore
from graceperiod.runtime.clock import Clock
from graceperiod.runtime.logs import get_logger
from graceperiod.runtime.messaging import EventSink

log = get_logger("graceperiod.revocation")


class RevocationService:
    def __init__(self, *, store: PurchaseStore, events: EventSink, clock: Clock, support_window: timedelta) -> None:
        self._store = store
        self._events = events
        self._clock = clock
        self._support_window = support_window

    async def record_purchase(self, purchase: PurchaseExecuted) -> PurchaseRecorded:
        """Store an executed purchase and announce it. Safe to repeat: the stored record wins,
        and the event carries a deterministic message id so consumers drop the repeat."""
        windows = compute_windows(executed_at=purchase.executed_at, support_window=self._support_window)
        stored = await self._store.record(purchase, windows)
        windows = Windows.model_validate(stored["windows"])
        event = PurchaseRecorded(
            occurred_at=self._clock.now(),
            purchase=purchase,
            windows=windows,
            phase=phase_at(windows, self._clock.now()),
        )
        await self._events.publish(event, message_id=f"purchase-recorded:{purchase.purchase_id}")
        log.info("purchase recorded", purchase_id=purchase.purchase_id, phase=event.phase)
        return event
