"""Listing purchases against the real database: identical pages asked for at once share their
reads yet each asker sees what was stored before it asked, cursors walk every purchase, and a
page of any size is one read of the listing (and one of its accounts)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

from pymongo import monitoring
from pymongo.asynchronous.mongo_client import AsyncMongoClient

from graceperiod.contracts.enums import ActionPath, Permission
from graceperiod.contracts.revocation import ExportPurchases, ListPurchases
from graceperiod.contracts.rpc import Actor
from graceperiod.contracts.upstream import PurchaseExecuted
from graceperiod.devstack.bench.purchases import seed_purchases
from graceperiod.devstack.testkit.samples import purchase_payload
from graceperiod.revocation.app import lifecycle_policy
from graceperiod.revocation.changes import Changes
from graceperiod.revocation.domain.lifecycle import At, LifecyclePolicy, recorded
from graceperiod.revocation.domain.records import AwsState
from graceperiod.revocation.queries import Queries
from graceperiod.revocation.settings import RevocationSettings
from graceperiod.revocation.store.accounts import AccountStore
from graceperiod.revocation.store.listing import LISTING, PurchaseListing
from graceperiod.revocation.store.purchases import PurchaseStore
from graceperiod.runtime.clock import SystemClock
from graceperiod.runtime.mongo import Document

ADMIN = Actor(user_id="u-admin", email="admin@example.com", permissions=list(Permission), path=ActionPath.API)


class NoEvents:
    async def publish(self, event: object, *, message_id: str) -> None:
        raise AssertionError("queries publish nothing")


async def test_pages_read_together_see_every_write_before_them(
    mongodb_url: str, mongo: AsyncMongoClient[Document], db_prefix: str
) -> None:
    database_name = f"{db_prefix}_revocation"
    await seed_purchases(mongodb_url, database_name, 120, accounts=7)
    database = mongo[database_name]
    purchases = PurchaseStore(database)
    await purchases.ensure_indexes()
    policy = lifecycle_policy(RevocationSettings())
    queries = Queries(
        Changes(purchases, AccountStore(database), NoEvents(), SystemClock(), policy), PurchaseListing(database)
    )

    together = await asyncio.gather(*(queries.list_purchases(ListPurchases(actor=ADMIN, limit=50)) for _ in range(12)))
    assert all(reply == together[0] for reply in together)
    executed = [item.purchase.executed_at for item in together[0].items]
    assert len(executed) == 50
    assert executed == sorted(executed, reverse=True)

    seen: list[str] = []
    cursor: str | None = None
    while True:
        page = await queries.list_purchases(ListPurchases(actor=ADMIN, limit=50, cursor=cursor))
        seen += [item.purchase.purchase_id for item in page.items]
        if (cursor := page.next_cursor) is None:
            break
    assert len(seen) == len(set(seen)) == 120

    # A purchase stored while a crowd is reading: every list asked for after it was stored shows it.
    crowd = [asyncio.create_task(queries.list_purchases(ListPurchases(actor=ADMIN, limit=50))) for _ in range(8)]
    newest = PurchaseExecuted.model_validate_json(
        json.dumps(purchase_payload(executed_at=datetime.now(UTC) + timedelta(minutes=1)))
    )
    now = datetime.now(UTC)
    await purchases.insert(recorded(newest, AwsState(read_at=now), At(now=now, account=None, policy=policy)))
    after = await asyncio.gather(*(queries.list_purchases(ListPurchases(actor=ADMIN, limit=50)) for _ in range(8)))
    await asyncio.gather(*crowd)
    assert all(reply.items[0].purchase.purchase_id == newest.purchase_id for reply in after)


class Commands(monitoring.CommandListener):
    """(command, collection) of every command sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.projections: list[object] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.sent.append((event.command_name, str(event.command.get(event.command_name))))
        if event.command_name == "find":
            self.projections.append(event.command.get("projection"))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


async def test_a_page_of_any_size_is_two_reads_and_its_accounts(mongodb_url: str, db_prefix: str) -> None:
    """The History's page is a read of the listing's versions (one batch, no getMore, whatever
    the page's size), one of the records not read before, and one of the page's accounts; an
    export's page the read of the listing only; the money at a glance two reads of the listing
    (and the soonest deadline's account)."""
    database_name = f"{db_prefix}_revocation"
    await seed_purchases(mongodb_url, database_name, 260, accounts=7)
    commands = Commands()
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        mongodb_url, tz_aware=True, uuidRepresentation="standard", event_listeners=[commands]
    )
    try:
        purchases = PurchaseStore(client[database_name])
        changes = Changes(purchases, AccountStore(client[database_name]), NoEvents(), SystemClock(), _policy())
        queries = Queries(changes, purchases.listing)
        page = await queries.list_purchases(ListPurchases(actor=ADMIN, limit=200))
        assert len(page.items) == 200
        assert commands.sent == [("find", LISTING), ("find", LISTING), ("find", "accounts")]  # versions, records
        assert commands.projections[:2] == [{"version": 1}, {"record": 1}]
        commands.sent.clear()
        again = await queries.list_purchases(ListPurchases(actor=ADMIN, limit=200))
        assert again == page
        assert commands.sent == [("find", LISTING), ("find", "accounts")]  # the records are kept
        commands.sent.clear()
        rows = await queries.export(ExportPurchases(actor=ADMIN, limit=1000))
        assert len(rows.items) == 260
        assert commands.sent == [("find", LISTING)]
        commands.sent.clear()
        lines = await queries.export(ExportPurchases(actor=ADMIN, limit=1000, csv_lines=True))
        assert len(lines.lines) == 260
        assert commands.sent == [("find", LISTING)]  # every line listed: none written again
        commands.sent.clear()
        await queries.summary()
        assert commands.sent == [("find", LISTING), ("find", LISTING)]  # no open window: no account
    finally:
        await client.close()


def _policy() -> LifecyclePolicy:
    return lifecycle_policy(RevocationSettings())
