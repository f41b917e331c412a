"""The low-pool alert, checked on ticks: fewer accounts Available than the policy's threshold
publishes ``cooldown.pool.low`` (the notifier emails the global notification address), at
most once per the policy's period whatever the number of replicas (``domain/pool_alerts.py``)."""

from __future__ import annotations

from graceperiod.contracts.cooldown import AccountStatus
from graceperiod.contracts.wait_list import PoolRunningLow
from graceperiod.cooldown.alert_store import AlertStore
from graceperiod.cooldown.change_protocol import ChangeProtocol, Use
from graceperiod.cooldown.domain.pool_alerts import PoolAlert, alert_due, alert_id
from graceperiod.cooldown.wait_store import WaitStore
from graceperiod.runtime.logs import get_logger

log = get_logger("graceperiod.cooldown")


class PoolAlerts(Use):
    def __init__(self, changes: ChangeProtocol, *, alerts: AlertStore, requests: WaitStore) -> None:
        super().__init__(changes)
        self._alerts = alerts
        self._requests = requests

    async def check(self) -> PoolAlert | None:
        """Alert if the pool runs low and no alert was sent within the period; the alert sent."""
        policy = await self._store.policy()
        last = await self._alerts.last()
        now = self._clock.now()
        if last is not None and not last.published and now - last.at >= self._options.claim_grace:
            await self._announce(last)  # its worker stopped before publishing it (same message id)
        if policy.low_pool_threshold <= 0:
            return None
        available = await self._store.count_status(AccountStatus.AVAILABLE, up_to=policy.low_pool_threshold)
        if not alert_due(policy, available=available, last=last, now=now):
            return None
        next_release, cooling = await self._store.next_release()
        alert = PoolAlert(
            number=(last.number if last else 0) + 1,
            at=now,
            available=available,
            threshold=policy.low_pool_threshold,
            cooling=cooling,
            waiting=await self._requests.count_open(),
            next_release_at=next_release,
        )
        if not await self._alerts.claim(alert):
            return None  # another worker sends this one
        log.warning("the pool runs low", available=available, threshold=alert.threshold, cooling=cooling)
        await self._announce(alert)
        return alert

    async def _announce(self, alert: PoolAlert) -> None:
        policy = await self._store.policy()
        event = PoolRunningLow(
            occurred_at=alert.at,
            alert_id=alert_id(alert.number),
            available=alert.available,
            threshold=alert.threshold,
            cooling=alert.cooling,
            waiting=alert.waiting,
            next_release_at=alert.next_release_at,
            period_hours=policy.low_pool_alert_hours,
        )
        await self._events.publish(event, message_id=f"cooldown:{alert_id(alert.number)}")
        await self._alerts.published(alert)
