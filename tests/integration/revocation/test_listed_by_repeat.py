"""A purchase recorded from ``purchase.executed``, or written with an email delivery, is stored
without the ``listing_due`` mark and listed right after (one write fewer each): a crash between
the two is healed by the message's repeat (it is acknowledged only once handled), which lists
the purchase it finds stored (and a recording still announces it once)."""

from __future__ import annotations

import asyncio
import time

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from graceperiod.contracts.revocation_views import TimelineKind
from graceperiod.devstack.testkit.samples import purchase_payload
from graceperiod.devstack.testkit.upstream import publish_upstream
from graceperiod.revocation.store.listing import LISTING
from graceperiod.revocation.store.purchases import PurchaseStore
from graceperiod.runtime.mongo import Document
from tests.integration.revocation.conftest import Harness
from tests.integration.revocation.test_crossings import _recorded


@pytest.fixture
def database(mongo: AsyncMongoClient[Document], db_prefix: str) -> AsyncDatabase[Document]:
    return mongo[f"{db_prefix}_revocation"]


async def _listed_version(database: AsyncDatabase[Document], purchase_id: str) -> int | None:
    doc = await database[LISTING].find_one({"_id": purchase_id}, projection={"version": 1})
    return None if doc is None else int(doc["version"])


async def test_a_repeat_lists_a_purchase_whose_first_delivery_stopped_before_its_listing(
    harness: Harness, database: AsyncDatabase[Document]
) -> None:
    account = await harness.account()
    body = purchase_payload(account_id=account, executed_at=harness.clock.now())
    pid = body["purchase_id"]
    await publish_upstream(harness.upstream, "purchase.executed", body, message_id=pid)
    await _recorded(harness, pid)
    stored = await database["purchases"].find_one({"_id": pid}, projection={"listing_due": 1, "version": 1})
    assert stored is not None
    assert stored["listing_due"] is False  # stored unmarked: nothing for the relisting to find
    assert await _listed_version(database, pid) == stored["version"]

    # As if the handler had stopped after storing the purchase, before its listing's write.
    await database[LISTING].delete_one({"_id": pid})
    assert await PurchaseStore(database).relist() == 0
    harness.events.clear()

    await publish_upstream(harness.upstream, "purchase.executed", body, message_id=pid)
    await _recorded(harness, pid)
    assert await _listed_version(database, pid) == stored["version"]
    announced = [e for e in harness.events if "change" not in e and e["purchase"]["purchase_id"] == pid]
    assert len(announced) == 1


async def _listed(database: AsyncDatabase[Document], purchase_id: str, version: int, *, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await _listed_version(database, purchase_id) == version:
            return True
        await asyncio.sleep(0.1)
    return False


async def test_a_repeated_delivery_lists_a_purchase_whose_write_stopped_before_its_listing(
    harness: Harness, database: AsyncDatabase[Document]
) -> None:
    account = await harness.account()
    pid = (await harness.purchase(account))["purchase_id"]
    listed_before = await database[LISTING].find_one({"_id": pid})
    assert listed_before is not None
    delivered = harness.email_sent(pid)

    async def deliver() -> None:
        await harness.report_email(delivered, f"delivered-{pid}")

    await deliver()
    await harness.wait_for(pid, lambda v: any(e.kind is TimelineKind.EMAILED for e in v.timeline))
    stored = await database["purchases"].find_one({"_id": pid}, projection={"listing_due": 1, "version": 1})
    assert stored is not None
    assert stored["version"] > listed_before["version"]
    assert stored["listing_due"] is False  # stored unmarked, and listed
    assert await _listed(database, pid, stored["version"])

    # As if the handler had stopped after storing the delivery, before its listing's write.
    await database[LISTING].replace_one({"_id": pid}, listed_before)
    assert await PurchaseStore(database).relist() == 0

    await deliver()
    assert await _listed(database, pid, stored["version"]), "the repeat did not list the purchase"
    view = await harness.view(pid)
    assert len([e for e in view.timeline if e.kind is TimelineKind.EMAILED]) == 1
