"""Stored purchases at the gateway benchmark's size (10,000), written straight into the
revocation service's database as the service itself stores them: recorded by its domain
(``lifecycle.recorded``), shaped by its store (``purchase_document``, and ``listed_document``
for the History's listing), inserted in batches.
Recording them through the broker would take minutes (each reads AWS) and measure nothing
the gateway benchmark is about."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from graceperiod.contracts.upstream import PurchaseExecuted
from graceperiod.devstack.testkit.samples import purchase_payload
from graceperiod.revocation.app import lifecycle_policy
from graceperiod.revocation.domain.lifecycle import At, recorded
from graceperiod.revocation.domain.records import AwsState, PurchaseRecord
from graceperiod.revocation.settings import RevocationSettings
from graceperiod.revocation.store.listing import LISTING, listed_document
from graceperiod.revocation.store.purchases import purchase_document
from graceperiod.runtime.mongo import create_mongo_client

BATCH = 1000


def recorded_purchases(count: int, *, accounts: int = 50) -> list[PurchaseRecord]:
    """``count`` purchases over ``accounts`` accounts, executed over the last 30 days, as recorded."""
    now = datetime.now(UTC)
    at = At(now=now, account=None, policy=lifecycle_policy(RevocationSettings()))
    records = []
    for n in range(count):
        body = purchase_payload(
            account_id=f"{300000000000 + n % accounts:012d}",
            executed_at=now - timedelta(days=30) + timedelta(seconds=n * 250),
            requester_email=f"user{n % 20}@example.com",
        )
        body["requested_by"]["user_id"] = f"u-user{n % 20}"  # each caller's own purchases differ
        purchase = PurchaseExecuted.model_validate_json(json.dumps(body))
        state = AwsState(known=False, error="seeded by the benchmark", read_at=now)
        records.append(recorded(purchase, state, at))
    return records


async def seed_purchases(mongodb_url: str, database: str, count: int, *, accounts: int = 50) -> int:
    """``count`` purchases over ``accounts`` accounts, executed over the last 30 days."""
    client = create_mongo_client(mongodb_url, appname="graceperiod-bench-seed")
    everything = recorded_purchases(count, accounts=accounts)
    try:
        purchases, listing = client[database]["purchases"], client[database][LISTING]
        for start in range(0, count, BATCH):
            records = everything[start : start + BATCH]
            await purchases.insert_many([purchase_document(r, listed=True) for r in records], ordered=False)
            await listing.insert_many([listed_document(r) for r in records], ordered=False)
    finally:
        await client.close()
    return count
