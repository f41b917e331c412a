"""The History's queries through the real service (RabbitMQ RPC) over FerretDB: every column's
sort paged by cursor over all purchases, filters and search selecting exactly what the listing
rules say (``domain.listing.matches``), the money at a glance, export rows, cursors stable while
purchases arrive, and purchases whose listing lags (stored before it existed, or a crash
between the two writes)."""

from __future__ import annotations

import csv
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

from graceperiod.contracts import purchase_csv
from graceperiod.contracts.revocation import (
    ExportPurchases,
    ListPurchases,
    PurchaseFilters,
    PurchaseListReply,
    PurchaseRowsReply,
    PurchaseSort,
    PurchaseSummaryReply,
    SummarizePurchases,
)
from graceperiod.contracts.revocation_views import Phase, PurchaseSource
from graceperiod.contracts.rpc import ErrorCode
from graceperiod.contracts.upstream import PurchaseExecuted
from graceperiod.devstack.testkit.samples import sample_purchase
from graceperiod.revocation.domain.lifecycle import At, LifecyclePolicy, recorded, refreshed
from graceperiod.revocation.domain.listing import matches, sort_keys
from graceperiod.revocation.domain.records import AwsState, PurchaseRecord, RevocationStatus
from graceperiod.revocation.store.listing import CSV_LINE, LISTING, PurchaseListing
from graceperiod.revocation.store.purchases import PurchaseStore, purchase_document
from graceperiod.runtime.mongo import Document, create_mongo_client, to_document
from tests.integration.revocation.conftest import ADMIN, ALICE, Harness
from tests.unit.revocation.provider_facts import azure_record, azure_state

ACCOUNTS = [("111111111111", "Payments Production"), ("222222222222", "analytics"), ("333333333333", "Zeta EU")]


def seeded_record(i: int, now: datetime, rng: random.Random) -> PurchaseRecord:
    """A purchase in one of many states: a returnable or queued Savings Plan, an RI with only
    the support window, revoked, pending, a case open, closed long ago; USD or EUR."""
    account_id, name = rng.choice(ACCOUNTS)
    kind = rng.choice(["savings_plan", "reserved_instance"])
    executed = now - timedelta(hours=rng.randint(1, 24 * 40), minutes=i)
    purchase = sample_purchase(
        purchase_id=f"pl-{i:03d}-{rng.randint(0, 9999):04d}",
        executed_at=executed,
        account_id=account_id,
        kind=kind,
        service="savingsplans" if kind == "savings_plan" else "ec2",
        commitment_id=f"{'SP' if kind == 'savings_plan' else 'ri'}-{i:03d}abc",
        requester_email=rng.choice(["alice@example.com", "bob@example.com"]),
    )
    currency, upfront = rng.choice([("USD", "13140.00"), ("USD", "990.50"), ("EUR", "5000.00"), ("USD", "0.00")])
    how = rng.choice(["approval", "approval", "direct", "discovered"])
    if how != "approval":
        purchase = sample_purchase(**_same(purchase), direct_execute=how == "direct", discovered=how == "discovered")
    requester = purchase.requested_by
    purchase = purchase.model_copy(
        update={
            "account": purchase.account.model_copy(update={"name": name}),
            "cost": purchase.cost.model_copy(update={"currency": currency, "upfront": Decimal(upfront)}),
            "requested_by": requester.model_copy(
                update={"user_id": "u-alice" if requester.email.startswith("alice") else "u-bob"}
            )
            if requester is not None
            else None,
        }
    )
    returnable = executed + timedelta(days=7)
    aws = AwsState(known=True, state="active", start=executed, returnable_until=returnable, read_at=now)
    at = At(now=now, account=None, policy=LifecyclePolicy())
    record = recorded(purchase, aws, at)
    status = rng.choice([RevocationStatus.NONE] * 4 + list(RevocationStatus))
    return refreshed(record.model_copy(update={"status": status}), at)


def _same(purchase: PurchaseExecuted) -> dict[str, object]:
    return {
        "purchase_id": purchase.purchase_id,
        "executed_at": purchase.executed_at,
        "account_id": purchase.account.id,
        "kind": purchase.aws_product()[1].kind.value,
        "service": purchase.aws_product()[0].value,
        "commitment_id": purchase.commitment_id,
        "requester_email": purchase.requested_by.email if purchase.requested_by else "alice@example.com",
    }


@dataclass
class Seeded:
    records: dict[str, PurchaseRecord]
    store: PurchaseStore
    listing: PurchaseListing
    collection: AsyncCollection[Document]
    now: datetime


