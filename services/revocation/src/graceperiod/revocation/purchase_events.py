"""The fast path of discovery: purchase events customers' onboarding bundles forward (CloudTrail
"AWS API Call via CloudTrail" events of commitment purchases, through Grace Period's event bus
to its SQS queue) make Grace Period scan that account at once. Scans stay the source of truth:
an event is only a reason to look sooner, and it is believed for nothing else.

What an event may claim is checked before it does anything: it comes from Grace Period's own
queue (read with its own identity); its ``account`` and ``source`` were stamped by AWS (an
account cannot put events with an ``aws.*`` source, and EventBridge keeps the account the call
was made in); the account must be onboarded. A malformed event is dropped with a warning.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Counter

from graceperiod.revocation.adapters.aws.purchase_events import PurchaseEventQueue, QueuedEvent
from graceperiod.revocation.discovering import Discovering
from graceperiod.revocation.domain.aws_answers import AwsCallError
from graceperiod.runtime.logs import get_logger
from graceperiod.runtime.tasks import cancel_and_wait

log = get_logger("graceperiod.revocation")

EVENTS = Counter(
    "graceperiod_discovery_purchase_events_total",
    "Purchase events read from Grace Period's queue, by what they led to.",
    ["outcome"],
)

#: The purchases the onboarding bundle's rule forwards: event source → CloudTrail event names
#: (deploy/onboarding/grace-period-purchase-events.yaml matches exactly these; a test checks).
PURCHASE_EVENTS: dict[str, frozenset[str]] = {
    "aws.savingsplans": frozenset({"CreateSavingsPlan"}),
    "aws.ec2": frozenset({"PurchaseReservedInstancesOffering"}),
    "aws.rds": frozenset({"PurchaseReservedDBInstancesOffering"}),
    "aws.elasticache": frozenset({"PurchaseReservedCacheNodesOffering"}),
    "aws.redshift": frozenset({"PurchaseReservedNodeOffering"}),
    "aws.memorydb": frozenset({"PurchaseReservedNodesOffering"}),
    "aws.es": frozenset({"PurchaseReservedInstanceOffering"}),
}
_DETAIL_TYPE = "AWS API Call via CloudTrail"


def purchase_account(body: str) -> str | None:
    """The account a purchase event names, or None when the body is no purchase event."""
    try:
        event: Any = json.loads(body)
    except ValueError:
        return None
    if not isinstance(event, dict) or event.get("detail-type") != _DETAIL_TYPE:
        return None
    detail = event.get("detail")
    names = PURCHASE_EVENTS.get(str(event.get("source")))
    if names is None or not isinstance(detail, dict) or detail.get("eventName") not in names:
        return None
    account = event.get("account")
    return account if isinstance(account, str) and len(account) == 12 and account.isdigit() else None


@dataclass
class PurchaseEvents:
    queue: PurchaseEventQueue
    discovering: Discovering
    wait_seconds: int = 20
    _task: asyncio.Task[None] | None = field(default=None, init=False)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="purchase-events")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)

    async def _run(self) -> None:
        while True:
            try:
                for event in await self.queue.receive(wait_seconds=self.wait_seconds):
                    await self.handle(event)
            except AwsCallError as exc:
                log.warning("purchase events not read", error=exc.message)
                await asyncio.sleep(5)
            except Exception:  # keep reading: one bad turn must not end the fast path
                log.exception("purchase events: unexpected error")
                await asyncio.sleep(5)

    async def handle(self, event: QueuedEvent) -> str:
        """Scan the account the event names (if it is onboarded), then drop the event; what it
        led to (for the metrics and the tests)."""
        account = purchase_account(event.body)
        if account is None:
            outcome = "ignored"
            log.warning("purchase event ignored: not a purchase event", body=event.body[:200])
        else:
            outcome = "scanned" if await self.discovering.scan_soon(account) else "skipped"
        await self.queue.delete(event)
        EVENTS.labels(outcome).inc()
        return outcome
