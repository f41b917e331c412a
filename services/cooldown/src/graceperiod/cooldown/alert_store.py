"""Low-pool alerts in MongoDB: ``pool_alerts``, one
:class:`~graceperiod.cooldown.domain.pool_alerts.PoolAlert` per alert, ``_id`` = its number
(zero-padded). Inserting alert ``n + 1`` is how one worker wins the right to announce it."""

from __future__ import annotations

from pymongo import DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from graceperiod.cooldown.domain.pool_alerts import PoolAlert, alert_id
from graceperiod.cooldown.store import retry_busy
from graceperiod.runtime.mongo import Document, insert_once, to_document


class AlertStore:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._alerts: AsyncCollection[Document] = database["pool_alerts"]

    async def last(self) -> PoolAlert | None:
        doc = await retry_busy(lambda: self._alerts.find_one({}, sort=[("_id", DESCENDING)]))
        return PoolAlert.model_validate(doc) if doc else None

    async def claim(self, alert: PoolAlert) -> bool:
        doc = to_document(alert, key=alert_id(alert.number))
        return await retry_busy(lambda: insert_once(self._alerts, doc))

    async def published(self, alert: PoolAlert) -> None:
        await retry_busy(
            lambda: self._alerts.update_one({"_id": alert_id(alert.number)}, {"$set": {"published": True}})
        )