@pytest.fixture
async def seeded(harness: Harness, mongodb_url: str) -> AsyncIterator[Seeded]:
    client: AsyncMongoClient[Document] = create_mongo_client(mongodb_url, appname="test-listing")
    database = client[harness.database]
    store, listing = PurchaseStore(database), PurchaseListing(database)
    await store.ensure_indexes()
    now = harness.clock.now()
    rng = random.Random(1616)
    records = [seeded_record(i, now, rng) for i in range(70)]
    for record in records:
        await store.insert(record)
    try:
        yield Seeded({r.purchase_id: r for r in records}, store, listing, database["purchases"], now)
    finally:
        await client.close()


async def walk(harness: Harness, filters: PurchaseFilters, *, limit: int = 9) -> list[str]:
    """Every purchase id the service lists for ``filters``, page after page."""
    seen: list[str] = []
    cursor: str | None = None
    while True:
        query = ListPurchases(actor=ADMIN, limit=limit, cursor=cursor, **filters.model_dump())
        reply = await harness.query(query, PurchaseListReply)
        assert reply.problem is None, reply.problem
        seen.extend(item.purchase.purchase_id for item in reply.items)
        if reply.next_cursor is None:
            return seen
        assert len(reply.items) == limit
        assert len(seen) == len(set(seen)), "a page repeated what an earlier one listed"
        cursor = reply.next_cursor


def expected(seeded: Seeded, filters: PurchaseFilters, now: datetime | None = None) -> list[str]:
    at = seeded.now if now is None else now
    chosen = [r for r in seeded.records.values() if matches(r.purchase, r.phase, r.windows, filters, at)]
    chosen.sort(key=lambda r: sort_keys(r.purchase, r.phase, r.windows)[filters.sort], reverse=filters.descending)
    return [r.purchase_id for r in chosen]


@pytest.mark.parametrize("descending", [False, True])
async def test_every_column_sorts_all_purchases_page_by_page(
    harness: Harness, seeded: Seeded, descending: bool
) -> None:
    for sort in PurchaseSort:
        filters = PurchaseFilters(sort=sort, descending=descending)
        listed = await walk(harness, filters)
        assert listed == expected(seeded, filters), sort
        assert len(listed) == len(seeded.records)


FILTERS = [
    PurchaseFilters(phase=Phase.SELF_SERVICE),
    PurchaseFilters(phase=Phase.CLOSED, sort=PurchaseSort.ACCOUNT),
    PurchaseFilters(account_id="222222222222", sort=PurchaseSort.UPFRONT),
    PurchaseFilters(requested_by_user_id="u-alice", sort=PurchaseSort.DEADLINE, descending=False),
    PurchaseFilters(source=PurchaseSource.DISCOVERED),
    PurchaseFilters(source=PurchaseSource.EXECUTED, sort=PurchaseSort.STATE, descending=False),
    PurchaseFilters(expiring_within_hours=48, sort=PurchaseSort.DEADLINE, descending=False),
    PurchaseFilters(expiring_within_hours=24 * 30),
    PurchaseFilters(search="ANALYTICS"),  # an account name, whatever its case
    PurchaseFilters(search="333333333333", sort=PurchaseSort.PRODUCT),
    PurchaseFilters(search="sp-004ABC"),  # a commitment id, whatever its case
    PurchaseFilters(search="no such thing"),
    PurchaseFilters(search="analytics", account_id="111111111111"),  # both: nothing
    PurchaseFilters(search="analytics", sort=PurchaseSort.ACCOUNT, descending=False),  # search and sort on one key
    PurchaseFilters(search="Zeta EU", phase=Phase.SELF_SERVICE, expiring_within_hours=24 * 7),
]


@pytest.mark.parametrize("filters", FILTERS, ids=[f.model_dump_json(exclude_defaults=True) for f in FILTERS])
async def test_filters_and_search_select_exactly_what_the_rules_say(
    harness: Harness, seeded: Seeded, filters: PurchaseFilters
) -> None:
    window = timedelta(days=40)
    ranged = filters.model_copy(update={"executed_from": seeded.now - window}) if filters.search is None else filters
    assert await walk(harness, ranged, limit=6) == expected(seeded, ranged)
    assert await walk(harness, filters, limit=6) == expected(seeded, filters)


async def test_a_search_by_purchase_id_finds_that_one(harness: Harness, seeded: Seeded) -> None:
    some = sorted(seeded.records)[17]
    assert await walk(harness, PurchaseFilters(search=some)) == [some]
    day = seeded.records[some].purchase.executed_at
    between = PurchaseFilters(executed_from=day - timedelta(hours=36), executed_before=day + timedelta(hours=36))
    assert await walk(harness, between) == expected(seeded, between)
    assert some in await walk(harness, between)


