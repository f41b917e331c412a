"""The services' hot queries use an index on the local FerretDB build: each store call below
is run, the commands it sends are recorded, and ``explain`` of each shows the filter (and,
for sorted pages, the sort) pushed down to SQLite and an index search instead of a scan, read
in the sort's order (no temporary sort of what it found). FerretDB's explain only: skipped on
MongoDB."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient, monitoring

from graceperiod.contracts.cooldown import AccountStatus
from graceperiod.contracts.notifier import DeliveryStatus, EmailKind
from graceperiod.contracts.revocation import PurchaseFilters, PurchaseSort
from graceperiod.contracts.revocation_views import Phase, PurchaseSource
from graceperiod.cooldown.domain.listing import After
from graceperiod.cooldown.store import AccountStore
from graceperiod.gateway.store import MongoGatewayStore
from graceperiod.notifier.domain.deliveries import DeliveryKey
from graceperiod.notifier.store import DeliveryStore
from graceperiod.revocation.domain.listing import Position
from graceperiod.revocation.store.accounts import AccountStore as RevocationAccountStore
from graceperiod.revocation.store.commands import CommandStore
from graceperiod.revocation.store.listing import PurchaseListing
from graceperiod.revocation.store.purchases import PurchaseStore
from graceperiod.runtime.mongo import Document

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Recorder(monitoring.CommandListener):
    def __init__(self) -> None:
        self.commands: list[Document] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name in ("find", "delete"):
            self.commands.append(dict(event.command))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@dataclass
class Stores:
    cooldown: AccountStore
    revocation: PurchaseStore
    notifier: DeliveryStore
    gateway: MongoGatewayStore
    revocation_accounts: RevocationAccountStore
    revocation_commands: CommandStore
    listing: PurchaseListing


@dataclass(frozen=True)
class Case:
    name: str
    call: Callable[[Stores], Awaitable[Any]]
    filtered: bool = True
    sorted: bool = False


async def _all_due_batches(stores: Stores) -> None:
    async for _ in stores.cooldown.due_batches(T0, batch_size=10):
        pass


async def _purge_deliveries(stores: Stores) -> None:
    key = DeliveryKey(EmailKind.PURCHASE_EXECUTED, "p-1", "ops@example.com")
    await stores.notifier.finish(key, status=DeliveryStatus.SENT, now=T0)
    await stores.notifier.purge(finished_before=T0.replace(year=2027))


def _first_page(sort: PurchaseSort) -> Callable[[Stores], Awaitable[Any]]:
    return lambda s: s.listing.page(PurchaseFilters(sort=sort), after=None, limit=50, now=T0)


CASES = [
    Case("cooldown: acquisition candidates", lambda s: s.cooldown.candidates(10), sorted=True),
    Case("cooldown: releases due", lambda s: s.cooldown.due(T0, limit=10), sorted=True),
    Case("cooldown: every release due", _all_due_batches, sorted=True),
    Case("cooldown: stuck accounts", lambda s: s.cooldown.stuck(since_before=T0, limit=10)),
    Case(
        "cooldown: a page of one status",
        lambda s: s.cooldown.page(status=AccountStatus.AVAILABLE, after=After("a-1"), limit=10),
        sorted=True,
    ),
    Case(
        "cooldown: a later page of Cooldown accounts by time left",
        lambda s: s.cooldown.page(status=AccountStatus.COOLDOWN, after=After("a-1", T0), limit=10),
        sorted=True,
    ),
    Case("revocation: checks due", lambda s: s.revocation.due(T0, limit=10), sorted=True),
    Case("revocation: unpublished outboxes", lambda s: s.revocation.with_outbox(limit=10)),
    Case("revocation: probes due", lambda s: s.revocation_accounts.probes_due(T0, limit=10)),
    *(
        Case(f"revocation: the History's first page by {sort}", _first_page(sort), filtered=False, sorted=True)
        for sort in PurchaseSort
    ),
    Case(
        "revocation: a later History page",
        lambda s: s.listing.page(
            PurchaseFilters(sort=PurchaseSort.DEADLINE, descending=True),
            after=Position(PurchaseSort.DEADLINE, True, "2026-03-02T09:00:00.000Z"),
            limit=50,
            now=T0,
        ),
        sorted=True,
    ),
    Case(
        "revocation: one account's purchases",
        lambda s: s.listing.page(PurchaseFilters(account_id="123456789012"), after=None, limit=50, now=T0),
        sorted=True,
    ),
    Case(
        "revocation: one's own purchases",
        lambda s: s.listing.page(PurchaseFilters(requested_by_user_id="u-1"), after=None, limit=50, now=T0),
        sorted=True,
    ),
    Case(
        "revocation: expiring within 48 hours, soonest first",
        lambda s: s.listing.page(
            PurchaseFilters(expiring_within_hours=48, sort=PurchaseSort.DEADLINE, descending=False),
            after=None,
            limit=50,
            now=T0,
        ),
        sorted=True,
    ),
    Case(
        "revocation: one source's purchases",
        lambda s: s.listing.page(PurchaseFilters(source=PurchaseSource.DISCOVERED), after=None, limit=50, now=T0),
        sorted=True,
    ),
    Case(
        "revocation: purchases executed in a week",
        lambda s: s.listing.page(
            PurchaseFilters(executed_from=T0 - timedelta(days=7), executed_before=T0), after=None, limit=50, now=T0
        ),
        sorted=True,
    ),
    Case("revocation: a search", lambda s: s.listing.page(PurchaseFilters(search="p-1"), after=None, limit=50, now=T0)),
    Case(
        "revocation: export rows of one state",
        lambda s: s.listing.page(PurchaseFilters(phase=Phase.SELF_SERVICE), after=None, limit=1000, now=T0),
        sorted=True,
    ),
    Case("revocation: refundable now", lambda s: s.listing.refundable(T0)),
    Case("revocation: the next deadline", lambda s: s.listing.next_deadline(T0), sorted=True),
    Case("revocation: purchases to list", lambda s: s.revocation.relist()),
    Case("revocation: accounts by id", lambda s: s.revocation_accounts.by_ids(["1", "2"])),
    Case("revocation: purge expired commands", lambda s: s.revocation_commands.purge(T0)),
    Case("revocation: purge expired claims", lambda s: s.revocation_commands.purge_claims(T0)),
    Case("notifier: a purchase's deliveries", lambda s: s.notifier.for_purchase("p-1")),
    Case("notifier: recipients", lambda s: s.notifier.recipients_of("p-1", EmailKind.PURCHASE_EXECUTED)),
    Case("notifier: purge old deliveries", _purge_deliveries),
    Case("gateway: purge used links and old actions", lambda s: s.gateway.purge(now=T0)),
]


@pytest.fixture
async def recorded(
    mongodb_url: str, db_prefix: str, ferretdb: bool
) -> AsyncIterator[tuple[Stores, Recorder, AsyncMongoClient[Document]]]:
    if not ferretdb:
        pytest.skip("explain's shape is FerretDB's")
    recorder = Recorder()
    client: AsyncMongoClient[Document] = AsyncMongoClient(mongodb_url, tz_aware=True, event_listeners=[recorder])
    stores = Stores(
        AccountStore(client[f"{db_prefix}_cooldown"]),
        PurchaseStore(client[f"{db_prefix}_revocation"]),
        DeliveryStore(client[f"{db_prefix}_notifier"]),
        MongoGatewayStore(client[f"{db_prefix}_gateway"]),
        RevocationAccountStore(client[f"{db_prefix}_revocation"]),
        CommandStore(client[f"{db_prefix}_revocation"]),
        PurchaseListing(client[f"{db_prefix}_revocation"]),
    )
    revocation = (stores.revocation, stores.revocation_accounts, stores.revocation_commands)
    for store in (stores.cooldown, *revocation, stores.notifier, stores.gateway):
        await store.ensure_indexes()
    try:
        yield stores, recorder, client
    finally:
        await client.close()


def _explain_command(command: Document) -> list[Document]:
    if "deletes" in command:
        return [{"find": command["delete"], "filter": d["q"]} for d in command["deletes"]]
    keys = ("filter", "sort", "limit")
    return [{"find": command["find"]} | {k: command[k] for k in keys if k in command}]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
async def test_the_services_hot_queries_search_an_index(
    recorded: tuple[Stores, Recorder, AsyncMongoClient[Document]], case: Case
) -> None:
    stores, recorder, client = recorded
    await case.call(stores)
    assert recorder.commands, "the store call sent no find or delete"
    for command in recorder.commands:
        for explain_command in _explain_command(command):
            explain = await client[command["$db"]].command("explain", explain_command)
            plan = explain["queryPlanner"]["Plan"]
            assert explain["filterPushdown"] is case.filtered, (explain_command, explain)
            assert explain["sortPushdown"] is case.sorted, (explain_command, explain)
            steps = [step.split("detail=", 1)[1] for step in plan]
            assert all("USING" in step for step in steps if step.startswith(("SCAN", "SEARCH"))), steps
            assert "USE TEMP B-TREE FOR ORDER BY" not in steps, steps