async def test_time_filters_end_where_the_rules_say_to_the_millisecond(seeded: Seeded) -> None:
    """The store selects by time with ranges of sort keys: a purchase executed at either end of
    a range, or whose deadline is at either end of "expiring within", is in or out as
    ``domain.listing.matches`` says; a window closing at ``now`` is no longer open."""
    record = seeded.records[sorted(seeded.records)[17]]
    executed = record.purchase.executed_at
    open_now = [r for r in seeded.records.values() if (d := r.windows.deadline(r.phase)) and d > seeded.now]
    closing = min(open_now, key=lambda r: r.windows.deadline(r.phase) or seeded.now)
    deadline = closing.windows.deadline(closing.phase)
    assert deadline is not None
    one_ms = timedelta(milliseconds=1)
    cases = [
        (PurchaseFilters(executed_from=executed), seeded.now),
        (PurchaseFilters(executed_before=executed), seeded.now),
        (PurchaseFilters(executed_from=executed, executed_before=executed + one_ms), seeded.now),
        (PurchaseFilters(expiring_within_hours=1, sort=PurchaseSort.DEADLINE), deadline - timedelta(hours=1)),
        (PurchaseFilters(expiring_within_hours=1, sort=PurchaseSort.DEADLINE), deadline),
    ]
    for filters, now in cases:
        listed = await seeded.listing.page(filters, after=None, limit=200, now=now)
        assert [r.purchase_id for r in listed] == expected(seeded, filters, now), filters
    assert record.purchase_id in expected(seeded, cases[2][0])
    assert closing.purchase_id in expected(seeded, cases[3][0], cases[3][1])
    assert closing.purchase_id not in expected(seeded, cases[4][0], cases[4][1])
    later = await seeded.listing.next_deadline(deadline)
    assert later is not None
    assert later.purchase_id != closing.purchase_id
    assert (later.windows.deadline(later.phase) or deadline) > deadline


async def test_a_cursor_of_another_sort_is_refused(harness: Harness, seeded: Seeded) -> None:
    first = await harness.query(ListPurchases(actor=ADMIN, limit=5, sort=PurchaseSort.UPFRONT), PurchaseListReply)
    assert first.next_cursor
    other = ListPurchases(actor=ADMIN, limit=5, sort=PurchaseSort.DEADLINE, cursor=first.next_cursor)
    refused = await harness.query(other, PurchaseListReply)
    assert refused.problem is not None
    assert refused.problem.code is ErrorCode.INVALID


async def test_pages_stay_put_while_purchases_arrive(harness: Harness, seeded: Seeded) -> None:
    first = await harness.query(ListPurchases(actor=ALICE, limit=10), PurchaseListReply)
    newer = seeded_record(900, seeded.now, random.Random(9))
    newer = newer.model_copy(
        update={"purchase": newer.purchase.model_copy(update={"executed_at": seeded.now + timedelta(minutes=30)})}
    )
    await seeded.store.insert(newer)
    rest = await walk(harness, PurchaseFilters())
    listed = [i.purchase.purchase_id for i in first.items]
    cursor = first.next_cursor
    assert cursor
    following: list[str] = []
    while cursor:
        page = await harness.query(ListPurchases(actor=ALICE, limit=10, cursor=cursor), PurchaseListReply)
        following.extend(i.purchase.purchase_id for i in page.items)
        cursor = page.next_cursor
    assert listed + following == [pid for pid in rest if pid != newer.purchase_id]  # no repeat, no gap
    assert rest[0] == newer.purchase_id  # the first page, asked again, shows it


async def test_the_money_at_a_glance(harness: Harness, seeded: Seeded) -> None:
    reply = await harness.query(SummarizePurchases(actor=ALICE), PurchaseSummaryReply)
    totals: dict[str, tuple[Decimal, int]] = {}
    for r in seeded.records.values():
        deadline = r.windows.deadline(r.phase)
        if r.phase is Phase.SELF_SERVICE and deadline and deadline > seeded.now:
            upfront, count = totals.get(r.purchase.cost.currency, (Decimal(0), 0))
            totals[r.purchase.cost.currency] = (upfront + r.purchase.cost.upfront, count + 1)
    assert {(t.currency, t.upfront, t.purchases) for t in reply.refundable} == {
        (c, u, n) for c, (u, n) in totals.items()
    }
    assert [t.upfront for t in reply.refundable] == sorted((t.upfront for t in reply.refundable), reverse=True)
    open_ones = [(r.windows.deadline(r.phase), pid) for pid, r in seeded.records.items()]
    soonest = min((d, pid) for d, pid in open_ones if d and d > seeded.now)
    assert reply.next_deadline is not None
    assert reply.next_deadline.purchase.purchase_id == soonest[1]


async def test_an_azure_reservation_counts_its_refund_estimate_not_its_upfront_cost(
    harness: Harness, seeded: Seeded
) -> None:
    def usd(reply: PurchaseSummaryReply) -> tuple[Decimal, int]:
        found = [(t.upfront, t.purchases) for t in reply.refundable if t.currency == "USD"]
        return found[0] if found else (Decimal(0), 0)

    before = usd(await harness.query(SummarizePurchases(actor=ALICE), PurchaseSummaryReply))
    reservation = azure_record(azure_state(cancelled="950.00"), total="2400.00")
    await seeded.store.insert(reservation.model_copy(update={"phase": Phase.SELF_SERVICE}))
    after = usd(await harness.query(SummarizePurchases(actor=ALICE), PurchaseSummaryReply))
    assert (after[0] - before[0], after[1] - before[1]) == (Decimal("950.00"), 1)  # calculateRefund's, not 2,400


async def test_export_rows_come_in_the_same_order_without_timelines(harness: Harness, seeded: Seeded) -> None:
    filters = PurchaseFilters(sort=PurchaseSort.UPFRONT, descending=True)
    rows: list[str] = []
    cursor: str | None = None
    while True:
        query = ExportPurchases(actor=ADMIN, limit=25, cursor=cursor, **filters.model_dump())
        reply = await harness.query(query, PurchaseRowsReply)
        assert reply.problem is None
        rows.extend(r.purchase.purchase_id for r in reply.items)
        cursor = reply.next_cursor
        if cursor is None:
            break
    assert rows == expected(seeded, filters)


async def test_export_csv_lines_are_the_rows_lines_in_the_same_order(harness: Harness, seeded: Seeded) -> None:
    """Asked for CSV lines, the export answers each purchase's line as listed, page by page;
    one listed under an older line format (no line of this one) is written from its row."""
    older = next(iter(seeded.records))
    await seeded.collection.database[LISTING].update_one({"_id": older}, {"$unset": {CSV_LINE: ""}})
    filters = PurchaseFilters(sort=PurchaseSort.ACCOUNT, descending=True)
    by_rows: list[str] = []
    lines: list[str] = []
    for csv_lines, into in ((False, by_rows), (True, lines)):
        cursor: str | None = None
        while True:
            query = ExportPurchases(actor=ADMIN, limit=7, cursor=cursor, csv_lines=csv_lines, **filters.model_dump())
            reply = await harness.query(query, PurchaseRowsReply)
            assert reply.problem is None
            assert not (reply.items and reply.lines)
            into.extend(reply.lines or [purchase_csv.line(row) for row in reply.items])
            if (cursor := reply.next_cursor) is None:
                break
    assert lines == by_rows
    assert [next(csv.reader([line]))[0] for line in lines] == expected(seeded, filters)
    assert older in {next(csv.reader([line]))[0] for line in lines}


async def test_purchases_stored_before_the_listing_existed_are_listed(harness: Harness, seeded: Seeded) -> None:
    old = seeded_record(950, seeded.now, random.Random(3))
    document = to_document(old, key=old.purchase_id)  # as a version before the listing wrote it
    document.update({"account_id": old.account_id, "executed_at": old.purchase.executed_at, "has_outbox": False})
    await seeded.collection.insert_one(document)
    assert old.purchase_id not in await walk(harness, PurchaseFilters(sort=PurchaseSort.ACCOUNT))
    assert await seeded.store.relist() == 1
    assert old.purchase_id in await walk(harness, PurchaseFilters(sort=PurchaseSort.ACCOUNT))
    assert await seeded.store.relist() == 0


async def test_a_listing_a_crash_left_behind_catches_up_and_never_goes_back(harness: Harness, seeded: Seeded) -> None:
    record = next(r for r in seeded.records.values() if r.phase is Phase.SELF_SERVICE)
    closed = record.model_copy(update={"phase": Phase.CLOSED, "version": record.version + 1})
    # The purchase written, then the replica died before writing its listing.
    await seeded.collection.replace_one({"_id": record.purchase_id}, purchase_document(closed))
    self_service = PurchaseFilters(phase=Phase.SELF_SERVICE)
    assert record.purchase_id in await walk(harness, self_service)
    assert await seeded.store.relist() == 1
    assert record.purchase_id not in await walk(harness, self_service)
    assert record.purchase_id in await walk(harness, PurchaseFilters(phase=Phase.CLOSED))
    await seeded.listing.put(record)  # a slower writer of the older version
    assert record.purchase_id not in await walk(harness, self_service)
